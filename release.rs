// SPDX-License-Identifier: GPL-2.0

//! Closing a watched file: fs/eventpoll.c's `file->f_ep` and `eventpoll_release_file`.
//!
//! A watch holds no reference on its target, so closing the last descriptor of a file
//! releases it at once, as with native epoll: a socket sends its FIN, a pipe's reader sees EOF.
//! Native epoll learns of the release from `__fput()`, which calls `eventpoll_release()`
//! before the file's `->release()` frees its wait queues. A module is not called there, so
//! `helpers.c` hooks `__fput()`'s entry with ftrace and calls [`rust_epoll_file_release`],
//! in the releasing task, preemption off, before `->release()`.
//!
//! To find a file's watches there, every hooked epitem is in a global index keyed by the
//! file's address (the module's `file->f_ep`): a fixed table of buckets, each a chain through
//! the epitems' `flnext`. Its one spinlock, [`RELEASE`], also guards each epitem's `state`
//! and `flnext` and each eventpoll's list of released items. Release, under it: takes each
//! watch of the file off the index and off the file's wait queues, off the ready list, marks
//! it released and moves it to its eventpoll's released list, whose owner frees it later
//! under its `mtx` (the "reap"; a work item makes it prompt). A watch deleted or freed
//! otherwise leaves the index and the queues under the same lock, so that exactly one of the
//! two unhooks it, and never after the queues are gone: release waits for the lock, and the
//! file's `->release()` comes after release.
//!
//! Polling a watch without holding the file takes a transient reference with a try-get that
//! fails once the last one is gone (`epi_fget`), inside an RCU read section and re-checking
//! `state` after it: a file's memory is `SLAB_TYPESAFE_BY_RCU`, reused by a new file possibly
//! before our try-get, but only after `__fput()` (and so our release) marked the watch.
//!
//! Lock order: an eventpoll's `mtx` → [`RELEASE`] → a target's wait-queue lock → `ready`.
//! Nothing under [`RELEASE`] sleeps or takes `mtx`; the callback never takes it.

use core::{
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    bindings,
    error::to_result,
    prelude::*,
    sync::{aref::ARef, global_lock},
};

use crate::{epitem::Epitem, eventpoll::EventPoll, nesting::EP_MAX_NESTS};

/// Buckets of the index (a power of two): 32 KiB of heads.
const BUCKETS: usize = 4096;

/// Each bucket's first epitem, or null. Written under [`RELEASE`]; read without it only by
/// the release hook's emptiness check (see [`rust_epoll_file_release`]).
static INDEX: [AtomicPtr<Epitem>; BUCKETS] = [const { AtomicPtr::new(ptr::null_mut()) }; BUCKETS];

global_lock! {
    // SAFETY: Initialised by `register` before the hook or any instance exists.
    pub(crate) unsafe(uninit) static RELEASE: SpinLock<()> = ();
}

/// An epitem's place in this protocol (`Epitem::state`, written under [`RELEASE`]).
pub(crate) mod state {
    /// Not yet in the index: not hooked on any queue.
    pub(crate) const NEW: u8 = 0;
    /// In the index, hooked on its target's queues.
    pub(crate) const INDEXED: u8 = 1;
    /// Its target was released: unhooked, on its eventpoll's released list.
    pub(crate) const RELEASED: u8 = 2;
    /// Taken off the released list by the reap that will free it.
    pub(crate) const REAPED: u8 = 3;
}

extern "C" {
    fn rust_epoll_release_hook_register() -> core::ffi::c_int;
    fn rust_epoll_release_hook_unregister();
    fn rust_epoll_file_try_get(file: *mut core::ffi::c_void) -> bool;
}

/// The bucket of a file's address (multiplicative hashing, as `hash_ptr`).
fn bucket(file: usize) -> &'static AtomicPtr<Epitem> {
    let h = (file as u64).wrapping_mul(0x61c8_8646_80b5_83eb) >> (64 - BUCKETS.trailing_zeros());
    &INDEX[h as usize]
}

/// The hook on `__fput()`: registered while this lives. The module holds it for its whole
/// life, so it outlives every watch.
pub(crate) struct Hook(());

