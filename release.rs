// SPDX-License-Identifier: GPL-2.0

//! Closing a watched file: fs/eventpoll.c's `file->f_ep` (the per-file list of watches),
//! `ep_attach_file`, `ep_remove_file`, `eventpoll_release_file`, `epi_fget` and
//! `reverse_path_check`.
//!
//! A watch holds no reference on its target, so closing the last descriptor of a file
//! releases it at once, as with native epoll: a socket sends its FIN, a pipe's reader sees EOF.
//! Native epoll learns of the release from `__fput()`, which calls `eventpoll_release()`
//! before the file's `->release()` frees its wait queues. A module is not called there, so
//! `helpers.c` hooks `__fput()`'s entry with ftrace and calls [`rust_epoll_file_release`],
//! in the releasing task, before `->release()`: it may not sleep there, but it may be
//! preempted between batches of watches, as C's loop between watches.
//!
//! # The per-file lists
//!
//! A module cannot add `f_ep` to `struct file`, so each watched file's list of watches hangs
//! off a [`FileHead`] (C's `epitems_head`). A plain file's head is found through the index, an
//! rhashtable keyed by the file's address (`helpers.c`), which grows with the number of
//! watched files, so that finding a head, or finding none, stays O(1) however many files are
//! watched; for one of our instances the head is embedded in its eventpoll, as C's
//! `ep->refs`, and found through the file. The files' addresses hash to [`BUCKETS`] bucket
//! locks, the module's `file->f_lock`: a file's bucket lock guards the putting of its head in
//! the index and its taking off, the head's list of watches (`Epitem::fllink`, a `list_head`,
//! so a watch leaves it in O(1)), and each watch's `state`. Closes of unrelated files meet on
//! a lock only when their addresses share a bucket, and a plain file that is not watched
//! costs its release one lookup under RCU, without a lock.
//!
//! Release, under the bucket lock: takes each watch of the file off its list and off the file's
//! wait queues, moves it from the ready list to its eventpoll's released list (`ready.rs`),
//! marks it released and has its eventpoll free it later under its `mtx` (the "reap"; a work
//! item makes it prompt). A watch deleted or freed otherwise leaves the list and the queues
//! under the same lock, so exactly one of the two unhooks it, and never after the queues are
//! gone: release waits for the lock, and the file's `->release()` comes after release. (Release
//! skips the lock when a plain file has no head in the index; a watch leaving on its own is
//! unhooked before it leaves its file's list, which may take the head off the index, as C
//! unhooks before `ep_remove_file`.)
//!
//! Polling a watch without holding the file takes a transient reference with a try-get that
//! fails once the last one is gone (`epi_fget`), inside an RCU read section and re-checking
//! `state` after it (`helpers.c`): a file's memory is `SLAB_TYPESAFE_BY_RCU`, reused by a new
//! file possibly before our try-get, but only after `__fput()` (and so our release) marked the
//! watch.
//!
//! # Walks (`reverse_path_check`, the upward depth of `ep_loop_check`)
//!
//! As C walks `file->f_ep` and `ep->refs` (`hlist_for_each_entry_rcu` in
//! `reverse_path_check_proc` and `ep_get_upwards_depth_proc`), a walk here holds no lock, only
//! an RCU read-side section: a file watched N times (one file dup'ed and each descriptor
//! watched) costs an ADD that checks it N steps, as in C, but the file's bucket (its
//! `f_lock`, shared with every file hashing there) is not kept from anyone meanwhile: other
//! tasks' ADD and DEL of those files, their releases and instance closes go on. The walk may
//! be preempted exactly where C's may: with `PREEMPT_RCU` (`PREEMPT` and `PREEMPT_DYNAMIC`
//! kernels, Debian's among them); on our test kernel (`PREEMPT_LAZY`, where `rcu_read_lock`
//! disables preemption) neither is. What a walk reads stays readable to its end, as in C:
//! - the lists: a watch joins its file's list with `list_add_tail_rcu` (initialised before it
//!   is seen) and leaves it with `list_del_rcu` (its `next` kept, so a walk standing on it goes
//!   on), never to join one again;
//! - the watches: an epitem's memory is freed a grace period after its drop (its cache frees
//!   with `kfree_rcu`, the `rcu_head` over its dead `rbn` as in C), and its drop leaves `ep`
//!   and `fllink` as they were;
//! - the eventpolls: an instance's file drops its reference a grace period after the release
//!   emptied it (`EventPoll::put_rcu`, C's `kfree_rcu(ep)`), and an instance's watches are
//!   unlinked before that release ends, so the instance of a watch a walk found lives on;
//! - a plain file's head: the walk reads its first link under the bucket lock, where the head
//!   is in the index and not yet given to `kfree_rcu` (whose `rcu_head` overlays the list), and
//!   afterwards only compares addresses with it. An instance's embedded head lives as the
//!   instance does.
//!
//! Walks run only under `EPNESTED` (they write the instances' loop-check memos). A walk may
//! see a watch that leaves meanwhile, or miss one that joins: C's walk is as racy, and says so
//! ("CTL_DEL can remove links here, but that can't increase our count"); a watch of an
//! instance can only join through a full check, under `EPNESTED`.
//!
//! Lock order: `mtx` → a bucket lock → a target's wait-queue lock → `ready`. Nothing under a
//! bucket lock sleeps or takes `mtx`; `ep_poll_callback` never takes one; no task holds two.

