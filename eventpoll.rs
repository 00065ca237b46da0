// SPDX-License-Identifier: GPL-2.0

//! The instance: fs/eventpoll.c's `struct eventpoll` with `ep_insert`, `ep_modify`,
//! `ep_remove`, `ep_poll` and `ep_send_events`.
//!
//! # Locks
//!
//! - `nesting::EPNESTED` (global mutex, `epnested_mutex`): serialises ADDs of an instance to
//!   an instance, from the loop check to the new edge.
//! - `mtx` (mutex, `ep->mtx`): the interest set, and each item's requested events, data and
//!   wait entries. Held by every CTL, by the event transfer of WAIT and by `poll` of the
//!   instance, so an item cannot leave the interest set while it is reported. Its holder is
//!   recorded (`mtx_owner`) so that a `poll` re-entered under it does not deadlock.
//! - `ready` (IRQ-safe spinlock, `ep->lock`): the ready list, the transfer list and every
//!   item's ready link. Taken by `ep_poll_callback` in the waker's context.
//! - `wq` and `poll_wait` (the wait queues' own spinlocks): waiters in WAIT, and pollers of
//!   the instance itself.
//! - `release::RELEASE` (global spinlock): the index of watches by target file, each item's
//!   release state and `flnext`, and each instance's `released` list (see `release.rs`).
//! - `nesting`'s edge list and `view` are leaf locks.
//!
//! Order: `EPNESTED` → `mtx` → a nested instance's `mtx` (parent before child; no cycles,
//! by the loop check; each taken at its depth below the first as lockdep subclass, see
//! `mutex.rs`) → `RELEASE` → a target's wait-queue lock (taken by its `poll`, and by adding
//! or removing our entries) → `ready`. `wq` and `poll_wait` are taken after `ready` is
//! released, possibly inside a target's queue lock (the callback wakes them); a nested
//! instance's callback runs inside its child's `poll_wait` lock, and wakes its own
//! `poll_wait` one lockdep subclass deeper (`nests`). Nothing sleeps under `ready`, and `mtx`
//! is never taken inside any spinlock. Wake-ups coming from a native epoll target go to our
//! pollers through `pwake_work`, outside every lock (see `item_ready`).
//!
//! A waiter or poller queues itself on `wq`/`poll_wait` and then checks the lists under
//! `ready`; the callback links the item and reads whether anyone waits under `ready` too.
//! Whichever of the two critical sections comes second sees the other's write, so a wake-up
//! is never lost. The lockless `ready_hint` only lets WAIT skip work; it never decides
//! whether to sleep.
//!
//! # Differences from fs/eventpoll.c
//!
//! - No `ovflist`: see `ready.rs` for the transfer list that replaces it.
//! - A watch whose target is released is unhooked at once, as in C, but freed a little later
//!   by the instance itself under `mtx` (the reap: `release.rs`), since release cannot sleep.
//! - Wake-up paths and reverse-path limits count our instances only: a native epoll
//!   instance watching ours, or watched by ours, is a leaf to both sides' checks.

use core::{
    ops::{Deref, DerefMut},
    pin::Pin,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering},
};
use kernel::{
    bindings,
    fs::{File, LocalFile},
    new_mutex, new_spinlock_irq,
    prelude::*,
    static_lock_class,
    sync::{Mutex, SpinLockIrq, SpinLockIrqGuard},
    task::Task,
    transmute::AsBytes,
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    device,
    epitem::Epitem,
    introspect, limits,
    mutex::{NestedGuard, NestedMutex},
    nesting,
    rbtree::{FileFd, RbTree},
    ready::ReadyList,
    release, sigmask,
    uapi::*,
    waitqueue::{self, WaitQueueHead},
};

/// Flag in a poll's `depth`: the poll came through the VFS (`f_op->poll`), whose caller may
/// hold locks we cannot see; so do the polls of the instances below it (see [`EventPoll::poll`]).
pub(crate) const FROM_VFS: u32 = 1 << 16;

/// Ready items taken and reported per critical section of `send_events`.
const BATCH: usize = 16;

/// Writes `records` at index `at` of the user's array at `uaddr`; returns how many were
/// written, which is fewer only if the user memory faulted.
fn write_records(uaddr: usize, at: usize, records: &[EpollEvent]) -> usize {
    let size = core::mem::size_of::<EpollEvent>();
    let base = uaddr + at * size;
    if UserSlice::new(UserPtr::from_addr(base), core::mem::size_of_val(records))
        .writer()
        .write_slice(records.as_bytes())
        .is_ok()
    {
        return records.len();
    }
    // Some part faulted: find exactly which records fit.
    records
        .iter()
        .enumerate()
        .take_while(|(i, r)| {
            UserSlice::new(UserPtr::from_addr(base + i * size), size)
                .writer()
                .write(*r)
                .is_ok()
        })
        .count()
}

