// SPDX-License-Identifier: GPL-2.0

//! EPOLLWAKEUP: fs/eventpoll.c's `ep_create_wakeup_source`, `ep_destroy_wakeup_source`,
//! `ep_pm_stay_awake(_rcu)` and its `__pm_relax` calls.
//!
//! With `CONFIG_PM_SLEEP`, a watch added with EPOLLWAKEUP (by a task with
//! `CAP_BLOCK_SUSPEND`) gets a wakeup source named after its target's dentry, and its
//! instance one named "eventpoll". The watch's source is held active from the moment its
//! event is queued until the event is reported (the instance's source covers the report
//! itself), so the system does not suspend with an event nobody has seen. Without
//! `CONFIG_PM_SLEEP` the flag is dropped at ctl time, as epoll does, and this file compiles to
//! nothing.
//!
//! A watch's source may be destroyed by MOD while its callback runs in another context; as in
//! C, the pointer is cleared and an RCU grace period passes before the source is unregistered
//! (the callback runs under the ready lock with interrupts off, an RCU read-side section).

#[cfg(CONFIG_PM_SLEEP)]
use core::ptr;
#[cfg(CONFIG_PM_SLEEP)]
use kernel::{
    bindings,
    sync::atomic::{Atomic, Relaxed, Release},
};
use kernel::{fs::File, prelude::*};

#[cfg(CONFIG_PM_SLEEP)]
extern "C" {
    // (`void *`: bindgen's `struct file` holds an empty struct, not FFI-safe to rustc.)
    fn rust_epoll_wakeup_source_for(file: *mut core::ffi::c_void) -> *mut core::ffi::c_void;
    fn rust_epoll_wakeup_source_active(ws: *mut core::ffi::c_void) -> bool;
}

/// An optional wakeup source (`struct wakeup_source __rcu *ws`). Set and cleared under the
/// owner's `mtx`; used without it only by [`WakeupSource::stay_awake`] in an RCU read-side
/// section.
pub(crate) struct WakeupSource {
    #[cfg(CONFIG_PM_SLEEP)]
    ws: Atomic<*mut bindings::wakeup_source>,
}

impl WakeupSource {
    /// No source.
    pub(crate) const fn none() -> Self {
        Self {
            #[cfg(CONFIG_PM_SLEEP)]
            ws: Atomic::new(ptr::null_mut()),
        }
    }

    #[cfg(CONFIG_PM_SLEEP)]
    fn get(&self) -> *mut bindings::wakeup_source {
        // Acquire pairs with the release of `set`: the source is initialised when seen (C:
        // `rcu_dereference(epi->ws)` in `ep_wakeup_source`, against `rcu_assign_pointer` in
        // `ep_create_wakeup_source`).
        self.ws.load(kernel::sync::atomic::Acquire)
    }

    #[cfg(CONFIG_PM_SLEEP)]
    fn set(&self, ws: *mut bindings::wakeup_source) -> Result {
        if ws.is_null() {
            return Err(ENOMEM);
        }
        self.ws.store(ws, Release);
        Ok(())
    }

    /// Whether a source is registered (`ep_has_wakeup_source`).
    pub(crate) fn is_set(&self) -> bool {
        #[cfg(CONFIG_PM_SLEEP)]
        return !self.get().is_null();
        #[cfg(not(CONFIG_PM_SLEEP))]
        false
    }

    /// Registers the instance's source, "eventpoll", unless it has one. Under `mtx`.
    pub(crate) fn create_for_instance(&self) -> Result {
        #[cfg(CONFIG_PM_SLEEP)]
        if !self.is_set() {
            // SAFETY: FFI call; the name is static and copied.
            let ws = unsafe {
                bindings::wakeup_source_register(ptr::null_mut(), c"eventpoll".as_char_ptr())
            };
            return self.set(ws);
        }
        Ok(())
    }

    /// Registers a watch's source, named after its target's dentry. Under `mtx`.
    pub(crate) fn create_for_file(&self, file: &File) -> Result {
        #[cfg(CONFIG_PM_SLEEP)]
        let res = {
            // SAFETY: `file` is alive; the helper copies its dentry's name.
            let ws = unsafe { rust_epoll_wakeup_source_for(file.as_ptr().cast()) }.cast();
            self.set(ws)
        };
        #[cfg(not(CONFIG_PM_SLEEP))]
        let res = {
            let _ = file;
            Ok(())
        };
        res
    }

    /// `ep_destroy_wakeup_source`: the source goes, once no callback can be using it. Under
    /// `mtx`; may sleep.
    pub(crate) fn destroy(&self) {
        #[cfg(CONFIG_PM_SLEEP)]
        {
            let ws = self.ws.xchg(ptr::null_mut(), Relaxed);
            if !ws.is_null() {
                // SAFETY: Waits for the callbacks' read sections (see the module doc), after
                // which nothing uses `ws`; unregistering frees it.
                unsafe {
                    bindings::synchronize_rcu();
                    bindings::wakeup_source_unregister(ws);
                }
            }
        }
    }

    /// `__pm_stay_awake`, if there is a source. In an RCU read-side section or under `mtx`.
    pub(crate) fn stay_awake(&self) {
        #[cfg(CONFIG_PM_SLEEP)]
        {
            let ws = self.get();
            if !ws.is_null() {
                // SAFETY: `ws` is registered: it is unregistered only after it is cleared and
                // a grace period passed, and the caller is a reader (or holds `mtx`).
                unsafe { bindings::__pm_stay_awake(ws) };
            }
        }
    }

    /// `__pm_relax`, if there is a source. Under `mtx`, or by the release hook without it
    /// (under the bucket and `ready` spinlocks, so with preemption off: a reader, which
    /// `destroy` waits for).
    pub(crate) fn relax(&self) {
        #[cfg(CONFIG_PM_SLEEP)]
        {
            let ws = self.get();
            if !ws.is_null() {
                // SAFETY: As in `stay_awake`.
                unsafe { bindings::__pm_relax(ws) };
            }
        }
    }

    /// Whether the source is active (`ws->active`). Under `mtx`.
    pub(crate) fn is_active(&self) -> bool {
        #[cfg(CONFIG_PM_SLEEP)]
        let active = {
            let ws = self.get();
            // SAFETY: As in `stay_awake`; C reads the bitfield `active` as `ep_deliver_event`
            // does, without a lock.
            !ws.is_null() && unsafe { rust_epoll_wakeup_source_active(ws.cast()) }
        };
        #[cfg(not(CONFIG_PM_SLEEP))]
        let active = false;
        active
    }
}

impl Drop for WakeupSource {
    fn drop(&mut self) {
        #[cfg(CONFIG_PM_SLEEP)]
        {
            let ws = *self.ws.get_mut();
            if !ws.is_null() {
                // The owner is going: it is unhooked, so no callback can use the source. C's
                // `ep_remove_epi` and `ep_free` unregister without a grace period likewise.
                // SAFETY: `ws` is registered.
                unsafe { bindings::wakeup_source_unregister(ws) };
            }
        }
    }
}
