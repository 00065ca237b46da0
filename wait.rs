// SPDX-License-Identifier: GPL-2.0

//! Harvesting events: fs/eventpoll.c's `do_epoll_wait`, `ep_poll`, `ep_send_events`,
//! `ep_deliver_event`, `ep_start_scan` / `ep_done_scan` and `__ep_eventpoll_poll`. With a ready
//! ring (`ring.rs`), WAIT and the instance's poll also count the ring's records as available.

use core::mem::MaybeUninit;
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::Relaxed,
    time::{delay::fsleep, Delta, Instant, Monotonic},
};

use crate::{
    epitem::Epitem,
    eventpoll::{EventPoll, ReadyGuard, FROM_VFS},
    irqlock::lock_irq,
    minwait::MinWait,
    mutex::NestedGuard,
    rbtree::RbTree,
    sigmask,
    uapi::*,
};

/// Ready items taken and reported per critical section of `send_events` (at most 32: a `u32`
/// holds a bit per item).
const BATCH: usize = 16;
const _: () = assert!(BATCH <= 32);

/// How long a poll through the VFS waits for `mtx` held by another task (see
/// `EventPoll::lock_tree_for_vfs_poll`): longer than a WAIT's transfer or a ctl (tens of
/// microseconds; milliseconds under KASAN and TCG, where a transfer of 2,000 quiet items
/// comes near it), short enough that a cycle through a
/// native epoll instance with a thread on each side costs a pause, not a hang.
const VFS_POLL_MTX_WAIT: Delta = Delta::from_millis(50);

extern "C" {
    fn rust_epoll_put_events(uevents: usize, records: *const EpollEvent, n: usize) -> usize;
    fn rust_epoll_fatal_signal_pending() -> bool;
}

/// Writes `records` at index `at` of the user's array at `uaddr`, each as C's
/// `epoll_put_uevent` does (one user-access section and two stores per record); returns how
/// many were written, which is fewer only if the user memory faulted.
fn write_records(uaddr: usize, at: usize, records: &[EpollEvent]) -> usize {
    let base = uaddr + at * core::mem::size_of::<EpollEvent>();
    // SAFETY: `records` is valid for reads of its length; the helper checks the user range
    // itself (`access_ok` in its user-access section) and stops at the first fault.
    unsafe { rust_epoll_put_events(base, records.as_ptr(), records.len()) }
}

impl EventPoll {
    /// EPOLL_WAIT: `ep_poll`. Waits until events are ready, the timeout passes or a signal
    /// arrives (EINTR, never restarted), then reports up to `maxevents` records.
    ///
    /// With a signal mask (epoll_pwait), the mask is swapped in for the wait, as
    /// `set_user_sigmask` does: its errors come first, and on EINTR the old mask returns only
    /// after the signal's handler is set up, so that the signal is delivered.
    pub(crate) fn wait(&self, args: &WaitArgs) -> Result<isize> {
        self.wait_with(args, None)
    }

    /// RUST_EPOLL_WAIT_REG: epoll_wait(2)'s three arguments as they came in registers (see the
    /// header), without a struct to read, a signal mask or nanoseconds: the common case, on
    /// its own short path.
    #[inline]
    pub(crate) fn wait_reg(&self, uaddr: u64, maxevents: i32, timeout_ms: i32) -> Result<isize> {
        if maxevents <= 0 {
            return Err(EINVAL);
        }
        let maxevents = maxevents as usize;
        if !access_ok(uaddr, maxevents * core::mem::size_of::<EpollEvent>()) {
            return Err(EFAULT);
        }
        let timeout_ns = if timeout_ms < 0 {
            -1
        } else {
            i64::from(timeout_ms) * 1_000_000
        };
        self.poll_events(uaddr as usize, maxevents, timeout_ns)
    }

