//! A safe, epoll-shaped API for `/dev/rust_epoll`, the Rust-for-Linux epoll.
//!
//! [`Epoll`] is one instance (the device's `epoll_create1`); [`Epoll::add`], [`Epoll::modify`]
//! and [`Epoll::delete`] are `epoll_ctl`; [`Epoll::wait`] fills a reusable [`Events`] buffer;
//! [`Epoll::ctl_batch`] applies many operations in one call, which native epoll cannot do,
//! and [`Epoll::ctl_batch_receipt`] attempts them all with a result for each (kqueue's
//! `EV_RECEIPT`); [`Epoll::wait_min`] harvests in batches ("at least N events or M
//! microseconds"); [`Epoll::set_busy_poll_params`] and [`Epoll::busy_poll_params`] are native
//! epoll's `EPIOCSPARAMS` and `EPIOCGPARAMS`; [`Epoll::setup_ring`] maps a ring from which
//! edge-triggered events are harvested without a system call ([`Ring`]). Errors are
//! [`std::io::Error`]s carrying the kernel's errno.
//!
//! ```no_run
//! use rust_epoll::{Epoll, EventFlags, Events};
//! use std::{io::Write, os::unix::net::UnixStream, time::Duration};
//!
//! let ep = Epoll::new()?;
//! let (mut a, b) = UnixStream::pair()?;
//! ep.add(&b, EventFlags::IN, 7)?;
//! a.write_all(b"hi")?;
//! let mut events = Events::with_capacity(16);
//! ep.wait(&mut events, Some(Duration::from_millis(100)))?;
//! for event in &events {
//!     assert_eq!(event.data(), 7);
//!     assert!(event.flags().contains(EventFlags::IN));
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

mod ring;
pub mod uapi;

pub use ring::{Drain, Ring};

use bitflags::bitflags;
use std::{
    ffi::CString,
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
    time::Duration,
};
use uapi::*;

bitflags! {
    /// Event bits and watch flags, as epoll(7) names them.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct EventFlags: u32 {
        const IN = libc::EPOLLIN as u32;
        const PRI = libc::EPOLLPRI as u32;
        const OUT = libc::EPOLLOUT as u32;
        const ERR = libc::EPOLLERR as u32;
        const HUP = libc::EPOLLHUP as u32;
        const RDNORM = libc::EPOLLRDNORM as u32;
        const RDBAND = libc::EPOLLRDBAND as u32;
        const WRNORM = libc::EPOLLWRNORM as u32;
        const WRBAND = libc::EPOLLWRBAND as u32;
        const MSG = libc::EPOLLMSG as u32;
        const RDHUP = libc::EPOLLRDHUP as u32;
        const EXCLUSIVE = libc::EPOLLEXCLUSIVE as u32;
        const WAKEUP = libc::EPOLLWAKEUP as u32;
        const ONESHOT = libc::EPOLLONESHOT as u32;
        const ET = libc::EPOLLET as u32;
    }
}

/// One reported event: what is ready, and the watch's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    events: u32,
    data: u64,
}

impl Event {
    /// The ready events (filtered by what the watch asked for, plus ERR and HUP).
    pub fn flags(&self) -> EventFlags {
        EventFlags::from_bits_retain(self.events)
    }

    /// The data given to [`Epoll::add`] or [`Epoll::modify`].
    pub fn data(&self) -> u64 {
        self.data
    }
}

/// A reusable buffer of events filled by [`Epoll::wait`].
pub struct Events {
    buf: Vec<RustEpollEvent>,
    len: usize,
}

impl Events {
    /// Room for `capacity` events per wait (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: vec![RustEpollEvent::default(); capacity.max(1)],
            len: 0,
        }
    }

    /// How many events the last wait reported.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the last wait reported none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events of the last wait.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf[..self.len].iter().map(|e| Event {
            events: e.events,
            data: e.data,
        })
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = Event;
    type IntoIter = Box<dyn Iterator<Item = Event> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// One operation of [`Epoll::ctl_batch`].
#[derive(Clone, Copy, Debug)]
pub enum CtlOp<'fd> {
    Add(BorrowedFd<'fd>, EventFlags, u64),
    Modify(BorrowedFd<'fd>, EventFlags, u64),
    Delete(BorrowedFd<'fd>),
}

impl CtlOp<'_> {
    fn raw(&self) -> RustEpollCtl {
        let (op, fd, events, data) = match *self {
            CtlOp::Add(fd, ev, data) => (libc::EPOLL_CTL_ADD, fd, ev.bits(), data),
            CtlOp::Modify(fd, ev, data) => (libc::EPOLL_CTL_MOD, fd, ev.bits(), data),
            CtlOp::Delete(fd) => (libc::EPOLL_CTL_DEL, fd, 0, 0),
        };
        RustEpollCtl {
            op: op as u32,
            fd: fd.as_raw_fd(),
            events,
            flags: 0,
            data,
        }
    }
}

/// Where a batch stopped: `applied` operations succeeded (and stay applied); the next one
/// failed with `error`.
#[derive(Debug)]
pub struct BatchError {
    pub applied: usize,
    pub error: io::Error,
}

/// An instance's busy-poll parameters (`struct epoll_params`, ioctl_eventpoll(2)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusyPollParams {
    /// How long a WAIT that finds nothing ready busy-polls its sockets' NAPI context (at most
    /// `i32::MAX`); 0 for none.
    pub busy_poll_usecs: u32,
    /// Packets per poll (0: the kernel's default; above 64 needs `CAP_NET_ADMIN`).
    pub busy_poll_budget: u16,
    /// Prefer busy polling to interrupts.
    pub prefer_busy_poll: bool,
}