impl Hook {
    /// Hooks `__fput()`, before any watch can exist.
    ///
    /// # Safety
    ///
    /// Called once per module load, from module init.
    pub(crate) unsafe fn register() -> Result<Self> {
        // SAFETY: Called once, before anything else here (our contract).
        unsafe { RELEASE.init() };
        // SAFETY: FFI call; registered once (our contract), unregistered by `drop`.
        to_result(unsafe { rust_epoll_release_hook_register() }).inspect_err(|e| {
            pr_err!(
                "cannot hook __fput (error {}): needs ftrace enabled (kernel.ftrace_enabled)\n",
                e.to_errno()
            )
        })?;
        Ok(Self(()))
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        // SAFETY: Registered by `register`. Returns once no call of the hook is running.
        unsafe { rust_epoll_release_hook_unregister() };
    }
}

/// Puts a new watch in the index (before it is hooked on its target's queues). The caller
/// holds a reference on the target, so its release cannot be running.
pub(crate) fn index(epi: &Epitem) {
    let _guard = RELEASE.lock();
    let head = bucket(epi.key().file);
    epi.flnext
        .store(head.load(Ordering::Relaxed), Ordering::Relaxed);
    epi.state.store(state::INDEXED, Ordering::Relaxed);
    // Release: pairs with the hook's lockless emptiness check (see there).
    head.store(ptr::from_ref(epi).cast_mut(), Ordering::Release);
}

/// Takes a watch that is going away off the index and off its target's queues, unless its
/// target's release already did (then off its eventpoll's released list, if still there).
/// After this no callback runs on it and release cannot find it.
pub(crate) fn forget(epi: &Epitem) {
    let _guard = RELEASE.lock();
    match epi.state.load(Ordering::Relaxed) {
        state::INDEXED => {
            unlink(bucket(epi.key().file), epi);
            // Under the lock: the target may be closing, and its queues stay alive only
            // until its release, which waits for this lock.
            epi.unhook();
        }
        state::RELEASED => unlink(&epi.ep().released, epi),
        _ => {}
    }
    epi.state.store(state::REAPED, Ordering::Relaxed);
}

/// Unlinks `epi` from the chain starting at `head`, if it is on it. Caller holds the lock.
fn unlink(head: &AtomicPtr<Epitem>, epi: &Epitem) {
    let target = ptr::from_ref(epi).cast_mut();
    let mut link = head;
    loop {
        let cur = link.load(Ordering::Relaxed);
        if cur.is_null() {
            return;
        }
        if cur == target {
            link.store(epi.flnext.load(Ordering::Relaxed), Ordering::Relaxed);
            return;
        }
        // SAFETY: Chained epitems are alive: each leaves its chain under the lock (which we
        // hold) before it is freed.
        link = unsafe { &(*cur).flnext };
    }
}

/// Takes `ep`'s released watches for the reap, which removes them from the interest set and
/// frees them. Returns the first; each links to the next through `flnext`.
pub(crate) fn take_released(ep: &EventPoll) -> *mut Epitem {
    if ep.released.load(Ordering::Relaxed).is_null() {
        // A release racing with this check queues the reap work, which takes it.
        return ptr::null_mut();
    }
    let _guard = RELEASE.lock();
    let first = ep.released.swap(ptr::null_mut(), Ordering::Relaxed);
    let mut cur = first;
    while !cur.is_null() {
        // SAFETY: Items on the released list are alive (they leave it under the lock).
        let epi = unsafe { &*cur };
        epi.state.store(state::REAPED, Ordering::Relaxed);
        cur = epi.flnext.load(Ordering::Relaxed);
    }
    first
}

/// Whether any watch of ours has `file` as its target (for an instance's file: whether the
/// instance is nested in another, `ep->refs` not empty).
pub(crate) fn is_watched(file: usize) -> bool {
    let _guard = RELEASE.lock();
    has_watchers(file)
}

/// As [`is_watched`], with the lock held.
fn has_watchers(file: usize) -> bool {
    let mut cur = bucket(file).load(Ordering::Relaxed);
    while !cur.is_null() {
        // SAFETY: Chained epitems are alive while the caller holds the lock.
        let epi = unsafe { &*cur };
        if epi.key().file == file {
            return true;
        }
        cur = epi.flnext.load(Ordering::Relaxed);
    }
    false
}

/// epoll's `path_limits`: how many wake-up paths of each length (index: instances above
/// the first one) may lead up from one file. Paths of length 0 are not limited.
const PATH_LIMITS: [u32; EP_MAX_NESTS + 1] = [1000, 500, 100, 50, 10];

