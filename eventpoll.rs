// SPDX-License-Identifier: GPL-2.0

//! The instance: fs/eventpoll.c's `struct eventpoll`, `ep_alloc`, `ep_clear_and_put`, the
//! ready-list half of `ep_poll_callback` and `ep_poll_safewake`. Its operations are in
//! `ctl.rs` (`do_epoll_ctl`, `ep_insert`, `ep_modify`, `ep_remove`) and `wait.rs` (`ep_poll`,
//! `ep_send_events`, `ep_eventpoll_poll`).
//!
//! # Locks
//!
//! - `nesting::EPNESTED` (global mutex, `epnested_mutex`): serialises full checks (an ADD that
//!   may change the graph of nested instances), from the checks to the new watch.
//! - `mtx` (mutex, `ep->mtx`): the interest set, and each item's requested events, data, wait
//!   entries and wakeup source; the instance's wakeup source. Held by every CTL, by the event
//!   transfer of WAIT, by `poll` of the instance, and by the reap of released watches, so an
//!   item cannot leave the interest set while it is reported.
//! - A release-index bucket lock (`release.rs`, the module's `file->f_lock`): the watches of
//!   the files whose addresses hash to that bucket (each file's list, each watch's `state`),
//!   and the putting of their heads in the index and their taking off (the index, an
//!   rhashtable, takes its own bucket locks inside).
//! - `ready` (IRQ-safe spinlock, `ep->lock`): the ready, transfer and released lists, each
//!   item's link on them and `last_seen`; the ring's producer side and each item's ring mark
//!   (`ring.rs`). Taken by `ep_poll_callback` in the waker's context.
//! - `wq` and `poll_wait` (the wait queues' own spinlocks): waiters in WAIT, and pollers of
//!   the instance itself.
//! - `view`: the debugfs file, a leaf.
//!
//! Order: `EPNESTED` → `mtx` → a nested instance's `mtx` (watcher before watched; no cycles,
//! by the loop check; each taken at its depth below the first as lockdep subclass, see
//! `mutex.rs`) → a bucket lock (one at a time: the walks under `EPNESTED` read under RCU,
//! taking a file's only briefly, for its first link) → a target's wait-queue lock (taken by its `poll`, and by adding or removing our
//! entries) → `ready`. `wq` and `poll_wait` are taken after `ready` is released (only a
//! min-waiter's wake function, `minwait.rs`, takes `ready` inside `wq`'s lock), possibly inside
//! a target's queue lock (the callback wakes them); a nested instance's callback runs inside its child's
//! `poll_wait` lock, and wakes its own `poll_wait` one lockdep subclass deeper (`nests`).
//! Nothing sleeps under a spinlock, and `mtx` is never taken inside one. Wake-ups coming from
//! a native epoll target go to our pollers through `pwake_work`, outside every lock (see
//! [`EventPoll::item_ready`]).
//!
//! A waiter or poller queues itself on `wq`/`poll_wait` and then checks the lists under
//! `ready`; the callback links the item and reads whether anyone waits under `ready` too.
//! Whichever of the two critical sections comes second sees the other's write, so a wake-up
//! is never lost. Whether the wake-up then found a waiter (the callback's answer to an
//! exclusive wake-up) is read again under `wq`'s lock, where waiters queue and leave (see
//! [`EventPoll::item_ready`]). The lockless `ready_hint` only lets WAIT skip work; it never
//! decides whether to sleep.
//!
//! # Lifetime
//!
//! An instance is an `Arc`: its file holds one reference, and each queued work item one. The
//! file's release empties the interest set ([`EventPoll::clear`]); the memory goes with the last
//! reference, so a work item queued by a late release or wake-up finds the instance alive. The
//! file's own reference is dropped a grace period after the release ([`EventPoll::put_rcu`],
//! C's `kfree_rcu(ep)`), for the walks under RCU that may still read the instance through one
//! of its watches (`release.rs`). Module exit waits for those grace periods (`rcu_barrier`),
//! then drains the module's workqueue, before the code goes.
//!
//! # Differences from fs/eventpoll.c
//!
//! - No `ovflist`: see `ready.rs` for the transfer list that replaces it.
//! - A watch whose target is released is unhooked at once, as in C, but freed a little later
//!   by the instance itself under `mtx` (the reap: `release.rs`), since release cannot sleep.
//! - Wake-up paths and reverse-path limits count our instances only: a native epoll
//!   instance watching ours, or watched by ours, is a leaf to both sides' checks.

