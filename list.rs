// SPDX-License-Identifier: GPL-2.0

//! The kernel's `list_head` operations (include/linux/list.h), for the lists this module keeps:
//! the ready, transfer and released lists (`ready.rs`), and the per-file watcher lists
//! (`release.rs`), which are also read under RCU alone (include/linux/rculist.h's
//! `list_add_tail_rcu`, `list_del_rcu` and `list_next_rcu`).
//!
//! In C these are `static inline`, so a module's Rust cannot call them, and the kernel crate's
//! own `kernel::list` is a different (Rust-native) list that `CONFIG_DEBUG_LIST` does not
//! check. This file is a line-for-line port of the functions used, *including their validity
//! checks*: with `CONFIG_DEBUG_LIST` every insertion and deletion calls the same exported
//! `__list_add_valid_or_report()` / `__list_del_entry_valid_or_report()` of lib/list_debug.c
//! that C's inline functions call, and with `CONFIG_LIST_HARDENED` alone the same inline
//! checks run first; so the debug kernel checks our lists exactly as it checks C's, and a
//! corrupted list is reported (and the operation skipped) as it would be in C. Without either
//! option the functions are the bare pointer updates C compiles to. `READ_ONCE`/`WRITE_ONCE`
//! are volatile accesses, as in the kernel's own Rust (`Opaque`-backed C structs).
//!
//! Every function takes raw pointers and is `unsafe`, exactly as C's contract is: the caller
//! proves the nodes are valid and that it holds whatever lock guards the list (a reader with
//! [`list_next_rcu`]: that it is in an RCU read-side section, and the writers use the `_rcu`
//! variants).

use core::ptr::{self, addr_of_mut};
use kernel::{
    bindings::list_head,
    sync::atomic::{atomic_store, Release},
};

/// `LIST_POISON2` (include/linux/poison.h): `0x122 + POISON_POINTER_DELTA`, where the delta is
/// `CONFIG_ILLEGAL_POINTER_VALUE` on the architectures that set it (x86_64 does).
const LIST_POISON2: usize =
    0x122usize.wrapping_add(kernel::bindings::CONFIG_ILLEGAL_POINTER_VALUE as usize);

// lib/list_debug.c's reporters, exported, which bindgen leaves out of `kernel::bindings` (their
// `__cold __preserve_most` declaration). With `CONFIG_LIST_HARDENED` alone they use the
// preserve_most convention, which preserves more registers than a C call needs: calling them
// as plain C functions is sound.
#[cfg(CONFIG_LIST_HARDENED)]
extern "C" {
    fn __list_add_valid_or_report(
        new: *mut list_head,
        prev: *mut list_head,
        next: *mut list_head,
    ) -> bool;
    fn __list_del_entry_valid_or_report(entry: *mut list_head) -> bool;
}

/// `__list_add_valid()`: whether inserting `new` between `prev` and `next` is sane.
///
/// # Safety
///
/// The three must be valid nodes.
#[cfg(CONFIG_LIST_HARDENED)]
#[inline(always)]
unsafe fn list_add_valid(new: *mut list_head, prev: *mut list_head, next: *mut list_head) -> bool {
    let mut ret = true;
    if !cfg!(CONFIG_DEBUG_LIST) {
        // SAFETY: Valid nodes (caller's contract).
        if unsafe { (*next).prev == prev && (*prev).next == next } && new != prev && new != next {
            return true;
        }
        ret = false;
    }
    // SAFETY: The reporter only reads the nodes, which are valid.
    ret & unsafe { __list_add_valid_or_report(new, prev, next) }
}

/// Without `CONFIG_LIST_HARDENED` (and so without `CONFIG_DEBUG_LIST`), no check.
///
/// # Safety
///
/// As for the checking version.
#[cfg(not(CONFIG_LIST_HARDENED))]
#[inline(always)]
unsafe fn list_add_valid(
    _new: *mut list_head,
    _prev: *mut list_head,
    _next: *mut list_head,
) -> bool {
    true
}

