// SPDX-License-Identifier: GPL-2.0

//! The device: `/dev/rust_epoll`, a misc device whose files are eventpolls (the
//! `anon_inode_getfd("[eventpoll]", &eventpoll_fops, ...)` of fs/eventpoll.c).
//!
//! `kernel::miscdevice` (7.3) builds its `file_operations` without `poll`, and an eventpoll
//! must be pollable: by select/poll, by native epoll, and by another eventpoll (nesting). So
//! this file registers the misc device with `file_operations` of its own, once, behind a small
//! safe type, and knows its own files by their `f_op` ([`instance_of`]), as C's
//! `is_file_epoll` does.

use core::ffi::{c_int, c_uint};
use kernel::{bindings, error::to_result, fs::File, prelude::*, seq_file::SeqFile, types::Opaque};

use crate::eventpoll::EventPoll;

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
    poll: Some(fops_poll),
    show_fdinfo: Some(fops_show_fdinfo),
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
    let f = file.as_ptr();
    // SAFETY: `file` is alive; `f_op` is set before a file is published.
    if !core::ptr::eq(unsafe { (*f).f_op }, &FOPS.0) {
        return None;
    }
    // SAFETY: Our files' `private_data` is the eventpoll `fops_open` leaked, freed only by
    // `fops_release`, i.e. after the last reference to the file, which `file` still is.
    Some(unsafe { &*(*f).private_data.cast::<EventPoll>() })
}

/// Whether `file` is a native epoll instance: an anonymous-inode file named `[eventpoll]`
/// (`eventpoll_fops` is not exported, so its name is what a module can see).
pub(crate) fn is_native_epoll(file: &File) -> bool {
    let f = file.as_ptr();
    // SAFETY: `file` is alive, so are its dentry and the dentry's name.
    let name = unsafe {
        let dentry = (*f).__bindgen_anon_1.f_path.dentry;
        let qstr = &(*dentry).__bindgen_anon_1.d_name;
        core::slice::from_raw_parts(
            qstr.name,
            qstr.__bindgen_anon_1.__bindgen_anon_1.len as usize,
        )
    };
    name == b"[eventpoll]"
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
    let user = crate::limits::User::of_opener(file);
    match KBox::try_pin_init(EventPoll::new(user, file as usize), GFP_KERNEL_ACCOUNT) {
        Ok(ep) => {
            // SAFETY: The eventpoll stays pinned: it is only turned back into a box, never
            // moved, by `fops_release`.
            let ep = KBox::into_raw(unsafe { Pin::into_inner_unchecked(ep) });
            // SAFETY: Just allocated, valid and at its final address.
            unsafe { (*ep).attach_view() };
            // SAFETY: `open` may set the file's private data.
            unsafe { (*file).private_data = ep.cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `release`: the last reference to the file is gone; the eventpoll is freed (`ep_free`).
///
/// # Safety
///
/// Called by the VFS once, for a file `fops_open` succeeded on.
unsafe extern "C" fn fops_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` came from `KBox::into_raw` in `fops_open`, and nothing else can
    // use it any more: this was the last reference to the file.
    drop(unsafe { Pin::new_unchecked(KBox::from_raw((*file).private_data.cast::<EventPoll>())) });
    0
}

/// `unlocked_ioctl`: CTL and WAIT.
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
    // SAFETY: As for `fops_ioctl`; `pt` is passed on to `poll_wait` as received.
    unsafe { eventpoll(file).poll(file, pt, crate::eventpoll::FROM_VFS) }
}

/// `show_fdinfo`: one line per watch, in native epoll's format.
///
/// # Safety
///
/// Called by procfs for one of our open files, with a seq_file to print to.
unsafe extern "C" fn fops_show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
    // SAFETY: The file is open for the duration of the call; `m` is valid and ours to print
    // to until we return.
    unsafe { eventpoll(file).show_fdinfo(SeqFile::from_raw(m)) };
}