/// One instance: fs/eventpoll.c's `struct eventpoll`.
#[pin_data(PinnedDrop)]
pub(crate) struct EventPoll {
    /// The interest set (`ep->rbr`), and the serialisation of CTL and event transfer. Taken
    /// at a nesting depth (see `mutex.rs`): 0 for the instance a call is on, one more for
    /// each instance it reaches through the ones it watches.
    #[pin]
    mtx: NestedMutex<RbTree>,
    /// While `poll_wait` is being woken: the lockdep subclass its lock was taken at
    /// (`ep->nests`), so that an instance watching this one wakes its own one deeper.
    nests: AtomicU8,
    /// The ready list (`ep->rdllist`).
    #[pin]
    pub(crate) ready: SpinLockIrq<ReadyList>,
    /// Whether the ready list may be non-empty or a transfer is in progress: written under
    /// `ready`, read without it, as C's lockless `ep_events_available`. A stale `true` costs
    /// one empty transfer; a `false` is only stale while an event is arriving, and that
    /// event's wake-up then finds the waiter queued.
    ready_hint: AtomicBool,
    /// The task holding `mtx`, or null: lets `poll` see that it was re-entered from under
    /// our own `mtx` (through an instance we cannot see into) instead of deadlocking on it.
    mtx_owner: AtomicPtr<bindings::task_struct>,
    /// Wakes `poll_wait` later, from process context: see [`Self::item_ready`].
    #[pin]
    pwake_work: Opaque<bindings::work_struct>,
    /// Watches whose target was released, to be freed under `mtx` (a chain through their
    /// `flnext`); under `release::RELEASE`.
    pub(crate) released: AtomicPtr<Epitem>,
    /// Frees the released watches soon after their release (see [`Self::queue_reap`]).
    #[pin]
    reap_work: Opaque<bindings::work_struct>,
    /// The user this instance charges its watches to (`ep->user`).
    pub(crate) user: limits::User,
    /// The address of the instance's own file: only compared, to find the watches of this
    /// instance by others (its `ep->refs`) in the release index.
    pub(crate) file: usize,
    /// Its debugfs picture, removed first when the instance goes.
    #[pin]
    view: Mutex<Option<introspect::DebugView>>,
    /// Tasks in WAIT (`ep->wq`), queued exclusively: one is woken per event.
    #[pin]
    wq: WaitQueueHead,
    /// Pollers of the instance file itself (`ep->poll_wait`).
    #[pin]
    poll_wait: WaitQueueHead,
}

