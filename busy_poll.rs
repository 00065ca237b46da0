// SPDX-License-Identifier: GPL-2.0

//! Busy polling: fs/eventpoll.c's per-instance busy-poll parameters (`ep_eventpoll_bp_ioctl`:
//! EPIOCSPARAMS and EPIOCGPARAMS, Linux 6.9), `ep_set_busy_poll_napi_id`, `ep_busy_loop_on`,
//! `ep_busy_loop_end`, `busy_loop_ep_timeout` and `ep_busy_loop`.
//!
//! While an instance has busy polling on, the callback and ADD remember the NAPI id of the
//! last socket target seen ready (`ep->napi_id`), and a WAIT that finds nothing ready spins on
//! that NAPI context with `napi_busy_loop()` (exported) before it sleeps, until an event is
//! available or the instance's `busy_poll_usecs` have passed, as `ep_poll` does.
//!
//! What a module cannot do as fs/eventpoll.c does, because the kernel does not export it:
//! - `net_busy_loop_on()` and `busy_loop_timeout()` read `sysctl_net_busy_poll`
//!   (net.core.busy_poll), a variable of net/socket.c that is not exported. Here that sysctl
//!   reads as 0: an instance busy-polls only when its own parameters ask for it
//!   (`busy_poll_usecs` or `prefer_busy_poll`), never because of the system-wide sysctl alone,
//!   and with `prefer_busy_poll` but no `busy_poll_usecs` the loop makes one pass (C's
//!   fallback timeout is that sysctl).
//! - `napi_suspend_irqs()` and `napi_resume_irqs()` (net/core/dev.c; not exported, nor is
//!   `napi_by_id()`, which they need): with `prefer_busy_poll`, C suspends the NAPI context's
//!   interrupts after a WAIT that returned events (when the device has an
//!   `irq-suspend-timeout`) and resumes them when a busy loop times out or the instance goes.
//!   Here interrupts are never suspended, so nothing is resumed: the device's interrupt
//!   deferral (`napi_defer_hard_irqs`, `gro_flush_timeout`) applies as it would to a socket's
//!   own busy polling.
//!
//! Without `CONFIG_NET_RX_BUSY_POLL` both ioctls fail with EOPNOTSUPP, as native epoll's do.

use core::ffi::{c_ulong, c_void};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    uaccess::{UserPtr, UserSlice},
};

use crate::{eventpoll::EventPoll, uapi::EpollParams};

/// `NAPI_POLL_WEIGHT` (include/linux/netdevice.h): the largest budget without CAP_NET_ADMIN.
/// `helpers.c` checks the value against C's at build time.
const NAPI_POLL_WEIGHT: u16 = 64;
/// `BUSY_POLL_BUDGET` (include/net/busy_poll.h): the budget when none is set; checked likewise.
const BUSY_POLL_BUDGET: u16 = 8;

extern "C" {
    // (`file` as `void *`, as in epitem.rs: bindgen's `struct file` is not FFI-safe to rustc.)
    fn rust_epoll_sock_napi_id(file: *mut c_void) -> u32;
    fn rust_epoll_napi_busy_loop(
        napi_id: u32,
        loop_end: unsafe extern "C" fn(*mut c_void, c_ulong) -> bool,
        arg: *mut c_void,
        prefer_busy_poll: bool,
        budget: u16,
    );
    fn rust_epoll_busy_loop_current_time() -> c_ulong;
}

/// An instance's busy-poll state: C's `busy_poll_usecs`, `busy_poll_budget`,
/// `prefer_busy_poll` and `napi_id` fields of `struct eventpoll`.
pub(crate) struct BusyPoll {
    /// What EPIOCSPARAMS stored, in one word so that EPIOCGPARAMS reads one consistent set:
    /// `busy_poll_usecs` in bits 0-31, `busy_poll_budget` in 32-47, `prefer_busy_poll` in 48.
    /// 0 (the default) is busy polling off.
    params: Atomic<u64>,
    /// The NAPI id of the last socket target seen ready (`ep->napi_id`), 0 for none. Only
    /// valid ids (`napi_id_valid`) are stored.
    napi_id: Atomic<u32>,
}

impl BusyPoll {
    /// Busy polling off, no NAPI id (`ep_alloc`'s zeroed fields).
    pub(crate) const fn new() -> Self {
        Self {
            params: Atomic::new(0),
            napi_id: Atomic::new(0),
        }
    }

    /// The parameters, as EPIOCGPARAMS reports them.
    fn params(&self) -> EpollParams {
        let p = self.params.load(Relaxed);
        EpollParams {
            busy_poll_usecs: p as u32,
            busy_poll_budget: (p >> 32) as u16,
            prefer_busy_poll: ((p >> 48) & 1) as u8,
            pad: 0,
        }
    }

    fn set_params(&self, p: &EpollParams) {
        let word = u64::from(p.busy_poll_usecs)
            | u64::from(p.busy_poll_budget) << 32
            | u64::from(p.prefer_busy_poll & 1) << 48;
        self.params.store(word, Relaxed);
    }

    /// `ep_busy_loop_on`: the instance's own parameters ask for busy polling (the
    /// system-wide sysctl cannot be read: see the module documentation).
    fn on(&self) -> bool {
        self.params.load(Relaxed) & !(0xffff << 32) != 0
    }
}