use core::ptr::{self, NonNull};
use kernel::{
    bindings,
    bindings::list_head,
    fs::File,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Relaxed, Release},
        rcu,
    },
    types::Opaque,
};

use crate::{
    cache::CacheBox,
    epitem::Epitem,
    eventpoll::EventPoll,
    list::{init_list_head, list_add_tail_rcu, list_del_rcu, list_empty, list_next_rcu},
    nesting::EP_MAX_NESTS,
};

/// Bucket locks (a power of two).
const BUCKETS: usize = 4096;

extern "C" {
    fn rust_epoll_index_init() -> core::ffi::c_int;
    fn rust_epoll_index_destroy();
    fn rust_epoll_index_lookup(file: usize) -> *mut FileHead;
    fn rust_epoll_index_insert(head: *mut FileHead) -> core::ffi::c_int;
    fn rust_epoll_index_remove(head: *mut FileHead);
    fn rust_epoll_release_hook_register() -> core::ffi::c_int;
    fn rust_epoll_release_hook_unregister();
    fn rust_epoll_epi_fget(file: *mut core::ffi::c_void, state: *const i8) -> bool;
    fn rust_epoll_release_hook_check() -> core::ffi::c_int;
}

// `helpers.c` tests the state against its own copy of this value.
const _: () = assert!(state::INDEXED == 1);

/// An epitem's place in this protocol (`Epitem::state`).
pub(crate) mod state {
    /// Not yet in the index: not hooked on any queue.
    pub(crate) const NEW: i8 = 0;
    /// On its file's list, hooked on its target's queues. Written under the bucket lock.
    pub(crate) const INDEXED: i8 = 1;
    /// Its target was released: unhooked, uncharged, on its eventpoll's released list (until
    /// the reap takes it). Written under the bucket lock and the eventpoll's `ready` lock.
    pub(crate) const RELEASED: i8 = 2;
    /// Deleted while indexed: off every list, about to be freed. Written under the bucket
    /// lock.
    pub(crate) const REAPED: i8 = 3;
}

/// The watches of one file (C's `epitems_head`, or `ep->refs` for an instance). The layout is
/// `helpers.c`'s `struct rust_epoll_fhead`, whose `rcu_head` overlays `epitems` once the head
/// is off the index, empty and waiting to be freed.
///
/// # Invariants
///
/// A head from the head cache is in the index exactly while `epitems` is not empty, and is
/// freed (after a grace period) when it leaves it; one embedded in an eventpoll is never in
/// the index and lives as long as the eventpoll. `node` and `epitems` are written only under
/// the bucket lock of `file`.
#[repr(C)]
#[pin_data]
pub(crate) struct FileHead {
    /// The head's link in the index (`struct rhash_head`), written by the index.
    node: Opaque<bindings::rhash_head>,
    /// The file's address: the key, only compared.
    file: usize,
    /// The watches of the file, through `Epitem::fllink`.
    #[pin]
    epitems: Opaque<list_head>,
}

// `helpers.c` checks the same offsets and size for `struct rust_epoll_fhead`.
const _: () = {
    assert!(core::mem::offset_of!(FileHead, node) == 0);
    assert!(core::mem::offset_of!(FileHead, file) == 8);
    assert!(core::mem::offset_of!(FileHead, epitems) == 16);
    assert!(core::mem::size_of::<FileHead>() == 32);
};

