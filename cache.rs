// SPDX-License-Identifier: GPL-2.0

//! Slab caches for the per-watch objects: fs/eventpoll.c's `epi_cache` and `ephead_cache`.
//!
//! Native epoll allocates its epitems from a cache of their exact size, charged to the memory
//! cgroup (`SLAB_ACCOUNT`). The kernel crate has no `kmem_cache` abstraction (its allocators are
//! `kmalloc`/`vmalloc` only, rounding an object up to the next power-of-two bucket), so this
//! file wraps the C API once: [`KmemCache`] owns a cache, and [`CacheBox`] is a `Box`-like owner
//! of one pinned object in it, dropped and freed together.

use core::{
    marker::PhantomData,
    mem::{align_of, size_of},
    ops::Deref,
    pin::Pin,
    ptr::NonNull,
};
use kernel::{bindings, prelude::*};

/// A slab cache of `T`s (`kmem_cache_create(name, sizeof(T), ...)`).
///
/// # Invariants
///
/// `cache` was returned by `kmem_cache_create` for objects of `T`'s size and alignment, and is
/// destroyed only by `drop`, when no object allocated from it is left but those waiting for
/// a grace period in `kfree_rcu` (the release index's heads, and every epitem), which
/// `kmem_cache_destroy` waits for (`kvfree_rcu_barrier_on_cache`). If `rcu` is set, an
/// `rcu_head` fits at that offset of a `T`, in memory nothing reads once the `T` is dropped.
pub(crate) struct KmemCache<T> {
    cache: NonNull<bindings::kmem_cache>,
    rcu: Option<usize>,
    _t: PhantomData<T>,
}

// SAFETY: A `kmem_cache` may be used from any thread; it only hands out memory for `T`s, which
// `CacheBox` requires to be `Send`/`Sync` for itself to be.
unsafe impl<T> Send for KmemCache<T> {}
// SAFETY: As above.
unsafe impl<T> Sync for KmemCache<T> {}

impl<T> KmemCache<T> {
    /// Creates the cache, its objects charged to the allocating task's memory cgroup. Its
    /// boxes free an object's memory at once when they drop it.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        Self::create(name, None)
    }

    /// As [`Self::new`], but a box drops its object at once and frees the memory after an RCU
    /// grace period (`kfree_rcu`), writing the `rcu_head` at offset `rcu` of the dead object:
    /// a reader under RCU that found the object before it was unlinked may still read the rest
    /// of it (C's `kfree_rcu(epi, rcu)`, its `rcu` in a union with `rbn`).
    ///
    /// # Safety
    ///
    /// An `rcu_head` fits at offset `rcu` of a `T`, aligned, and nothing reads those bytes of an
    /// object once it is dropped.
    pub(crate) unsafe fn new_rcu_freed(name: &'static CStr, rcu: usize) -> Result<Self> {
        Self::create(name, Some(rcu))
    }

    fn create(name: &'static CStr, rcu: Option<usize>) -> Result<Self> {
        let mut args = bindings::kmem_cache_args {
            align: align_of::<T>() as u32,
            ..Default::default()
        };
        let flags = 1 << bindings::_slab_flag_bits__SLAB_ACCOUNT;
        // SAFETY: `name` lives forever; `args` is valid for the call.
        let cache = unsafe {
            bindings::__kmem_cache_create_args(
                name.as_char_ptr(),
                size_of::<T>() as u32,
                &mut args,
                flags,
            )
        };
        // INVARIANT: created for `T`'s size and alignment.
        Ok(Self {
            cache: NonNull::new(cache).ok_or(ENOMEM)?,
            rcu,
            _t: PhantomData,
        })
    }

    /// Allocates one object (it may sleep) and initialises it in place.
    pub(crate) fn alloc<E>(&'static self, init: impl PinInit<T, E>) -> Result<Pin<CacheBox<T>>>
    where
        Error: From<E>,
    {
        // GFP_KERNEL: the cache itself charges the memory cgroup (`SLAB_ACCOUNT`).
        // SAFETY: `cache` is a live cache (type invariant).
        let ptr =
            unsafe { bindings::kmem_cache_alloc_noprof(self.cache.as_ptr(), bindings::GFP_KERNEL) };
        let ptr = NonNull::new(ptr.cast::<T>()).ok_or(ENOMEM)?;
        // SAFETY: `ptr` is valid for writes of a `T` (the cache's object size and alignment) and
        // is not used again if initialisation fails; it never moves afterwards.
        if let Err(e) = unsafe { pin_init::raw_try_init(ptr.as_ptr(), init) } {
            // SAFETY: Allocated above from this cache, not initialised, not used again.
            unsafe { bindings::kmem_cache_free(self.cache.as_ptr(), ptr.as_ptr().cast()) };
            return Err(e.into());
        }
        // SAFETY: A `CacheBox` of this cache now owns the initialised object, which is pinned:
        // `CacheBox` never moves it out.
        Ok(unsafe { Pin::new_unchecked(CacheBox { ptr, cache: self }) })
    }
}

