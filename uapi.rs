// SPDX-License-Identifier: GPL-2.0

//! The userspace contract: the Rust side of `include/uapi/rust_epoll.h`, and epoll's own
//! constants from `include/uapi/linux/eventpoll.h` (whose `EPOLL*` bits bindgen cannot see,
//! as they are casts). Sizes and offsets are checked at compile time against the header's.

use core::mem::{offset_of, size_of};
use kernel::{
    ioctl::{_IOR, _IOW, _IOWR},
    transmute::FromBytes,
};

pub(crate) const EPOLL_CTL_ADD: u32 = 1;
pub(crate) const EPOLL_CTL_DEL: u32 = 2;
pub(crate) const EPOLL_CTL_MOD: u32 = 3;

pub(crate) const EPOLLIN: u32 = 0x0000_0001;
pub(crate) const EPOLLOUT: u32 = 0x0000_0004;
pub(crate) const EPOLLRDNORM: u32 = 0x0000_0040;
pub(crate) const EPOLLERR: u32 = 0x0000_0008;
pub(crate) const EPOLLHUP: u32 = 0x0000_0010;
pub(crate) const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub(crate) const EPOLLWAKEUP: u32 = 1 << 29;
pub(crate) const EPOLLONESHOT: u32 = 1 << 30;
pub(crate) const EPOLLET: u32 = 1 << 31;
/// A wait queue is being freed (`POLLFREE`, from `include/uapi/asm-generic/poll.h`).
pub(crate) const POLLFREE: u32 = 0x4000;

/// Bits that are flags, not events (`EP_PRIVATE_BITS`).
pub(crate) const EP_PRIVATE_BITS: u32 = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
pub(crate) const EPOLLINOUT_BITS: u32 = EPOLLIN | EPOLLOUT;
/// What may accompany EPOLLEXCLUSIVE (`EPOLLEXCLUSIVE_OK_BITS`).
pub(crate) const EPOLLEXCLUSIVE_OK_BITS: u32 =
    EPOLLINOUT_BITS | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

/// `struct rust_epoll_event`: the layout of the kernel's `struct epoll_event`, which
/// include/uapi/linux/eventpoll.h packs on x86-64 only (`EPOLL_PACKED`). On 32-bit x86 a
/// `__u64` is 4-byte aligned, so the unpacked struct has the same 12-byte layout, which is
/// what lets 32-bit programs use the same records (`compat_ioctl`).
#[cfg_attr(target_arch = "x86_64", repr(C, packed))]
#[cfg_attr(not(target_arch = "x86_64"), repr(C))]
#[derive(Clone, Copy)]
pub(crate) struct EpollEvent {
    pub(crate) events: u32,
    pub(crate) data: u64,
}

/// Most records one WAIT may ask for (`EP_MAX_EVENTS`).
pub(crate) const EP_MAX_EVENTS: i32 = (i32::MAX as usize / size_of::<EpollEvent>()) as i32;

/// `struct rust_epoll_ctl`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct CtlArgs {
    pub(crate) op: u32,
    pub(crate) fd: i32,
    pub(crate) events: u32,
    pub(crate) flags: u32,
    pub(crate) data: u64,
}

/// `struct rust_epoll_wait`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct WaitArgs {
    pub(crate) events: u64,
    pub(crate) maxevents: i32,
    pub(crate) timeout: i32,
    pub(crate) sigmask: u64,
    pub(crate) sigsetsize: u32,
    pub(crate) flags: u32,
    pub(crate) timeout_ns: i64,
}

/// `struct rust_epoll_ctl_batch`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct CtlBatchArgs {
    pub(crate) ops: u64,
    pub(crate) nr_ops: u32,
    pub(crate) flags: u32,
    pub(crate) applied: u32,
    pub(crate) error: i32,
    pub(crate) wait: WaitArgs,
}

/// `struct rust_epoll_ring_setup` (RUST_EPOLL_RING_SETUP, see `ring.rs`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct RingSetupArgs {
    pub(crate) entries: u32,
    pub(crate) flags: u32,
    pub(crate) mmap_size: u64,
}

