// SPDX-License-Identifier: GPL-2.0

//! The ready list: fs/eventpoll.c's `ep->rdllist`, its scan (`ep_start_scan` /
//! `ep_done_scan`), and each epitem's `rdllink`.
//!
//! The lists are the kernel's `list_head` (`list.rs`), inside the eventpoll's `ready` lock
//! (`ep->lock`), and so are the link operations: they are methods of [`ReadyList`], reachable
//! only through that lock's guard, which is the proof that every `rdllink` is touched under the
//! lock.
//!
//! # The transfer list instead of `ovflist`
//!
//! C moves the ready list to a private list for a scan and diverts callbacks to `ovflist`
//! meanwhile. Here the private list, `txlist`, sits beside `rdllist` under the same lock: an
//! item on `txlist` is still "linked", so `ep_poll_callback` leaves it where it is (its event
//! will be found when it is polled), and an item taken off `txlist` is unlinked, so a callback
//! that fires while it is being reported puts it back on `rdllist`. No event is lost and no
//! second list is needed. Level-triggered items reported by a scan wait on a third list,
//! `requeue`, and go to the tail of the ready list when the scan ends, behind what arrived
//! meanwhile, as C's `ep_done_scan` orders them. `scanning` is C's "ovflist is active": while
//! it is set, events count as available (`ep_events_available`) even when both lists are
//! empty, because the item being reported may be re-queued (level-triggered) when the scan
//! ends. A poll of the instance, or a waiter, must then wait for the scan rather than conclude
//! that nothing is ready.
//!
//! # What `ovflist` says that position alone does not
//!
//! C chains every item woken during a scan on `ovflist`, also one still waiting on the scan's
//! list for its turn, and `ep_done_scan` links it again if the scan has unlinked it meanwhile:
//! an edge-triggered item woken before its turn is reported by this WAIT and again by the next.
//! Here a wake-up that finds an item linked during a scan writes the scan's number into it
//! (`scan_event`); [`ReadyList::pop_transfer`] reads and clears that mark, and the scan links
//! an item woken so again once it is done with it (`relink_woken` in `wait.rs`: visible as a
//! second report of an edge-triggered item). Marks are cleared
//! when an item is taken or removed, so a mark is stale only on an item still linked since an
//! earlier scan (left over, or linked during that scan), which the next scan to take it clears
//! unless the 32-bit number has come round exactly to the mark's in between: 2^32 scans that
//! all leave that one item linked, and then one extra report of an edge-triggered item that is
//! ready (which C makes for every wake-up during a scan anyway). (C's re-linked items come back
//! in the order of their wake-ups, ahead of the level-triggered re-queue; ours when the scan
//! reports them, which may put one behind an item woken later in the same scan.)
//!
//! # The released list
//!
//! A watch whose target file was closed is unhooked at once by the release hook (`release.rs`)
//! but freed later, under `mtx` (the "reap"). Meanwhile its `rdllink` links it on the
//! `released` list: it is off the ready lists for good, and since it counts as linked nothing
//! can put it back on them.
//!
//! # The count
//!
//! `nr_ready` counts the items on the ready, transfer and re-queue lists (not the released
//! list, whose items are "linked" only so that nothing links them again), kept by the link operations, so that a minimum-wait waiter's wake function
//! (`minwait.rs`), which runs on every wake-up of the instance, reads it in O(1): a walk of the
//! list there made one write to a file watched N times (N dup'ed fds) cost N²/2 link steps with
//! interrupts off.

use core::{pin::Pin, ptr::NonNull};
use kernel::{bindings::list_head, prelude::*, types::Opaque};

use crate::{
    epitem::Epitem,
    list::{
        init_list_head, list_add, list_add_tail, list_del_init, list_empty, list_first,
        list_splice_init, list_splice_tail_init,
    },
};

/// The ready, transfer, re-queue and released lists of one eventpoll. Lives inside
/// `EventPoll::ready`.
///
/// # Invariants
///
/// Every node on `rdllist`, `txlist`, `requeue` or `released` is the `rdllink` of a live
/// [`Epitem`] of the same eventpoll, and an item is taken off all of them before it is freed.
/// `scanning` is set exactly between [`ReadyList::start_transfer`] and
/// [`ReadyList::end_transfer`], and `txlist` and `requeue` are empty outside that. `nr_ready` is
/// the number of nodes on `rdllist`, `txlist` and `requeue` together.
#[pin_data]
pub(crate) struct ReadyList {
    #[pin]
    rdllist: Opaque<list_head>,
    #[pin]
    txlist: Opaque<list_head>,
    #[pin]
    requeue: Opaque<list_head>,
    #[pin]
    released: Opaque<list_head>,
    scanning: bool,
    /// The number of the scan in progress, or of the last one: counted up at each
    /// [`ReadyList::start_transfer`], skipping 0 (an item's "no mark").
    scan: u32,
    /// How many items `rdllist`, `txlist` and `requeue` hold together (see [`ReadyList::count`]).
    nr_ready: usize,
}

