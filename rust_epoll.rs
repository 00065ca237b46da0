// SPDX-License-Identifier: GPL-2.0

//! rust-epoll: epoll rebuilt as a misc device, `/dev/rust_epoll`.
//!
//! Each open of the device is one private eventpoll (`epoll_create1`); the ioctls of
//! `include/uapi/rust_epoll.h` are `epoll_ctl` and `epoll_wait` on it. This file holds the
//! module, what it owns for its whole life (slab caches, a workqueue), and decodes ioctls into
//! typed requests. The device and its file operations are `device.rs`, the instance
//! `eventpoll.rs` (its operations `ctl.rs` and `wait.rs`), a watch `epitem.rs`, the interest
//! set `rbtree.rs`, the ready list `ready.rs`, closing a watched file `release.rs`, nesting
//! `nesting.rs`, the shared ready ring `ring.rs`, fdinfo and debugfs `introspect.rs`, and the C
//! machinery `waitqueue.rs`, `list.rs`, `irqlock.rs`, `mutex.rs`, `cache.rs`, `wakeup.rs`,
//! `sigmask.rs`.

use core::{cell::UnsafeCell, mem::MaybeUninit, ptr::NonNull};
use kernel::{
    bindings,
    fs::File,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
    workqueue::Queue,
};

mod busy_poll;
mod cache;
mod ctl;
mod device;
mod epitem;
mod eventpoll;
mod introspect;
mod irqlock;
mod layout;
mod limits;
mod list;
mod minwait;
mod mutex;
mod nesting;
mod rbtree;
mod ready;
mod receipt;
mod release;
mod ring;
mod sigmask;
mod uapi;
mod wait;
mod waitqueue;
mod wakeup;

use eventpoll::EventPoll;
use uapi::{
    CtlArgs, WaitArgs, EPIOCGPARAMS, EPIOCSPARAMS, RUST_EPOLL_CTL, RUST_EPOLL_CTL_BATCH,
    RUST_EPOLL_RING_SETUP, RUST_EPOLL_WAIT, RUST_EPOLL_WAIT_MIN,
};

module! {
    type: RustEpollModule,
    name: "rust_epoll",
    authors: ["rust-epoll developers"],
    description: "epoll as a misc device, in Rust",
    license: "GPL",
    params: {
        max_user_watches: u64 {
            default: 0,
            description: "Watches per user before ADD fails with ENOSPC; 0: as epoll derives it",
        },
    },
}

/// What the module owns for its whole life and everything reaches (C keeps these in
/// `__ro_after_init` statics: `epi_cache`, `ephead_cache`).
pub(crate) struct Resources {
    /// Epitems (`epi_cache`).
    pub(crate) epitems: cache::KmemCache<epitem::Epitem>,
    /// Per-file heads of plain files (`ephead_cache`).
    pub(crate) heads: cache::KmemCache<release::FileHead>,
    /// The deferred wake-ups, reaps and frees (`eventpoll.rs`). The kernel crate can name the
    /// system's queues but not make one; the module's own lets exit wait for its work items,
    /// which hold instances (and so the module's code) alive.
    wq: NonNull<bindings::workqueue_struct>,
}

impl Resources {
    fn new() -> Result<Self> {
        // SAFETY: `Epitem::RCU_OFFSET` is where its `rcu_head` fits and is not read once the
        // item is dropped (checked and argued there).
        let epitems = unsafe {
            cache::KmemCache::new_rcu_freed(c"rust_epoll_epitem", epitem::Epitem::RCU_OFFSET)?
        };
        let heads = cache::KmemCache::new(c"rust_epoll_head")?;
        // SAFETY: FFI call; the format is a static string without conversions.
        let wq = unsafe {
            bindings::alloc_workqueue_noprof(
                c"rust_epoll".as_char_ptr(),
                bindings::wq_flags_WQ_UNBOUND,
                0,
            )
        };
        Ok(Self {
            epitems,
            heads,
            wq: NonNull::new(wq).ok_or(ENOMEM)?,
        })
    }

    /// The module's workqueue.
    pub(crate) fn wq(&self) -> &Queue {
        // SAFETY: Allocated in `new`, destroyed only in `drop`.
        unsafe { Queue::from_raw(self.wq.as_ptr()) }
    }
}

impl Resources {
    /// Runs (and so drops) the queued work items, then frees the queue: the last references
    /// to instances go, and with them their last epitems. Called once, at module exit, while
    /// the resources are still shared (the work items use them), before they are dropped.
    ///
    /// # Safety
    ///
    /// Called once, when nothing can queue work any more but the RCU callbacks this waits for
    /// (no instance is left open and the release hook is gone); the queue is not used
    /// afterwards.
    unsafe fn drain(&self) {
        // The instances whose files' references wait for a grace period (`put_rcu`) queue
        // their last work item from an RCU callback: wait for those callbacks first.
        kernel::sync::rcu::rcu_barrier();
        // SAFETY: Allocated in `new`; nothing queues on it any more (our contract, and the
        // barrier above for the RCU callbacks).
        unsafe { bindings::destroy_workqueue(self.wq.as_ptr()) };
    }
}

/// [`Resources`], set once at module init, before anything can reach it, and dropped at
/// module exit, after everything that can is gone.
struct ResourceSlot(UnsafeCell<MaybeUninit<Resources>>);

// SAFETY: Written only by module init and exit, when nothing else runs in the module;
// read-only in between, and `Resources` is `Sync`.
unsafe impl Sync for ResourceSlot {}

static RESOURCES: ResourceSlot = ResourceSlot(UnsafeCell::new(MaybeUninit::uninit()));

