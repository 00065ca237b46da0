// SPDX-License-Identifier: GPL-2.0

//! Wait queues and poll tables: `wait_queue_head`, `wait_queue_entry`, `poll_table` and
//! `vfs_poll`, the C machinery that fs/eventpoll.c is built on.
//!
//! `kernel::sync::CondVar` hides its wait queue and sleeps with jiffies timeouts; epoll needs the
//! queue itself (its waiters are woken one at a time from `ep_poll_callback`, and WAIT sleeps on
//! an absolute high-resolution deadline), so this file wraps the C types once, in small safe
//! types. What C keeps `static inline` (`vfs_poll`, `init_poll_funcptr`, `waitqueue_active`) is
//! written out here in a few lines each.

use core::{ffi::c_void, pin::pin, ptr};
use kernel::{bindings, fs::File, prelude::*, types::Opaque};

/// What `vfs_poll` reports for a file without a `poll` operation (`DEFAULT_POLLMASK`).
const DEFAULT_POLLMASK: u32 =
    bindings::POLLIN | bindings::POLLOUT | bindings::POLLRDNORM | bindings::POLLWRNORM;

/// A `wait_queue_head`: a spinlock-protected list of sleeping tasks or callbacks.
#[pin_data]
pub(crate) struct WaitQueueHead {
    #[pin]
    inner: Opaque<bindings::wait_queue_head>,
}

// SAFETY: A `wait_queue_head` is designed to be used from any thread; its list is protected by
// its own spinlock.
unsafe impl Send for WaitQueueHead {}
// SAFETY: All methods take `&self` and go through the C functions, which take the queue's lock.
unsafe impl Sync for WaitQueueHead {}