#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
use core::cell::UnsafeCell;
use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow, Mutex,
    },
    types::Opaque,
    workqueue::{impl_has_work, new_work, Work, WorkItem},
};

use crate::{
    busy_poll::BusyPoll,
    epitem::Epitem,
    introspect,
    irqlock::{new_irq_spinlock, IrqSpinLock, IrqSpinLockGuard},
    limits,
    mutex::{NestedGuard, NestedMutex},
    nesting::LoopMemo,
    rbtree::RbTree,
    ready::ReadyList,
    release::FileHead,
    ring::{Offer, RingSlot},
    uapi::*,
    waitqueue::WaitQueueHead,
    wakeup::WakeupSource,
};

/// Flag in a poll's `depth`: the poll came through the VFS (`f_op->poll`), whose caller may
/// hold locks we cannot see; so do the polls of the instances below it (see `wait.rs`).
pub(crate) const FROM_VFS: u32 = 1 << 16;

/// `EPOLL_URING_WAKE`: passed on to pollers as C's `ep_poll_callback` does.
const EPOLL_URING_WAKE: u32 = 1 << 27;

/// One instance: fs/eventpoll.c's `struct eventpoll`.
#[pin_data]
pub(crate) struct EventPoll {
    /// The interest set (`ep->rbr`), and the serialisation of CTL and event transfer. Taken
    /// at a nesting depth (see `mutex.rs`): 0 for the instance a call is on, one more for
    /// each instance it reaches through the ones it watches.
    #[pin]
    pub(crate) mtx: NestedMutex<RbTree>,
    /// The ready list (`ep->rdllist`) and its companions (see `ready.rs`).
    #[pin]
    pub(crate) ready: IrqSpinLock<ReadyList>,
    /// Whether the ready list may be non-empty or a transfer is in progress: written under
    /// `ready`, read without it, as C's lockless `ep_events_available`. A stale `true` costs
    /// one empty transfer; a `false` is only stale while an event is arriving, and that
    /// event's wake-up then finds the waiter queued.
    pub(crate) ready_hint: Atomic<bool>,
    /// Tasks in WAIT (`ep->wq`), queued exclusively: one is woken per event.
    #[pin]
    pub(crate) wq: WaitQueueHead,
    /// Pollers of the instance file itself (`ep->poll_wait`).
    #[pin]
    pub(crate) poll_wait: WaitQueueHead,
    /// While `poll_wait` is being woken: one more than the lockdep subclass its lock was taken
    /// at (`ep->nests`), so that an instance watching this one wakes its own one deeper.
    /// Written by `helpers.c` inside that lock, read by the wake-up's callbacks under it.
    #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
    nests: UnsafeCell<u8>,
    /// Our watches of this instance's own file (`ep->refs`), in the release index.
    #[pin]
    head: FileHead,
    /// This instance in the loop check in flight (`ep->gen`, `ep->loop_check_depth`).
    memo: LoopMemo,
    /// The user this instance charges its watches to (`ep->user`).
    pub(crate) user: limits::User,
    /// Reported while a transfer runs (`ep->ws`); under `mtx`.
    pub(crate) ws: WakeupSource,
    /// Its debugfs picture, removed first when the instance goes.
    #[pin]
    view: Mutex<Option<introspect::DebugView>>,
    /// Wakes `poll_wait` later, from process context: see [`Self::item_ready`].
    #[pin]
    pwake_work: Work<EventPoll, 0>,
    /// The task running `pwake_work`'s wake-up, while it does (else null).
    pwake_task: Atomic<*mut kernel::bindings::task_struct>,
    /// Frees the released watches soon after their release (see [`Self::queue_reap`]).
    #[pin]
    reap_work: Work<EventPoll, 1>,
    /// The file's reference, handed to RCU at the file's release (see [`Self::put_rcu`]).
    free_rcu: Opaque<bindings::callback_head>,
    /// Drops that reference after the grace period, from process context.
    #[pin]
    free_work: Work<EventPoll, 2>,
    /// Busy polling: the EPIOCSPARAMS parameters and the last NAPI id (`busy_poll.rs`).
    pub(crate) bp: BusyPoll,
    /// The shared ready ring, once set up (`ring.rs`).
    pub(crate) ring: RingSlot,
}

