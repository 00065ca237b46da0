//! The userspace contract, by hand from `include/uapi/rust_epoll.h`; the `uapi_matches_header`
//! test compiles the header with the system C compiler and compares every size, offset and
//! ioctl number with these.

/// `struct rust_epoll_event`: the layout of `struct epoll_event` (packed on x86-64).
#[repr(C)]
#[cfg_attr(target_arch = "x86_64", repr(packed))]
#[derive(Clone, Copy, Default, Debug)]
pub struct RustEpollEvent {
    pub events: u32,
    pub data: u64,
}

/// `struct rust_epoll_ctl`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RustEpollCtl {
    pub op: u32,
    pub fd: i32,
    pub events: u32,
    pub flags: u32,
    pub data: u64,
}

/// `struct rust_epoll_wait`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RustEpollWait {
    pub events: u64,
    pub maxevents: i32,
    pub timeout: i32,
    pub sigmask: u64,
    pub sigsetsize: u32,
    pub flags: u32,
    pub timeout_ns: i64,
}

/// `struct rust_epoll_ctl_batch`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RustEpollCtlBatch {
    pub ops: u64,
    pub nr_ops: u32,
    pub flags: u32,
    pub applied: u32,
    pub error: i32,
    pub wait: RustEpollWait,
}

/// `struct rust_epoll_wait_min`: RUST_EPOLL_WAIT_MIN's argument.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RustEpollWaitMin {
    pub wait: RustEpollWait,
    pub min_events: u32,
    pub min_wait_us: u32,
}

/// `struct rust_epoll_params`: `<linux/eventpoll.h>`'s `struct epoll_params`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RustEpollParams {
    pub busy_poll_usecs: u32,
    pub busy_poll_budget: u16,
    pub prefer_busy_poll: u8,
    pub pad: u8,
}

/// `struct rust_epoll_ring_setup`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RustEpollRingSetup {
    pub entries: u32,
    pub flags: u32,
    pub mmap_size: u64,
}

/// `struct rust_epoll_ring`: the head of the ring's mapping. Only for its offsets: the words
/// are shared with the kernel and must be accessed atomically (see `crate::Ring`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RustEpollRing {
    pub head: u32,
    pub __pad0: [u32; 15],
    pub tail: u32,
    pub __pad1: [u32; 15],
    pub flags: u32,
    pub overflow: u32,
    pub __pad2: [u32; 14],
    pub entries: u32,
    pub __pad3: [u32; 15],
}

pub const RUST_EPOLL_RING_MAX_ENTRIES: u32 = 1 << 20;
pub const RUST_EPOLL_RING_NEED_WAIT: u32 = 1 << 0;
pub const RUST_EPOLL_RING_RECORDS_OFF: usize = 256;

pub const RUST_EPOLL_DEVICE: &str = "/dev/rust_epoll";
pub const RUST_EPOLL_IOC_MAGIC: u32 = 0xE9;
pub const RUST_EPOLL_WAIT_NSEC: u32 = 1 << 0;
pub const RUST_EPOLL_BATCH_MAX: u32 = 1024;
pub const RUST_EPOLL_BATCH_WAIT: u32 = 1 << 0;
pub const RUST_EPOLL_BATCH_RECEIPT: u32 = 1 << 1;
/// Native epoll's ioctl type (`EPOLL_IOC_TYPE`), for EPIOCSPARAMS and EPIOCGPARAMS.
pub const RUST_EPOLL_PARAMS_IOC_MAGIC: u32 = 0x8A;

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc_type(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    ioc_type(dir, RUST_EPOLL_IOC_MAGIC, nr, size)
}

pub const RUST_EPOLL_CTL: u32 = ioc(IOC_WRITE, 1, core::mem::size_of::<RustEpollCtl>());
pub const RUST_EPOLL_WAIT: u32 = ioc(IOC_WRITE, 2, core::mem::size_of::<RustEpollWait>());
pub const RUST_EPOLL_CTL_BATCH: u32 =
    ioc(IOC_READ | IOC_WRITE, 3, core::mem::size_of::<RustEpollCtlBatch>());
pub const RUST_EPOLL_WAIT_MIN: u32 = ioc(IOC_WRITE, 4, core::mem::size_of::<RustEpollWaitMin>());
/// `EPIOCSPARAMS`.
pub const RUST_EPOLL_SPARAMS: u32 =
    ioc_type(IOC_WRITE, RUST_EPOLL_PARAMS_IOC_MAGIC, 1, core::mem::size_of::<RustEpollParams>());
/// `EPIOCGPARAMS`.
pub const RUST_EPOLL_GPARAMS: u32 =
    ioc_type(IOC_READ, RUST_EPOLL_PARAMS_IOC_MAGIC, 2, core::mem::size_of::<RustEpollParams>());
pub const RUST_EPOLL_RING_SETUP: u32 =
    ioc(IOC_READ | IOC_WRITE, 0x10, core::mem::size_of::<RustEpollRingSetup>());