// SAFETY: Every field but the immutable `file` is written only under the bucket lock. The
// lockless accesses are reads: `is_watched` and `first_rcu`, single volatile reads of
// `epitems.next` (READ_ONCE; the walks then follow the list under RCU, see the module doc),
// and the index's lookups under RCU, of `node` and `file`.
unsafe impl Send for FileHead {}
// SAFETY: As above.
unsafe impl Sync for FileHead {}

impl FileHead {
    /// An empty head for the file at address `file`.
    pub(crate) fn new(file: usize) -> impl PinInit<Self> {
        pin_init!(Self {
            node: Opaque::uninit(),
            file,
            // SAFETY: `slot` is valid for writes.
            epitems <- Opaque::ffi_init(|slot| unsafe { init_list_head(slot) }),
        })
    }

    /// Whether any of our watches has this file as its target (for an instance's embedded
    /// head: whether the instance is watched by one of ours, `ep->refs` not empty). Lockless
    /// and so racy, as C's `READ_ONCE(file->f_ep)`: `ctl` reads it under the instance's `mtx`
    /// (as `ep_ctl_lock`), where a watch of the instance may come only through a full check,
    /// and after `in_check`, which catches a check in flight and (acquire) makes the watch of
    /// one that has ended visible here; walks read it under `EPNESTED`, where watches of an
    /// instance can only go, and a path that goes meanwhile was counted at most once.
    pub(crate) fn is_watched(&self) -> bool {
        // SAFETY: `epitems` is initialised; `list_empty` reads `next` once (READ_ONCE).
        unsafe { !list_empty(self.epitems.get()) }
    }

    /// Visits the watches of this file. Caller holds the bucket lock (the guard is the proof).
    fn for_each(&self, _guard: &BucketGuard<'_>, mut f: impl FnMut(&Epitem) -> Result) -> Result {
        let head = self.epitems.get();
        // SAFETY: Under the bucket lock every node is the `fllink` of a live, indexed epitem;
        // `next` is read before `f`, which may unlink the current one.
        unsafe {
            let mut link = (*head).next;
            while link != head {
                let next = (*link).next;
                f(Epitem::from_fllink(link))?;
                link = next;
            }
        }
        Ok(())
    }

    /// The first link of the list, for a walk under RCU (which reads the head no further).
    fn first_rcu(&self, _rcu: &rcu::Guard) -> *mut list_head {
        // SAFETY: The head is alive: an embedded one as its instance, which the caller found
        // under RCU (see the module doc), a plain file's under its bucket lock (the caller's).
        unsafe { list_next_rcu(self.epitems.get()) }
    }
}

/// One bucket: the lock of the files whose addresses hash to it.
struct Bucket {
    lock: Opaque<bindings::spinlock_t>,
}

/// The bucket locks, initialised by [`init`] before the hook or any instance exists.
struct Table([Bucket; BUCKETS]);

// SAFETY: Each bucket is a spinlock.
unsafe impl Sync for Table {}

static TABLE: Table = Table(
    [const {
        Bucket {
            lock: Opaque::uninit(),
        }
    }; BUCKETS],
);

/// Initialises the bucket locks and the index; [`exit`] undoes it.
///
/// # Safety
///
/// Called once, at module init, before the release hook or any instance exists.
pub(crate) unsafe fn init() -> Result {
    let key = kernel::static_lock_class!();
    for b in TABLE.0.iter() {
        // SAFETY: Called once, before any use of the locks (our contract); `key` and the name
        // are static.
        unsafe {
            bindings::__spin_lock_init(b.lock.get(), c"release::bucket".as_char_ptr(), key.as_ptr())
        };
    }
    // SAFETY: Called once, before any use of the index (our contract).
    kernel::error::to_result(unsafe { rust_epoll_index_init() })
}

/// Frees the index.
///
/// # Safety
///
/// Called once, after [`init`] succeeded, when the release hook is unregistered (or was never
/// registered) and no watch is left: nothing uses the index any more.
pub(crate) unsafe fn exit() {
    // SAFETY: Our contract.
    unsafe { rust_epoll_index_destroy() };
}

/// The bucket of a file's address (multiplicative hashing, as `hash_ptr`).
fn bucket(file: usize) -> &'static Bucket {
    let h = (file as u64).wrapping_mul(0x61c8_8646_80b5_83eb) >> (64 - BUCKETS.trailing_zeros());
    &TABLE.0[h as usize]
}