/// Most operations in one RUST_EPOLL_CTL_BATCH (`RUST_EPOLL_BATCH_MAX`).
pub(crate) const RUST_EPOLL_BATCH_MAX: u32 = 1024;
/// `rust_epoll_ctl_batch.flags`: wait for events after the operations.
pub(crate) const RUST_EPOLL_BATCH_WAIT: u32 = 1 << 0;
/// `rust_epoll_ctl_batch.flags`: attempt every operation, each result in its slot.
pub(crate) const RUST_EPOLL_BATCH_RECEIPT: u32 = 1 << 1;

/// `struct rust_epoll_wait_min`: WAIT with a minimum batch.
#[repr(C)]
#[derive(Default)]
pub(crate) struct WaitMinArgs {
    pub(crate) wait: WaitArgs,
    pub(crate) min_events: u32,
    pub(crate) min_wait_us: u32,
}

/// `struct epoll_params` (`struct rust_epoll_params`): the busy-poll parameters.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct EpollParams {
    pub(crate) busy_poll_usecs: u32,
    pub(crate) busy_poll_budget: u16,
    pub(crate) prefer_busy_poll: u8,
    pub(crate) pad: u8,
}

// SAFETY: Plain integers with no padding (checked below): every byte pattern is valid.
unsafe impl FromBytes for CtlArgs {}
// SAFETY: As above.
unsafe impl FromBytes for CtlBatchArgs {}
// SAFETY: As above.
unsafe impl FromBytes for WaitArgs {}
// SAFETY: As above.
unsafe impl FromBytes for WaitMinArgs {}
// SAFETY: As above.
unsafe impl FromBytes for EpollParams {}
// SAFETY: Plain integers with no padding (checked below): its bytes are all initialised.
unsafe impl kernel::transmute::AsBytes for EpollParams {}
// SAFETY: Plain integers with no padding (checked below): every byte pattern is valid.
unsafe impl FromBytes for RingSetupArgs {}

/// `rust_epoll_wait.flags`: the timeout is `timeout_ns` (epoll_pwait2).
pub(crate) const RUST_EPOLL_WAIT_NSEC: u32 = 1 << 0;

const RUST_EPOLL_IOC_MAGIC: u32 = 0xE9;
pub(crate) const RUST_EPOLL_CTL: u32 = _IOW::<CtlArgs>(RUST_EPOLL_IOC_MAGIC, 1);
pub(crate) const RUST_EPOLL_WAIT: u32 = _IOW::<WaitArgs>(RUST_EPOLL_IOC_MAGIC, 2);
pub(crate) const RUST_EPOLL_CTL_BATCH: u32 = _IOWR::<CtlBatchArgs>(RUST_EPOLL_IOC_MAGIC, 3);
pub(crate) const RUST_EPOLL_WAIT_MIN: u32 = _IOW::<WaitMinArgs>(RUST_EPOLL_IOC_MAGIC, 4);

/// `RUST_EPOLL_WAIT_REG(timeout)`: the request numbers whose size field is the timeout.
pub(crate) const RUST_EPOLL_WAIT_REG_NR: u32 = 5;
/// The size field's bits in a request number (`_IOC_SIZEMASK << _IOC_SIZESHIFT`).
pub(crate) const IOC_SIZE_FIELD: u32 = 0x3fff << 16;
/// `RUST_EPOLL_WAIT_REG(-1)`: the family, with its size (timeout) field clear.
pub(crate) const RUST_EPOLL_WAIT_REG_BASE: u32 =
    kernel::ioctl::_IO(RUST_EPOLL_IOC_MAGIC, RUST_EPOLL_WAIT_REG_NR);

/// Native epoll's ioctl type (`EPOLL_IOC_TYPE`), and its two ioctls, which the device answers
/// with the same numbers: `EPIOCSPARAMS` and `EPIOCGPARAMS`.
const EPOLL_IOC_TYPE: u32 = 0x8A;
pub(crate) const EPIOCSPARAMS: u32 = _IOW::<EpollParams>(EPOLL_IOC_TYPE, 1);
pub(crate) const EPIOCGPARAMS: u32 = _IOR::<EpollParams>(EPOLL_IOC_TYPE, 2);
pub(crate) const RUST_EPOLL_RING_SETUP: u32 = _IOWR::<RingSetupArgs>(RUST_EPOLL_IOC_MAGIC, 0x10);

