// SPDX-License-Identifier: GPL-2.0

//! The per-user cap on watches: fs/eventpoll.c's `max_user_watches` and `ep->user`.
//!
//! Like native epoll, an instance charges its watches to the user that created it, on the
//! kernel's own per-user counter (`user_struct.epoll_watches`), which native epoll charges
//! too: one budget of watches per user, whichever epoll they are made with. Past the cap an
//! ADD fails with `ENOSPC`. The cap is the module parameter `max_user_watches`; 0 (the
//! default) derives it as epoll does: 4% of low memory divided by the cost of one watch.

use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// fs/eventpoll.c's `EP_ITEM_COST` (`sizeof(struct epitem) + sizeof(struct eppoll_entry)`,
/// 128 + 48 on 64-bit): the cost native epoll divides by, so that the derived cap is native's.
const EP_ITEM_COST: usize = 176;

/// The cap in force, set once at module init.
static MAX_USER_WATCHES: Atomic<i64> = Atomic::new(0);

/// Sets the cap from the module parameter (`max_user_watches`, 0 = derived).
pub(crate) fn init(param: u64) {
    let max = if param != 0 {
        i64::try_from(param).unwrap_or(i64::MAX)
    } else {
        let mut si = bindings::sysinfo::default();
        // SAFETY: `si` is a valid, writable sysinfo.
        unsafe { bindings::si_meminfo(&mut si) };
        let low = si.totalram.saturating_sub(si.totalhigh);
        let bytes = (low / 25) << bindings::PAGE_SHIFT;
        i64::try_from(bytes / EP_ITEM_COST).unwrap_or(i64::MAX)
    };
    MAX_USER_WATCHES.store(max, Relaxed);
}

/// The cap in force.
pub(crate) fn max_user_watches() -> i64 {
    MAX_USER_WATCHES.load(Relaxed)
}

/// A reference to the user an instance charges its watches to (`ep->user`).
///
/// # Invariants
///
/// `user` holds a reference (`__count`), dropped with `free_uid`.
pub(crate) struct User {
    user: NonNull<bindings::user_struct>,
}

// SAFETY: A `user_struct` is refcounted and its watch counter is a percpu counter, safe to
// use from any thread.
unsafe impl Send for User {}
// SAFETY: As above.
unsafe impl Sync for User {}

impl User {
    /// The user of the credentials `file` was opened with (the creator of the instance,
    /// whose user `epoll_create` charges).
    ///
    /// # Safety
    ///
    /// `file` must be a live file (its credentials are read).
    pub(crate) unsafe fn of_opener(file: *mut bindings::file) -> Self {
        // SAFETY: `file` is alive, so its credentials are set and pinned by it, and a cred
        // always has a user; taking a reference keeps the user alive past the file.
        let user = unsafe {
            let user = (*(*file).f_cred).user;
            bindings::refcount_inc(&raw mut (*user).__count);
            NonNull::new_unchecked(user)
        };
        // INVARIANT: A reference was taken above.
        Self { user }
    }

    fn counter(&self) -> *mut bindings::percpu_counter {
        // SAFETY: The user is alive (type invariant); this only forms a field pointer.
        unsafe { &raw mut (*self.user.as_ptr()).epoll_watches }
    }

    /// Charges one watch, or fails with `ENOSPC` at the cap (`ep_insert`'s check).
    pub(crate) fn charge(&self) -> Result {
        // SAFETY: The counter is initialised for every user; these are its exported accessors.
        unsafe {
            let batch = core::ptr::addr_of!(bindings::percpu_counter_batch).read();
            if bindings::__percpu_counter_compare(self.counter(), max_user_watches(), batch) >= 0 {
                return Err(ENOSPC);
            }
            bindings::percpu_counter_add_batch(self.counter(), 1, batch);
        }
        Ok(())
    }

    /// Returns one watch (`ep_remove`).
    pub(crate) fn uncharge(&self) {
        // SAFETY: As in `charge`.
        unsafe {
            let batch = core::ptr::addr_of!(bindings::percpu_counter_batch).read();
            bindings::percpu_counter_add_batch(self.counter(), -1, batch);
        }
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // SAFETY: We hold a reference (type invariant).
        unsafe { bindings::free_uid(self.user.as_ptr()) };
    }
}