/// A bucket's lock, held.
struct BucketGuard<'a> {
    bucket: &'a Bucket,
}

impl Bucket {
    fn lock(&self) -> BucketGuard<'_> {
        // SAFETY: Initialised by `init`; unlocked by the guard.
        unsafe { bindings::spin_lock(self.lock.get()) };
        BucketGuard { bucket: self }
    }

    /// The head of the plain file `file` in the index, if it has one. Caller holds the lock of
    /// `file`'s bucket (this one), under which its head is put in and taken off.
    fn find<'g>(&self, _guard: &'g BucketGuard<'_>, file: usize) -> Option<&'g FileHead> {
        // SAFETY: The index is initialised (`init`) and destroyed only when nothing uses it;
        // the lookup runs under RCU.
        let head = unsafe { rust_epoll_index_lookup(file) };
        // SAFETY: A head found in the index is alive while it is in it (type invariant), and
        // it leaves it only under this lock, which the caller holds.
        unsafe { head.as_ref() }
    }

    /// Puts `head`, a new head of the file whose bucket this is and which has none in the
    /// index, in the index. Caller holds the lock.
    ///
    /// # Safety
    ///
    /// `head` comes from the head cache, and belongs to the index from here on if this
    /// succeeds (it is freed by [`Bucket::remove`]).
    unsafe fn insert(&self, _guard: &BucketGuard<'_>, head: *mut FileHead) -> Result {
        // SAFETY: `head` is valid and not in the index; its file has no head there (checked
        // under this lock, held since).
        kernel::error::to_result(unsafe { rust_epoll_index_insert(head) }).map_err(|_| ENOMEM)
    }

    /// Takes `head`, the file's head in the index, whose list is empty, off the index and has
    /// it freed after a grace period: a lookup may still be walking past it. Caller holds the
    /// lock. The index's removal is a release store (`rcu_assign_pointer`): a release hook
    /// that finds no head (then a read barrier) sees everything done under the lock before,
    /// `forget`'s unhook above all, done; it skips the lock and lets the file's `->release()`
    /// free the queues.
    fn remove(&self, _guard: &BucketGuard<'_>, head: &FileHead) {
        // SAFETY: `head` is in the index (found there under this lock), from the head cache
        // (embedded heads are never put in), and empty; the caller uses it no more.
        unsafe { rust_epoll_index_remove(ptr::from_ref(head).cast_mut()) };
    }
}

impl Drop for BucketGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: Locked by `lock`, in this task.
        unsafe { bindings::spin_unlock(self.bucket.lock.get()) };
    }
}

/// The hook on `__fput()`: registered while this lives. The module holds it for its whole
/// life, so it outlives every watch.
pub(crate) struct Hook(());

impl Hook {
    /// Hooks `__fput()`, before any watch can exist, and checks that the hook sees a file's
    /// release (see `helpers.c`).
    ///
    /// # Safety
    ///
    /// Called once per module load, from module init, after [`init`].
    pub(crate) unsafe fn register() -> Result<Self> {
        // SAFETY: FFI call; registered once (our contract), unregistered by `drop`.
        kernel::error::to_result(unsafe { rust_epoll_release_hook_register() }).inspect_err(
            |e| {
                pr_err!(
                    "cannot hook __fput (error {}): needs ftrace enabled (kernel.ftrace_enabled)\n",
                    e.to_errno()
                )
            },
        )?;
        Ok(Self(()))
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        // SAFETY: Registered by `register`. Returns once no call of the hook is running; the
        // index goes after it (the module holds the hook for its whole life, so no watch is
        // left).
        unsafe {
            rust_epoll_release_hook_unregister();
            exit();
        }
    }
}

/// A head allocated ahead of taking the bucket lock, if the file turns out to need one.
type SpareHead = Option<Pin<CacheBox<FileHead>>>;

/// Whether the hook is still called for every release (see `helpers.c`): ADD is refused
/// with `EPERM` (the target cannot be watched safely) once it is not. May sleep.
pub(crate) fn hook_alive() -> Result {
    // SAFETY: FFI call without preconditions; we may sleep.
    if unsafe { rust_epoll_release_hook_check() } != 0 {
        return Err(EPERM);
    }
    Ok(())
}