/// The ring's mapping (`ring.rs`): byte offsets of the header's words, each written by one
/// side only (head by userspace, the rest by the kernel), on cache lines of their own where
/// both sides write; the records follow the header.
pub(crate) const RING_HEAD_OFF: usize = 0;
pub(crate) const RING_TAIL_OFF: usize = 64;
pub(crate) const RING_FLAGS_OFF: usize = 128;
pub(crate) const RING_OVERFLOW_OFF: usize = 132;
pub(crate) const RING_ENTRIES_OFF: usize = 192;
pub(crate) const RING_RECORDS_OFF: usize = 256;
/// Most records a ring may hold (`RUST_EPOLL_RING_MAX_ENTRIES`).
pub(crate) const RING_MAX_ENTRIES: u32 = 1 << 20;
/// Header flag: the ready list has items, which only WAIT reports (`RUST_EPOLL_RING_NEED_WAIT`).
pub(crate) const RING_NEED_WAIT: u32 = 1 << 0;

// The header's layout, field by field: a change on one side fails the build.
const _: () = {
    assert!(size_of::<EpollEvent>() == size_of::<kernel::bindings::epoll_event>());
    assert!(offset_of!(EpollEvent, data) == offset_of!(kernel::bindings::epoll_event, data));
    #[cfg(target_arch = "x86_64")]
    assert!(size_of::<EpollEvent>() == 12);
    assert!(size_of::<CtlArgs>() == 24);
    assert!(offset_of!(CtlArgs, op) == 0);
    assert!(offset_of!(CtlArgs, fd) == 4);
    assert!(offset_of!(CtlArgs, events) == 8);
    assert!(offset_of!(CtlArgs, flags) == 12);
    assert!(offset_of!(CtlArgs, data) == 16);
    assert!(size_of::<WaitArgs>() == 40);
    assert!(offset_of!(WaitArgs, events) == 0);
    assert!(offset_of!(WaitArgs, maxevents) == 8);
    assert!(offset_of!(WaitArgs, timeout) == 12);
    assert!(offset_of!(WaitArgs, sigmask) == 16);
    assert!(offset_of!(WaitArgs, sigsetsize) == 24);
    assert!(offset_of!(WaitArgs, flags) == 28);
    assert!(offset_of!(WaitArgs, timeout_ns) == 32);
    assert!(size_of::<CtlBatchArgs>() == 64);
    assert!(offset_of!(CtlBatchArgs, ops) == 0);
    assert!(offset_of!(CtlBatchArgs, nr_ops) == 8);
    assert!(offset_of!(CtlBatchArgs, flags) == 12);
    assert!(offset_of!(CtlBatchArgs, applied) == 16);
    assert!(offset_of!(CtlBatchArgs, error) == 20);
    assert!(offset_of!(CtlBatchArgs, wait) == 24);
    assert!(size_of::<WaitMinArgs>() == 48);
    assert!(offset_of!(WaitMinArgs, wait) == 0);
    assert!(offset_of!(WaitMinArgs, min_events) == 40);
    assert!(offset_of!(WaitMinArgs, min_wait_us) == 44);
    assert!(size_of::<EpollParams>() == size_of::<kernel::bindings::epoll_params>());
    assert!(size_of::<EpollParams>() == 8);
    assert!(offset_of!(EpollParams, busy_poll_budget) == 4);
    assert!(offset_of!(EpollParams, prefer_busy_poll) == 6);
    assert!(offset_of!(EpollParams, pad) == 7);
    assert!(
        offset_of!(EpollParams, prefer_busy_poll)
            == offset_of!(kernel::bindings::epoll_params, prefer_busy_poll)
    );
    assert!(size_of::<RingSetupArgs>() == 16);
    assert!(offset_of!(RingSetupArgs, entries) == 0);
    assert!(offset_of!(RingSetupArgs, flags) == 4);
    assert!(offset_of!(RingSetupArgs, mmap_size) == 8);
};