    /// WAIT, or with `min` RUST_EPOLL_WAIT_MIN (`minwait.rs`), which differs only in how it
    /// waits once everything is checked and the mask is in place.
    pub(crate) fn wait_with(&self, args: &WaitArgs, min: Option<&MinWait>) -> Result<isize> {
        if args.flags & !RUST_EPOLL_WAIT_NSEC != 0 || (args.sigmask == 0 && args.sigsetsize != 0) {
            return Err(EINVAL);
        }
        if args.sigmask == 0 {
            return self.wait_unmasked(args, min);
        }
        let mask = sigmask::SigmaskGuard::set(args.sigmask, args.sigsetsize)?;
        let res = self.wait_unmasked(args, min);
        mask.restore(matches!(res, Err(e) if e == EINTR));
        res
    }

    /// `do_epoll_wait`: WAIT once any signal mask is in place.
    fn wait_unmasked(&self, args: &WaitArgs, min: Option<&MinWait>) -> Result<isize> {
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
        match min {
            None => self.poll_events(args.events as usize, maxevents, timeout_ns),
            Some(min) => self.poll_events_min(args.events as usize, maxevents, timeout_ns, min),
        }
    }

    /// `ep_poll` proper: `timeout_ns` < 0 waits forever, 0 not at all.
    #[inline]
    pub(crate) fn poll_events(
        &self,
        uaddr: usize,
        maxevents: usize,
        timeout_ns: i64,
    ) -> Result<isize> {
        // The deadline, absolute on CLOCK_MONOTONIC (its slack is computed at each sleep, as
        // `ep_poll` computes it: see `waitqueue.rs`).
        let (mut timed_out, deadline) = match timeout_ns {
            t if t < 0 => (false, None),
            0 => (true, None),
            ns => {
                // SAFETY: FFI call without preconditions.
                let now = unsafe { bindings::ktime_get() };
                (false, Some(now.saturating_add(ns)))
            }
        };

        // Racy, as C's first `ep_events_available()`: a false negative only means the check
        // under the lock below decides.
        let mut eavail = self.ready_hint.load(Relaxed);
        loop {
            if eavail {
                let n = self.send_events(uaddr, maxevents)?;
                if n != 0 {
                    return Ok(n as isize);
                }
            }
            // With a ring: records wait there, which userspace harvests (`ring.rs`).
            if self.ring.is_set() && self.ring.pending(&self.ready.lock()) {
                return Ok(0);
            }
            if timed_out {
                return Ok(0);
            }
            // `ep_busy_loop` (busy_poll.rs): off unless EPIOCSPARAMS turned it on.
            if self.busy_loop() {
                eavail = true;
                continue;
            }
            if kernel::current!().signal_pending() {
                return Err(EINTR);
            }
            // The final check under `ready`, after queueing: events, or a transfer in progress
            // whose level-triggered items may come back (`ep_events_available`).
            let slept = self
                .wq
                .wait_exclusive(deadline, || self.events_available(&self.ready.lock()));
            timed_out = slept.timed_out;
            // As `ep_poll`: a waiter whose deadline passed before any wake-up reached it
            // returns 0 without looking again; events there are another waiter's, whom their
            // wake-up went to.
            eavail = !slept.timed_out || slept.woken;
        }
    }