/// `ep_attach_file`: puts a new watch on its file's list (before it is hooked on the file's
/// queues). `child` is the target's eventpoll when the target is one of our instances (its
/// head is embedded); otherwise a head is allocated and put in the index if the file has none
/// yet (`ENOMEM` if the index cannot grow). The caller holds a reference on the target, so
/// its release cannot be running.
pub(crate) fn index(epi: &Epitem, child: Option<&EventPoll>) -> Result {
    let file = epi.key().file;
    let b = bucket(file);
    let mut spare: SpareHead = None;
    loop {
        let guard = b.lock();
        let head = match child.map(EventPoll::head).or_else(|| b.find(&guard, file)) {
            Some(head) => head,
            None => {
                let Some(new) = spare.take() else {
                    drop(guard);
                    spare = Some(crate::resources().heads.alloc(FileHead::new(file))?);
                    continue;
                };
                let new = CacheBox::into_raw(new);
                // SAFETY: From the head cache; its file has no head in the index (just looked
                // up, under the lock held since).
                if let Err(e) = unsafe { b.insert(&guard, new) } {
                    // SAFETY: Just leaked from its box, and not in the index.
                    drop(unsafe { CacheBox::from_raw(new, &crate::resources().heads) });
                    return Err(e);
                }
                // SAFETY: In the index from here on, freed when it leaves it (type invariant
                // of `FileHead`), which needs this lock.
                unsafe { &*new }
            }
        };
        // SAFETY: `fllink` is unlinked (a new item), the head's list is valid; both under the
        // bucket lock. Published last (release), for walks under RCU.
        unsafe { list_add_tail_rcu(epi.fllink(), head.epitems.get()) };
        epi.state.store(state::INDEXED, Relaxed);
        return Ok(());
    }
}

/// Takes `epi` off its file's list; a plain file's head leaves the index, and is freed, with
/// its last watch. Caller holds the bucket lock.
fn unindex(b: &Bucket, guard: &BucketGuard<'_>, epi: &Epitem) {
    // SAFETY: An indexed item's `fllink` is on its file's list, under this lock. Its `next`
    // stays, for a walk under RCU standing on it; it never joins a list again.
    unsafe { list_del_rcu(epi.fllink()) };
    if epi.targets_instance() {
        // The head is the target's own, embedded, not in the index: the release hook takes
        // this lock to read it.
        return;
    }
    let Some(head) = b.find(guard, epi.key().file) else {
        return;
    };
    if !head.is_watched() {
        b.remove(guard, head);
    }
}

/// `ep_remove_file` and `ep_unregister_pollwait` for a watch that is going away: takes it off
/// its file's list and off its target's queues, unless its target's release already did.
/// After this no callback runs on it and release cannot find it.
pub(crate) fn forget(epi: &Epitem) {
    let b = bucket(epi.key().file);
    let guard = b.lock();
    // SAFETY: Under the bucket lock, which every writer of `state` holds: a plain load.
    if unsafe { *epi.state.as_ptr() } == state::INDEXED {
        // Off the target's queues first, then off the file's list, in C's order
        // (`ep_remove`: `ep_unregister_pollwait`, then `ep_remove_file`). Our caller may hold
        // no reference on the target (an instance's close, `EventPoll::clear`): its queues
        // stay alive only until its release, which waits for this lock, but for a plain file
        // only while its head is in the index (the hook's lockless lookup). While the item is
        // on the file's list its head is there, so the release waits; `unindex` may take the
        // head off, and is done after the unhook, with a release store (`Bucket::remove`).
        epi.unhook();
        unindex(b, &guard, epi);
        epi.state.store(state::REAPED, Relaxed);
    }
    // A released item (RELEASED, kept so by the reap) is on its eventpoll's released list,
    // until the caller's removal from the ready lists takes it off.
}

/// A counted reference on a watch's target, unless its release has begun (`epi_fget`).
pub(crate) fn get_file(epi: &Epitem) -> Option<ARef<File>> {
    let file = epi.key().file as *mut bindings::file;
    // SAFETY: `file` is the watch's target's address and `state` its state; the helper checks
    // the state, try-gets and re-checks inside an RCU read section (see the module doc), so it
    // dereferences the file only while its memory is a `struct file`.
    if !unsafe { rust_epoll_epi_fget(file.cast(), epi.state.as_ptr()) } {
        return None;
    }
    // SAFETY: We own the reference just taken on the watch's own target; `File` is a
    // transparent wrapper of `struct file`.
    Some(unsafe { ARef::from_raw(NonNull::new_unchecked(file.cast())) })
}