// SAFETY: Every field is a lock, an atomic, a wait queue or work item (C objects made for
// concurrent use), immutable after creation, or guarded by the lock named on it. `nests` is
// only touched under `poll_wait`'s lock; `free_rcu` only by `put_rcu` and then RCU, once.
unsafe impl Sync for EventPoll {}
// SAFETY: As above; nothing in it is tied to a thread.
unsafe impl Send for EventPoll {}

impl_has_work! {
    impl HasWork<Self, 0> for EventPoll { self.pwake_work }
    impl HasWork<Self, 1> for EventPoll { self.reap_work }
    impl HasWork<Self, 2> for EventPoll { self.free_work }
}

impl EventPoll {
    /// A new, empty instance (`ep_alloc`) charging its watches to `user`, opened as `file`.
    pub(crate) fn new(user: limits::User, file: usize) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                mtx <- NestedMutex::new(RbTree::new(), c"eventpoll::mtx", kernel::static_lock_class!()),
                ready <- new_irq_spinlock!(ReadyList::new(), c"eventpoll::ready"),
                ready_hint: Atomic::new(false),
                wq <- WaitQueueHead::new(c"eventpoll::wq", kernel::static_lock_class!()),
                poll_wait <- WaitQueueHead::new(c"eventpoll::poll_wait", kernel::static_lock_class!()),
                #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
                nests: UnsafeCell::new(0),
                head <- FileHead::new(file),
                memo: LoopMemo::new(),
                user,
                ws: WakeupSource::none(),
                view <- new_mutex!(None, "eventpoll::view"),
                pwake_work <- new_work!("eventpoll::pwake_work"),
                pwake_task: Atomic::new(core::ptr::null_mut()),
                reap_work <- new_work!("eventpoll::reap_work"),
                free_rcu: Opaque::uninit(),
                free_work <- new_work!("eventpoll::free_work"),
                bp: BusyPoll::new(),
                ring: RingSlot::new(),
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// A new reference on this instance (every instance is in an `Arc`: see `new`).
    pub(crate) fn arc(&self) -> Arc<Self> {
        // SAFETY: Instances are only made by `new`, inside an `Arc`, and `self` borrows one.
        unsafe { ArcBorrow::from_raw(self) }.into()
    }

    /// Our watches of this instance (`ep->refs`).
    pub(crate) fn head(&self) -> &FileHead {
        &self.head
    }

    /// This instance in the loop check in flight.
    pub(crate) fn memo(&self) -> &LoopMemo {
        &self.memo
    }