impl EventPoll {
    /// A new, empty instance (`ep_alloc`) charging its watches to `user`, opened as `file`.
    pub(crate) fn new(user: limits::User, file: usize) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            file,
            mtx <- NestedMutex::new(RbTree::new(), c"eventpoll::mtx", static_lock_class!()),
            nests: AtomicU8::new(0),
            ready <- new_spinlock_irq!(ReadyList::new(), "eventpoll::ready"),
            ready_hint: AtomicBool::new(false),
            user,
            view <- new_mutex!(None, "eventpoll::view"),
            mtx_owner: AtomicPtr::new(core::ptr::null_mut()),
            // SAFETY: `slot` is valid for writes; the name and key are static.
            pwake_work <- Opaque::ffi_init(|slot| unsafe {
                bindings::init_work_with_key(
                    slot,
                    Some(pwake_work_fn),
                    false,
                    c"eventpoll::pwake_work".as_char_ptr(),
                    static_lock_class!().as_ptr(),
                )
            }),
            released: AtomicPtr::new(ptr::null_mut()),
            // SAFETY: As above.
            reap_work <- Opaque::ffi_init(|slot| unsafe {
                bindings::init_work_with_key(
                    slot,
                    Some(reap_work_fn),
                    false,
                    c"eventpoll::reap_work".as_char_ptr(),
                    static_lock_class!().as_ptr(),
                )
            }),
            wq <- WaitQueueHead::new(c"eventpoll::wq", static_lock_class!()),
            poll_wait <- WaitQueueHead::new(c"eventpoll::poll_wait", static_lock_class!()),
        })
    }

    /// Puts `epi` on the ready list and wakes a waiter and the pollers: the part of
    /// `ep_poll_callback` and `ep_insert` that touches the instance. Returns whether a waiter
    /// was there to wake.
    ///
    /// Pollers are woken at once (`ep_poll_safewake`), except when `epi` watches a native
    /// epoll instance: that one may be watching us, a cycle no loop check can see, and waking
    /// it again from inside its own wake-up deadlocks on its `poll_wait` lock. Those wake-ups
    /// are deferred to a work item, and only for a newly queued item, so that a cycle settles.
    pub(crate) fn item_ready(&self, epi: &Epitem) -> bool {
        let (added, wake, pwake) = {
            let mut ready = self.ready.lock();
            let added = ready.as_mut().add_tail(epi);
            if added {
                self.ready_hint.store(true, Ordering::Relaxed);
            }
            (added, self.wq.is_active(), self.poll_wait.is_active())
        };
        if wake {
            self.wq.wake_up(0);
        }
        if pwake {
            if !epi.targets_native_epoll() {
                // `ep_poll_safewake`: one lockdep level below the instance that woke us, if
                // it is one (it is inside its own wake-up of this queue's class).
                let nests = epi.waking_instance().map_or(0, |child| {
                    child.nests.load(Ordering::Relaxed).saturating_add(1)
                });
                self.nests.store(nests, Ordering::Relaxed);
                self.poll_wait.wake_up_nested(EPOLLIN, nests);
                self.nests.store(0, Ordering::Relaxed);
            } else if added {
                // SAFETY: `pwake_work` was initialised in `new`, and `drop` cancels it before
                // the instance's memory goes.
                unsafe { queue_work(&self.pwake_work) };
            }
        }
        wake
    }

    /// Locks `mtx` at nesting `depth`, recording the owner for [`Self::poll`], and frees the
    /// watches whose target was released, so that nothing under `mtx` finds them: not a
    /// lookup by key (a new file may have the released one's address), not fdinfo, not the
    /// per-user count.
    fn lock_tree(&self, depth: u32) -> TreeGuard<'_> {
        self.tree_locked(self.mtx.lock_nested(depth & !FROM_VFS))
    }

    /// As [`Self::lock_tree`] if `mtx` is free, without waiting for it.
    fn try_lock_tree(&self) -> Option<TreeGuard<'_>> {
        self.mtx.try_lock().map(|guard| self.tree_locked(guard))
    }

    /// The rest of [`Self::lock_tree`], once `mtx` is held.
    fn tree_locked<'a>(&'a self, guard: NestedGuard<'a, RbTree>) -> TreeGuard<'a> {
        self.mtx_owner.store(Task::current_raw(), Ordering::Relaxed);
        let mut tree = TreeGuard { ep: self, guard };
        let mut next = release::take_released(self);
        while !next.is_null() {
            // SAFETY: A reaped item stays in the interest set, alive, until we remove it.
            let epi = unsafe { &*next };
            next = epi.flnext.load(Ordering::Relaxed);
            drop(tree.remove(epi.key()));
        }
        tree
    }

    /// Has the released watches freed soon (called by the release hook, under
    /// `release::RELEASE`, for an item of ours: so we are alive, see `drop`).
    pub(crate) fn queue_reap(&self) {
        // SAFETY: `reap_work` was initialised in `new`, and `drop` cancels it after the last
        // item is gone, so no release can queue it again.
        unsafe { queue_work(&self.reap_work) };
    }

    /// `ep_eventpoll_poll`: registers the poller on `poll_wait`, then reports EPOLLIN if an
    /// item on the ready list is really ready; items that are not are dropped from it.
    /// `depth` is how many of our instances' `mtx` the caller holds above this one, with
    /// [`FROM_VFS`] if the poll came through the VFS.
    ///
    /// # Safety
    ///
    /// `file` must be this instance's file and `pt` a poll table (or null) from the caller
    /// of `f_op->poll`.
    pub(crate) unsafe fn poll(
        &self,
        file: *mut bindings::file,
        pt: *mut bindings::poll_table,
        depth: u32,
    ) -> u32 {
        // SAFETY: `file` is ours and alive; `poll_wait` outlives any registration, since a
        // registered poller holds a reference to our file.
        unsafe { bindings::poll_wait(file, self.poll_wait.as_raw(), pt) };
        // Under the ready lock, not from the lockless hint: the poller has just queued itself
        // on `poll_wait`, and only the lock orders that against the callback's linking of an
        // item and its check for pollers (a lockless read here could miss both).
        if !self.ready.lock().has_events() {
            return 0;
        }
        // Polled by one of our instances from one of our own calls, `mtx` is taken as native
        // epoll takes a nested one: after the watcher's, in the order of our instances, which
        // the loop check keeps acyclic. Polled through the VFS (a native epoll instance,
        // select, poll) or below such a poll, the caller may hold locks we cannot see: a native
        // instance's `mtx`, which our own WAIT may be waiting for while holding ours (ours
        // watching a native one that watches ours, with a thread in each), or our own `mtx`
        // further up (a cycle through a native instance). Then `mtx` is only tried, and if it
        // is busy the ready list answers unverified: at worst a spurious EPOLLIN, never a
        // deadlock.
        if self.mtx_owner.load(Ordering::Relaxed) == Task::current_raw() {
            return EPOLLIN | EPOLLRDNORM;
        }
        let _tree = if depth & FROM_VFS == 0 {
            self.lock_tree(depth)
        } else {
            match self.try_lock_tree() {
                Some(tree) => tree,
                None => return EPOLLIN | EPOLLRDNORM,
            }
        };
        let mut res = 0;
        let mut started = false;
        loop {
            let next = {
                let mut ready = self.ready.lock();
                if !started {
                    ready.as_mut().start_transfer();
                    started = true;
                }
                match ready.as_mut().pop_transfer() {
                    Some(epi) => epi,
                    None => break,
                }
            };
            // SAFETY: As in `send_events`: ready items are in the interest set, and `mtx`
            // keeps them there.
            let epi = unsafe { next.as_ref() };
            // A native epoll target is not polled from here: it may be polling us (a cycle we
            // cannot see), and its mutex may be held above us. Linked means ready enough.
            if epi.targets_native_epoll() || epi.poll(depth) != 0 {
                self.ready.lock().as_mut().unpop_transfer(epi);
                res = EPOLLIN | EPOLLRDNORM;
                break;
            }
        }
        self.end_transfer(&mut self.ready.lock());
        res
    }

    /// Ends a transfer (`ep_done_scan`): what was not reported goes back to the front of the
    /// ready list, and the hint says again whether anything is ready. Returns that.
    fn end_transfer(&self, ready: &mut SpinLockIrqGuard<'_, ReadyList>) -> bool {
        ready.as_mut().end_transfer();
        let more = !ready.is_empty();
        self.ready_hint.store(more, Ordering::Relaxed);
        more
    }

    /// EPOLL_CTL: `do_epoll_ctl` with epoll_ctl(2)'s errno rules. `me` is the instance's file.
    pub(crate) fn ctl(&self, me: &File, args: &CtlArgs) -> Result<isize> {
        if args.flags != 0 {
            return Err(EINVAL);
        }
        let fd = u32::try_from(args.fd).map_err(|_| EBADF)?;
        let tfile = LocalFile::fget(fd).map_err(|_| EBADF)?;
        // SAFETY: We are in an ioctl, which is not inside an `fdget_pos` region on this thread.
        let tfile = unsafe { LocalFile::assume_no_fdget_pos(tfile) };

        // epoll's order: the instance itself is refused with EINVAL, a target that cannot be
        // polled with EPERM.
        if tfile.as_ptr() == me.as_ptr() {
            return Err(EINVAL);
        }
        if !waitqueue::file_can_poll(&tfile) {
            return Err(EPERM);
        }
        let op = args.op;
        let mut events = args.events;
        let has_event = op != EPOLL_CTL_DEL;
        if has_event
            && events & EPOLLWAKEUP != 0
            && (!cfg!(CONFIG_PM_SLEEP) || !capable_block_suspend())
        {
            // `ep_take_care_of_epollwakeup`: dropped silently without CAP_BLOCK_SUSPEND, and
            // always in a kernel without suspend (CONFIG_PM_SLEEP), as epoll does.
            events &= !EPOLLWAKEUP;
        }
        let child = device::instance_of(&tfile);
        if has_event
            && events & EPOLLEXCLUSIVE != 0
            && (op == EPOLL_CTL_MOD
                || (op == EPOLL_CTL_ADD
                    && (child.is_some() || events & !EPOLLEXCLUSIVE_OK_BITS != 0)))
        {
            return Err(EINVAL);
        }
        // The full check of `ep_ctl_lock`: adding an instance, or adding anything to an
        // instance that is itself watched, may add wake-up paths (and an instance, cycles).
        // It is serialised with every other full check from the checks to the new watch
        // (`epnested_mutex`), so that no two ADDs can together do what each alone may not.
        let full_check = op == EPOLL_CTL_ADD && (child.is_some() || release::is_watched(self.file));
        let _nested = if full_check {
            let guard = nesting::EPNESTED.lock();
            if let Some(child) = child {
                nesting::loop_check(self, child)?;
            }
            Some(guard)
        } else {
            None
        };

        // Released watches were reaped by `lock_tree` below; one being released now cannot
        // have `key`, since we hold a reference on `tfile`.
        let key = FileFd {
            file: tfile.as_ptr() as usize,
            fd: args.fd,
        };
        let mut tree = self.lock_tree(0);
        let epi = tree.find(key);
        match op {
            EPOLL_CTL_ADD => match epi {
                Some(_) => Err(EEXIST),
                None => self.insert(
                    &mut tree,
                    &tfile,
                    child,
                    full_check,
                    args.fd,
                    events | EPOLLERR | EPOLLHUP,
                    args.data,
                ),
            },
            EPOLL_CTL_MOD => match epi {
                None => Err(ENOENT),
                Some(epi) if epi.events() & EPOLLEXCLUSIVE != 0 => Err(EINVAL),
                Some(epi) => {
                    self.modify(epi, events | EPOLLERR | EPOLLHUP, args.data);
                    Ok(0)
                }
            },
            EPOLL_CTL_DEL => match tree.remove(key) {
                // Dropping the item unhooks it and takes it off the ready list.
                Some(epi) => {
                    drop(epi);
                    Ok(0)
                }
                None => Err(ENOENT),
            },
            _ => Err(EINVAL),
        }
    }

    /// `ep_insert`: a new watch, hooked on the target's wait queues; reported at once if the
    /// target is already ready.
    /// `child` is the target's eventpoll when it is one of ours; with `full_check` (and
    /// `EPNESTED` held) the new wake-up paths are checked against epoll's limits.
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &self,
        tree: &mut RbTree,
        file: &File,
        child: Option<&EventPoll>,
        full_check: bool,
        fd: i32,
        events: u32,
        data: u64,
    ) -> Result<isize> {
        let native_epoll = child.is_none() && device::is_native_epoll(file);
        // Charged here, returned when the epitem drops (or now, if it cannot be made).
        self.user.charge()?;
        let epi = KBox::pin_init(
            Epitem::new(self, file, fd, events, data, native_epoll),
            GFP_KERNEL_ACCOUNT,
        )
        .inspect_err(|_| self.user.uncharge())?;
        let key = epi.key();
        let epi = tree.insert(epi).map_err(|_| EEXIST)?;
        release::index(epi);
        // `ep_insert`: counted as a path from here on; too many, and it is undone.
        let paths = match (full_check, child) {
            (false, _) => Ok(()),
            (true, None) => release::reverse_path_check(epi.key().file),
            (true, Some(child)) => child.reverse_path_check_below(1),
        };
        if paths.is_err() {
            drop(tree.remove(key));
            return Err(EINVAL);
        }
        let hooked = epi.hook(file, 0).and_then(|revents| {
            if let Some(child) = child {
                nesting::add_edge(self, nesting::key(child), epi)?;
            }
            Ok(revents)
        });
        match hooked {
            Ok(revents) => {
                if revents != 0 {
                    self.item_ready(epi);
                }
                Ok(0)
            }
            Err(e) => {
                // Undo: dropping the item takes off whatever entries were hooked.
                drop(tree.remove(key));
                Err(e)
            }
        }
    }

    /// `reverse_path_check` for every file watched below this instance, which is being
    /// added to another (the leaves `ep_loop_check_proc` lists). Caller holds `EPNESTED` and
    /// the `mtx` of every instance above this one, which the loop check proved to be fewer
    /// than `EP_MAX_NESTS`: the recursion and the nesting of `mtx` are bounded.
    fn reverse_path_check_below(&self, depth: u32) -> Result {
        let tree = self.lock_tree(depth);
        let mut res = Ok(());
        tree.for_each(|epi| {
            if res.is_err() {
                return;
            }
            res = if epi.targets_instance() {
                match epi.get_file() {
                    Some(f) => match device::instance_of(&f) {
                        Some(below) => below.reverse_path_check_below(depth + 1),
                        None => Ok(()),
                    },
                    None => Ok(()),
                }
            } else {
                release::reverse_path_check(epi.key().file)
            };
        });
        res
    }

    /// `ep_modify`: new events and data, and a re-poll so that an already-ready target is
    /// reported under the new mask.
    fn modify(&self, epi: &Epitem, events: u32, data: u64) {
        epi.set_event(events, data);
        if epi.poll(0) != 0 {
            self.item_ready(epi);
        }
    }

    /// EPOLL_WAIT: `ep_poll`. Waits until events are ready, the timeout passes or a signal
    /// arrives (EINTR, never restarted), then reports up to `maxevents` records.
    ///
    /// With a signal mask (epoll_pwait), the mask is swapped in for the wait, as
    /// `set_user_sigmask` does: its errors come first, and on EINTR the old mask returns only
    /// after the signal's handler is set up, so that the signal is delivered.
    pub(crate) fn wait(&self, args: &WaitArgs) -> Result<isize> {
        if args.flags & !RUST_EPOLL_WAIT_NSEC != 0 || (args.sigmask == 0 && args.sigsetsize != 0) {
            return Err(EINVAL);
        }
        let mask = sigmask::SigmaskGuard::set(args.sigmask, args.sigsetsize)?;
        let res = self.wait_unmasked(args);
        mask.restore(matches!(res, Err(e) if e == EINTR));
        res
    }

    /// `do_epoll_wait`: WAIT once any signal mask is in place.
    fn wait_unmasked(&self, args: &WaitArgs) -> Result<isize> {
        // The timeout in ns, negative for none: epoll_wait's milliseconds, or epoll_pwait2's
        // nanoseconds with RUST_EPOLL_WAIT_NSEC (the other field must then be 0).
        let timeout_ns = if args.flags & RUST_EPOLL_WAIT_NSEC != 0 {
            if args.timeout != 0 {
                return Err(EINVAL);
            }
            args.timeout_ns
        } else if args.timeout_ns != 0 {
            return Err(EINVAL);
        } else if args.timeout < 0 {
            -1
        } else {
            i64::from(args.timeout) * 1_000_000
        };
        if args.maxevents <= 0 || args.maxevents > EP_MAX_EVENTS {
            return Err(EINVAL);
        }
        let maxevents = args.maxevents as usize;
        let len = maxevents * core::mem::size_of::<EpollEvent>();
        if !access_ok(args.events, len) {
            return Err(EFAULT);
        }

        // The deadline, absolute on CLOCK_MONOTONIC, with the slack `select_estimate_accuracy`
        // would give a normal task: 0.1% of the timeout, at least 50 us, at most 100 ms.
        let (mut timed_out, deadline, slack) = match timeout_ns {
            t if t < 0 => (false, None, 0),
            0 => (true, None, 0),
            ns => {
                // SAFETY: FFI call without preconditions.
                let now = unsafe { bindings::ktime_get() };
                let slack = (ns as u64 / 1000).clamp(50_000, 100_000_000);
                (false, Some(now.saturating_add(ns)), slack)
            }
        };

        let mut eavail = self.ready_hint.load(Ordering::Relaxed);
        loop {
            if eavail {
                let n = self.send_events(args.events as usize, maxevents)?;
                if n != 0 {
                    return Ok(n as isize);
                }
            }
            if timed_out {
                return Ok(0);
            }
            if kernel::current!().signal_pending() {
                return Err(EINTR);
            }
            timed_out = self
                .wq
                .wait_exclusive(deadline, slack, || !self.ready.lock().is_empty());
            eavail = true;
        }
    }

    /// `ep_send_events`: reports up to `maxevents` ready items to the user's array at `uaddr`.
    /// Each item is re-polled, since readiness may have gone since its wake-up; level-triggered
    /// items go back to the tail of the ready list (round-robin between WAITs), one-shot items
    /// are disarmed. An item whose record cannot be written stays ready; the error is returned
    /// only if nothing was written.
    ///
    /// Items are taken [`BATCH`] at a time: one critical section re-queues the previous batch
    /// and takes the next, and one copy writes its records. A batch whose copy faults is
    /// written again record by record, so exactly the records that fit are reported.
    fn send_events(&self, uaddr: usize, maxevents: usize) -> Result<usize> {
        let _tree = self.lock_tree(0);
        let mut n = 0;
        let mut fault = false;
        let mut started = false;
        let mut batch: [Option<&Epitem>; BATCH] = [None; BATCH];
        let mut records = [EpollEvent { events: 0, data: 0 }; BATCH];
        // Level-triggered items reported by the previous batch, to re-queue at the tail.
        let mut requeue: [Option<&Epitem>; BATCH] = [None; BATCH];

        let more = loop {
            // Re-queue the last batch's level-triggered items; take the next batch.
            let taken = {
                let mut ready = self.ready.lock();
                if !started {
                    // The hint stays as it is until the transfer ends: a transfer in progress
                    // counts as events available (C's active `ovflist`), so that others wait
                    // for `mtx` and see what it re-queues, rather than report nothing.
                    ready.as_mut().start_transfer();
                    started = true;
                }
                for epi in requeue.iter_mut().map_while(Option::take) {
                    ready.as_mut().add_tail(epi);
                    self.ready_hint.store(true, Ordering::Relaxed);
                }
                let want = if fault { 0 } else { BATCH.min(maxevents - n) };
                let mut taken = 0;
                while taken < want {
                    let Some(epi) = ready.as_mut().pop_transfer() else {
                        break;
                    };
                    // SAFETY: Items on the ready lists are in the interest set (`ReadyList`'s
                    // invariant), and they cannot leave it while we hold `mtx`.
                    batch[taken] = Some(unsafe { epi.as_ref() });
                    taken += 1;
                }
                if taken == 0 {
                    break self.end_transfer(&mut ready);
                }
                taken
            };

            // Poll each item without the lock; keep the ready ones and their records.
            let mut m = 0;
            for i in 0..taken {
                let Some(epi) = batch[i].take() else { continue };
                let revents = epi.poll(0);
                if revents != 0 {
                    records[m] = EpollEvent {
                        events: revents,
                        data: epi.data(),
                    };
                    batch[m] = Some(epi);
                    m += 1;
                }
            }
            if m == 0 {
                continue;
            }

            let written = write_records(uaddr, n, &records[..m]);
            if written < m {
                // Put back what was not written, in order, at the front of the transfer list.
                let mut ready = self.ready.lock();
                for epi in batch[written..m].iter().rev().flatten() {
                    ready.as_mut().unpop_transfer(epi);
                }
                fault = true;
            }
            for (epi, slot) in batch[..written].iter().flatten().zip(requeue.iter_mut()) {
                let events = epi.events();
                if events & EPOLLONESHOT != 0 {
                    epi.disarm();
                } else if events & EPOLLET == 0 {
                    *slot = Some(*epi);
                }
            }
            // Compact the re-queue list (ET and one-shot items left holes).
            let mut r = 0;
            for i in 0..BATCH {
                if let Some(epi) = requeue[i].take() {
                    requeue[r] = Some(epi);
                    r += 1;
                }
            }
            n += written;
        };

        // Waiters queue exclusively, so a wake-up reaches one of them: pass it on while events
        // remain (the chained wake-up of C's `ep_done_scan`).
        if more && self.wq.is_active() {
            self.wq.wake_up(0);
        }
        if fault && n == 0 {
            return Err(EFAULT);
        }
        Ok(n)
    }
}