impl WaitQueueHead {
    /// A new, empty wait queue (`init_waitqueue_head`).
    pub(crate) fn new(
        name: &'static CStr,
        key: Pin<&'static kernel::sync::LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes while the closure runs; `name` and `key` are
            // static, so they outlive the queue.
            inner <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// The raw queue, for `poll_wait`-style registration by the C side.
    pub(crate) fn as_raw(&self) -> *mut bindings::wait_queue_head {
        self.inner.get()
    }

    /// Whether anything waits on the queue (`waitqueue_active`). Lockless: the caller provides
    /// the ordering against the waiter's check of its condition (see `EventPoll` on locks).
    pub(crate) fn is_active(&self) -> bool {
        let head = self.as_raw();
        // SAFETY: `head` points to an initialised queue; reading `head.next` races only with
        // list updates under the queue's lock, which is what `waitqueue_active` does in C too.
        unsafe {
            let list = ptr::addr_of_mut!((*head).head);
            ptr::read_volatile(ptr::addr_of!((*list).next)) != list
        }
    }

    /// Wakes one exclusive waiter and every non-exclusive one (`wake_up`), passing `key` as the
    /// poll mask (`wake_up_poll`), or no mask when `key` is 0.
    pub(crate) fn wake_up(&self, key: u32) {
        // SAFETY: The queue is initialised; the key is a poll mask cast to a pointer, as
        // `poll_to_key` does.
        unsafe {
            bindings::__wake_up(
                self.as_raw(),
                bindings::TASK_NORMAL,
                1,
                key as usize as *mut c_void,
            )
        };
    }

    /// [`Self::wake_up`] with no mask, or `wake_up_sync` when `sync` (the waker is about to
    /// sleep, so the woken task need not move to another CPU), returning whether a waiter
    /// was queued when the wake-up ran (read under the queue's lock, in the wake-up's own
    /// section: see `rust_epoll_wake_up_found` in `helpers.c`). For `ep_poll_callback`'s ewake.
    pub(crate) fn wake_up_found(&self, sync: bool) -> bool {
        extern "C" {
            fn rust_epoll_wake_up_found(wq: *mut bindings::wait_queue_head, sync: bool) -> bool;
        }
        // SAFETY: The queue is initialised.
        unsafe { rust_epoll_wake_up_found(self.as_raw(), sync) }
    }

    /// As [`Self::wake_up`] with a poll mask, taking the queue's lock at lockdep subclass
    /// `nests`, and setting `*nests_out` to `nests + 1` for the duration of the wake-up, inside
    /// the lock: for a wake-up from inside the wake-up of a queue of the same class (an
    /// instance's pollers, woken by the instance it watches: `ep_poll_safewake`).
    #[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
    pub(crate) fn wake_up_nested(&self, key: u32, nests: u8, nests_out: *mut u8) {
        extern "C" {
            fn rust_epoll_wake_up_nested(
                wq: *mut bindings::wait_queue_head,
                key: usize,
                subclass: core::ffi::c_int,
                nests_out: *mut u8,
            );
        }
        // SAFETY: The queue is initialised; the key is a poll mask, as for `wake_up`;
        // `nests_out` is the owner's `nests`, only touched under this queue's lock.
        unsafe { rust_epoll_wake_up_nested(self.as_raw(), key as usize, nests.into(), nests_out) };
    }

    /// Sleeps as an exclusive waiter (woken one at a time) until woken, a signal arrives, or
    /// the absolute `CLOCK_MONOTONIC` deadline `expires` (ns) passes; `None` sleeps without one.
    /// The waiter is queued at the head, as `ep_poll` queues it, so that a wake-up reaches
    /// the waiter that slept last (epoll's LIFO order). `ready` is checked after the task is
    /// queued and before it sleeps, so a wake-up between the caller's last check and the sleep
    /// is never lost.
    pub(crate) fn wait_exclusive(
        &self,
        expires: Option<i64>,
        ready: impl FnOnce() -> bool,
    ) -> Slept {
        let entry = pin!(Opaque::<bindings::wait_queue_entry>::uninit());
        // SAFETY: `entry` is pinned on this stack frame, initialised here, and stays queued
        // only until `wait_and_finish` returns, before the frame ends; its wake function is
        // `ep_autoremove_wake_function`'s, which removes it on every wake-up.
        unsafe {
            bindings::init_wait_entry(entry.get(), 0);
            (*entry.get()).func = Some(rust_epoll_autoremove_wake_function);
            self.wait_and_finish(entry.get(), expires, ready)
        }
    }

    /// As [`Self::wait_exclusive`], with the caller's `entry`, whose wake function is `func`:
    /// `func` decides, in the waker's context under the queue's lock, whether a wake-up is
    /// this waiter's (it then calls [`autoremove_wake_function`]) or passes it on to the next
    /// waiter (it returns 0 and leaves the entry queued).
    ///
    /// # Safety
    ///
    /// `entry` is valid, not on any queue, and stays at its address until this returns; `func`
    /// only returns 0 or the result of [`autoremove_wake_function`] for the same arguments.
    pub(crate) unsafe fn wait_exclusive_entry(
        &self,
        entry: *mut bindings::wait_queue_entry,
        func: WakeFn,
        expires: Option<i64>,
        ready: impl FnOnce() -> bool,
    ) -> Slept {
        // SAFETY: `entry` is valid and unqueued (our contract); `func` declines a wake-up, or
        // wakes the task as the default function would and removes the entry.
        unsafe {
            bindings::init_wait_entry(entry, 0);
            (*entry).func = Some(func);
            self.wait_and_finish(entry, expires, ready)
        }
    }

    /// The sleep of both waits: queue `entry` exclusively at the head, check `ready`, sleep,
    /// dequeue.
    ///
    /// # Safety
    ///
    /// `entry` is initialised, unqueued, stays at its address until this returns, and its
    /// wake function removes it from the queue on every wake-up it does not decline.
    unsafe fn wait_and_finish(
        &self,
        entry: *mut bindings::wait_queue_entry,
        expires: Option<i64>,
        ready: impl FnOnce() -> bool,
    ) -> Slept {
        // SAFETY: The queue is initialised; `entry` is initialised and unqueued (our
        // contract), and is dequeued by `rust_epoll_finish_wait_woken` before we return.
        unsafe {
            rust_epoll_prepare_to_wait_exclusive_head(
                self.as_raw(),
                entry,
                bindings::TASK_INTERRUPTIBLE as i32,
            )
        };
        let mut timed_out = false;
        if !ready() {
            // SAFETY: The task is queued and its state set just above.
            timed_out = unsafe { sleep(expires) };
        }
        // SAFETY: `entry` was queued on `self` above, or taken off by a wake-up; this
        // dequeues it if not and sets the task running again.
        let woken = unsafe { rust_epoll_finish_wait_woken(self.as_raw(), entry) };
        Slept { timed_out, woken }
    }
}

/// How a sleep of [`WaitQueue::wait_exclusive`] ended.
pub(crate) struct Slept {
    /// The deadline passed.
    pub(crate) timed_out: bool,
    /// A wake-up took the waiter off the queue (`ep_poll`: `list_empty(&wait.entry)`).
    pub(crate) woken: bool,
}

/// Sleeps until woken, a signal arrives, or the absolute `CLOCK_MONOTONIC` deadline `expires`
/// (ns) passes; `None` sleeps without one. Returns `true` on timeout.
///
/// The deadline's slack is `ep_poll`'s, computed before each sleep from the time left by
/// `select_estimate_accuracy()` (fs/select.c): the task's own timer slack (`PR_SET_TIMERSLACK`;
/// 0 for a real-time task, which then wakes on time) or 0.1% of the time left (0.5% for a
/// niced task), at most 100 ms, whichever is larger. It is not exported: `helpers.c` has it.
///
/// # Safety
///
/// The task is queued on a wait queue and its state set (`prepare_to_wait*`).
unsafe fn sleep(expires: Option<i64>) -> bool {
    match expires {
        Some(mut t) => {
            // SAFETY: Reads `current`'s timer slack and nice value, and the clock.
            let slack_ns = unsafe { rust_epoll_select_slack(t) };
            // SAFETY: The task state was set (our contract); `t` lives across the call. It
            // returns 0 when the deadline passed.
            unsafe {
                bindings::schedule_hrtimeout_range(
                    &mut t,
                    slack_ns,
                    bindings::hrtimer_mode_HRTIMER_MODE_ABS,
                ) == 0
            }
        }
        None => {
            // SAFETY: As above; a plain sleep until a wake-up or a signal.
            unsafe { bindings::schedule() };
            false
        }
    }
}

/// fs/eventpoll.c's `ep_autoremove_wake_function` (in `helpers.c`): wakes the task as the
/// default wake function does, and takes the entry off the queue whether or not the task was
/// asleep still. A waiter whose timeout fired and who has not run yet so sees the wake-up
/// (`Slept::woken`) and takes the events it was for, as `ep_poll` does; the exported
/// `autoremove_wake_function` would leave the entry queued, and the waiter return 0.
///
/// # Safety
///
/// As any wake function: called by the waker under the queue's lock, with an entry made by
/// `init_wait_entry` for a task.
pub(crate) unsafe fn autoremove_wake_function(
    wait: *mut bindings::wait_queue_entry,
    mode: core::ffi::c_uint,
    sync: core::ffi::c_int,
    key: *mut core::ffi::c_void,
) -> core::ffi::c_int {
    // SAFETY: Our caller's contract is the helper's.
    unsafe { rust_epoll_autoremove_wake_function(wait, mode, sync, key) }
}

extern "C" {
    fn rust_epoll_autoremove_wake_function(
        wait: *mut bindings::wait_queue_entry,
        mode: core::ffi::c_uint,
        sync: core::ffi::c_int,
        key: *mut core::ffi::c_void,
    ) -> core::ffi::c_int;
    fn rust_epoll_select_slack(expires: i64) -> u64;
    fn rust_epoll_prepare_to_wait_exclusive_head(
        wq: *mut bindings::wait_queue_head,
        wait: *mut bindings::wait_queue_entry,
        state: core::ffi::c_int,
    );
    fn rust_epoll_finish_wait_woken(
        wq: *mut bindings::wait_queue_head,
        wait: *mut bindings::wait_queue_entry,
    ) -> bool;
}

/// The signature of a wait-queue callback (`wait_queue_func_t`).
pub(crate) type WakeFn = unsafe extern "C" fn(
    *mut bindings::wait_queue_entry,
    core::ffi::c_uint,
    core::ffi::c_int,
    *mut c_void,
) -> core::ffi::c_int;

/// The signature of a poll table's queue procedure (`poll_queue_proc`).
pub(crate) type QueueProc = unsafe extern "C" fn(
    *mut bindings::file,
    *mut bindings::wait_queue_head,
    *mut bindings::poll_table,
);

/// Initialises a wait entry that calls `func` instead of waking a task
/// (`init_waitqueue_func_entry`), with `private` handed to `func` through the entry.
///
/// # Safety
///
/// `entry` must be valid for writes and not on any wait queue.
pub(crate) unsafe fn init_wait_func_entry(
    entry: *mut bindings::wait_queue_entry,
    func: WakeFn,
    private: *mut c_void,
) {
    // SAFETY: The caller guarantees `entry` is writable and unqueued.
    unsafe {
        (*entry).flags = 0;
        (*entry).private = private;
        (*entry).func = Some(func);
        let list = ptr::addr_of_mut!((*entry).entry);
        (*list).next = list;
        (*list).prev = list;
    }
}

/// A `poll_table` (`init_poll_funcptr`): with a queue procedure, `vfs_poll` registers the
/// caller on the target's wait queues; without one it only reads the current mask.
#[repr(transparent)]
pub(crate) struct PollTable(bindings::poll_table);

impl PollTable {
    /// A poll table with `qproc` (or none) that asks for the events in `key`.
    pub(crate) fn new(qproc: Option<QueueProc>, key: u32) -> Self {
        Self(bindings::poll_table {
            _qproc: qproc,
            _key: key,
        })
    }

    /// The raw table.
    pub(crate) fn as_raw(&mut self) -> *mut bindings::poll_table {
        &mut self.0
    }
}

/// Polls `file` (`vfs_poll`): its current event mask, and, when `pt` has a queue procedure,
/// that procedure is called for each wait queue the file would wake.
pub(crate) fn vfs_poll(file: &File, pt: &mut PollTable) -> u32 {
    let f = file.as_ptr();
    // SAFETY: `file` is a live file, so `f_op` is valid for as long as it is.
    let poll = unsafe { (*(*f).f_op).poll };
    match poll {
        None => DEFAULT_POLLMASK,
        // SAFETY: The file is alive, and `pt` is a valid poll table for the call.
        Some(poll) => unsafe { poll(f, pt.as_raw()) },
    }
}

/// Whether `file` can be polled at all (`file_can_poll`).
pub(crate) fn file_can_poll(file: &File) -> bool {
    // SAFETY: `file` is a live file, so `f_op` is valid for as long as it is.
    unsafe { (*(*file.as_ptr()).f_op).poll.is_some() }
}