    /// `ep_send_events`: reports up to `maxevents` ready items to the user's array at `uaddr`.
    /// Each item is re-polled, since readiness may have gone since its wake-up; level-triggered
    /// items go back to the tail of the ready list (round-robin between WAITs), one-shot items
    /// are disarmed. An item whose record cannot be written stays ready; the error is returned
    /// only if nothing was written.
    ///
    /// Items are taken [`BATCH`] at a time: one critical section re-queues the previous batch
    /// and takes the next, and one call writes its records. A batch whose write faults stops
    /// at the record that faulted; the items not written go back, in order, to the front.
    #[inline]
    fn send_events(&self, uaddr: usize, maxevents: usize) -> Result<usize> {
        // As C: a task being killed leaves at once rather than harvesting again and again.
        // SAFETY: FFI call without preconditions (reads `current`'s signal state).
        if unsafe { rust_epoll_fatal_signal_pending() } {
            return Err(EINTR);
        }
        let tree = self.lock_tree(0);
        let mut n = 0;
        let mut fault = false;
        // Whether the instance's wakeup source was made active by this scan.
        let mut ws_held = false;
        let mut batch = [const { MaybeUninit::<&Epitem>::uninit() }; BATCH];
        let mut records = [const { MaybeUninit::<EpollEvent>::uninit() }; BATCH];
        // The previous batch's written items: level-triggered ones go back to the ready list.
        let mut written = 0;
        // Bit `i`: a wake-up found `batch[i]` on the transfer list during this scan (C: it is on
        // `ovflist`): it is linked again once written (`ep_done_scan`; a no-op for a
        // level-triggered one, re-queued already).
        let mut woken: u32 = 0;
        // Items of the previous batch that polled quiet but were woken so: linked again too.
        let mut quiet_woken = [const { MaybeUninit::<&Epitem>::uninit() }; BATCH];
        let mut quiet = 0;

        let mut ready = self.lock_ready_irq(&tree);
        if ready.is_empty() {
            // Nothing to scan: no scan starts, so that waiters who see none in progress sleep
            // (two waiters starting empty scans could otherwise keep each other awake: found
            // by the protocol model, `model/`).
            self.set_ready_hint(&ready, false);
            return Ok(0);
        }
        // `ep_start_scan`. The hint stays as it is until the scan ends: a scan in progress
        // counts as events available (C's active `ovflist`).
        ready.as_mut().start_transfer();
        let more = loop {
            for i in 0..written {
                // SAFETY: The first `written` entries of `batch` and `records` were set below.
                let (epi, rec) = unsafe { (batch[i].assume_init(), records[i].assume_init_ref()) };
                epi.set_last_seen(&ready, rec.events);
                let events = epi.events(&tree);
                if events & EPOLLONESHOT != 0 {
                    epi.disarm(&tree);
                } else if events & EPOLLET == 0 {
                    // `ep_deliver_event`'s level-triggered re-queue (a no-op if a callback
                    // linked it meanwhile, or its target was released), to the tail when the
                    // scan ends. The hint is `true` already: it stays as it was during a scan.
                    if ready.as_mut().add_requeue(epi) && events & EPOLLWAKEUP != 0 {
                        epi.ws.stay_awake();
                    }
                }
                if woken & (1 << i) != 0 {
                    self.relink_woken(&mut ready, epi, events);
                }
            }
            // Taken, polled quiet, and woken while on the transfer list: linked again too.
            for slot in &quiet_woken[..quiet] {
                // SAFETY: The first `quiet` entries of `quiet_woken` were set below.
                let epi = unsafe { slot.assume_init() };
                self.relink_woken(&mut ready, epi, epi.events(&tree));
            }
            let want = if fault { 0 } else { BATCH.min(maxevents - n) };
            let mut taken = 0;
            let mut taken_woken: u32 = 0;
            while taken < want {
                let Some((epi, was_woken)) = ready.as_mut().pop_transfer() else {
                    break;
                };
                // SAFETY: Items on the ready lists are in the interest set (`ReadyList`'s
                // invariant), and they cannot leave it while we hold `mtx`.
                let epi = unsafe { epi.as_ref() };
                // `ep_deliver_event`: the instance's source covers the report before the
                // item's is relaxed, so that the system cannot suspend in between. (Only an
                // EPOLLWAKEUP watch has a source.) Relaxed here, under `ready`, as the item
                // leaves the list, as C relaxes it just before its `list_del_init`: from here
                // on it is unlinked, and a wake-up links it again at once (C's would go to
                // `ovflist` until the scan ends) and activates its source after this relax.
                // Relaxed after the lock was dropped, it was left inactive though linked, its
                // event pending with nothing to keep the system up (`exactness_test`'s
                // `a_linked_wakeup_watch_keeps_its_source_active`).
                if epi.events(&tree) & EPOLLWAKEUP != 0 && epi.ws.is_set() {
                    if epi.ws.is_active() {
                        self.ws.stay_awake();
                        ws_held = true;
                    }
                    epi.ws.relax();
                }
                batch[taken].write(epi);
                taken_woken |= u32::from(was_woken) << taken;
                taken += 1;
            }
            if taken == 0 {
                break self.end_transfer(&mut ready);
            }
            drop(ready);

            // Poll each item without the lock; keep the ready ones and their records.
            let mut m = 0;
            woken = 0;
            quiet = 0;
            for i in 0..taken {
                // SAFETY: Set above.
                let epi = unsafe { batch[i].assume_init() };
                let revents = epi.poll(&tree, 0);
                if revents != 0 {
                    records[m].write(EpollEvent {
                        events: revents,
                        data: epi.data(&tree),
                    });
                    batch[m].write(epi);
                    woken |= ((taken_woken >> i) & 1) << m;
                    m += 1;
                } else if taken_woken & (1 << i) != 0 {
                    quiet_woken[quiet].write(epi);
                    quiet += 1;
                }
            }
            // SAFETY: The first `m` records were written above; `MaybeUninit<T>` has `T`'s
            // layout.
            let recs =
                unsafe { core::slice::from_raw_parts(records.as_ptr().cast::<EpollEvent>(), m) };
            written = write_records(uaddr, n, recs);
            ready = self.lock_ready_irq(&tree);
            if written < m {
                // Put back what was not written, in order, at the front of the transfer list.
                for i in (written..m).rev() {
                    // SAFETY: Set above.
                    let epi = unsafe { batch[i].assume_init() };
                    // Its source too, unless a release took it meanwhile (its source is
                    // relaxed and about to go with it).
                    if ready.as_mut().unpop_transfer(epi) {
                        epi.ws.stay_awake();
                    }
                }
                fault = true;
            }
            n += written;
        };
        drop(ready);
        // `ep_done_scan`'s relax of the instance's source (active only if this scan made it
        // so), and its chained wake-up: waiters queue exclusively, so a wake-up reaches one of
        // them; pass it on while events remain.
        if ws_held {
            self.ws.relax();
        }
        drop(tree);
        // Read without `ready` (C reads `waitqueue_active(&ep->wq)` under `ep->lock` in
        // `ep_done_scan`): a waiter queues on `wq` before it checks the list under `ready`,
        // and our section under `ready` above came before this read; one that queued after
        // that section finds what the scan left when it checks, so it needs no wake-up.
        if more && self.wq.is_active() {
            self.wq.wake_up(0);
        }
        if fault && n == 0 {
            return Err(EFAULT);
        }
        Ok(n)
    }

