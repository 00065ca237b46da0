// SPDX-License-Identifier: GPL-2.0

//! The ready list: fs/eventpoll.c's `ep->rdllist` and each epitem's `rdllink`.
//!
//! Both are the kernel's intrusive `list_head`. The list lives inside the eventpoll's
//! IRQ-safe `ready` spinlock, and so do the link operations: they are methods of
//! [`ReadyList`], reachable only through that lock's guard, which is the proof that every
//! `rdllink` is touched under the lock.
//!
//! C moves the ready list to a private list and diverts callbacks to `ovflist` while it copies
//! events out. Here the private list, `txlist`, sits beside `rdllist` under the same lock: an
//! item on `txlist` is still "linked", so `ep_poll_callback` leaves it alone (its event will be
//! found when it is polled), and an item taken off `txlist` is unlinked, so a callback that
//! fires while it is being reported simply puts it back on `rdllist`. No event is lost and no
//! second list is needed.

use core::{
    pin::Pin,
    ptr::{self, NonNull},
};
use kernel::{bindings, prelude::*, types::Opaque};

use crate::epitem::Epitem;

/// Initialises `link` as an empty (unlinked) list.
///
/// # Safety
///
/// `link` must be valid for writes.
pub(crate) unsafe fn list_init(link: *mut bindings::list_head) {
    // SAFETY: The caller guarantees `link` is writable.
    unsafe {
        (*link).next = link;
        (*link).prev = link;
    }
}

/// Whether `link` is an empty list, i.e. an unlinked node.
///
/// # Safety
///
/// `link` must be an initialised list node, not concurrently modified.
unsafe fn list_empty(link: *const bindings::list_head) -> bool {
    // SAFETY: The caller guarantees `link` is initialised.
    unsafe { ptr::eq((*link).next, link) }
}

/// Inserts `new` between `prev` and `next`.
///
/// # Safety
///
/// All three must be valid list nodes, `prev` and `next` adjacent, `new` unlinked.
unsafe fn list_insert(
    new: *mut bindings::list_head,
    prev: *mut bindings::list_head,
    next: *mut bindings::list_head,
) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        (*next).prev = new;
        (*new).next = next;
        (*new).prev = prev;
        (*prev).next = new;
    }
}

/// Unlinks `entry` and leaves it as an empty list (`list_del_init`).
///
/// # Safety
///
/// `entry` must be a valid list node, with valid neighbours, not concurrently modified.
pub(crate) unsafe fn list_del_init(entry: *mut bindings::list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        let (prev, next) = ((*entry).prev, (*entry).next);
        (*next).prev = prev;
        (*prev).next = next;
        list_init(entry);
    }
}

/// Moves every node of `from` to the front of `to`, leaving `from` empty
/// (`list_splice_init`).
///
/// # Safety
///
/// Both must be valid list heads, not concurrently modified.
unsafe fn list_splice_front(from: *mut bindings::list_head, to: *mut bindings::list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        if list_empty(from) {
            return;
        }
        let (first, last, at) = ((*from).next, (*from).prev, (*to).next);
        (*first).prev = to;
        (*to).next = first;
        (*last).next = at;
        (*at).prev = last;
        list_init(from);
    }
}

/// The ready list and the transfer list. Lives inside `EventPoll::ready`.
///
/// # Invariants
///
/// Every node on `rdllist` or `txlist` is the `rdllink` of a live [`Epitem`] of the same
/// eventpoll, and an item is taken off both before it leaves the interest set.
#[pin_data]
pub(crate) struct ReadyList {
    #[pin]
    rdllist: Opaque<bindings::list_head>,
    #[pin]
    txlist: Opaque<bindings::list_head>,
}

// SAFETY: The lists hold only pointers to epitems, which are `Sync`; all access is under the
// eventpoll's `ready` lock.
unsafe impl Send for ReadyList {}

