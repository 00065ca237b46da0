//! The shared ready ring: events harvested without a system call (README, "The ready ring").
//!
//! [`Epoll::setup_ring`] gives an instance its ring and maps it; [`Ring::pop`] and the
//! [`Ring::drain`] iterator consume its records. Only edge-triggered watches (without
//! `ONESHOT` or `WAKEUP`) have their events there; everything else, and what did not fit, is
//! reported by [`Epoll::wait`] as usual, which [`Ring::needs_wait`] signals. `wait` returns 0 at
//! once while the ring holds records, and sleeps only when the ring and the ready list are both
//! empty, so a consumer loop is: drain the ring; if it was empty, or `needs_wait()`, wait.
//!
//! ```no_run
//! use rust_epoll::{Epoll, EventFlags, Events};
//! use std::os::unix::net::UnixStream;
//!
//! let ep = Epoll::new()?;
//! let ring = ep.setup_ring(256)?;
//! let (a, b) = UnixStream::pair()?;
//! ep.add(&b, EventFlags::IN | EventFlags::ET, 7)?;
//! # drop(a);
//! let mut events = Events::with_capacity(64);
//! loop {
//!     let mut got = 0;
//!     for event in ring.drain() {
//!         got += 1;
//!         // read from the watch named by event.data() until EAGAIN
//!     }
//!     if got == 0 || ring.needs_wait() {
//!         ep.wait(&mut events, None)?; // returns 0 when records arrive in the ring
//!         for event in &events { /* ... */ }
//!     }
//! #   break;
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::{cvt, uapi::*, Epoll, Event};
use std::{
    io,
    mem::{offset_of, size_of},
    os::fd::AsRawFd,
    ptr::NonNull,
    sync::atomic::{fence, AtomicU32, Ordering},
};

/// An instance's ring, mapped. Several threads may consume from it at once (the head moves by
/// compare-and-swap). The mapping keeps the instance alive, even after its [`Epoll`] is dropped.
#[derive(Debug)]
pub struct Ring {
    map: NonNull<u8>,
    len: usize,
    /// `entries - 1`, from the setup: the mapping's own `entries` word is not trusted.
    mask: u32,
}

// SAFETY: The mapping is shared memory that every access goes through atomics; nothing in it
// is tied to a thread.
unsafe impl Send for Ring {}
// SAFETY: As above; concurrent consumers are part of the protocol (compare-and-swap).
unsafe impl Sync for Ring {}

impl Epoll {
    /// Gives this instance a ring of `entries` records (a power of two, at most
    /// [`RUST_EPOLL_RING_MAX_ENTRIES`]) and maps it. Once per instance: then `EBUSY`.
    pub fn setup_ring(&self, entries: u32) -> io::Result<Ring> {
        let mut s = RustEpollRingSetup {
            entries,
            ..Default::default()
        };
        // SAFETY: `s` is a valid `rust_epoll_ring_setup` for the duration of the call.
        cvt(unsafe { libc::ioctl(self.as_raw_fd(), RUST_EPOLL_RING_SETUP as _, &mut s as *mut _) })?;
        let len = usize::try_from(s.mmap_size).map_err(io::Error::other)?;
        // SAFETY: A new shared mapping of the instance's ring; the result is checked.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Ring {
            map: NonNull::new(map.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))?,
            len,
            mask: entries - 1,
        })
    }
}

impl Ring {
    /// The shared word at byte offset `off` (4-aligned, inside the mapping).
    fn word(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off.is_multiple_of(4) && off + 4 <= self.len);
        // SAFETY: `off` is 4-aligned and inside the mapping (callers pass the header's offsets
        // or a masked record's), which lives as long as `self`; the kernel writes these words
        // with atomic stores, and every access here is atomic.
        unsafe { &*self.map.as_ptr().add(off).cast::<AtomicU32>() }
    }

    /// Reads record `n` (masked into the ring).
    fn record(&self, n: u32) -> Event {
        let rec = RUST_EPOLL_RING_RECORDS_OFF + (n & self.mask) as usize * size_of::<RustEpollEvent>();
        let d = rec + offset_of!(RustEpollEvent, data);
        let (lo, hi) = (self.word(d).load(Ordering::Relaxed), self.word(d + 4).load(Ordering::Relaxed));
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&lo.to_ne_bytes());
        b[4..].copy_from_slice(&hi.to_ne_bytes());
        Event {
            events: self.word(rec).load(Ordering::Relaxed),
            data: u64::from_ne_bytes(b),
        }
    }

    /// Consumes the next record, if any (tombstones, the records of watches modified, deleted
    /// or closed before they were consumed, are skipped).
    pub fn pop(&self) -> Option<Event> {
        let head_word = self.word(offset_of!(RustEpollRing, head));
        let mut head = head_word.load(Ordering::Relaxed);
        loop {
            // Acquire: the kernel stores the tail with release after the records.
            let tail = self.word(offset_of!(RustEpollRing, tail)).load(Ordering::Acquire);
            if tail == head {
                return None;
            }
            let event = self.record(head);
            match head_word.compare_exchange(head, head.wrapping_add(1), Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    // Before the caller acts on the record: a later event of the same watch is
                    // merged into an unconsumed record, so the kernel must see the head moved,
                    // or the caller's read of the watched file must see the event.
                    fence(Ordering::SeqCst);
                    if event.events != 0 {
                        return Some(event);
                    }
                    head = head.wrapping_add(1);
                }
                Err(current) => head = current,
            }
        }
    }

    /// An iterator that consumes records until the ring is empty.
    pub fn drain(&self) -> Drain<'_> {
        Drain { ring: self }
    }

    /// How many records wait (a snapshot, tombstones included).
    pub fn len(&self) -> usize {
        let tail = self.word(offset_of!(RustEpollRing, tail)).load(Ordering::Acquire);
        let head = self.word(offset_of!(RustEpollRing, head)).load(Ordering::Acquire);
        tail.wrapping_sub(head) as usize
    }

    /// Whether no record waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`Epoll::wait`] has events that are not in the ring (other watches, or ones that
    /// found the ring full).
    pub fn needs_wait(&self) -> bool {
        self.word(offset_of!(RustEpollRing, flags)).load(Ordering::Relaxed) & RUST_EPOLL_RING_NEED_WAIT != 0
    }

    /// How many wake-ups found the ring full (a wrapping count).
    pub fn overflow_count(&self) -> u32 {
        self.word(offset_of!(RustEpollRing, overflow)).load(Ordering::Relaxed)
    }

    /// The number of records the ring holds.
    pub fn capacity(&self) -> usize {
        self.mask as usize + 1
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: Our mapping, of `len` bytes, unmapped once; no reference into it outlives
        // `self` (every borrow is tied to it).
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.len) };
    }
}

/// Consumes a [`Ring`]'s records until it is empty (see [`Ring::drain`]).
pub struct Drain<'a> {
    ring: &'a Ring,
}

impl Iterator for Drain<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.ring.pop()
    }
}
