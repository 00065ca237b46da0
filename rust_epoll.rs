// SPDX-License-Identifier: GPL-2.0

//! rust-epoll: epoll rebuilt as a misc device, `/dev/rust_epoll`.
//!
//! Each open of the device is one private eventpoll (`epoll_create1`); the ioctls of
//! `include/uapi/rust_epoll.h` are `epoll_ctl` and `epoll_wait` on it. This file holds the
//! module and decodes ioctls into typed requests. The device and its file operations are
//! `device.rs`, the instance `eventpoll.rs`, a watch `epitem.rs`, the interest set
//! `rbtree.rs`, the ready list `ready.rs`, closing a watched file `release.rs`, nesting
//! `nesting.rs`, fdinfo `introspect.rs`, and the C wait-queue machinery `waitqueue.rs`.

use kernel::{
    fs::File,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

mod device;
mod epitem;
mod eventpoll;
mod introspect;
mod layout;
mod limits;
mod mutex;
mod nesting;
mod rbtree;
mod ready;
mod release;
mod sigmask;
mod uapi;
mod waitqueue;

use eventpoll::EventPoll;
use uapi::{
    CtlArgs, CtlBatchArgs, WaitArgs, RUST_EPOLL_BATCH_MAX, RUST_EPOLL_BATCH_WAIT, RUST_EPOLL_CTL,
    RUST_EPOLL_CTL_BATCH, RUST_EPOLL_WAIT,
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

#[pin_data(PinnedDrop)]
struct RustEpollModule {
    /// Dropped first: no new instance after this.
    #[pin]
    _dev: device::Registration,
    /// Dropped last, when no instance, so no watch, is left.
    _hook: release::Hook,
}

impl kernel::InPlaceModule for RustEpollModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // SAFETY: Module init runs once, before the device exists and so before any instance.
        unsafe {
            nesting::init();
            introspect::init();
        }
        limits::init(module_parameters::max_user_watches.value());
        // SAFETY: Module init runs once.
        let hook = unsafe { release::Hook::register() };
        try_pin_init!(Self {
            _hook: hook?,
            _dev <- device::Registration::register(),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for RustEpollModule {
    fn drop(self: Pin<&mut Self>) {
        // No instance is left (each holds a module reference); the device goes after this.
        introspect::exit();
        nesting::exit();
    }
}

/// Reads an ioctl's argument struct from userspace.
fn read_arg<T: kernel::transmute::FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

/// The ioctls of an instance; `file` is the instance's own file.
fn ioctl(ep: &EventPoll, file: &File, cmd: u32, arg: usize) -> Result<isize> {
    match cmd {
        RUST_EPOLL_CTL => ep.ctl(file, &read_arg::<CtlArgs>(arg)?),
        RUST_EPOLL_WAIT => ep.wait(&read_arg::<WaitArgs>(arg)?),
        RUST_EPOLL_CTL_BATCH => ctl_batch(ep, file, arg),
        _ => Err(ENOTTY),
    }
}

/// RUST_EPOLL_CTL_BATCH: applies `ops` in order until one fails (an unreadable one fails with
/// EFAULT), reports how far it got in the caller's struct, then optionally waits.
fn ctl_batch(ep: &EventPoll, file: &File, arg: usize) -> Result<isize> {
    let batch = read_arg::<CtlBatchArgs>(arg)?;
    if batch.nr_ops == 0
        || batch.nr_ops > RUST_EPOLL_BATCH_MAX
        || batch.flags & !RUST_EPOLL_BATCH_WAIT != 0
    {
        return Err(EINVAL);
    }
    let size = core::mem::size_of::<CtlArgs>();
    let mut ops = UserSlice::new(
        UserPtr::from_addr(batch.ops as usize),
        batch.nr_ops as usize * size,
    )
    .reader();
    let (mut applied, mut error) = (0u32, 0i32);
    while applied < batch.nr_ops {
        if let Err(e) = ops.read::<CtlArgs>().and_then(|op| ep.ctl(file, &op)) {
            error = e.to_errno();
            break;
        }
        applied += 1;
    }
    let at = arg + core::mem::offset_of!(CtlBatchArgs, applied);
    let mut out = UserSlice::new(UserPtr::from_addr(at), 8).writer();
    out.write(&applied)?;
    out.write(&error)?;
    if error == 0 && batch.flags & RUST_EPOLL_BATCH_WAIT != 0 {
        return ep.wait(&batch.wait);
    }
    Ok(0)
}