/// The module's [`Resources`].
pub(crate) fn resources() -> &'static Resources {
    // SAFETY: Initialised by module init before the device, the release hook or any instance
    // exists (every caller is reached through one of them), and dropped only after they are
    // all gone (`ResourceGuard`).
    unsafe { (*RESOURCES.0.get()).assume_init_ref() }
}

/// Drops [`RESOURCES`] at module exit.
struct ResourceGuard(());

impl ResourceGuard {
    /// Puts `res` in [`RESOURCES`]; the guard drops them.
    fn install(res: Resources) -> Self {
        // SAFETY: Module init runs once, before anything can reach the slot.
        unsafe { (*RESOURCES.0.get()).write(res) };
        Self(())
    }
}

impl Drop for ResourceGuard {
    fn drop(&mut self) {
        // SAFETY: Initialised by `install`. The guard is dropped last (or init failed before
        // any instance or the hook existed): no file of ours is open, so nothing can queue
        // work any more but the RCU callbacks of the last closes, which `drain` waits for;
        // the queued items run now, through shared references, and the last instances go;
        // then nothing uses the resources, and they are dropped (the caches are empty but
        // for the epitems and heads waiting in `kfree_rcu`, which their destroy waits for).
        unsafe {
            resources().drain();
            (*RESOURCES.0.get()).assume_init_drop();
        }
    }
}

#[pin_data]
struct RustEpollModule {
    /// Dropped first: no new instance after this.
    #[pin]
    _dev: device::Registration,
    /// Dropped when no file of ours, so no watch, is left (emptied instances may wait for
    /// their grace period: they need neither the hook nor the index).
    _started: Started,
    /// Dropped last: the workqueue drains, then the caches go.
    _resources: ResourceGuard,
}

/// The global state and the release hook, set up at init; undone when dropped.
struct Started {
    _hook: release::Hook,
}

impl Started {
    fn new() -> Result<Self> {
        // SAFETY: Module init runs once, before the device exists and so before any instance,
        // and before the release hook.
        unsafe {
            release::init()?;
            nesting::init();
            introspect::init();
        }
        limits::init(module_parameters::max_user_watches.value());
        // SAFETY: Module init runs once, after `release::init`.
        let hook = device::check_native_epoll_known()
            .and_then(|()| unsafe { release::Hook::register() })
            .inspect_err(|_| {
                introspect::exit();
                // SAFETY: The hook is not registered, and no instance exists: nothing uses the
                // index.
                unsafe { release::exit() };
            })?;
        Ok(Self { _hook: hook })
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        // No instance file is open (each holds a module reference), so no watch is left;
        // instances closed last may still wait for `drain` (`EventPoll::put_rcu`), emptied,
        // their debugfs pictures gone. The hook goes after this.
        introspect::exit();
    }
}

impl kernel::InPlaceModule for RustEpollModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _resources: ResourceGuard::install(Resources::new()?),
            _started: Started::new()?,
            _dev <- device::Registration::register(),
        })
    }
}

/// Reads an ioctl's argument struct from userspace.
pub(crate) fn read_arg<T: kernel::transmute::FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

extern "C" {
    fn rust_epoll_read_wait(u: usize, w: *mut WaitArgs) -> core::ffi::c_int;
    fn rust_epoll_read_ctl(u: usize, c: *mut CtlArgs) -> core::ffi::c_int;
}

/// Reads WAIT's argument (as `read_arg`, in a few loads: see `helpers.c`).
fn read_wait(arg: usize) -> Result<WaitArgs> {
    let mut w = WaitArgs::default();
    // SAFETY: `w` is valid for writes of a `WaitArgs` (the header's layout, checked in
    // uapi.rs); the helper reads the user address itself, with fault handling.
    kernel::error::to_result(unsafe { rust_epoll_read_wait(arg, &mut w) })?;
    Ok(w)
}

/// Reads CTL's argument (as `read_arg`, in a few loads: see `helpers.c`).
fn read_ctl(arg: usize) -> Result<CtlArgs> {
    let mut c = CtlArgs::default();
    // SAFETY: As in `read_wait`, for a `CtlArgs`.
    kernel::error::to_result(unsafe { rust_epoll_read_ctl(arg, &mut c) })?;
    Ok(c)
}

/// The ioctls of an instance; `file` is the instance's own file.
fn ioctl(ep: &EventPoll, file: &File, cmd: u32, arg: usize) -> Result<isize> {
    if cmd & !uapi::IOC_SIZE_FIELD == uapi::RUST_EPOLL_WAIT_REG_BASE {
        // RUST_EPOLL_WAIT_REG: the timeout in the request's size field, the buffer and
        // maxevents packed in the argument (see the header).
        let timeout = match (cmd & uapi::IOC_SIZE_FIELD) >> 16 {
            0 => -1,
            t => (t - 1) as i32,
        };
        return ep.wait_reg((arg & ((1 << 48) - 1)) as u64, (arg >> 48) as i32, timeout);
    }
    match cmd {
        RUST_EPOLL_WAIT => ep.wait(&read_wait(arg)?),
        RUST_EPOLL_CTL => ep.ctl(file, &read_ctl(arg)?),
        RUST_EPOLL_CTL_BATCH => ep.ctl_batch(file, arg),
        RUST_EPOLL_WAIT_MIN => ep.wait_min(arg),
        EPIOCSPARAMS => ep.set_busy_poll_params(arg),
        EPIOCGPARAMS => ep.busy_poll_params(arg),
        RUST_EPOLL_RING_SETUP => ep.ring_setup(arg),
        _ => Err(ENOTTY),
    }
}