impl EventPoll {
    /// Creates the instance's debugfs picture (once it is at its final address).
    pub(crate) fn attach_view(&self) {
        *self.view.lock() = introspect::create_view(self);
    }

    /// The debugfs picture: counts, the rb-tree, the items in key order, the ready list.
    pub(crate) fn draw(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let tree = self.lock_tree(0);
        let mut watches = 0;
        tree.for_each(|_| watches += 1);
        let mut ready_fds = [0i32; 64];
        let mut nready = 0;
        self.ready.lock().for_each(|epi| {
            if let Some(slot) = ready_fds.get_mut(nready) {
                *slot = epi.fd();
            }
            nready += 1;
        });
        writeln!(
            f,
            "eventpoll: {} watches, {} ready, waiters {}, pollers {}",
            watches,
            nready,
            if self.wq.is_active() { "yes" } else { "no" },
            if self.poll_wait.is_active() {
                "yes"
            } else {
                "no"
            }
        )?;
        writeln!(
            f,
            "\ninterest set: red-black tree keyed by (file, fd), root at the left"
        )?;
        let mut drawn = 0;
        // SAFETY: We hold `mtx`, which keeps the tree unchanged while we draw it.
        unsafe { introspect::draw_tree(f, tree.root(), 0, &mut drawn)? };
        writeln!(f, "\nitems in key order:")?;
        let mut listed = 0;
        let mut res = Ok(());
        tree.for_each(|epi| {
            if listed < introspect::DRAW_MAX && res.is_ok() {
                let ready = self.ready.lock().is_linked(epi);
                res = introspect::draw_item(f, epi, ready);
            }
            listed += 1;
        });
        res?;
        write!(f, "\nready list (head to tail):")?;
        for fd in ready_fds.iter().take(nready.min(ready_fds.len())) {
            write!(f, " fd {fd}")?;
        }
        if nready > ready_fds.len() {
            write!(f, " ... ({} more)", nready - ready_fds.len())?;
        }
        writeln!(f)
    }

