// SPDX-License-Identifier: GPL-2.0

//! rust-epoll: epoll rebuilt as a misc device, `/dev/rust_epoll`.
//!
//! Each open of the device is one private eventpoll (`epoll_create1`); the ioctls of
//! `include/uapi/rust_epoll.h` are `epoll_ctl` and `epoll_wait` on it. This file only
//! registers the device and decodes ioctls into typed requests; the instance is
//! `eventpoll.rs`, a watch `epitem.rs`, the interest set `rbtree.rs`, the ready list
//! `ready.rs`, and the C wait-queue machinery `waitqueue.rs`.

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    seq_file::SeqFile,
    uaccess::{UserPtr, UserSlice},
};

mod epitem;
mod eventpoll;
mod introspect;
mod rbtree;
mod ready;
mod uapi;
mod waitqueue;

use eventpoll::EventPoll;
use uapi::{CtlArgs, WaitArgs, RUST_EPOLL_CTL, RUST_EPOLL_WAIT};

module! {
    type: RustEpollModule,
    name: "rust_epoll",
    authors: ["rust-epoll developers"],
    description: "epoll as a misc device, in Rust",
    license: "GPL",
}

#[pin_data]
struct RustEpollModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<EventPollFile>,
}

impl kernel::InPlaceModule for RustEpollModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rust_epoll",
            }),
        })
    }
}

/// The private data of an open `/dev/rust_epoll`: one eventpoll.
struct EventPollFile;

/// Reads an ioctl's argument struct from userspace.
fn read_arg<T: kernel::transmute::FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

#[vtable]
impl MiscDevice for EventPollFile {
    type Ptr = Pin<KBox<EventPoll>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        KBox::try_pin_init(EventPoll::new(), GFP_KERNEL_ACCOUNT)
    }

    fn ioctl(ep: Pin<&EventPoll>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            RUST_EPOLL_CTL => ep.ctl(file, &read_arg::<CtlArgs>(arg)?),
            RUST_EPOLL_WAIT => ep.wait(&read_arg::<WaitArgs>(arg)?),
            _ => Err(ENOTTY),
        }
    }

    fn show_fdinfo(ep: Pin<&EventPoll>, m: &SeqFile, _file: &File) {
        ep.show_fdinfo(m);
    }
}