// SAFETY: The lists hold only pointers to epitems, which are `Send + Sync`; all access is under
// the eventpoll's `ready` lock.
unsafe impl Send for ReadyList {}

impl ReadyList {
    /// Four empty lists, no scan.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes.
            rdllist <- Opaque::ffi_init(|slot| unsafe { init_list_head(slot) }),
            // SAFETY: As above.
            txlist <- Opaque::ffi_init(|slot| unsafe { init_list_head(slot) }),
            // SAFETY: As above.
            requeue <- Opaque::ffi_init(|slot| unsafe { init_list_head(slot) }),
            // SAFETY: As above.
            released <- Opaque::ffi_init(|slot| unsafe { init_list_head(slot) }),
            scanning: false,
            scan: 0,
            nr_ready: 0,
        })
    }

    /// Whether the ready list is empty (what `ep_done_scan` checks before passing a wake-up on).
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: `rdllist` is initialised; we hold the lock (we are behind its guard).
        unsafe { list_empty(self.rdllist.get()) }
    }

    /// `ep_events_available`: items are ready, or a scan is in progress whose items may be
    /// re-queued when it ends.
    pub(crate) fn has_events(&self) -> bool {
        self.scanning || !self.is_empty()
    }

    /// How many ready items there are: on the ready list, or taken from it by a WAIT in
    /// progress (on its transfer list, not yet reported, or on its re-queue list, reported
    /// and level-triggered, to go back at the end of the scan). O(1), for a
    /// minimum-wait waiter's check (`minwait.rs`), which runs in every waker's context.
    pub(crate) fn count(&self) -> usize {
        self.nr_ready
    }

    /// Keeps `nr_ready` as an item goes on (`up`) or off the ready, transfer or re-queue
    /// list. (Saturating, since an overflow check must not be able to panic here; the
    /// invariant keeps it in range, and a drift below 0 would be a bug: it warns.)
    fn count_ready(self: Pin<&mut Self>, up: bool) {
        // SAFETY: `nr_ready` is not structurally pinned; nothing is moved out.
        let n = unsafe { &mut self.get_unchecked_mut().nr_ready };
        if up {
            *n = n.saturating_add(1);
        } else {
            kernel::warn_on!(*n == 0);
            *n = n.saturating_sub(1);
        }
    }

    /// Whether `epi` is on one of the lists (`ep_is_linked`).
    pub(crate) fn is_linked(&self, epi: &Epitem) -> bool {
        // SAFETY: `rdllink` is initialised at creation and only changed under this lock.
        unsafe { !list_empty(epi.rdllink()) }
    }

    /// Visits the items of the ready list from head to tail (items in a scan excluded).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Epitem)) {
        let head = self.rdllist.get();
        // SAFETY: We hold the lock; every node after `head` is the `rdllink` of a live epitem
        // (type invariant), and the list does not change while we walk it.
        unsafe {
            let mut link = (*head).next;
            while link != head {
                f(Epitem::from_rdllink(link).as_ref());
                link = (*link).next;
            }
        }
    }

    /// Puts `epi` at the tail of the ready list unless it is linked already (on any list:
    /// a released item stays where it is). Returns whether it was added. During a scan, an
    /// item found linked is marked with the scan's number, as C chains it on `ovflist` (see the
    /// module's documentation).
    pub(crate) fn add_tail(self: Pin<&mut Self>, epi: &Epitem) -> bool {
        if self.is_linked(epi) {
            if self.scanning {
                epi.set_scan_event(&self, self.scan);
            }
            return false;
        }
        // SAFETY: `epi`'s link is unlinked (checked above), the head is valid, and both change
        // only under this lock. INVARIANT: callers pass items of this eventpoll's interest set.
        unsafe { list_add_tail(epi.rdllink(), self.rdllist.get()) };
        self.count_ready(true);
        true
    }

    /// Puts `epi`, a level-triggered item a scan has just reported, on the re-queue list,
    /// unless it is linked already (a callback put it back on the ready list, or its target was
    /// released). Returns whether it was added.
    pub(crate) fn add_requeue(self: Pin<&mut Self>, epi: &Epitem) -> bool {
        if self.is_linked(epi) {
            return false;
        }
        // SAFETY: As in `add_tail`, with the re-queue list's head.
        unsafe { list_add_tail(epi.rdllink(), self.requeue.get()) };
        self.count_ready(true);
        true
    }

    /// Takes `epi` off whichever list holds it, if any, and clears its scan mark.
    pub(crate) fn remove(mut self: Pin<&mut Self>, epi: &Epitem) {
        epi.set_scan_event(&self, 0);
        if self.is_linked(epi) {
            // SAFETY: `epi` is linked into one of our lists, whose nodes are all valid.
            unsafe { list_del_init(epi.rdllink()) };
            // A RELEASED item is on the released list, which `nr_ready` does not count: the
            // state is stored under this lock right after `release` moves the item there
            // (`release.rs`), and an item leaves that list only unlinked (the reap) or here.
            if !epi.is_released() {
                self.as_mut().count_ready(false);
            }
        }
    }

    /// `ep_start_scan`: moves the whole ready list to the transfer list and marks the scan.
    pub(crate) fn start_transfer(mut self: Pin<&mut Self>) {
        // SAFETY: Both heads are valid and distinct, and we hold the lock.
        unsafe { list_splice_init(self.rdllist.get(), self.txlist.get()) };
        // SAFETY: `scanning` and `scan` are not structurally pinned.
        let this = unsafe { self.as_mut().get_unchecked_mut() };
        this.scanning = true;
        this.scan = this.scan.wrapping_add(1).max(1);
    }

    /// Takes the next item off the transfer list; it is unlinked afterwards. Also returns
    /// whether a wake-up found it there during this scan, waiting for its turn (C: it is on
    /// `ovflist` too, and `ep_done_scan` links it again once reported), and clears that mark.
    pub(crate) fn pop_transfer(mut self: Pin<&mut Self>) -> Option<(NonNull<Epitem>, bool)> {
        let next = Self::pop(self.txlist.get())?;
        self.as_mut().count_ready(false);
        // SAFETY: An item just taken off one of our lists is a live epitem (type invariant).
        let epi = unsafe { next.as_ref() };
        let woken = epi.scan_event(&self) == self.scan;
        epi.set_scan_event(&self, 0);
        Some((next, woken))
    }

    /// Puts `epi` (just popped, not reported) back at the front of the transfer list, unless
    /// it is linked already (a wake-up or a release took it meanwhile). Returns whether it did.
    pub(crate) fn unpop_transfer(self: Pin<&mut Self>, epi: &Epitem) -> bool {
        if self.is_linked(epi) {
            return false;
        }
        // SAFETY: `epi` is unlinked; the head is valid.
        unsafe { list_add(epi.rdllink(), self.txlist.get()) };
        self.count_ready(true);
        true
    }

    /// `ep_done_scan`: what was not reported goes back to the front of the ready list, ahead
    /// of what arrived meanwhile, and the level-triggered items reported go to its tail.
    pub(crate) fn end_transfer(mut self: Pin<&mut Self>) {
        // SAFETY: The heads are valid and distinct, and we hold the lock.
        unsafe {
            list_splice_init(self.txlist.get(), self.rdllist.get());
            list_splice_tail_init(self.requeue.get(), self.rdllist.get());
        }
        // SAFETY: `scanning` is not structurally pinned.
        unsafe { self.as_mut().get_unchecked_mut().scanning = false };
    }

    /// Moves `epi`, whose target was released, off the ready lists and onto the released list
    /// (before its state becomes RELEASED: see [`ReadyList::remove`]).
    pub(crate) fn release(mut self: Pin<&mut Self>, epi: &Epitem) {
        self.as_mut().remove(epi);
        // SAFETY: `epi` is unlinked now; the head is valid.
        unsafe { list_add_tail(epi.rdllink(), self.released.get()) };
    }

    /// Takes the next released item off its list, for the reap.
    pub(crate) fn pop_released(self: Pin<&mut Self>) -> Option<NonNull<Epitem>> {
        Self::pop(self.released.get())
    }

    /// Unlinks and returns the first item of `head`.
    fn pop(head: *mut list_head) -> Option<NonNull<Epitem>> {
        // SAFETY: `head` is one of our lists and we hold the lock (callers are behind the
        // guard); its nodes are `rdllink`s of live epitems (type invariant).
        unsafe {
            let link = list_first(head)?;
            list_del_init(link);
            Some(Epitem::from_rdllink(link))
        }
    }
}