/// Watches released per hold of the bucket lock. C's `eventpoll_release_file` takes each
/// watch's `ep->mtx` in turn, so the release of a file watched a million times (one file dup'ed
/// and each descriptor watched: one unprivileged user may make `max_user_watches` such watches)
/// can be preempted between watches; ours drops the bucket lock, and may be preempted, between
/// batches.
const RELEASE_BATCH: usize = 32;

/// The release hook: `eventpoll_release_file` for our watches of `file`, called by
/// `helpers.c` at the entry of `__fput(file)`, in process context. It must not sleep (it runs
/// on an ftrace trampoline, see `helpers.c`), but it may be preempted between batches.
///
/// # Safety
///
/// `file` is an opened file (`FMODE_OPENED`, checked by the hook as `__fput` checks it before
/// `eventpoll_release`) whose last reference is gone and whose `->release()` has not run.
#[no_mangle]
pub(crate) unsafe extern "C" fn rust_epoll_file_release(file: *mut bindings::file) {
    let addr = file as usize;
    // SAFETY: `file` is alive until its `->release()`, which comes after this hook.
    let child = unsafe { crate::device::instance_of_raw(file) };
    // Most released files are not watched: a plain file without a head in the index is
    // skipped without the lock. A watch of `file` was indexed before its adder dropped its
    // reference, and the put of the last reference (ordered after that) comes before this
    // call, so its head is found. A watch leaving without a reference on `file` (its instance
    // closing: `forget`) is unhooked before its head leaves the index: a head found missing
    // here (read barrier after the lookup, pairing with the removal's release) went after that
    // unhook, so the file's queues may go. Our instances' heads are read under the lock.
    if child.is_none() {
        // SAFETY: The index lives as long as the hook is registered (`exit`).
        if unsafe { rust_epoll_index_lookup(addr) }.is_null() {
            return;
        }
    }
    let b = bucket(addr);
    loop {
        let guard = b.lock();
        // Found again after each batch: while the lock was dropped, the file's last other
        // watches may have left on their own and taken a plain file's head off the index (and
        // freed it). No watch can come: nothing holds a reference on `file` to add one with.
        let head = match child {
            Some(ep) => ep.head(),
            None => match b.find(&guard, addr) {
                Some(head) => head,
                None => return,
            },
        };
        let mut left = RELEASE_BATCH;
        let _ = head.for_each(&guard, |epi| {
            if left == 0 {
                return Err(EAGAIN);
            }
            left -= 1;
            // SAFETY: The item is on the list, so `fllink` is linked; under the bucket lock. As
            // in `unindex`, for walks under RCU.
            unsafe { list_del_rcu(epi.fllink()) };
            epi.unhook();
            let ep = epi.ep();
            {
                let mut ready = ep.ready.lock();
                ready.as_mut().release(epi);
                // Its record in the ring, if unconsumed, becomes a tombstone now (`ring.rs`).
                ep.ring.forget(&ready, epi);
                // Release: pairs with the acquire of `rust_epoll_epi_fget`, for a poll that
                // had not seen this yet. C has no barrier here: its `epi_fget` relies on the
                // file's refcount alone (`file_ref_get`, fs/eventpoll.c), the epitem being
                // found under `ep->mtx`; ours also checks `state`, read without `mtx`.
                epi.state.store(state::RELEASED, Release);
                // As C's `ep_remove_epi` in `eventpoll_release_file`, at once, not at the
                // reap: the watch's quota is back and its wakeup source no longer holds the
                // system up.
                ep.user.uncharge();
                epi.ws.relax();
            }
            ep.queue_reap();
            Ok(())
        });
        if head.is_watched() {
            // More than a batch: the unlock is a preemption point (7.3 on x86 is always
            // preemptible) before the next one. The file's `->release()` waits: it comes
            // after this hook returns.
            continue;
        }
        // The list is empty now. An embedded head (the file is one of our instances) lives on
        // in its eventpoll; a plain file's leaves the index and is freed.
        if child.is_none() {
            b.remove(&guard, head);
        }
        return;
    }
}

