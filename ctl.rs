// SPDX-License-Identifier: GPL-2.0

//! Changing the interest set: fs/eventpoll.c's `do_epoll_ctl`, `ep_ctl_lock` /
//! `ep_ctl_unlock`, `ep_insert`, `ep_modify` and `ep_remove`, and the module's batched ctl.

use kernel::{
    bindings,
    fs::{File, LocalFile},
    prelude::*,
    sync::barrier::{smp_mb, Full},
};

use crate::{
    device,
    epitem::Epitem,
    eventpoll::EventPoll,
    nesting::FullCheck,
    rbtree::{FileFd, RbTree},
    release,
    uapi::*,
    waitqueue,
};

impl EventPoll {
    /// EPOLL_CTL: `do_epoll_ctl` with epoll_ctl(2)'s errno rules. `me` is the instance's file.
    pub(crate) fn ctl(&self, me: &File, args: &CtlArgs) -> Result<isize> {
        if args.flags != 0 {
            return Err(EINVAL);
        }
        let fd = u32::try_from(args.fd).map_err(|_| EBADF)?;
        let tfile = LocalFile::fget(fd).map_err(|_| EBADF)?;
        // SAFETY: We are in an ioctl, which is not inside an `fdget_pos` region on this thread.
        let tfile = unsafe { LocalFile::assume_no_fdget_pos(tfile) };
        self.ctl_file(me, &tfile, args.op, args.fd, args.events, args.data)
    }

    /// `do_epoll_ctl_file`: the operation on the target `tfile`, added as `fd`.
    pub(crate) fn ctl_file(
        &self,
        me: &File,
        tfile: &File,
        op: u32,
        fd: i32,
        mut events: u32,
        data: u64,
    ) -> Result<isize> {
        // epoll's order: a target that cannot be polled is refused with EPERM, the instance
        // itself with EINVAL.
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

        // `ep_ctl_lock`: `mtx`, and for an ADD that may add wake-up paths (adding an instance,
        // or adding anything to an instance that is watched or that a check in flight has
        // visited) the full check, under `EPNESTED`, which is taken before `mtx`.
        let mut tree = self.lock_tree_reaped(0);
        let mut check = None;
        if op == EPOLL_CTL_ADD
            && (self.head().is_watched() || self.memo().in_check() || child.is_some())
        {
            drop(tree);
            let mut full = FullCheck::begin(self);
            if let Some(child) = child {
                full.loop_check(self, child)?;
            }
            tree = self.lock_tree_reaped(0);
            check = Some(full);
        }

        // Released watches were reaped above; one being released now cannot have `key`, since
        // we hold a reference on `tfile`.
        let key = FileFd {
            file: tfile.as_ptr() as usize,
            fd,
        };
        let res = match (op, tree.find(key)) {
            (EPOLL_CTL_ADD, Some(_)) => Err(EEXIST),
            (EPOLL_CTL_ADD, None) => self.insert(
                &mut tree,
                tfile,
                child,
                check.as_mut(),
                fd,
                events | EPOLLERR | EPOLLHUP,
                data,
            ),
            (EPOLL_CTL_MOD, None) | (EPOLL_CTL_DEL, None) => Err(ENOENT),
            (EPOLL_CTL_MOD, Some(epi)) if epi.events(&tree) & EPOLLEXCLUSIVE != 0 => Err(EINVAL),
            (EPOLL_CTL_MOD, Some(epi)) => {
                self.modify(&tree, epi, tfile, events | EPOLLERR | EPOLLHUP, data);
                Ok(0)
            }
            // `ep_remove`: dropping the item unhooks it and takes it off the ready lists.
            _ => {
                drop(tree.remove(key));
                Ok(0)
            }
        };
        // `ep_ctl_unlock`: `mtx` first, then the check's files, generation and `EPNESTED`.
        drop(tree);
        drop(check);
        res
    }

    /// `ep_insert`: a new watch, hooked on the target's wait queues; reported at once if the
    /// target is already ready. `child` is the target's eventpoll when it is one of ours;
    /// with a full `check` in flight the new wake-up paths are checked against epoll's limits.
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &self,
        tree: &mut RbTree,
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
        // The item drops (and is uncharged) if the key is there, which `ctl` ruled out.
        let epi: *const Epitem = tree.insert(epi).map_err(|_| EEXIST)?;
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
        epi.hook(tree, file, 0)
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
        // fs/eventpoll.c, ep_modify(): `smp_mb()` after setting `epi->event.events`. The new
        // mask is visible to a callback that runs after the poll below, and the poll sees the
        // target's state as of any wake-up that found the old mask (pairs with the barrier in
        // `wq_has_sleeper`): the callback or the poll (or both) sees the readiness.
        smp_mb(Full);
        let revents = epi.poll(tree, 0);
        if revents != 0 {
            self.item_ready_polled(epi, revents);
        }
    }

    /// RUST_EPOLL_CTL_BATCH: applies `ops` in order until one fails (an unreadable one fails
    /// with EFAULT), reports how far it got in the caller's struct, then optionally waits.
    pub(crate) fn ctl_batch(&self, me: &File, arg: usize) -> Result<isize> {
        use kernel::uaccess::{UserPtr, UserSlice};
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
        let size = core::mem::size_of::<CtlArgs>();
        let mut ops = UserSlice::new(
            UserPtr::from_addr(batch.ops as usize),
            batch.nr_ops as usize * size,
        )
        .reader();
        let (mut applied, mut error) = (0u32, 0i32);
        while applied < batch.nr_ops {
            if let Err(e) = ops.read::<CtlArgs>().and_then(|op| self.ctl(me, &op)) {
                error = e.to_errno();
                break;
            }
            applied += 1;
        }
        let at = arg + core::mem::offset_of!(CtlBatchArgs, applied);
        let mut out = UserSlice::new(UserPtr::from_addr(at), 8).writer();
        out.write(&applied)?;
        out.write(&error)?;
        if error == 0 && batch.flags & RUST_EPOLL_BATCH_WAIT != 0 {
            return self.wait(&batch.wait);
        }
        Ok(0)
    }
}

/// Whether the caller may use EPOLLWAKEUP.
fn capable_block_suspend() -> bool {
    // SAFETY: FFI call without preconditions.
    unsafe { bindings::capable(bindings::CAP_BLOCK_SUSPEND as i32) }
}
