// SPDX-License-Identifier: GPL-2.0

//! The device: `/dev/rust_epoll`, a misc device whose files are eventpolls (the
//! `anon_inode_getfd("[eventpoll]", &eventpoll_fops, ...)` of fs/eventpoll.c), mappable once
//! they have a ready ring (`mmap`, new: see `ring.rs`).
//!
//! `kernel::miscdevice` (7.3) builds its `file_operations` without `poll`, and an eventpoll
//! must be pollable: by select/poll, by native epoll, and by another eventpoll (nesting). So
//! this file registers the misc device with `file_operations` of its own, once, behind a small
//! safe type, and knows its own files by their `f_op` ([`instance_of`]), as C's
//! `is_file_epoll` does. Native epoll's files are known by their `f_op` too
//! ([`is_native_epoll`]); `eventpoll_fops` is not exported, so its address is learned from the
//! first file whose `->poll` is the kernel's `ep_eventpoll_poll`.

use core::ffi::{c_int, c_uint};
use kernel::{
    bindings,
    error::to_result,
    fs::File,
    prelude::*,
    seq_file::SeqFile,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
    types::Opaque,
};

use crate::eventpoll::EventPoll;

extern "C" {
    // (`void *`: bindgen's `file_operations` reaches an empty struct, not FFI-safe to rustc.)
    fn rust_epoll_is_eventpoll_fops(fop: *const core::ffi::c_void) -> bool;
}

/// `file_operations` are plain C data with raw pointers; this one is immutable and shared.
#[repr(transparent)]
struct Fops(bindings::file_operations);

// SAFETY: Never written after compile time; the C side only reads it.
unsafe impl Sync for Fops {}

/// The operations of every `/dev/rust_epoll` file. A `static`, so that its address identifies
/// our files.
static FOPS: Fops = Fops(bindings::file_operations {
    owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
    open: Some(fops_open),
    release: Some(fops_release),
    unlocked_ioctl: Some(fops_ioctl),
    // The arguments have the same layout for 32-bit programs (explicit sizes, pointers as
    // 64-bit integers, `struct epoll_event` packed alike on x86): only the pointer argument
    // needs `compat_ptr()`, as native epoll's `compat_ptr_ioctl`.
    #[cfg(CONFIG_COMPAT)]
    compat_ioctl: bindings::compat_ptr_ioctl,
    poll: Some(fops_poll),
    show_fdinfo: Some(fops_show_fdinfo),
    mmap: Some(fops_mmap),
    llseek: Some(bindings::noop_llseek),
    ..pin_init::zeroed()
});

/// The registration of `/dev/rust_epoll`.
///
/// # Invariants
///
/// `inner` is registered with `misc_register` for as long as this value exists.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
}