    /// The instance's lines of `/proc/PID/fdinfo/N`: one per watch, in key order.
    pub(crate) fn show_fdinfo(&self, m: &kernel::seq_file::SeqFile) {
        self.lock_tree(0)
            .for_each(|epi| crate::introspect::show_epitem(m, epi));
    }
}

#[pinned_drop]
impl PinnedDrop for EventPoll {
    /// `ep_free`: every watch is unhooked from its target and freed, and its file reference
    /// dropped, before the instance's memory goes.
    fn drop(self: Pin<&mut Self>) {
        // The debugfs file first: its readers may look at everything below.
        drop(self.view.lock().take());
        {
            let mut tree = self.lock_tree(0);
            while let Some(epi) = tree.pop_first() {
                drop(epi);
            }
        }
        // Watches of this instance by others are gone with its file; forget their edges
        // before the address can be reused (their items are freed by their own reaps).
        nesting::forget_child(&self);
        // With no items left nothing can queue the works again; wait for queued ones.
        // SAFETY: Initialised in `new`.
        unsafe {
            bindings::cancel_work_sync(self.pwake_work.get());
            bindings::cancel_work_sync(self.reap_work.get());
        }
    }
}

/// Whether the user range `[addr, addr + len)` is below the user address limit
/// (`access_ok`): WAIT refuses a buffer outside it with EFAULT before anything else, as
/// `ep_check_params` does.
fn access_ok(addr: u64, len: usize) -> bool {
    // SAFETY: `USER_PTR_MAX` is set once at boot and only read afterwards.
    let max = unsafe { core::ptr::addr_of!(bindings::USER_PTR_MAX).read() } as u64;
    match addr.checked_add(len as u64) {
        Some(end) => end == 0 || end - 1 <= max,
        None => false,
    }
}

