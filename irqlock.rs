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
//!
//! Where fs/eventpoll.c knows interrupts are on (`ep_start_scan`, `ep_done_scan`,
//! `ep_send_events`: process context under `ep->mtx`) it takes the lock with `spin_lock_irq()`,
//! which does not save the flags (a `pushf`, dear under QEMU's TCG); [`lock_irq`] is that, and
//! its guard's drop is `spin_unlock_irq()`.

use kernel::{
    bindings,
    sync::lock::{Backend, Guard, Lock},
};

extern "C" {
    fn rust_epoll_spin_trylock_irqsave(lock: *mut bindings::spinlock_t, flags: *mut usize) -> bool;
    #[cfg(CONFIG_INLINE_SPIN_UNLOCK_IRQ)]
    fn rust_epoll_spin_unlock_irq(lock: *mut bindings::spinlock_t);
    #[cfg(CONFIG_PROVE_LOCKING)]
    fn rust_epoll_assert_irqs_enabled();
}

/// How a guard gives interrupts back at unlock.
#[derive(Clone, Copy)]
pub(crate) enum IrqRestore {
    /// The flags `spin_lock_irqsave()` saved (`spin_unlock_irqrestore()`).
    Flags(usize),
    /// Taken by [`lock_irq`] with interrupts on: they are turned on (`spin_unlock_irq()`).
    Enable,
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
// state is the saved flags, restored by the unlock of the same guard (or, for a guard of
// `lock_irq`, taken with interrupts on, an unlock that turns them on). `relock` takes it again
// the way the guard took it (the trait's requirement): `spin_lock_irq` for a guard of
// `lock_irq`, `spin_lock_irqsave` otherwise.
unsafe impl Backend for IrqSaveBackend {
    type State = bindings::spinlock_t;
    type GuardState = IrqRestore;

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
        IrqRestore::Flags(unsafe { bindings::_raw_spin_lock_irqsave(rlock(ptr)) as usize })
    }

    #[inline]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        let mut flags = 0;
        // SAFETY: `ptr` is an initialised spinlock; `flags` is written only on success.
        unsafe { rust_epoll_spin_trylock_irqsave(ptr, &mut flags) }
            .then_some(IrqRestore::Flags(flags))
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, state: &Self::GuardState) {
        match *state {
            // SAFETY: The caller holds the lock, taken by `lock` or `try_lock` with these flags.
            IrqRestore::Flags(flags) => unsafe {
                bindings::_raw_spin_unlock_irqrestore(rlock(ptr), flags as kernel::ffi::c_ulong)
            },
            // SAFETY: The caller holds the lock, taken by `lock_irq` with interrupts on.
            IrqRestore::Enable => unsafe { spin_unlock_irq(ptr) },
        }
    }

    #[inline]
    unsafe fn relock(ptr: *mut Self::State, state: &mut Self::GuardState) {
        match *state {
            // SAFETY: `ptr` is an initialised spinlock, unlocked by this guard, which took it
            // with interrupts on (trait contract, `lock_irq`'s contract); they are on again.
            IrqRestore::Enable => unsafe { bindings::_raw_spin_lock_irq(rlock(ptr)) },
            // SAFETY: `ptr` is an initialised spinlock (trait contract).
            IrqRestore::Flags(_) => *state = unsafe { Self::lock(ptr) },
        }
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

/// `spin_unlock_irq()`: a call of its own unless the kernel inlines it (it does without
/// preemption, `CONFIG_INLINE_SPIN_UNLOCK_IRQ`), when `helpers.c` makes it one.
///
/// # Safety
///
/// `ptr` must be an initialised spinlock held by this CPU, taken with interrupts on.
#[inline]
unsafe fn spin_unlock_irq(ptr: *mut bindings::spinlock_t) {
    #[cfg(not(CONFIG_INLINE_SPIN_UNLOCK_IRQ))]
    // SAFETY: The caller's contract.
    unsafe {
        bindings::_raw_spin_unlock_irq(rlock(ptr))
    };
    #[cfg(CONFIG_INLINE_SPIN_UNLOCK_IRQ)]
    // SAFETY: The caller's contract.
    unsafe {
        rust_epoll_spin_unlock_irq(ptr)
    };
}

/// Takes `lock` with `spin_lock_irq()`: as [`IrqSpinLock::lock`], without saving the interrupt
/// flags; the guard's drop turns interrupts on.
///
/// # Safety
///
/// Interrupts must be on (so that turning them on at unlock restores them): process context,
/// outside any section that turned them off, such as another guard of this file. Holding a
/// mutex is the usual sign of the first (`mutex_lock()` may sleep), not of the second.
#[inline]
pub(crate) unsafe fn lock_irq<T>(lock: &IrqSpinLock<T>) -> IrqSpinLockGuard<'_, T> {
    // `Lock` is `#[repr(C)]` with its C lock (`state`, a transparent `Opaque<spinlock_t>`) first:
    // the layout `Lock::from_raw` relies on too. The kernel crate has no accessor for it.
    // The contract, checked where lockdep tracks the interrupt state (the debug kernel), as
    // fs/eventpoll.c's `ep_poll` checks it (`lockdep_assert_irqs_enabled()`).
    #[cfg(CONFIG_PROVE_LOCKING)]
    // SAFETY: FFI call without preconditions.
    unsafe {
        rust_epoll_assert_irqs_enabled()
    };
    let ptr = core::ptr::from_ref(lock)
        .cast::<bindings::spinlock_t>()
        .cast_mut();
    // SAFETY: `ptr` is `lock`'s initialised spinlock (above); interrupts are on (our contract).
    unsafe { bindings::_raw_spin_lock_irq(rlock(ptr)) };
    // SAFETY: We hold the lock, taken just above with interrupts on.
    unsafe { Guard::new(lock, IrqRestore::Enable) }
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