// SAFETY: `misc_deregister` may be called from any thread.
unsafe impl Send for Registration {}
// SAFETY: No method takes `&self`.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `/dev/rust_epoll`, readable and writable by everyone (epoll_create needs no
    /// privilege either).
    pub(crate) fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(|slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                misc.name = c"rust_epoll".as_char_ptr();
                misc.fops = &FOPS.0;
                misc.mode = 0o666;
                // SAFETY: `slot` is valid for writes; the miscdevice is pinned in `self` and
                // deregistered in `drop` before its memory goes (type invariant).
                unsafe {
                    slot.write(misc);
                    to_result(bindings::misc_register(slot))
                }
            }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Registration {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Registered by `register` (type invariant).
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The eventpoll of `file`, if it is one of ours (`is_file_epoll`). It lives as long as the
/// file does.
pub(crate) fn instance_of(file: &File) -> Option<&EventPoll> {
    // SAFETY: `file` is alive, and stays so for the returned borrow.
    unsafe { instance_of_raw(file.as_ptr()) }
}

/// As [`instance_of`], for a raw file.
///
/// # Safety
///
/// `file` must be a live file (before its `->release()`), for all of `'a`.
pub(crate) unsafe fn instance_of_raw<'a>(file: *mut bindings::file) -> Option<&'a EventPoll> {
    // SAFETY: `file` is alive; `f_op` is set before a file is published.
    if !core::ptr::eq(unsafe { (*file).f_op }, &FOPS.0) {
        return None;
    }
    // SAFETY: Our files' `private_data` is an `Arc<EventPoll>` leaked by `fops_open` and put
    // only by `fops_release`, the file's `->release()`, which the caller guarantees has not
    // run (for a caller holding a reference, or the release hook at `__fput()`'s entry).
    Some(unsafe { &*(*file).private_data.cast::<EventPoll>() })
}

extern "C" {
    fn rust_epoll_native_epoll_known() -> core::ffi::c_int;
}

/// At module load: refuses to load if native epoll files could not be recognised (see
/// `helpers.c`).
pub(crate) fn check_native_epoll_known() -> Result {
    // SAFETY: FFI call without preconditions (may sleep, as module init may).
    to_result(unsafe { rust_epoll_native_epoll_known() })
}

/// `eventpoll_fops`, once a native epoll file has been seen (null before).
static NATIVE_FOPS: Atomic<*const bindings::file_operations> = Atomic::new(core::ptr::null());

/// Slots of [`NOT_NATIVE_FOPS`].
const NOT_NATIVE_SLOTS: usize = 64;

/// `file_operations` found not to be native epoll's while `eventpoll_fops` is unknown, one per
/// slot (hashed by address, the last one seen wins): the name lookup behind the answer is a
/// kallsyms search, some microseconds, which every ADD of a pipe or eventfd paid until a
/// native epoll file came by (ADD cost 2x native's in `make bench`). A stale entry cannot lie:
/// `eventpoll_fops` is a static of the kernel image, never found "not native", and no other
/// table can take its address.
static NOT_NATIVE_FOPS: [Atomic<*const bindings::file_operations>; NOT_NATIVE_SLOTS] =
    [const { Atomic::new(core::ptr::null()) }; NOT_NATIVE_SLOTS];

/// Whether `file` is a native epoll instance (C's `is_file_epoll` for the kernel's own).
pub(crate) fn is_native_epoll(file: &File) -> bool {
    // SAFETY: `file` is alive; `f_op` is set before a file is published, and points to a
    // static table that outlives the file.
    let fop = unsafe { (*file.as_ptr()).f_op };
    let known = NATIVE_FOPS.load(Relaxed);
    if !known.is_null() {
        return core::ptr::eq(fop, known);
    }
    let addr = fop as usize;
    let slot = &NOT_NATIVE_FOPS[(addr >> 4 ^ addr >> 12) % NOT_NATIVE_SLOTS];
    if core::ptr::eq(slot.load(Relaxed), fop) {
        return false;
    }
    // Not learned yet: is this one? (A file whose `->poll` is `ep_eventpoll_poll`.)
    // SAFETY: `fop` is a valid `file_operations` (above).
    if unsafe { rust_epoll_is_eventpoll_fops(fop.cast()) } {
        NATIVE_FOPS.store(fop, Relaxed);
        return true;
    }
    slot.store(fop, Relaxed);
    false
}

/// The eventpoll behind a file of ours.
///
/// # Safety
///
/// `file` must be one of our files, between `fops_open` and `fops_release`.
unsafe fn eventpoll<'a>(file: *mut bindings::file) -> &'a EventPoll {
    // SAFETY: Guaranteed by the caller: `private_data` is the live eventpoll.
    unsafe { &*(*file).private_data.cast::<EventPoll>() }
}

/// `open`: a new eventpoll (`ep_alloc`), owned by the file.
///
/// # Safety
///
/// Called by the VFS (through `misc_open`) for a file being opened.
unsafe extern "C" fn fops_open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `file` is being opened: its credentials are set.
    let user = unsafe { crate::limits::User::of_opener(file) };
    match EventPoll::new(user, file as usize) {
        Ok(ep) => {
            // SAFETY: The file owns `ep` from here, and `fops_release` clears it before putting
            // that reference.
            unsafe { ep.attach_view() };
            // SAFETY: `open` may set the file's private data; `fops_release` takes the
            // reference back.
            unsafe { (*file).private_data = Arc::into_raw(ep).cast_mut().cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `release`: the last reference to the file is gone; the eventpoll is emptied and the
/// file's reference on it put a grace period later (`ep_clear_and_put`, `kfree_rcu(ep)`: see
/// `EventPoll::put_rcu`).
///
/// # Safety
///
/// Called by the VFS once, for a file `fops_open` succeeded on.
unsafe extern "C" fn fops_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` came from `Arc::into_raw` in `fops_open`, and nothing else can
    // use the file any more: this was its last reference.
    let ep = unsafe { Arc::from_raw((*file).private_data.cast::<EventPoll>()) };
    ep.clear();
    EventPoll::put_rcu(ep);
    0
}

/// `unlocked_ioctl`: CTL and WAIT (and `compat_ioctl`, through `compat_ptr_ioctl`).
///
/// # Safety
///
/// Called by the VFS for one of our open files.
unsafe extern "C" fn fops_ioctl(file: *mut bindings::file, cmd: c_uint, arg: usize) -> isize {
    // SAFETY: An ioctl runs between open and release, with a reference to the file held; no
    // `fdget_pos` region is active on this thread.
    let (ep, me) = unsafe { (eventpoll(file), File::from_raw_file(file)) };
    match crate::ioctl(ep, me, cmd, arg) {
        Ok(n) => n,
        Err(e) => e.to_errno() as isize,
    }
}

/// `poll`: the instance is readable when its ready list has a really ready item.
///
/// # Safety
///
/// Called by the VFS for one of our open files, with a valid (or null) poll table.
unsafe extern "C" fn fops_poll(file: *mut bindings::file, pt: *mut bindings::poll_table) -> c_uint {
    // Native epoll's poll may sleep (it takes `mtx` with `mutex_lock`), so every caller of an
    // instance's `->poll` calls it where sleeping is allowed: interrupts on, no spinlock held.
    // Ours relies on that too (`lock_irq` in `wait.rs`, `fsleep`), and says so here, as the
    // mutex's `might_sleep()` says it for native's (checked under DEBUG_ATOMIC_SLEEP).
    kernel::task::might_sleep();
    // SAFETY: As for `fops_ioctl`; `pt` is passed on to `poll_wait` as received.
    unsafe { eventpoll(file).poll(file, pt, crate::eventpoll::FROM_VFS) }
}

/// `mmap`: the instance's ready ring, once set up (`ring.rs`); ENODEV before.
///
/// # Safety
///
/// Called by the VFS (`mmap_region`, with the mmap lock held for writing) for one of our open
/// files and a VMA being set up for it.
unsafe extern "C" fn fops_mmap(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: As for `fops_ioctl`; the VMA is undergoing its initial setup for this call.
    let (ep, vma) = unsafe { (eventpoll(file), kernel::mm::virt::VmaNew::from_raw(vma)) };
    match ep.ring_mmap(vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `show_fdinfo`: one line per watch, in native epoll's format.
///
/// # Safety
///
/// Called by procfs for one of our open files, with a seq_file to print to.
unsafe extern "C" fn fops_show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
    // SAFETY: The file is open for the duration of the call; `m` is valid and ours to print
    // to until we return.
    unsafe { crate::introspect::show_fdinfo(eventpoll(file), SeqFile::from_raw(m)) };
}