/// `reverse_path_check` for one file: counts the wake-up paths leading up from `file`
/// through our instances, and fails if one length has more than epoll allows or a path is
/// deeper than `EP_MAX_NESTS`. The caller holds `nesting::EPNESTED`, so no watch of an
/// instance appears meanwhile.
pub(crate) fn reverse_path_check(file: usize) -> Result {
    let _guard = RELEASE.lock();
    let mut counts = [0u32; EP_MAX_NESTS + 1];
    reverse_path_check_proc(file, 0, &mut counts)
}

/// `reverse_path_check_proc`: the paths up from `file`, which is `depth` instances above
/// the file being checked.
fn reverse_path_check_proc(file: usize, depth: usize, counts: &mut [u32]) -> Result {
    if depth > EP_MAX_NESTS {
        return Err(EINVAL);
    }
    let mut cur = bucket(file).load(Ordering::Relaxed);
    while !cur.is_null() {
        // SAFETY: Chained epitems are alive while we hold the lock.
        let epi = unsafe { &*cur };
        cur = epi.flnext.load(Ordering::Relaxed);
        if epi.key().file != file {
            continue;
        }
        let above = epi.ep().file;
        if has_watchers(above) {
            reverse_path_check_proc(above, depth + 1, counts)?;
        } else if depth > 0 {
            let count = &mut counts[depth];
            *count += 1;
            if *count > PATH_LIMITS[depth] {
                return Err(EINVAL);
            }
        }
    }
    Ok(())
}

/// A counted reference on a watch's target, unless it is being released (`epi_fget`).
pub(crate) fn get_file(epi: &Epitem) -> Option<ARef<kernel::fs::File>> {
    let file = epi.key().file as *mut bindings::file;
    // The read section keeps `file`'s memory a `struct file` (SLAB_TYPESAFE_BY_RCU) from the
    // state check to the try-get: a file freed before the check was marked released first.
    let _rcu = kernel::sync::rcu::read_lock();
    if epi.state.load(Ordering::Acquire) != state::INDEXED {
        return None;
    }
    // SAFETY: `file`'s memory is a struct file (above); a try-get never revives a dead one.
    if !unsafe { rust_epoll_file_try_get(file.cast()) } {
        return None;
    }
    // The try-get is fully ordered: if the memory has been reused by a new file since, the
    // release that marked this watch came before and is seen here.
    if epi.state.load(Ordering::Relaxed) != state::INDEXED {
        // SAFETY: We hold the reference just taken (on some file), and give it back.
        unsafe { bindings::fput(file) };
        return None;
    }
    // SAFETY: We own the reference just taken on the watch's own target; `File` is a
    // transparent wrapper of `struct file`.
    Some(unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(file.cast())) })
}

/// The release hook: `eventpoll_release_file` for our watches of `file`, called by
/// `helpers.c` at the entry of `__fput(file)`, in process context with preemption off.
///
/// # Safety
///
/// `file` is a file whose last reference is gone and whose `->release()` has not run.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_epoll_file_release(file: *mut bindings::file) {
    let file = file as usize;
    let head = bucket(file);
    // Most released files are not watched: skip the lock when the bucket is empty. A watch of
    // `file` was indexed before its adder dropped its reference, and the put of the last
    // reference (ordered after that) comes before this call, so its head is seen.
    if head.load(Ordering::Acquire).is_null() {
        return;
    }
    let _guard = RELEASE.lock();
    let mut link = head;
    loop {
        let cur = link.load(Ordering::Relaxed);
        if cur.is_null() {
            break;
        }
        // SAFETY: Chained epitems are alive while we hold the lock (see `unlink`).
        let epi = unsafe { &*cur };
        let next = epi.flnext.load(Ordering::Relaxed);
        if epi.key().file != file {
            link = &epi.flnext;
            continue;
        }
        link.store(next, Ordering::Relaxed);
        epi.unhook();
        let ep = epi.ep();
        ep.ready.lock().as_mut().remove(epi);
        // Release: pairs with `get_file`'s acquire, for a poll that had not seen this yet.
        epi.state.store(state::RELEASED, Ordering::Release);
        epi.flnext
            .store(ep.released.load(Ordering::Relaxed), Ordering::Relaxed);
        ep.released.store(cur, Ordering::Relaxed);
        ep.queue_reap();
    }
}