impl EventPoll {
    /// EPIOCSPARAMS (`ep_eventpoll_bp_ioctl`): native's checks, in native's order.
    pub(crate) fn set_busy_poll_params(&self, arg: usize) -> Result<isize> {
        if !cfg!(CONFIG_NET_RX_BUSY_POLL) {
            return Err(EOPNOTSUPP);
        }
        let p = crate::read_arg::<EpollParams>(arg)?;
        if p.pad != 0 || p.busy_poll_usecs > i32::MAX as u32 || p.prefer_busy_poll > 1 {
            return Err(EINVAL);
        }
        if p.busy_poll_budget > NAPI_POLL_WEIGHT && !capable_net_admin() {
            return Err(EPERM);
        }
        self.bp.set_params(&p);
        Ok(0)
    }

    /// EPIOCGPARAMS: what EPIOCSPARAMS stored (all 0 at first), `__pad` 0.
    pub(crate) fn busy_poll_params(&self, arg: usize) -> Result<isize> {
        if !cfg!(CONFIG_NET_RX_BUSY_POLL) {
            return Err(EOPNOTSUPP);
        }
        let p = self.bp.params();
        UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<EpollParams>())
            .writer()
            .write(&p)?;
        Ok(0)
    }

    /// `ep_set_busy_poll_napi_id`: with busy polling on, remembers the NAPI id of `file` if it
    /// is a socket that has one. Called by the callback (any context) and by ADD.
    ///
    /// # Safety
    ///
    /// `file` is a watched file that cannot be released during the call: the callback runs
    /// under the lock of one of its wait queues, which the release hook takes to unhook the
    /// watch before `->release()`; ADD holds a reference.
    pub(crate) unsafe fn note_napi_id(&self, file: *mut bindings::file) {
        if !cfg!(CONFIG_NET_RX_BUSY_POLL) || !self.bp.on() {
            return;
        }
        // SAFETY: `file` is alive (our contract); the helper reads its socket's `sk_napi_id`
        // as C does, and returns 0 for a file that is not a socket or an id that is not valid.
        let id = unsafe { rust_epoll_sock_napi_id(file.cast()) };
        if id != 0 && id != self.bp.napi_id.load(Relaxed) {
            self.bp.napi_id.store(id, Relaxed);
        }
    }

    /// `ep_busy_loop`: when busy polling is on and a socket's NAPI id is known, polls that NAPI
    /// context until an event is available, the time is up or the task should reschedule.
    /// Returns whether events are available; if none came, forgets the NAPI id until a socket
    /// with one is seen ready again. May sleep (the loop reschedules); called with no lock held.
    pub(crate) fn busy_loop(&self) -> bool {
        if !cfg!(CONFIG_NET_RX_BUSY_POLL) {
            return false;
        }
        let napi_id = self.bp.napi_id.load(Relaxed);
        if napi_id == 0 || !self.bp.on() {
            return false;
        }
        let p = self.bp.params();
        let budget = match p.busy_poll_budget {
            0 => BUSY_POLL_BUDGET,
            b => b,
        };
        // SAFETY: `busy_loop_end` gets `self` back, which outlives the call: the loop calls
        // it only before `napi_busy_loop` returns.
        unsafe {
            rust_epoll_napi_busy_loop(
                napi_id,
                busy_loop_end,
                core::ptr::from_ref(self).cast_mut().cast(),
                p.prefer_busy_poll != 0,
                budget,
            )
        };
        if self.events_hint() {
            return true;
        }
        // C resumes the NAPI context's interrupts here under `prefer_busy_poll`; they were
        // never suspended here (see the module documentation).
        self.bp.napi_id.store(0, Relaxed);
        false
    }

    /// C's lockless `ep_events_available`.
    fn events_hint(&self) -> bool {
        self.ready_hint.load(Relaxed)
    }
}

/// Whether the caller may set a budget above `NAPI_POLL_WEIGHT`.
fn capable_net_admin() -> bool {
    // SAFETY: FFI call without preconditions.
    unsafe { bindings::capable(bindings::CAP_NET_ADMIN as i32) }
}

/// `ep_busy_loop_end`: stop when events are available or the instance's time is up
/// (`busy_loop_ep_timeout`; without `busy_poll_usecs`, C falls back to the sysctl, which reads
/// as 0 here: one pass). Runs inside `napi_busy_loop` with preemption off.
///
/// # Safety
///
/// `p` is the `EventPoll` that `busy_loop` passed, alive for the call.
unsafe extern "C" fn busy_loop_end(p: *mut c_void, start_time: c_ulong) -> bool {
    // SAFETY: Our contract.
    let ep = unsafe { &*p.cast::<EventPoll>() };
    if ep.events_hint() {
        return true;
    }
    let usecs = c_ulong::from(ep.bp.params().busy_poll_usecs);
    if usecs == 0 {
        return true;
    }
    // SAFETY: FFI call without preconditions.
    let now = unsafe { rust_epoll_busy_loop_current_time() };
    // `time_after(now, start_time + usecs)`, on the wrapping microsecond clock.
    (start_time.wrapping_add(usecs).wrapping_sub(now) as core::ffi::c_long) < 0
}