/// `__list_del_entry_valid()`: whether unlinking `entry` is sane.
///
/// # Safety
///
/// `entry` must be a valid node.
#[cfg(CONFIG_LIST_HARDENED)]
#[inline(always)]
unsafe fn list_del_entry_valid(entry: *mut list_head) -> bool {
    let mut ret = true;
    if !cfg!(CONFIG_DEBUG_LIST) {
        // SAFETY: A valid node has valid neighbours (caller's contract).
        unsafe {
            let (prev, next) = ((*entry).prev, (*entry).next);
            if (*prev).next == entry && (*next).prev == entry {
                return true;
            }
        }
        ret = false;
    }
    // SAFETY: The reporter only reads the node and its neighbours.
    ret & unsafe { __list_del_entry_valid_or_report(entry) }
}

/// Without `CONFIG_LIST_HARDENED`, no check.
///
/// # Safety
///
/// As for the checking version.
#[cfg(not(CONFIG_LIST_HARDENED))]
#[inline(always)]
unsafe fn list_del_entry_valid(_entry: *mut list_head) -> bool {
    true
}

/// `INIT_LIST_HEAD`: an empty list (or an unlinked node).
///
/// # Safety
///
/// `list` must be valid for writes.
#[inline(always)]
pub(crate) unsafe fn init_list_head(list: *mut list_head) {
    // SAFETY: Writable (caller's contract).
    unsafe {
        ptr::write_volatile(addr_of_mut!((*list).next), list);
        (*list).prev = list;
    }
}

/// `__list_add`.
///
/// # Safety
///
/// All three must be valid nodes, `prev` and `next` adjacent, `new` not on a list.
#[inline(always)]
unsafe fn list_add_between(new: *mut list_head, prev: *mut list_head, next: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        if !list_add_valid(new, prev, next) {
            return;
        }
        (*next).prev = new;
        (*new).next = next;
        (*new).prev = prev;
        ptr::write_volatile(addr_of_mut!((*prev).next), new);
    }
}

/// `list_add`: inserts `new` right after `head`.
///
/// # Safety
///
/// `head` must be a valid list, `new` a valid node on no list.
#[inline(always)]
pub(crate) unsafe fn list_add(new: *mut list_head, head: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe { list_add_between(new, head, (*head).next) }
}

/// `list_add_tail`: inserts `new` right before `head` (at the tail of the list).
///
/// # Safety
///
/// As for [`list_add`].
#[inline(always)]
pub(crate) unsafe fn list_add_tail(new: *mut list_head, head: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe { list_add_between(new, (*head).prev, head) }
}

/// `__list_add_rcu`: as [`list_add_between`], but `new` is published to readers under RCU
/// last, with release ordering (`rcu_assign_pointer(list_next_rcu(prev), new)`): a reader that
/// sees it sees it initialised.
///
/// # Safety
///
/// As for [`list_add_between`]; the caller holds the lock that serialises the list's writers.
#[inline(always)]
unsafe fn list_add_between_rcu(new: *mut list_head, prev: *mut list_head, next: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        if !list_add_valid(new, prev, next) {
            return;
        }
        (*new).next = next;
        (*new).prev = prev;
        atomic_store(addr_of_mut!((*prev).next), new, Release);
        (*next).prev = new;
    }
}

/// `list_add_tail_rcu`: [`list_add_tail`] for a list that is also read under RCU.
///
/// # Safety
///
/// As for [`list_add`]; the caller holds the lock that serialises the list's writers.
#[inline(always)]
pub(crate) unsafe fn list_add_tail_rcu(new: *mut list_head, head: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe { list_add_between_rcu(new, (*head).prev, head) }
}