/// One instance of `/dev/rust_epoll`.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Epoll {
    /// Opens a new instance (close-on-exec), like `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> io::Result<Self> {
        let path = CString::new(RUST_EPOLL_DEVICE).map_err(io::Error::other)?;
        // SAFETY: `path` is a valid C string; the result is checked.
        let fd = cvt(unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
        // SAFETY: `fd` was just opened and is owned by nothing else.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl_raw(&self, c: &RustEpollCtl) -> io::Result<()> {
        // SAFETY: `c` is a valid `rust_epoll_ctl` for the duration of the call.
        cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), RUST_EPOLL_CTL as _, c as *const _) }).map(drop)
    }

    /// Watches `fd` for `events`, reporting `data` with each event (EPOLL_CTL_ADD).
    pub fn add(&self, fd: impl AsFd, events: EventFlags, data: u64) -> io::Result<()> {
        self.ctl_raw(&CtlOp::Add(fd.as_fd(), events, data).raw())
    }

    /// Changes the events and data of the watch of `fd` (EPOLL_CTL_MOD).
    pub fn modify(&self, fd: impl AsFd, events: EventFlags, data: u64) -> io::Result<()> {
        self.ctl_raw(&CtlOp::Modify(fd.as_fd(), events, data).raw())
    }

    /// Stops watching `fd` (EPOLL_CTL_DEL).
    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        self.ctl_raw(&CtlOp::Delete(fd.as_fd()).raw())
    }

    /// Waits for events into `events`: `None` waits forever, `Some(ZERO)` only polls.
    /// Returns how many were reported. A signal gives `ErrorKind::Interrupted`.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        let mut w = wait_args(events, timeout);
        // SAFETY: `w` points at `events.buf`, valid for `maxevents` records.
        let n = cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), RUST_EPOLL_WAIT as _, &mut w as *mut _) })?;
        events.len = n as usize;
        Ok(events.len)
    }

    /// Applies `ops` in order in one call (at most [`uapi::RUST_EPOLL_BATCH_MAX`]); stops at
    /// the first failure, which is reported with how many were applied before it.
    pub fn ctl_batch(&self, ops: &[CtlOp<'_>]) -> Result<(), BatchError> {
        let raw: Vec<RustEpollCtl> = ops.iter().map(CtlOp::raw).collect();
        let mut b = RustEpollCtlBatch {
            ops: raw.as_ptr() as u64,
            nr_ops: raw.len().try_into().unwrap_or(u32::MAX),
            ..Default::default()
        };
        // SAFETY: `b` and the array it points at are valid for the call.
        let ret = unsafe { libc::ioctl(self.fd.as_raw_fd(), RUST_EPOLL_CTL_BATCH as _, &mut b as *mut _) };
        if ret < 0 {
            return Err(BatchError {
                applied: 0,
                error: io::Error::last_os_error(),
            });
        }
        if b.error != 0 {
            return Err(BatchError {
                applied: b.applied as usize,
                error: io::Error::from_raw_os_error(-b.error),
            });
        }
        Ok(())
    }

    /// Attempts every operation of `ops` in order (at most [`uapi::RUST_EPOLL_BATCH_MAX`]),
    /// whatever the others' results, and returns each one's result, as `epoll_ctl` would have
    /// given it at that point (`RUST_EPOLL_BATCH_RECEIPT`). The call itself fails only for a
    /// bad batch (empty, too long: `applied` 0).
    pub fn ctl_batch_receipt(&self, ops: &[CtlOp<'_>]) -> Result<Vec<io::Result<()>>, BatchError> {
        let mut raw: Vec<RustEpollCtl> = ops.iter().map(CtlOp::raw).collect();
        let mut b = RustEpollCtlBatch {
            ops: raw.as_mut_ptr() as u64,
            nr_ops: raw.len().try_into().unwrap_or(u32::MAX),
            flags: RUST_EPOLL_BATCH_RECEIPT,
            ..Default::default()
        };
        // SAFETY: `b` and the array it points at (which the kernel writes the results into)
        // are valid for the call.
        let ret = unsafe { libc::ioctl(self.fd.as_raw_fd(), RUST_EPOLL_CTL_BATCH as _, &mut b as *mut _) };
        if ret < 0 {
            return Err(BatchError {
                applied: 0,
                error: io::Error::last_os_error(),
            });
        }
        if b.error != 0 {
            return Err(BatchError {
                applied: b.applied as usize,
                error: io::Error::from_raw_os_error(-b.error),
            });
        }
        Ok(raw
            .iter()
            .map(|c| match c.flags as i32 {
                0 => Ok(()),
                e => Err(io::Error::from_raw_os_error(-e)),
            })
            .collect())
    }

    /// As [`Epoll::wait`], but harvesting in batches (`RUST_EPOLL_WAIT_MIN`): until
    /// `min_wait` has passed it returns only once `min_events` watches are ready; then it
    /// returns what is ready, or waits for the first event. The timeout always applies; a
    /// signal ends the minimum. `min_events` must be 1 ..= `events`' capacity (`EINVAL`).
    pub fn wait_min(
        &self,
        events: &mut Events,
        timeout: Option<Duration>,
        min_events: usize,
        min_wait: Duration,
    ) -> io::Result<usize> {
        let mut w = RustEpollWaitMin {
            wait: wait_args(events, timeout),
            min_events: min_events.try_into().unwrap_or(u32::MAX),
            min_wait_us: min_wait.as_micros().try_into().unwrap_or(u32::MAX),
        };
        // SAFETY: `w` points at `events.buf`, valid for `maxevents` records.
        let n = cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), RUST_EPOLL_WAIT_MIN as _, &mut w as *mut _) })?;
        events.len = n as usize;
        Ok(events.len)
    }

    /// Sets the busy-poll parameters (`EPIOCSPARAMS`), with native epoll's checks: `EINVAL`
    /// for `busy_poll_usecs` above `i32::MAX`, `EPERM` for a budget above 64 without
    /// `CAP_NET_ADMIN`.
    pub fn set_busy_poll_params(&self, p: &BusyPollParams) -> io::Result<()> {
        let raw = RustEpollParams {
            busy_poll_usecs: p.busy_poll_usecs,
            busy_poll_budget: p.busy_poll_budget,
            prefer_busy_poll: p.prefer_busy_poll.into(),
            pad: 0,
        };
        // SAFETY: `raw` is a valid `struct epoll_params` for the call.
        cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), RUST_EPOLL_SPARAMS as _, &raw as *const _) }).map(drop)
    }

    /// The busy-poll parameters (`EPIOCGPARAMS`): all zero on a new instance.
    pub fn busy_poll_params(&self) -> io::Result<BusyPollParams> {
        let mut raw = RustEpollParams::default();
        // SAFETY: `raw` is valid for writes of a `struct epoll_params`.
        cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), RUST_EPOLL_GPARAMS as _, &mut raw as *mut _) })?;
        Ok(BusyPollParams {
            busy_poll_usecs: raw.busy_poll_usecs,
            busy_poll_budget: raw.busy_poll_budget,
            prefer_busy_poll: raw.prefer_busy_poll != 0,
        })
    }
}