/// epoll's `path_limits`: how many wake-up paths of each length (index: instances above
/// the first one) may lead up from one file. Paths of length 0 are not limited.
const PATH_LIMITS: [u32; EP_MAX_NESTS + 1] = [1000, 500, 100, 50, 10];

/// A walk up the per-file lists under RCU (see the module doc): the read-side section it holds
/// keeps every watch it finds, and the eventpoll of each, readable until it ends. Only under
/// `nesting::EPNESTED`.
pub(crate) struct Walk {
    rcu: rcu::Guard,
}

impl Walk {
    /// A walk, in an RCU read-side section from here to its drop. The caller holds
    /// `nesting::EPNESTED`.
    pub(crate) fn new() -> Self {
        Self {
            rcu: rcu::read_lock(),
        }
    }

    /// Calls `f` with the eventpoll of each watch on the list that starts at `first` and ends
    /// at `head` (the address of the list's head, only compared), as
    /// `hlist_for_each_entry_rcu` and `epi->ep`.
    ///
    /// # Safety
    ///
    /// `first` was read (with [`FileHead::first_rcu`]) from the list at `head` in this walk's
    /// read-side section, while the head was alive.
    unsafe fn watches<'w>(
        &'w self,
        head: *const list_head,
        first: *mut list_head,
        mut f: impl FnMut(&'w EventPoll) -> Result,
    ) -> Result {
        let mut link = first;
        while !ptr::eq(link, head) {
            // SAFETY: `link` was on the list, reached in this read-side section: the `fllink`
            // of an epitem whose memory is freed a grace period after it left the list at the
            // earliest, its `fllink` and `ep` intact till then even if it is dropped meanwhile,
            // and whose eventpoll is freed later still (module doc).
            f(unsafe { Epitem::ep_of_fllink(link) })?;
            // SAFETY: As above; an unlinked item's `next` still leads along the list (or to
            // the head) (`list_del_rcu`).
            link = unsafe { list_next_rcu(link) };
        }
        Ok(())
    }

    /// Calls `f` for each eventpoll watching `ep` (`ep->refs`: one level of
    /// `ep_get_upwards_depth_proc` and `reverse_path_check_proc`).
    pub(crate) fn watchers<'w>(
        &'w self,
        ep: &'w EventPoll,
        f: impl FnMut(&'w EventPoll) -> Result,
    ) -> Result {
        let head = ep.head();
        let first = head.first_rcu(&self.rcu);
        // SAFETY: Read just now from `ep`'s embedded head, alive in this section as `ep` is.
        unsafe { self.watches(head.epitems.get(), first, f) }
    }
}

/// `reverse_path_check` for one file: counts the wake-up paths leading up from `file`
/// through our instances, and fails with `EINVAL` if one length has more than epoll allows or
/// a path is deeper than `EP_MAX_NESTS`. The caller holds `nesting::EPNESTED`.
pub(crate) fn reverse_path_check(file: usize) -> Result {
    let mut counts = [0u32; EP_MAX_NESTS + 1];
    let walk = Walk::new();
    let b = bucket(file);
    let (head, first) = {
        let guard = b.lock();
        match b.find(&guard, file) {
            Some(head) => (head.epitems.get().cast_const(), head.first_rcu(&walk.rcu)),
            None => return Ok(()),
        }
    };
    // SAFETY: `first` was read in the walk's section, under the bucket lock, where the head
    // was in the index and so alive; the head is only compared from here on.
    unsafe {
        walk.watches(head, first, |ep| {
            reverse_path_check_proc(&walk, ep, 0, &mut counts)
        })
    }
}

/// `reverse_path_check_proc`, for the eventpoll `ep` watching a file `depth` instances above
/// the file being checked.
fn reverse_path_check_proc<'w>(
    walk: &'w Walk,
    ep: &'w EventPoll,
    depth: usize,
    counts: &mut [u32; EP_MAX_NESTS + 1],
) -> Result {
    if !ep.head().is_watched() {
        // A path ends here; paths of length 0 (the file watched directly) are not limited.
        if depth > 0 {
            counts[depth] += 1;
            if counts[depth] > PATH_LIMITS[depth] {
                return Err(EINVAL);
            }
        }
        return Ok(());
    }
    if depth + 1 > EP_MAX_NESTS {
        return Err(EINVAL);
    }
    walk.watchers(ep, |above| {
        reverse_path_check_proc(walk, above, depth + 1, counts)
    })
}