    /// Puts `epi` on the ready list and wakes a waiter and the pollers: the part of
    /// `ep_poll_callback` that touches the instance (`pollflags` the wake-up's mask, `sync` its
    /// synchronous hint), unless the item does not want the wake-up. Returns the item's
    /// requested events, read under `ready`, and whether a waiter
    /// was there to wake: C's `waitqueue_active(&ep->wq)` under `ep->lock`, with which C's
    /// waiters queue and dequeue; ours do so under `wq`'s lock, so the answer is the wake-up's
    /// own, under that lock (a waiter that timed out and left after our check under `ready` is
    /// not counted: an `EPOLLEXCLUSIVE` wake-up then goes on to the next instance, as in C,
    /// where that waiter either left before the check or was taken by the wake-up; see
    /// `rust_epoll_wake_up_found` in `helpers.c` for where ours still wakes more than C).
    ///
    /// Pollers are woken at once (`ep_poll_safewake`), except when `epi` watches a native
    /// epoll instance: that one may be watching us, a cycle no loop check can see, and waking
    /// it again from inside its own wake-up deadlocks on its `poll_wait` lock. Those wake-ups
    /// are deferred to a work item (pending ones coalesce), on every callback as C wakes, except
    /// one that comes back from our own deferred wake-up through such a cycle: that one is
    /// the cycle itself, and deferring it again would go round for ever.
    pub(crate) fn item_ready(&self, epi: &Epitem, pollflags: u32, sync: bool) -> (u32, bool) {
        let (events, wake, pwake) = {
            let mut ready = self.ready.lock();
            // The requested events are read under `ready`, as C's `ep_poll_callback` reads
            // `epi->event.events` under `ep->lock` (fs/eventpoll.c, ep_poll_callback: its
            // checks after `spin_lock_irqsave(&ep->lock)`). That lock is the callback's half
            // of `ep_modify`'s `smp_mb()` (ctl.rs): the waker made the target ready before it
            // woke us, and on x86 the lock's atomic orders that store before this load, so
            // either this load sees MOD's new mask or MOD's re-poll sees the target ready.
            // Read before the lock, an eventfd written while a MOD re-armed its one-shot watch
            // could be seen by neither (the old mask here, the old count there: store
            // buffering, which x86 allows), and in ring mode a record could pair the old mask
            // with the new data, after MOD returned.
            let events = epi.events_lockless();
            // A disarmed one-shot item, or a wake-up for events it does not want, is ignored.
            if events & !EP_PRIVATE_BITS == 0 || (pollflags != 0 && pollflags & events == 0) {
                return (events, false);
            }
            if pollflags != 0 {
                epi.set_last_seen(&ready, pollflags);
            }
            // A watch in ring mode gets a record instead (`ring.rs`).
            let offer = self.ring.offer(&ready, epi, events, pollflags);
            if offer == Offer::Merged {
                return (events, false);
            }
            let was_empty = ready.is_empty();
            let added = offer == Offer::Appended || ready.as_mut().add_tail(epi);
            if added && offer == Offer::Normal {
                if events & EPOLLWAKEUP != 0 {
                    // `ep_pm_stay_awake_rcu`: interrupts are off, an RCU read-side section.
                    epi.ws.stay_awake();
                }
                // The hint is `true` while the list has items: set it when it gets its first.
                if was_empty {
                    self.set_ready_hint(&ready, true);
                }
            }
            (events, self.wq.is_active(), self.poll_wait.is_active())
        };
        // Checked under `ready` first, as C does: no waiter then, no wake-up (the waiter that
        // queues after it finds the item when it checks the list under `ready`).
        let woke = wake && self.wq.wake_up_found(sync);
        if pwake {
            if !epi.targets_native_epoll() {
                self.poll_safewake(Some(epi), pollflags & EPOLL_URING_WAKE);
            } else if self.pwake_task.load(Relaxed) != kernel::task::Task::current_raw() {
                self.queue_pwake();
            }
        }
        (events, woke)
    }

    /// Puts `epi` (just found ready, with `revents`, by a poll under `mtx`) on the ready list
    /// and wakes as the callback does: the tail of `ep_insert` and `ep_modify`.
    pub(crate) fn item_ready_polled(&self, epi: &Epitem, revents: u32) {
        let (wake, pwake) = {
            let mut ready = self.ready.lock();
            epi.set_last_seen(&ready, revents);
            match self.ring.offer(&ready, epi, epi.events_lockless(), revents) {
                Offer::Merged => return,
                Offer::Appended => {}
                Offer::Normal => {
                    let was_empty = ready.is_empty();
                    if !ready.as_mut().add_tail(epi) {
                        return;
                    }
                    epi.ws.stay_awake();
                    if was_empty {
                        self.set_ready_hint(&ready, true);
                    }
                }
            }
            (self.wq.is_active(), self.poll_wait.is_active())
        };
        if wake {
            self.wq.wake_up(0);
        }
        if pwake {
            self.poll_safewake(None, 0);
        }
    }

    /// Sets `ready_hint` (under `ready`, the list being the proof), mirrored to the ring's
    /// header flag when there is a ring: userspace learns there that WAIT has events for it.
    pub(crate) fn set_ready_hint(&self, ready: &ReadyList, hint: bool) {
        self.ready_hint.store(hint, Relaxed);
        self.ring.mirror_hint(ready, hint);
    }

