// SPDX-License-Identifier: GPL-2.0

//! `ep->mtx`: a kernel mutex that is locked at a nesting depth (`mutex_lock_nested`).
//!
//! An instance watching an instance polls it under its own `mtx`, and that poll takes the
//! watched instance's `mtx`: two locks of one lock class, one inside the other, as deep as
//! `EP_MAX_NESTS`. The loop check makes the order strict (watcher before watched), but
//! lockdep only sees the class; fs/eventpoll.c tells it the depth with `mutex_lock_nested`,
//! and so does this. `kernel::sync::Mutex` has no nested lock, so this is the one lock type
//! of the module's own, over the C mutex.
//!
//! It also says whether this task holds it ([`NestedMutex::held_by_current`]): a poll through
//! the VFS that finds `mtx` busy waits for it a while (`wait.rs`), except when the holder is the
//! polling task itself, further up its own stack (a cycle through a native epoll instance),
//! which nothing would ever release. The C mutex's own owner word answers that (read in
//! `helpers.c`: kernel/locking/mutex.h, which decodes it, is private, and `mutex_get_owner()` is
//! not exported). The mutex keeps no owner of its own: that record cost three out-of-line calls
//! (`current`, two atomic stores) inside every WAIT's critical section, for a question asked only
//! on the rare busy path of a poll through the VFS.

use core::{
    cell::UnsafeCell,
    ops::{Deref, DerefMut},
};
use kernel::{
    bindings,
    prelude::*,
    sync::LockClassKey,
    types::{NotThreadSafe, Opaque},
};

extern "C" {
    fn rust_epoll_mutex_held_by_current(lock: *mut bindings::mutex) -> bool;
}

#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
extern "C" {
    fn rust_epoll_mutex_lock_nested(lock: *mut bindings::mutex, subclass: u32);
}

/// Lockdep's limit on subclasses (`MAX_LOCKDEP_SUBCLASSES`); depths past it share the last.
#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
const MAX_SUBCLASS: u32 = 7;

/// A mutex over `T`, locked with a nesting depth.
#[pin_data]
pub(crate) struct NestedMutex<T> {
    #[pin]
    mutex: Opaque<bindings::mutex>,
    data: UnsafeCell<T>,
}

// SAFETY: The mutex serialises all access to `data`, so sending or sharing the lock is as safe
// as sending `T`.
unsafe impl<T: Send> Send for NestedMutex<T> {}
// SAFETY: As above.
unsafe impl<T: Send> Sync for NestedMutex<T> {}

impl<T> NestedMutex<T> {
    /// A new, unlocked mutex over `data` (`__mutex_init`).
    pub(crate) fn new(
        data: T,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; `name` and `key` are static.
            mutex <- Opaque::ffi_init(|slot| unsafe {
                bindings::__mutex_init(slot, name.as_char_ptr(), key.as_ptr())
            }),
            data: UnsafeCell::new(data),
        })
    }

    /// Whether this task holds the mutex (taken further up its own stack).
    ///
    /// Exact for that question: the C mutex's owner word names (flag bits aside) this task from
    /// its lock to its unlock, and otherwise only while the mutex is being handed to it as it
    /// sleeps in `mutex_lock()`, when it cannot be asking; other tasks' changes to the word
    /// (their locks, unlocks, flag bits) never make it name this task.
    pub(crate) fn held_by_current(&self) -> bool {
        // SAFETY: The mutex is initialised and pinned; the helper only reads its owner word.
        unsafe { rust_epoll_mutex_held_by_current(self.mutex.get()) }
    }

    /// Locks the mutex, telling lockdep it is taken `depth` levels inside others of its class.
    pub(crate) fn lock_nested(&self, depth: u32) -> NestedGuard<'_, T> {
        // Without lockdep `mutex_lock_nested()` is `mutex_lock()`: called directly, one call.
        #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
        // SAFETY: The mutex is initialised and pinned; it is unlocked by the guard's drop.
        unsafe {
            rust_epoll_mutex_lock_nested(self.mutex.get(), depth.min(MAX_SUBCLASS))
        };
        #[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
        // SAFETY: As above.
        unsafe {
            let _ = depth;
            bindings::mutex_lock(self.mutex.get())
        };
        NestedGuard {
            lock: self,
            _not_send: NotThreadSafe,
        }
    }
}

impl<T> NestedMutex<T> {
    /// Locks the mutex if it is free (`mutex_trylock`): never waits, so it may be taken
    /// in any order against other locks.
    pub(crate) fn try_lock(&self) -> Option<NestedGuard<'_, T>> {
        // SAFETY: The mutex is initialised and pinned; if taken, the guard's drop unlocks it.
        let taken = unsafe { bindings::mutex_trylock(self.mutex.get()) } != 0;
        // The guard is made only once the lock is ours: made and dropped on failure, it would
        // unlock a mutex another task holds (lockdep caught an eager `then_some` doing that).
        if taken {
            Some(NestedGuard {
                lock: self,
                _not_send: NotThreadSafe,
            })
        } else {
            None
        }
    }
}

/// The mutex held; unlocks when dropped, in the task that locked it (a kernel mutex must be
/// released by its owner): not `Send`.
pub(crate) struct NestedGuard<'a, T> {
    lock: &'a NestedMutex<T>,
    _not_send: NotThreadSafe,
}

impl<T> Deref for NestedGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: We hold the mutex, so nothing else accesses `data`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for NestedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: We hold the mutex, so nothing else accesses `data`.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for NestedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: We hold the mutex (we locked it in `lock_nested`), in this task.
        unsafe { bindings::mutex_unlock(self.lock.mutex.get()) };
    }
}