/// Whether the caller may use EPOLLWAKEUP.
fn capable_block_suspend() -> bool {
    // SAFETY: FFI call without preconditions.
    unsafe { bindings::capable(bindings::CAP_BLOCK_SUSPEND as i32) }
}

/// `mtx` held, with its owner recorded (see [`EventPoll::poll`]).
struct TreeGuard<'a> {
    ep: &'a EventPoll,
    guard: NestedGuard<'a, RbTree>,
}

impl Deref for TreeGuard<'_> {
    type Target = RbTree;

    fn deref(&self) -> &RbTree {
        &self.guard
    }
}

impl DerefMut for TreeGuard<'_> {
    fn deref_mut(&mut self) -> &mut RbTree {
        &mut self.guard
    }
}

impl Drop for TreeGuard<'_> {
    fn drop(&mut self) {
        // Cleared before `guard` unlocks (fields drop after this).
        self.ep
            .mtx_owner
            .store(core::ptr::null_mut(), Ordering::Relaxed);
    }
}

/// Deferred wake-up of an instance's pollers (see [`EventPoll::item_ready`]).
///
/// # Safety
///
/// `work` must be the `pwake_work` of a live `EventPoll` (its `drop` cancels the work first).
unsafe extern "C" fn pwake_work_fn(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the `pwake_work` field of a live eventpoll (our contract); `Opaque` is
    // transparent, so subtracting the field offset finds the eventpoll.
    let ep = unsafe {
        &*work
            .byte_sub(core::mem::offset_of!(EventPoll, pwake_work))
            .cast::<EventPoll>()
    };
    ep.poll_wait.wake_up(EPOLLIN);
}

/// Queues `work` on the system's default (unbound) workqueue.
///
/// # Safety
///
/// `work` must be initialised, and cancelled before its memory goes.
unsafe fn queue_work(work: &Opaque<bindings::work_struct>) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        bindings::queue_work_on(
            bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
            bindings::system_dfl_wq,
            work.get(),
        )
    };
}

/// Frees an instance's released watches (see [`EventPoll::queue_reap`]).
///
/// # Safety
///
/// `work` must be the `reap_work` of a live `EventPoll` (its `drop` cancels the work first).
unsafe extern "C" fn reap_work_fn(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the `reap_work` field of a live eventpoll (our contract); `Opaque` is
    // transparent, so subtracting the field offset finds the eventpoll.
    let ep = unsafe {
        &*work
            .byte_sub(core::mem::offset_of!(EventPoll, reap_work))
            .cast::<EventPoll>()
    };
    drop(ep.lock_tree(0));
}