    /// `ep_events_available`, with the ring: items are ready, a scan is in progress, or records
    /// wait in the ring. Under `ready`.
    pub(crate) fn events_available(&self, ready: &ReadyList) -> bool {
        ready.has_events() || self.ring.pending(ready)
    }

    /// `ep_poll_safewake`: wakes the pollers of this instance with `EPOLLIN`. Under lockdep,
    /// the queue's lock is taken one subclass below the instance that woke us, if it is one
    /// (it is inside its own wake-up of a queue of this class), else at 1 for a wake-up from
    /// a file's queue, or 0 when not called from a wake-up at all.
    pub(crate) fn poll_safewake(&self, epi: Option<&Epitem>, pollflags: u32) {
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        {
            let nests = match epi {
                Some(epi) => match epi.child() {
                    // SAFETY: The child is inside its wake-up of its `poll_wait` (the wake-up
                    // of our watch of it is its only wake-up of us), whose lock guards
                    // `nests`, and we are called from that wake-up, under that lock.
                    Some(child) => unsafe { *child.nests.get() },
                    None => 1,
                },
                None => 0,
            };
            self.poll_wait
                .wake_up_nested(EPOLLIN | pollflags, nests, self.nests.get());
        }
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        {
            let _ = epi;
            self.poll_wait.wake_up(EPOLLIN | pollflags);
        }
    }

    /// Locks `mtx` at nesting `depth` (without [`FROM_VFS`]).
    pub(crate) fn lock_tree(&self, depth: u32) -> NestedGuard<'_, RbTree> {
        self.mtx.lock_nested(depth & !FROM_VFS)
    }

    /// As [`Self::lock_tree`], and frees the watches whose target was released first, so
    /// that nothing under `mtx` finds them: not a lookup by key (a new file may have the
    /// released one's address), not fdinfo, not the per-user count.
    pub(crate) fn lock_tree_reaped(&self, depth: u32) -> NestedGuard<'_, RbTree> {
        let mut tree = self.lock_tree(depth);
        self.reap(&mut tree);
        tree
    }

    /// The reap: frees the released watches, with `mtx` held.
    pub(crate) fn reap(&self, tree: &mut RbTree) {
        loop {
            let next = {
                let mut ready = self.ready.lock();
                // The item stays RELEASED (its drop then knows it was uncharged already).
                ready.as_mut().pop_released()
            };
            let Some(epi) = next else {
                break;
            };
            // SAFETY: As above.
            let key = unsafe { epi.as_ref() }.key();
            drop(tree.remove(key));
        }
    }

    /// Has the released watches freed soon (called by the release hook, with a bucket lock
    /// held, for an item of ours: so we are alive, see `clear`).
    pub(crate) fn queue_reap(&self) {
        // If it is queued already, that queued work holds a reference, so dropping ours here
        // (in a non-sleeping context) is not the last one.
        let _ = crate::resources().wq().enqueue::<Arc<Self>, 1>(self.arc());
    }

    /// Wakes `poll_wait` from the module's workqueue (see [`Self::item_ready`]).
    fn queue_pwake(&self) {
        // A failed enqueue's reference is not the last one: the queued work holds one. (And
        // the file's own reference is still there: we are called from the callback of a watch
        // of ours, which `clear` unhooks before the file's reference goes.)
        let _ = crate::resources().wq().enqueue::<Arc<Self>, 0>(self.arc());
    }

    /// Creates the instance's debugfs picture (once it is at its final address).
    ///
    /// # Safety
    ///
    /// `self` is the instance of a file being opened, whose release calls [`EventPoll::clear`]
    /// (which removes the picture) while `self` is still alive.
    pub(crate) unsafe fn attach_view(&self) {
        // SAFETY: The instance stays where it is, pinned in its `Arc`, and `clear` drops the
        // view before the file's reference on the instance goes (our contract).
        *self.view.lock() = unsafe { introspect::create_view(self) };
    }

    /// `ep_clear_and_put`, when the instance's file is released: every watch is unhooked from
    /// its target and freed. Work items may still hold the instance afterwards; they find it
    /// empty.
    pub(crate) fn clear(&self) {
        // The debugfs file first: its readers may look at everything below.
        drop(self.view.lock().take());
        if self.poll_wait.is_active() {
            self.poll_safewake(None, 0);
        }
        let mut tree = self.lock_tree(0);
        // One walk where C makes two (`ep_drain_pollwaits`, then `ep_drain_tree`, which C
        // says must not be fused: a callback still running on one item could reach another
        // already freed). Ours touches no item but its own, and other items only as its
        // neighbours on the ready lists, under `ready`; each item is unhooked under its
        // queue's lock (no callback on it after) and leaves the ready lists under `ready`
        // before it is freed (`Epitem`'s drop), so one walk is enough.
        while let Some(epi) = tree.pop_first() {
            drop(epi);
        }
        drop(tree);
        // After `mtx`: the instance is going, nothing reaches its source any more but the
        // callbacks' read sections, which `destroy` waits for.
        self.ws.destroy();
    }

    /// Drops the file's reference on the instance (after [`Self::clear`]) a grace period from
    /// now, as C's `ep_free` frees with `kfree_rcu(ep)`: a walk under RCU (`release.rs`) that
    /// found one of the instance's watches before `clear` unlinked it may still read the
    /// instance. The RCU callback runs in softirq context, where the last reference may not go
    /// (the drop sleeps: the debugfs picture's mutex, the user's accounting), so it hands the
    /// reference to `free_work`, which drops it from the module's workqueue.
    pub(crate) fn put_rcu(this: Arc<Self>) {
        let head = this.free_rcu.get();
        let _ = Arc::into_raw(this);
        // SAFETY: `head` is this instance's, used once (a file is released once); the reference
        // given up above is taken back by the callback, which finds the instance from `head`.
        unsafe { bindings::call_rcu(head, Some(free_rcu_callback)) };
    }
}