    /// `ep->lock` as `ep_start_scan`, `ep_done_scan` and `ep_send_events` take it, with
    /// `spin_lock_irq()`: for `send_events` and `scan_ready` only, which hold `mtx` (`_tree` is
    /// what it guards) and this lock at most once at a time.
    #[inline]
    fn lock_ready_irq(&self, _tree: &RbTree) -> ReadyGuard<'_> {
        // SAFETY: Interrupts are on. Our two callers run where sleeping is allowed: a WAIT
        // (`send_events`, an ioctl) or the instance's `poll` (`scan_ready`), whose callers poll
        // with no spinlock held and interrupts on, as native epoll's `__ep_eventpoll_poll`,
        // which sleeps on `mtx`, requires (`fops_poll` states it with `might_sleep()`; our own
        // `Epitem::poll` runs under our `mtx` only, every ready guard of the parent instance
        // dropped before its items are polled). Each caller drops its guard of this lock before
        // taking it again.
        unsafe { lock_irq(&self.ready) }
    }

    /// Ends a transfer (`ep_done_scan`): what was not reported goes back to the front of the
    /// ready list, and the hint says again whether anything is ready. Returns that.
    fn end_transfer(&self, ready: &mut ReadyGuard<'_>) -> bool {
        ready.as_mut().end_transfer();
        let more = !ready.is_empty();
        // While the ready list has items the hint is `true` (every item added to an empty list
        // sets it, and only an empty list clears it): only `false` needs storing.
        if !more {
            self.set_ready_hint(ready, false);
        }
        more
    }

    /// `ep_done_scan`'s loop over `ovflist`, for one item: `epi`, taken by this scan and done
    /// with, was woken while it waited on the transfer list, so it goes back on the ready list
    /// unless linked already (a level-triggered item re-queued, a later wake-up, a release).
    /// For an edge-triggered item reported, the next WAIT reports it again; a disarmed
    /// one-shot item or one polled quiet is dropped by the next poll, as in C, which holds an
    /// EPOLLWAKEUP watch's source active until then.
    fn relink_woken(&self, ready: &mut ReadyGuard<'_>, epi: &Epitem, events: u32) {
        if ready.as_mut().add_tail(epi) && events & EPOLLWAKEUP != 0 {
            epi.ws.stay_awake();
        }
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
        // SAFETY: `file` is ours and alive (the caller's reference); `poll_wait` lives as long
        // as the instance, which outlives its file, and every poller's entry leaves it before
        // the file's `->release()`: select/poll's in `poll_freewait` while they hold the file,
        // a native epoll watcher's in `eventpoll_release()` at `__fput()`'s entry, one of ours
        // in our release hook, at the same place.
        unsafe { bindings::poll_wait(file, self.poll_wait.as_raw(), pt) };
        // Under the ready lock, not from the lockless hint: the poller has just queued itself
        // on `poll_wait`, and only the lock orders that against the callback's linking of an
        // item and its check for pollers (a lockless read here could miss both). A transfer
        // in progress counts: its level-triggered items come back when it ends, and we wait
        // for that below (on `mtx`).
        {
            let ready = self.ready.lock();
            // Records in the ring (`ring.rs`) make the instance readable as they are.
            if self.ring.pending(&ready) {
                return EPOLLIN | EPOLLRDNORM;
            }
            // (Nothing ready: answered without `mtx`, where native epoll always takes it. A
            // nested ADD's check can so end while another task holds our `mtx`: see
            // `needs_full_check` in `ctl.rs` for why that matters and how it is handled.)
            if !ready.has_events() {
                return 0;
            }
        }
        // Polled by one of our instances from one of our own calls, `mtx` is taken as native
        // epoll takes a nested one: after the watcher's, in the order of our instances, which
        // the loop check keeps acyclic. Polled through the VFS (a native epoll instance,
        // select, poll) or below such a poll, the caller may hold locks we cannot see: a native
        // instance's `mtx`, which our own WAIT may be waiting for while holding ours (ours
        // watching a native one that watches ours, with a thread in each), or our own `mtx`
        // further up (a cycle through a native instance). Then `mtx` is not waited for
        // without bound: see `lock_tree_for_vfs_poll`.
        let tree = if depth & FROM_VFS == 0 {
            self.lock_tree(depth)
        } else {
            match self.lock_tree_for_vfs_poll() {
                Ok(tree) => tree,
                Err(answer) => return answer,
            }
        };
        let res = self.scan_ready(&tree, depth);
        drop(tree);
        res
    }

    /// `mtx` for a poll through the VFS, or the answer without it. Native epoll waits for
    /// `mtx` (`__ep_eventpoll_poll` takes it with `mutex_lock_nested`), and so sees what the
    /// holder leaves behind and re-polls every item on the ready list: an edge-triggered item a
    /// WAIT reported is gone, a level-triggered one is back, one that has gone quiet since it
    /// was queued is dropped. This poll may not wait without bound (the holder may be waiting
    /// for a lock our caller holds: a cycle through a native epoll instance, which no loop check
    /// sees; or the holder is this very task, further up its stack).
    ///
    /// So, while `mtx` is busy and the ready list has items, the poll sleeps in short steps
    /// until `mtx` is free, for at most [`VFS_POLL_MTX_WAIT`], and then answers "ready"
    /// unverified; at once if this task holds it. An empty list answers 0 at once (an item
    /// added later wakes `poll_wait`, where the poller is queued). It waits whatever the
    /// holder is doing: answering from the list while a WAIT was transferring made a poller
    /// woken with others return for an event another's WAIT was taking (the kernel selftest
    /// epoll58's race, lost more often on the device; `exactness_test`'s
    /// `vfs_poll_during_a_transfer_waits_for_it`), and while a ctl held `mtx` it reported a
    /// level-triggered item that had gone quiet (`vfs_poll_during_a_ctl_re_polls_the_items`:
    /// 5,087 of 20,000 polls, native 0), as did a WAIT that held `mtx` and had not yet begun
    /// its transfer. It waits by trylock, not on the mutex, which it may not block on; a trylock
    /// can lose to queued waiters for as long as the mutex stays contended, hence the bound.
    fn lock_tree_for_vfs_poll(&self) -> core::result::Result<NestedGuard<'_, RbTree>, u32> {
        let mut start = None;
        loop {
            if let Some(tree) = self.mtx.try_lock() {
                return Ok(tree);
            }
            {
                let ready = self.ready.lock();
                if self.ring.pending(&ready) {
                    return Err(EPOLLIN | EPOLLRDNORM);
                }
                if !ready.has_events() {
                    return Err(0);
                }
            }
            let t0 = *start.get_or_insert_with(Instant::<Monotonic>::now);
            if self.mtx.held_by_current() || t0.elapsed() > VFS_POLL_MTX_WAIT {
                return Err(EPOLLIN | EPOLLRDNORM);
            }
            // `poll` may sleep (native epoll's does, on `mtx`); nothing wakes us when `mtx`
            // is released, hence the short sleeps.
            fsleep(Delta::from_micros(20));
        }
    }

    /// The scan of `__ep_eventpoll_poll`: EPOLLIN if an item of the ready list is really
    /// ready, dropping the ones that are not. Caller holds `mtx` at `depth`.
    fn scan_ready(&self, tree: &RbTree, depth: u32) -> u32 {
        let mut res = 0;
        let mut ready = self.lock_ready_irq(tree);
        ready.as_mut().start_transfer();
        while let Some((next, woken)) = ready.as_mut().pop_transfer() {
            drop(ready);
            // SAFETY: As in `send_events`: ready items are in the interest set, and `mtx`
            // keeps them there.
            let epi = unsafe { next.as_ref() };
            // A native epoll target is re-polled as `ep_item_poll` does (its poll re-polls its
            // own ready items under its `mtx`), except under a poll through the VFS: there our
            // caller may be that very instance, or another native one it reaches, holding its
            // `mtx` above us (a cycle we cannot see), and linked must mean ready enough. Under
            // our own WAIT or ctl (no `FROM_VFS`) only our own locks are held above (our
            // instances' `mtx`, a full check's `EPNESTED`), which native code never takes
            // without trylock, as when `send_events` polls the same target.
            let hot = if epi.targets_native_epoll() && depth & FROM_VFS != 0 {
                true
            } else {
                epi.poll(tree, depth) != 0
            };
            ready = self.lock_ready_irq(tree);
            if hot {
                ready.as_mut().unpop_transfer(epi);
                res = EPOLLIN | EPOLLRDNORM;
                break;
            }
            let events = epi.events(tree);
            // `__ep_eventpoll_poll`'s relax of an item found quiet, unless a wake-up linked it
            // again while it was polled (ours link at once where C's wait on `ovflist`), and
            // activated its source: a linked item's source stays active.
            if events & EPOLLWAKEUP != 0 && !ready.is_linked(epi) {
                epi.ws.relax();
            }
            if woken {
                self.relink_woken(&mut ready, epi, events);
            }
        }
        // `ep_done_scan`: a waiter that slept while items were on the ready list, woken by
        // none of them, is woken now.
        let wake = self.end_transfer(&mut ready) && self.wq.is_active();
        drop(ready);
        if wake {
            self.wq.wake_up(0);
        }
        res
    }
}

/// `access_ok(addr, len)` as x86-64's `__access_ok` computes it for a size that is not a
/// compile-time constant: `addr + len`, without overflow, at most `USER_PTR_MAX`. WAIT refuses
/// a buffer outside it with EFAULT before anything else, as `ep_check_params` does. (The end
/// itself is compared, not its last byte: a buffer ending one byte past `USER_PTR_MAX` is
/// refused natively, and was accepted here.)
fn access_ok(addr: u64, len: usize) -> bool {
    // SAFETY: `USER_PTR_MAX` is set once at boot and only read afterwards.
    let max = unsafe { core::ptr::addr_of!(bindings::USER_PTR_MAX).read() } as u64;
    addr.checked_add(len as u64).is_some_and(|end| end <= max)
}
