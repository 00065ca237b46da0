// SPDX-License-Identifier: GPL-2.0

//! `ep->lock`: the IRQ-safe spinlock of the ready list, taken with `spin_lock_irqsave()`.
//!
//! `ep_poll_callback` runs in the waker's context, hard IRQ included, so the ready list's lock
//! must be taken with interrupts off. The kernel crate's `SpinLockIrq` does that through its
//! refcounted `local_interrupt_disable()` (it lets a guard outlive nested sections), which costs
//! five out-of-line calls per critical section where C's `spin_lock_irqsave()` /
//! `spin_unlock_irqrestore()` cost two; this section is taken once or twice per event. The
//! kernel crate has no `spin_lock_irqsave` backend, so this file adds one to its generic
//! `Lock`: [`IrqSpinLock`] is a `kernel::sync::lock::Lock` whose guard saves the interrupt
//! flags and restores them on drop, exactly as C's pair does.

use kernel::{
    bindings,
    sync::lock::{Backend, Guard, Lock},
};

extern "C" {
    fn rust_epoll_spin_trylock_irqsave(lock: *mut bindings::spinlock_t, flags: *mut usize) -> bool;
}

/// The `spin_lock_irqsave()` backend of [`IrqSpinLock`].
pub(crate) struct IrqSaveBackend;

/// The raw spinlock inside a `spinlock_t` (`&lock->rlock`).
///
/// # Safety
///
/// `ptr` must point to a `spinlock_t`.
unsafe fn rlock(ptr: *mut bindings::spinlock_t) -> *mut bindings::raw_spinlock {
    // `spinlock_t` is opaque to bindgen; in C (without PREEMPT_RT, which does not make
    // spinlocks of this kind) it is a union whose `rlock` member is at offset 0.
    ptr.cast()
}

// SAFETY: `spin_lock_irqsave` gives mutual exclusion with interrupts off on this CPU; the guard
// state is the saved flags, restored by the unlock of the same guard. `relock` uses the default
// implementation, which calls `lock` again.
unsafe impl Backend for IrqSaveBackend {
    type State = bindings::spinlock_t;
    type GuardState = usize;

    #[inline]
    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: `ptr` is valid for writes, `name` and `key` live forever (trait contract).
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    #[inline]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: `ptr` is an initialised spinlock (trait contract).
        unsafe { bindings::_raw_spin_lock_irqsave(rlock(ptr)) as usize }
    }

    #[inline]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags = 0;
        // SAFETY: `ptr` is an initialised spinlock; `flags` is written only on success.
        unsafe { rust_epoll_spin_trylock_irqsave(ptr, &mut flags) }.then_some(flags)
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, flags: &Self::GuardState) {
        // SAFETY: The caller holds the lock, taken by `lock` or `try_lock` with these flags.
        unsafe { bindings::_raw_spin_unlock_irqrestore(rlock(ptr), *flags as kernel::ffi::c_ulong) }
    }

    #[inline]
    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // Only lockdep can check it; without lockdep the C helper would be an empty call.
        if cfg!(CONFIG_LOCKDEP) {
            // SAFETY: `ptr` is an initialised spinlock.
            unsafe { bindings::spin_assert_is_held(ptr) }
        }
    }
}

/// A spinlock taken with `spin_lock_irqsave()`.
pub(crate) type IrqSpinLock<T> = Lock<T, IrqSaveBackend>;

/// [`IrqSpinLock`] held.
pub(crate) type IrqSpinLockGuard<'a, T> = Guard<'a, T, IrqSaveBackend>;

/// A new [`IrqSpinLock`] with its own lockdep class, named after its field.
macro_rules! new_irq_spinlock {
    ($inner:expr, $name:literal) => {
        $crate::irqlock::IrqSpinLock::new($inner, $name, ::kernel::static_lock_class!())
    };
}
pub(crate) use new_irq_spinlock;