/// The RCU callback of [`EventPoll::put_rcu`], in softirq context.
///
/// # Safety
///
/// `head` is the `free_rcu` of an instance whose file's reference `put_rcu` gave up.
unsafe extern "C" fn free_rcu_callback(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the `free_rcu` field of an `EventPoll` in an `Arc`, whose reference
    // `put_rcu` gave up with `Arc::into_raw` (our contract); this takes it back, once.
    let ep = unsafe {
        Arc::from_raw(
            head.byte_sub(core::mem::offset_of!(EventPoll, free_rcu))
                .cast::<EventPoll>(),
        )
    };
    // The module's workqueue lives until module exit, which waits for this callback
    // (`rcu_barrier`) before it drains the queue. `free_work` is queued only here, once, so
    // the enqueue succeeds; were it refused, the reference is leaked rather than dropped here.
    if let Err(ep) = crate::resources().wq().enqueue::<Arc<EventPoll>, 2>(ep) {
        pr_warn!("an instance's free work was queued twice: the instance is leaked\n");
        core::mem::forget(ep);
    }
}

impl WorkItem<0> for EventPoll {
    type Pointer = Arc<EventPoll>;

    /// The deferred wake-up of the pollers (see [`EventPoll::item_ready`]), marked as ours
    /// while it runs, so that a wake-up coming back to us through a cycle of instances is not
    /// deferred again. Not inside a wake-up: lockdep subclass 0, as `ep_poll_safewake(ep, NULL)`.
    fn run(this: Arc<EventPoll>) {
        this.pwake_task
            .store(kernel::task::Task::current_raw(), Relaxed);
        this.poll_safewake(None, 0);
        this.pwake_task.store(core::ptr::null_mut(), Relaxed);
    }
}

impl WorkItem<1> for EventPoll {
    type Pointer = Arc<EventPoll>;

    /// The reap, soon after a release (see [`EventPoll::queue_reap`]).
    fn run(this: Arc<EventPoll>) {
        drop(this.lock_tree_reaped(0));
    }
}

impl WorkItem<2> for EventPoll {
    type Pointer = Arc<EventPoll>;

    /// The file's reference, a grace period after its release (see [`EventPoll::put_rcu`]):
    /// dropped here, in process context; often the last.
    fn run(this: Arc<EventPoll>) {
        drop(this);
    }
}

/// The ready lock held (for functions that take the guard).
pub(crate) type ReadyGuard<'a> = IrqSpinLockGuard<'a, ReadyList>;
