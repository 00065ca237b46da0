// SPDX-License-Identifier: GPL-2.0

//! Changing the interest set: fs/eventpoll.c's `do_epoll_ctl`, `ep_ctl_lock` /
//! `ep_ctl_unlock`, `ep_insert`, `ep_modify` and `ep_remove`, and the module's batched ctl.

use core::mem::MaybeUninit;
use kernel::{
    bindings,
    fs::{File, LocalFile},
    prelude::*,
    sync::{
        aref::ARef,
        barrier::{smp_mb, Full},
    },
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    device,
    epitem::Epitem,
    eventpoll::EventPoll,
    mutex::NestedGuard,
    nesting::FullCheck,
    rbtree::{Entry, FileFd, RbTree, Vacant},
    release,
    uapi::*,
    waitqueue,
};

/// A ctl's target, checked: its eventpoll when it is one of ours, and the events asked for
/// (EPOLLWAKEUP dropped where epoll drops it).
struct Target<'a> {
    child: Option<&'a EventPoll>,
    events: u32,
}

/// Operations a batch reads from userspace with one copy.
const BATCH_CHUNK: usize = 32;

impl EventPoll {
    /// EPOLL_CTL: `do_epoll_ctl` with epoll_ctl(2)'s errno rules. `me` is the instance's file.
    pub(crate) fn ctl(&self, me: &File, args: &CtlArgs) -> Result<isize> {
        let tfile = fget(args)?;
        let target = self.target(me, &tfile, args.op, args.events)?;
        self.ctl_target(&tfile, &target, args)
    }