/// The WAIT arguments for `events` and `timeout` (nanoseconds, as epoll_pwait2).
fn wait_args(events: &mut Events, timeout: Option<Duration>) -> RustEpollWait {
    RustEpollWait {
        events: events.buf.as_mut_ptr() as u64,
        maxevents: events.buf.len().min(i32::MAX as usize) as i32,
        flags: RUST_EPOLL_WAIT_NSEC,
        timeout_ns: timeout.map_or(-1, |t| t.as_nanos().min(i64::MAX as u128) as i64),
        ..Default::default()
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<Epoll> for OwnedFd {
    fn from(ep: Epoll) -> OwnedFd {
        ep.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_epolls() {
        assert_eq!(EventFlags::IN.bits(), 0x1);
        assert_eq!(EventFlags::ET.bits(), 1 << 31);
        assert_eq!(EventFlags::EXCLUSIVE.bits(), 1 << 28);
    }

    #[test]
    fn timeouts_become_nanoseconds() {
        let mut ev = Events::with_capacity(4);
        assert_eq!(wait_args(&mut ev, None).timeout_ns, -1);
        assert_eq!(wait_args(&mut ev, Some(Duration::ZERO)).timeout_ns, 0);
        assert_eq!(wait_args(&mut ev, Some(Duration::from_micros(1500))).timeout_ns, 1_500_000);
        assert_eq!(wait_args(&mut ev, Some(Duration::MAX)).timeout_ns, i64::MAX);
        assert_eq!(wait_args(&mut ev, None).maxevents, 4);
        assert_eq!(wait_args(&mut ev, None).flags, RUST_EPOLL_WAIT_NSEC);
    }

    #[test]
    fn events_iterate_what_was_reported() {
        let mut ev = Events::with_capacity(0);
        assert_eq!(ev.buf.len(), 1);
        ev.buf = vec![RustEpollEvent { events: 1, data: 5 }, RustEpollEvent { events: 4, data: 6 }];
        ev.len = 1;
        let got: Vec<Event> = ev.iter().collect();
        assert_eq!(got, vec![Event { events: 1, data: 5 }]);
        assert!(got[0].flags().contains(EventFlags::IN));
    }
}