impl ReadyList {
    /// Two empty lists.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes.
            rdllist <- Opaque::ffi_init(|slot| unsafe { list_init(slot) }),
            // SAFETY: `slot` is valid for writes.
            txlist <- Opaque::ffi_init(|slot| unsafe { list_init(slot) }),
        })
    }

    /// Whether there are events to report (`ep_events_available`); items being transferred
    /// by a WAIT in progress do not count, as in C.
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: `rdllist` is initialised; we hold the lock (we are behind its guard).
        unsafe { list_empty(self.rdllist.get()) }
    }

    /// Whether there are events or a transfer is in progress (C's `ep_events_available`
    /// with its `ovflist` check).
    pub(crate) fn has_events(&self) -> bool {
        // SAFETY: Both heads are initialised; we hold the lock.
        unsafe { !list_empty(self.rdllist.get()) || !list_empty(self.txlist.get()) }
    }

    /// Whether `epi` is on either list (`ep_is_linked`).
    pub(crate) fn is_linked(&self, epi: &Epitem) -> bool {
        // SAFETY: `rdllink` is initialised at creation and only changed under this lock.
        unsafe { !list_empty(epi.rdllink()) }
    }

    /// Visits the items of the ready list from head to tail (items in a transfer excluded).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Epitem)) {
        let head = self.rdllist.get();
        // SAFETY: We hold the lock; every node after `head` is the `rdllink` of a live epitem
        // (type invariant), and the list does not change while we walk it.
        unsafe {
            let mut link = (*head).next;
            while !ptr::eq(link, head) {
                f(Epitem::from_rdllink(link).as_ref());
                link = (*link).next;
            }
        }
    }

    /// Puts `epi` at the tail of the ready list unless it is already linked. Returns whether
    /// it was added.
    pub(crate) fn add_tail(self: Pin<&mut Self>, epi: &Epitem) -> bool {
        if self.is_linked(epi) {
            return false;
        }
        let head = self.rdllist.get();
        // SAFETY: `epi`'s link is unlinked (checked above) and `head` is valid; both change
        // only under this lock. INVARIANT: `epi` is a live item of this eventpoll (callers
        // pass items of the interest set).
        unsafe { list_insert(epi.rdllink(), (*head).prev, head) };
        true
    }

    /// Takes `epi` off whichever list holds it (`list_del_init`), if any.
    pub(crate) fn remove(self: Pin<&mut Self>, epi: &Epitem) {
        if self.is_linked(epi) {
            // SAFETY: `epi` is linked into one of our lists, whose nodes are all valid.
            unsafe { list_del_init(epi.rdllink()) };
        }
    }

    /// Starts a transfer: moves the whole ready list to the transfer list.
    pub(crate) fn start_transfer(self: Pin<&mut Self>) {
        // SAFETY: Both heads are valid and we hold the lock.
        unsafe { list_splice_front(self.rdllist.get(), self.txlist.get()) };
    }

    /// Takes the next item off the transfer list; it is unlinked afterwards.
    pub(crate) fn pop_transfer(self: Pin<&mut Self>) -> Option<NonNull<Epitem>> {
        let head = self.txlist.get();
        // SAFETY: `head` is valid and we hold the lock; a non-empty list's first node is the
        // `rdllink` of a live epitem by the type invariant.
        unsafe {
            if list_empty(head) {
                return None;
            }
            let link = (*head).next;
            list_del_init(link);
            Some(Epitem::from_rdllink(link))
        }
    }

    /// Puts `epi` (just popped, not reported) back at the front of the transfer list.
    pub(crate) fn unpop_transfer(self: Pin<&mut Self>, epi: &Epitem) {
        let head = self.txlist.get();
        if !self.is_linked(epi) {
            // SAFETY: `epi` is unlinked; `head` and its first node are valid.
            unsafe { list_insert(epi.rdllink(), head, (*head).next) };
        }
    }

    /// Ends a transfer: what was not reported goes back to the front of the ready list, ahead
    /// of what arrived meanwhile and of the level-triggered items re-queued at its tail.
    pub(crate) fn end_transfer(self: Pin<&mut Self>) {
        // SAFETY: Both heads are valid and we hold the lock.
        unsafe { list_splice_front(self.txlist.get(), self.rdllist.get()) };
    }
}