    /// `do_epoll_ctl_file`'s checks, in epoll's order: a target that cannot be polled is
    /// refused with EPERM, the instance itself and EPOLLEXCLUSIVE's misuses with EINVAL.
    fn target<'a>(
        &self,
        me: &File,
        tfile: &'a File,
        op: u32,
        mut events: u32,
    ) -> Result<Target<'a>> {
        if !waitqueue::file_can_poll(tfile) {
            return Err(EPERM);
        }
        let has_event = op != EPOLL_CTL_DEL;
        if has_event
            && events & EPOLLWAKEUP != 0
            && (!cfg!(CONFIG_PM_SLEEP) || !capable_block_suspend())
        {
            // `ep_take_care_of_epollwakeup`: dropped silently without CAP_BLOCK_SUSPEND, and
            // always in a kernel without suspend (CONFIG_PM_SLEEP), as epoll does.
            events &= !EPOLLWAKEUP;
        }
        if tfile.as_ptr() == me.as_ptr() {
            return Err(EINVAL);
        }
        let child = device::instance_of(tfile);
        // C refuses EPOLLEXCLUSIVE on any epoll file (`is_file_epoll`): ours or native.
        if has_event
            && events & EPOLLEXCLUSIVE != 0
            && (op == EPOLL_CTL_MOD
                || (op == EPOLL_CTL_ADD
                    && (child.is_some()
                        || events & !EPOLLEXCLUSIVE_OK_BITS != 0
                        || device::is_native_epoll(tfile))))
        {
            return Err(EINVAL);
        }
        if !matches!(op, EPOLL_CTL_ADD | EPOLL_CTL_MOD | EPOLL_CTL_DEL) {
            return Err(EINVAL);
        }
        Ok(Target { child, events })
    }

    /// `ep_ctl_lock`'s test, with `mtx` held: an ADD that may add wake-up paths (adding an
    /// instance, or adding anything to an instance that is watched or that a check in flight
    /// has visited) needs the full check, under `EPNESTED`, which is taken before `mtx`.
    ///
    /// The generation is read before "watched", the reverse of C's order
    /// (`!READ_ONCE(epfile->f_ep) && ep->gen != loop_check_gen` in `ep_ctl_lock`). In C's
    /// order, a check that visited this instance before we took `mtx` could index its watch
    /// of the instance just after our first load and end just before our second: neither test
    /// fires, the ADD skips the full check, and the check never saw this ADD's target. C is
    /// safe from this only because the check's own ADD polls the instance it watches under
    /// that instance's `mtx` (`__ep_eventpoll_poll`), which we hold: it cannot end meanwhile.
    /// Our poll of an instance with nothing ready answers without `mtx` (`wait.rs`), so here
    /// the window was real: a wake-up path past epoll's limits, about once in 30,000 raced
    /// pairs of `both.path_limits_hold_under_a_race`, hundreds in a thousand with the windows
    /// widened (`tests/race_widen.sh`). In this order "not in a check" means that no check
    /// visited us (one that does comes after us and sees this watch), or that the one that
    /// did has ended, and then its watch of us is visible to the load that follows (acquire
    /// in `in_check`, release where a check begins and ends).
    fn needs_full_check(&self, op: u32, target: &Target<'_>) -> bool {
        op == EPOLL_CTL_ADD
            && (target.child.is_some() || self.memo().in_check() || self.head().is_watched())
    }

    /// The operation once its target is checked: `ep_ctl_lock`, the operation, `ep_ctl_unlock`.
    fn ctl_target(&self, tfile: &File, target: &Target<'_>, args: &CtlArgs) -> Result<isize> {
        let mut tree = self.lock_tree_reaped(0);
        let mut check = None;
        if self.needs_full_check(args.op, target) {
            drop(tree);
            let mut full = FullCheck::begin(self);
            if let Some(child) = target.child {
                full.loop_check(self, child)?;
            }
            tree = self.lock_tree_reaped(0);
            check = Some(full);
        }
        let res = self.ctl_locked(&mut tree, tfile, target, args, check.as_mut());
        // `ep_ctl_unlock`: `mtx` first, then the check's files, generation and `EPNESTED`.
        drop(tree);
        drop(check);
        res
    }

    /// The operation proper, with `mtx` held (and `check` in flight if it needed one).
    /// Released watches were reaped when `mtx` was taken; one being released now cannot have
    /// the key, since we hold a reference on `tfile`.
    fn ctl_locked(
        &self,
        tree: &mut RbTree,
        tfile: &File,
        target: &Target<'_>,
        args: &CtlArgs,
        check: Option<&mut FullCheck<'_>>,
    ) -> Result<isize> {
        let key = FileFd {
            file: tfile.as_ptr() as usize,
            fd: args.fd,
        };
        let events = target.events | EPOLLERR | EPOLLHUP;
        match args.op {
            // One walk down the tree: `ep_find`, then `ep_rbtree_insert` where it ended.
            EPOLL_CTL_ADD => match tree.entry(key) {
                Entry::Occupied => Err(EEXIST),
                Entry::Vacant(slot) => {
                    self.insert(slot, tfile, target.child, check, args.fd, events, args.data)
                }
            },
            EPOLL_CTL_MOD => match tree.find(key) {
                None => Err(ENOENT),
                Some(epi) if epi.events(tree) & EPOLLEXCLUSIVE != 0 => Err(EINVAL),
                Some(epi) => {
                    self.modify(tree, epi, tfile, events, args.data);
                    Ok(0)
                }
            },
            // `ep_remove`: dropping the item unhooks it and takes it off the ready lists.
            _ => match tree.remove(key) {
                Some(epi) => {
                    drop(epi);
                    Ok(0)
                }
                None => Err(ENOENT),
            },
        }
    }

    /// `ep_insert`: a new watch, put in the tree at `slot`, hooked on the target's wait
    /// queues; reported at once if the target is already ready. `child` is the target's
    /// eventpoll when it is one of ours; with a full `check` in flight the new wake-up paths
    /// are checked against epoll's limits.
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &self,
        slot: Vacant<'_>,
        file: &File,
        child: Option<&EventPoll>,
        check: Option<&mut FullCheck<'_>>,
        fd: i32,
        events: u32,
        data: u64,
    ) -> Result<isize> {
        // A watch is only safe while the release hook is called (see `release.rs`).
        release::hook_alive()?;
        // `ep_alloc_epitem`: charged here, returned when the epitem drops.
        self.user.charge()?;
        let epi = crate::resources()
            .epitems
            .alloc(Epitem::new(self, file, fd, events, data, child))
            .inspect_err(|_| self.user.uncharge())?;
        let key = epi.key();
        let (tree, epi) = slot.insert(epi);
        // SAFETY: The tree owns the item until it is removed, which only happens below (under
        // `mtx`, which we hold) after the last use of this reference in each path.
        let epi = unsafe { &*epi };
        match self.register(tree, epi, file, child, check) {
            Ok(revents) => {
                // SAFETY: The caller holds a reference on `file`.
                unsafe { self.note_napi_id(file.as_ptr()) };
                if revents != 0 {
                    self.item_ready_polled(epi, revents);
                }
                Ok(0)
            }
            Err(e) => {
                // Undo: dropping the item takes off whatever was done.
                drop(tree.remove(key));
                Err(e)
            }
        }
    }

    /// The rest of `ep_insert` (`ep_register_epitem` onwards): the item in its file's list,
    /// the path check, its wakeup source, and its hooks on the target's queues. Returns the
    /// target's ready events. On error the caller removes the item.
    fn register(
        &self,
        tree: &RbTree,
        epi: &Epitem,
        file: &File,
        child: Option<&EventPoll>,
        check: Option<&mut FullCheck<'_>>,
    ) -> Result<u32> {
        release::index(epi, child)?;
        if let Some(check) = check {
            // Counted as a path from here on; too many, and it is undone. (`list_file` of
            // `ep_register_epitem`: never an epoll file, ours or native.)
            if child.is_none() && !epi.targets_native_epoll() {
                check.list_file(file)?;
            }
            check.reverse_path_check().map_err(|_| EINVAL)?;
        }
        if epi.events(tree) & EPOLLWAKEUP != 0 {
            self.ws.create_for_instance()?;
            epi.ws.create_for_file(file)?;
        }
        // SAFETY: `epi` was created by this insert and is hooked here only.
        unsafe { epi.hook(tree, file, 0) }
    }

    /// `ep_modify`: new events and data, and a re-poll so that an already-ready target is
    /// reported under the new mask.
    fn modify(&self, tree: &RbTree, epi: &Epitem, file: &File, events: u32, data: u64) {
        epi.set_event(tree, events, data);
        if events & EPOLLWAKEUP != 0 {
            if !epi.ws.is_set() {
                // As C, a source that cannot be made leaves the watch without one.
                let _ = self
                    .ws
                    .create_for_instance()
                    .and_then(|()| epi.ws.create_for_file(file));
            }
        } else if epi.ws.is_set() {
            epi.ws.destroy();
        }
        // fs/eventpoll.c, ep_modify(): `smp_mb()` after setting `epi->event.events`. It
        // pairs with the callback's read of the mask under `ready` (`EventPoll::item_ready`,
        // as C's under `ep->lock`), which comes after the waker made the target ready: either
        // that read sees the new mask, or the poll below sees the target ready (or both).
        smp_mb(Full);
        let revents = epi.poll(tree, 0);
        if revents != 0 {
            self.item_ready_polled(epi, revents);
        }
    }

    /// RUST_EPOLL_CTL_BATCH: applies `ops` in order until one fails (an unreadable one fails
    /// with EFAULT), reports how far it got in the caller's struct, then optionally waits.
    ///
    /// What a batch saves over one call per operation, besides the system calls: the
    /// operations are read `BATCH_CHUNK` at a time with one copy, and `mtx` is taken once and
    /// held from one operation to the next; an operation that needs the full check (under
    /// `EPNESTED`, taken before `mtx`) lets it go and takes the usual path.
    pub(crate) fn ctl_batch(&self, me: &File, arg: usize) -> Result<isize> {
        let batch = crate::read_arg::<CtlBatchArgs>(arg)?;
        if batch.nr_ops == 0
            || batch.nr_ops > RUST_EPOLL_BATCH_MAX
            || batch.flags & !(RUST_EPOLL_BATCH_WAIT | RUST_EPOLL_BATCH_RECEIPT) != 0
        {
            return Err(EINVAL);
        }
        if batch.flags & RUST_EPOLL_BATCH_RECEIPT != 0 {
            return self.ctl_batch_receipt(me, arg, &batch);
        }
        let nr = batch.nr_ops as usize;
        let size = core::mem::size_of::<CtlArgs>();
        let base = batch.ops as usize;
        let mut chunk = [const { MaybeUninit::<CtlArgs>::uninit() }; BATCH_CHUNK];
        let mut tree = None;
        let (mut applied, mut error) = (0usize, 0i32);
        'ops: while applied < nr {
            let n = (nr - applied).min(BATCH_CHUNK);
            let at = base.wrapping_add(applied * size);
            let read = read_ops(at, &mut chunk[..n]);
            for op in chunk.iter().take(read) {
                // SAFETY: The first `read` entries were written by `read_ops`.
                let op = unsafe { op.assume_init_ref() };
                if let Err(e) = self.batch_op(me, op, &mut tree) {
                    error = e.to_errno();
                    break 'ops;
                }
                applied += 1;
            }
            if read < n {
                error = EFAULT.to_errno();
                break;
            }
        }
        drop(tree);
        let at = arg + core::mem::offset_of!(CtlBatchArgs, applied);
        let mut out = UserSlice::new(UserPtr::from_addr(at), 8).writer();
        out.write(&(applied as u32))?;
        out.write(&error)?;
        if error == 0 && batch.flags & RUST_EPOLL_BATCH_WAIT != 0 {
            return self.wait(&batch.wait);
        }
        Ok(0)
    }

    /// One operation of a batch, with `mtx` held in `tree` from the last one if it could be.
    fn batch_op<'a>(
        &'a self,
        me: &File,
        op: &CtlArgs,
        tree: &mut Option<NestedGuard<'a, RbTree>>,
    ) -> Result {
        let tfile = fget(op)?;
        let target = self.target(me, &tfile, op.op, op.events)?;
        let held = match tree {
            Some(held) => {
                // A watch released since the last operation could have this one's key.
                self.reap(held);
                held
            }
            None => tree.insert(self.lock_tree_reaped(0)),
        };
        if self.needs_full_check(op.op, &target) {
            *tree = None;
            return self.ctl_target(&tfile, &target, op).map(|_| ());
        }
        self.ctl_locked(held, &tfile, &target, op, None).map(|_| ())
    }
}