impl<T> Drop for KmemCache<T> {
    fn drop(&mut self) {
        // SAFETY: No object is left (type invariant): every `CacheBox` borrows the cache for
        // `'static`, and the owner drops the cache only at module exit, after the last one; the
        // destroy itself waits for the objects freed by `kfree_rcu`.
        unsafe { bindings::kmem_cache_destroy(self.cache.as_ptr()) };
    }
}

/// Owns one object of a [`KmemCache`]: like `KBox`, dropping it drops the object and frees its
/// memory back to its cache.
///
/// # Invariants
///
/// `ptr` is an initialised `T` allocated from `cache`, owned by this box.
pub(crate) struct CacheBox<T: 'static> {
    ptr: NonNull<T>,
    cache: &'static KmemCache<T>,
}

// SAFETY: Owning a `T` is sending it.
unsafe impl<T: Send> Send for CacheBox<T> {}
// SAFETY: Sharing the box shares only `&T`.
unsafe impl<T: Sync> Sync for CacheBox<T> {}

impl<T> CacheBox<T> {
    /// Gives up ownership, for a container that keeps the object behind a raw pointer (as
    /// `KBox::into_raw`); [`CacheBox::from_raw`] takes it back.
    pub(crate) fn into_raw(this: Pin<Self>) -> *mut T {
        // SAFETY: The pointer will be turned back into a pinned box, never moved out of.
        let this = unsafe { Pin::into_inner_unchecked(this) };
        let ptr = this.ptr.as_ptr();
        core::mem::forget(this);
        ptr
    }

    /// Takes back ownership given up by [`CacheBox::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` must come from `into_raw` on a box of `cache`, and not have been taken back yet.
    pub(crate) unsafe fn from_raw(ptr: *mut T, cache: &'static KmemCache<T>) -> Pin<Self> {
        // SAFETY: The caller passes back what `into_raw` gave: an owned, initialised, pinned
        // object of `cache` (type invariant restored), non-null.
        unsafe {
            Pin::new_unchecked(Self {
                ptr: NonNull::new_unchecked(ptr),
                cache,
            })
        }
    }
}

impl<T> Deref for CacheBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The object is initialised and owned by us (type invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for CacheBox<T> {
    fn drop(&mut self) {
        let ptr = self.ptr.as_ptr();
        // SAFETY: We own the initialised object (type invariant); it is dropped in place, then
        // its memory goes back to the cache it came from, at once or after a grace period
        // (`kvfree_call_rcu`, which `kfree_rcu` expands to, frees any slab object), and the
        // pointer is not used again. The `rcu_head` goes where the cache's creator proved it
        // fits and nothing reads any more (`new_rcu_freed`).
        unsafe {
            core::ptr::drop_in_place(ptr);
            match self.cache.rcu {
                None => bindings::kmem_cache_free(self.cache.cache.as_ptr(), ptr.cast()),
                Some(off) => bindings::kvfree_call_rcu(ptr.byte_add(off).cast(), ptr.cast()),
            }
        }
    }
}
