// SPDX-License-Identifier: GPL-2.0

//! WAIT with a minimum batch (`RUST_EPOLL_WAIT_MIN`): "at least `min_events` ready watches, or
//! `min_wait_us` since the call began, whichever first", the min-wait of the 2022 upstream
//! proposal for `ep_poll` (never merged), whose aim it shares: under a steady stream of
//! events a busy server harvests in batches instead of waking once per event.
//!
//! The minimum is a first phase before `ep_poll` proper (`poll_events`): until the minimum
//! time is up (or the timeout, if it comes first) the waiter sleeps on `wq` until
//! `min_events` items are ready. Its wait entry has its own wake function, which reads the
//! ready list's count (`ReadyList::count`, O(1), under `ready`) in the waker's context and
//! wakes the task only when the minimum is reached: a wake-up it declines goes on to the next
//! waiter, as if this one were not queued, so a plain waiter on the same instance is not
//! starved of it, and the min-waiter does not wake per event. A signal ends the phase. Then
//! `poll_events` runs with the rest of the timeout: it returns what is ready, or waits for the
//! first event, as WAIT does.
//!
//! The count includes items another task's WAIT has taken off the ready list for its scan
//! (`ReadyList::count`): a min-waiter woken by them may find fewer than its minimum when it
//! harvests, and returns those, as it does when its minimum time is up. The wake
//! function runs on every wake-up of the instance, in the waker's context with interrupts
//! off, so its cost must not depend on what userspace can build: an earlier walk of the list
//! there made one write to a file watched through N dup'ed fds cost N²/2 link steps (a test
//! in `ext_test.c`: `one_write_to_many_watches_is_linear`).
//!
//! Lock order: the wake function takes `ready` inside the lock of `wq` (the waker holds it),
//! which no path nests the other way: `ready` is released before anything takes `wq`'s lock
//! (`eventpoll.rs`).

use core::{
    ffi::{c_int, c_uint, c_void},
    pin::pin,
};
use kernel::{bindings, prelude::*, types::Opaque};

use crate::{eventpoll::EventPoll, uapi::*};

/// The minimum of a RUST_EPOLL_WAIT_MIN: `events` ready watches (at least 2; 1 is no minimum),
/// or `wait_ns` since the call began (more than 0).
pub(crate) struct MinWait {
    events: usize,
    wait_ns: i64,
}

/// A min-waiter's wait entry, with what its wake function needs.
#[repr(C)]
struct MinWaiter<'a> {
    /// First, so that the entry's address is the waiter's (`min_wake`).
    entry: Opaque<bindings::wait_queue_entry>,
    ep: &'a EventPoll,
    events: usize,
}

impl EventPoll {
    /// RUST_EPOLL_WAIT_MIN: the argument at `arg`, checked, then WAIT with the minimum.
    pub(crate) fn wait_min(&self, arg: usize) -> Result<isize> {
        let args = crate::read_arg::<WaitMinArgs>(arg)?;
        if args.min_events == 0 || i64::from(args.min_events) > i64::from(args.wait.maxevents) {
            return Err(EINVAL);
        }
        let min = MinWait {
            events: args.min_events as usize,
            wait_ns: i64::from(args.min_wait_us) * 1000,
        };
        self.wait_with(&args.wait, Some(&min))
    }

    /// `poll_events` with the minimum phase first (see the module documentation); the
    /// arguments are `poll_events`' (checked), and `min`.
    pub(crate) fn poll_events_min(
        &self,
        uaddr: usize,
        maxevents: usize,
        timeout_ns: i64,
        min: &MinWait,
    ) -> Result<isize> {
        if timeout_ns == 0 || min.events <= 1 || min.wait_ns == 0 {
            return self.poll_events(uaddr, maxevents, timeout_ns);
        }
        let start = ktime_get();
        let deadline = (timeout_ns > 0).then(|| start.saturating_add(timeout_ns));
        let mut until = start.saturating_add(min.wait_ns);
        if let Some(deadline) = deadline {
            until = until.min(deadline);
        }
        let waiter = pin!(MinWaiter {
            entry: Opaque::uninit(),
            ep: self,
            events: min.events,
        });
        loop {
            if self.ready.lock().count() >= min.events || kernel::current!().signal_pending() {
                break;
            }
            // SAFETY: The entry is pinned on this frame and unqueued (each call dequeues it
            // before returning); `min_wake` declines or calls `autoremove_wake_function`
            // (`waitqueue.rs`).
            let slept = unsafe {
                self.wq
                    .wait_exclusive_entry(waiter.entry.get(), min_wake, Some(until), || {
                        self.ready.lock().count() >= min.events
                    })
            };
            if slept.timed_out {
                break;
            }
        }
        // The rest of the timeout, as `ep_poll` proper: 0 (past the deadline) harvests once.
        let rest = match deadline {
            None => -1,
            Some(deadline) => deadline.saturating_sub(ktime_get()).max(0),
        };
        self.poll_events(uaddr, maxevents, rest)
    }
}

/// `CLOCK_MONOTONIC` now, in ns.
fn ktime_get() -> i64 {
    // SAFETY: FFI call without preconditions.
    unsafe { bindings::ktime_get() }
}

/// The wake function of a min-waiter's entry: wakes the task only once the ready list holds
/// its minimum; otherwise returns 0, which `__wake_up_common` takes as "not woken" and passes
/// the wake-up on to the next exclusive waiter.
///
/// # Safety
///
/// `wait` is the `entry` of a live [`MinWaiter`] queued by `poll_events_min`; the caller (the
/// waker) holds the queue's lock, not `ready`.
unsafe extern "C" fn min_wake(
    wait: *mut bindings::wait_queue_entry,
    mode: c_uint,
    sync: c_int,
    key: *mut c_void,
) -> c_int {
    // SAFETY: `entry` is the first field of the `repr(C)` `MinWaiter`, and `Opaque` is
    // transparent; the waiter outlives its time on the queue (our contract).
    let w = unsafe { &*wait.cast::<MinWaiter<'_>>() };
    if w.ep.ready.lock().count() < w.events {
        return 0;
    }
    // SAFETY: The entry was made by `init_wait_entry` for this task; the waker's arguments,
    // under the queue's lock.
    unsafe { crate::waitqueue::autoremove_wake_function(wait, mode, sync, key) }
}