/// The target file of a ctl (`fdget`): EBADF if `args.fd` is not open (or flags are set:
/// EINVAL, which epoll_ctl(2) checks first).
fn fget(args: &CtlArgs) -> Result<ARef<File>> {
    if args.flags != 0 {
        return Err(EINVAL);
    }
    let fd = u32::try_from(args.fd).map_err(|_| EBADF)?;
    let tfile = LocalFile::fget(fd).map_err(|_| EBADF)?;
    // SAFETY: We are in an ioctl, which is not inside an `fdget_pos` region on this thread.
    Ok(unsafe { LocalFile::assume_no_fdget_pos(tfile) })
}

/// Reads `ops.len()` operations from the user array at `at`, with one copy; on a fault, one
/// at a time, to find how many could be read. Returns how many were.
fn read_ops(at: usize, ops: &mut [MaybeUninit<CtlArgs>]) -> usize {
    let size = core::mem::size_of::<CtlArgs>();
    // SAFETY: `MaybeUninit<CtlArgs>` has `CtlArgs`'s layout: a slice of them is as many bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(
            ops.as_mut_ptr().cast::<MaybeUninit<u8>>(),
            ops.len() * size,
        )
    };
    if UserSlice::new(UserPtr::from_addr(at), bytes.len())
        .reader()
        .read_raw(bytes)
        .is_ok()
    {
        return ops.len();
    }
    let mut n = 0;
    while n < ops.len() {
        match crate::read_arg::<CtlArgs>(at + n * size) {
            Ok(op) => {
                ops[n].write(op);
                n += 1;
            }
            Err(_) => break,
        }
    }
    n
}

/// Whether the caller may use EPOLLWAKEUP.
fn capable_block_suspend() -> bool {
    // SAFETY: FFI call without preconditions.
    unsafe { bindings::capable(bindings::CAP_BLOCK_SUSPEND as i32) }
}