/// `list_del_rcu`: unlinks `entry` but leaves its `next` as it was, so that a reader under RCU
/// standing on it goes on along the list; `prev` is poisoned (`LIST_POISON2`). The entry may be
/// neither reused nor freed before a grace period has passed.
///
/// # Safety
///
/// `entry` must be a valid node on a list; the caller holds the lock that serialises the
/// list's writers.
#[inline(always)]
pub(crate) unsafe fn list_del_rcu(entry: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        list_del_entry(entry);
        (*entry).prev = LIST_POISON2 as *mut list_head;
    }
}

/// `list_next_rcu` read with `rcu_dereference`: the node after `node`, for a reader under RCU.
///
/// # Safety
///
/// `node` must be a node (or head) of a list read under RCU, alive for the read (the caller
/// is in an RCU read-side section that began while `node` was reachable).
#[inline(always)]
pub(crate) unsafe fn list_next_rcu(node: *const list_head) -> *mut list_head {
    // SAFETY: Alive (caller's contract); READ_ONCE, as `rcu_dereference` (no architecture we
    // build for reorders a dependent load before the load it depends on).
    unsafe { ptr::read_volatile(&raw const (*node).next) }
}

/// `__list_del_entry`.
///
/// # Safety
///
/// `entry` must be a valid node on a list.
#[inline(always)]
unsafe fn list_del_entry(entry: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        if !list_del_entry_valid(entry) {
            return;
        }
        let (prev, next) = ((*entry).prev, (*entry).next);
        (*next).prev = prev;
        ptr::write_volatile(addr_of_mut!((*prev).next), next);
    }
}

/// `list_del_init`: unlinks `entry` and leaves it an empty list.
///
/// # Safety
///
/// `entry` must be a valid node on a list.
#[inline(always)]
pub(crate) unsafe fn list_del_init(entry: *mut list_head) {
    // SAFETY: Guaranteed by the caller.
    unsafe {
        list_del_entry(entry);
        init_list_head(entry);
    }
}

/// `list_empty`.
///
/// # Safety
///
/// `head` must be an initialised list.
#[inline(always)]
pub(crate) unsafe fn list_empty(head: *const list_head) -> bool {
    // SAFETY: Initialised (caller's contract); READ_ONCE, as C's.
    unsafe {
        ptr::eq(
            ptr::read_volatile(&raw const (*head).next).cast_const(),
            head,
        )
    }
}

/// `list_splice_init`: moves every node of `list` to the front of `head`; `list` is left
/// empty.
///
/// # Safety
///
/// Both must be valid lists, and distinct.
#[inline(always)]
pub(crate) unsafe fn list_splice_init(list: *mut list_head, head: *mut list_head) {
    // SAFETY: Guaranteed by the caller (`__list_splice` then `INIT_LIST_HEAD`).
    unsafe {
        if list_empty(list) {
            return;
        }
        let (first, last, at) = ((*list).next, (*list).prev, (*head).next);
        (*first).prev = head;
        (*head).next = first;
        (*last).next = at;
        (*at).prev = last;
        init_list_head(list);
    }
}

/// `list_splice_tail_init`: moves every node of `list` to the back of `head`; `list` is left
/// empty.
///
/// # Safety
///
/// Both must be valid lists, and distinct.
#[inline(always)]
pub(crate) unsafe fn list_splice_tail_init(list: *mut list_head, head: *mut list_head) {
    // SAFETY: Guaranteed by the caller (`__list_splice(list, head->prev, head)`, then
    // `INIT_LIST_HEAD`).
    unsafe {
        if list_empty(list) {
            return;
        }
        let (first, last, at) = ((*list).next, (*list).prev, (*head).prev);
        (*first).prev = at;
        (*at).next = first;
        (*last).next = head;
        (*head).prev = last;
        init_list_head(list);
    }
}

/// The first node after `head`, or `None` if the list is empty.
///
/// # Safety
///
/// `head` must be an initialised list.
#[inline(always)]
pub(crate) unsafe fn list_first(head: *mut list_head) -> Option<*mut list_head> {
    // SAFETY: Initialised (caller's contract).
    if unsafe { list_empty(head) } {
        return None;
    }
    // SAFETY: As above.
    Some(unsafe { (*head).next })
}
