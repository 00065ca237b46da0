// SPDX-License-Identifier: GPL-2.0

//! The shared ready ring: new, with no counterpart in fs/eventpoll.c. (The nearest is the 2019
//! upstream proposal "epoll: support mapping for epfd", edge-triggered only, never merged.)
//!
//! An instance may be given a ring (RUST_EPOLL_RING_SETUP, with a power-of-two number of
//! entries); its file then maps it (`mmap`, `MAP_SHARED`, offset 0): a header and an array of
//! records in `struct epoll_event`'s layout. The wake-up callback (`ep_poll_callback`, through
//! [`EventPoll::item_ready`]) appends a record for a watch in ring mode instead of putting it on
//! the ready list, and userspace harvests records by advancing the header's head, without a
//! system call.
//!
//! # Which watches
//!
//! A watch is in ring mode when its instance has a ring and its events have `EPOLLET`, without
//! `EPOLLONESHOT` or `EPOLLWAKEUP`. Edge-triggered, because a record is made once, in the
//! waker's context, from the wake-up's own mask; a level-triggered watch must be re-polled at
//! every harvest, which needs the kernel. Not one-shot, because disarming is a write of the
//! requested events that MOD races with, done under `mtx` at the report; not EPOLLWAKEUP,
//! because its wakeup source is held until the report, which the kernel does not see. The other
//! watches of the instance, and wake-ups without a poll mask (the callback cannot poll the
//! target under its queue lock) or with `POLLFREE`, take the ready list as without a ring.
//!
//! # Header and records
//!
//! `head` (offset 0) is written by userspace, `tail` (64) and `flags` and `overflow` (128, 132)
//! by the kernel, `entries` (192) once at setup; records start at 256. Head and tail are free
//! running 32-bit counters; record `i` is at index `i & (entries - 1)`.
//!
//! # Producer and consumer
//!
//! Producers are the callbacks, serialised by `ready`. The kernel keeps its own count of the
//! records appended (`seq`, 64 bits: the tail is its low half) and never reads the tail back;
//! it reads only the head, which it clamps: a head more than `entries` behind the tail, or
//! ahead of it, counts as "nothing consumed". So a hostile head can make the ring look full or
//! non-empty, never make the kernel write outside it, and nothing here loops.
//!
//! - The producer loads the head with acquire (pairing with the consumer's release of it:
//!   the consumer's reads of a slot happen before the slot is written again), writes the record
//!   with relaxed (`WRITE_ONCE`) stores, then stores the tail with release.
//! - The consumer loads the tail with acquire (pairing with that release: the records up to it
//!   are complete), copies the records, then publishes the head with release (the C helpers
//!   use a compare-and-swap, so several consumer threads may share a ring).
//! - A watch is appended at most once until consumed (see [`RingSlot::offer`]): a later
//!   wake-up whose events its unconsumed record carries is merged into it. That is safe only if
//!   a consumer that has moved the head past the record and then reads the target finds the
//!   new data, or else the callback sees the moved head: the store-buffering shape, so both
//!   sides put a full barrier between their store and their load: the consumer after
//!   publishing the head and before acting on the records (the helpers' seq_cst fence), the
//!   callback after the waker's state change (made before the wake-up) and before loading the
//!   head (`smp_mb()` here).
//!
//! # Memory
//!
//! `Vmalloc` with `GFP_KERNEL_ACCOUNT | __GFP_ZERO`: charged to the caller's memory cgroup,
//! which `vmalloc_user()` (no GFP argument) cannot be; so the pages are mapped one by one with
//! `vm_insert_page()`, as `remap_vmalloc_range()` would for a `VM_USERMAP` area.
//!
//! # Lifetime
//!
//! The ring is set once, under `mtx` and `ready`, and freed with the instance. A mapping holds
//! the instance's file (`vm_file`), which holds the instance: the memory outlives every
//! mapping, whichever of `close` and `munmap` comes last, and a mapping inherited by `fork`.

use core::{alloc::Layout, cell::UnsafeCell, mem::offset_of, ptr::NonNull};
use kernel::{
    alloc::{allocator::Vmalloc, Allocator, NumaNode},
    mm::virt::{flags as vm, VmaNew},
    page::{page_align, PAGE_SIZE},
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        barrier::{smp_mb, Full},
    },
    uaccess::{UserPtr, UserSlice},
};

use crate::{epitem::Epitem, eventpoll::EventPoll, ready::ReadyList, uapi::*};

/// What [`RingSlot::offer`] did with a wake-up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Not the ring's: the ready list takes it, as without a ring.
    Normal,
    /// Appended as a record: waiters and pollers are woken as for the ready list.
    Appended,
    /// The watch's unconsumed record carries these events already: nothing to do.
    Merged,
}

/// One ring: its memory, shared with userspace, and the producer's private state.
///
/// # Invariants
///
/// `mem` is a zeroed `Vmalloc` allocation of `layout` (page aligned, at least
/// `RING_RECORDS_OFF + entries` records), owned by this value; `entries` is a power of two, and
/// `recorded` has `entries` elements.
struct Ring {
    mem: NonNull<u8>,
    layout: Layout,
    entries: u32,
    /// Records appended since setup (the tail is its low 32 bits); under `ready`.
    seq: UnsafeCell<u64>,
    /// Wake-ups that found the ring full; under `ready`.
    overflow: UnsafeCell<u32>,
    /// The events of the record in each slot, as the kernel wrote them (userspace may change
    /// its copy); under `ready`. Kept here rather than in each watch, which has only its
    /// mark: a watch's unconsumed record is still in its slot.
    recorded: UnsafeCell<KVVec<u32>>,
}

// SAFETY: The memory is owned by the ring; the cells are touched under `ready` only, and the
// shared words only through atomics.
unsafe impl Send for Ring {}
// SAFETY: As above.
unsafe impl Sync for Ring {}

impl Ring {
    /// A zeroed ring of `entries` records (a power of two), charged to the caller's memcg.
    fn new(entries: u32) -> Result<Self> {
        let bytes = RING_RECORDS_OFF + entries as usize * core::mem::size_of::<EpollEvent>();
        let bytes = page_align(bytes).ok_or(EINVAL)?;
        let layout = Layout::from_size_align(bytes, PAGE_SIZE).map_err(|_| EINVAL)?;
        // No warning: a size the caller may choose failing in its memory cgroup is its ENOMEM.
        let gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN;
        let recorded = KVVec::from_elem(0, entries as usize, GFP_KERNEL_ACCOUNT)?;
        let mem = Vmalloc::alloc(layout, gfp, NumaNode::NO_NODE)?;
        // INVARIANT: zeroed, of `layout`, with room for the header and `entries` records;
        // `recorded` has `entries` elements.
        let ring = Self {
            mem: mem.cast(),
            layout,
            entries,
            seq: UnsafeCell::new(0),
            overflow: UnsafeCell::new(0),
            recorded: UnsafeCell::new(recorded),
        };
        ring.word(RING_ENTRIES_OFF).store(entries, Relaxed);
        Ok(ring)
    }

    /// The shared 32-bit word at byte offset `off`, which must be 4-aligned and inside the
    /// header or a record (callers pass the header's offsets, or a record's, whose index is
    /// masked by `entries - 1`).
    fn word(&self, off: usize) -> &Atomic<u32> {
        // SAFETY: `off` is 4-aligned and in bounds (caller's contract, above), and the memory
        // lives as long as `self`. The kernel accesses it only through atomics; userspace may
        // write any value at any time, which an atomic load tolerates (every `u32` is valid).
        unsafe { Atomic::from_ptr(self.mem.as_ptr().add(off).cast::<u32>()) }
    }

    /// Records appended so far; caller holds `ready` (the list is the proof).
    fn seq(&self, _ready: &ReadyList) -> u64 {
        // SAFETY: Only accessed under `ready`, which the caller holds.
        unsafe { *self.seq.get() }
    }

    /// The consumer's head as a record number: userspace's 32-bit head, trusted only within
    /// `[seq - entries, seq]`; anything else counts as nothing consumed (the oldest record that
    /// can still be in the ring). Caller holds `ready`.
    fn head(&self, ready: &ReadyList) -> u64 {
        let seq = self.seq(ready);
        // Acquire: pairs with the consumer's release of the head (its reads of the records
        // before it are done before we write those slots again).
        let head = self.word(RING_HEAD_OFF).load(Acquire);
        let used = u64::from((seq as u32).wrapping_sub(head));
        seq - used.min(u64::from(self.entries)).min(seq)
    }

    /// The index of record `n`'s slot.
    fn index(&self, n: u64) -> usize {
        (n as u32 & (self.entries - 1)) as usize
    }

    /// The byte offset of record `n`'s slot.
    fn slot(&self, n: u64) -> usize {
        RING_RECORDS_OFF + self.index(n) * core::mem::size_of::<EpollEvent>()
    }

    /// The events the kernel wrote in record `n`'s slot; caller holds `ready`.
    fn recorded(&self, _ready: &ReadyList, n: u64) -> u32 {
        // SAFETY: Only accessed under `ready`, which the caller holds; no reference into the
        // vector outlives these methods.
        let recorded = unsafe { &*self.recorded.get() };
        recorded.get(self.index(n)).copied().unwrap_or(0)
    }

    /// Appends a record for `events` and `data`; caller holds `ready` and has checked room.
    fn append(&self, ready: &ReadyList, events: u32, data: u64) -> u64 {
        let seq = self.seq(ready);
        let rec = self.slot(seq);
        let d = rec + offset_of!(EpollEvent, data);
        let b = data.to_ne_bytes();
        // `WRITE_ONCE`s: the data as two 32-bit halves in memory order (it is only 4-aligned
        // in the packed x86-64 layout).
        self.word(rec).store(events, Relaxed);
        self.word(d)
            .store(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]), Relaxed);
        self.word(d + 4)
            .store(u32::from_ne_bytes([b[4], b[5], b[6], b[7]]), Relaxed);
        // SAFETY: Under `ready`, which the caller holds; no other reference to the cells.
        let recorded = unsafe { &mut *self.recorded.get() };
        if let Some(e) = recorded.get_mut(self.index(seq)) {
            *e = events;
        }
        // SAFETY: As above, for `seq`.
        unsafe { *self.seq.get() = seq + 1 };
        // Release: the record is complete before the consumer can see the new tail.
        self.word(RING_TAIL_OFF).store((seq + 1) as u32, Release);
        seq
    }

    /// Counts a wake-up that found the ring full, in the header too; caller holds `ready`.
    fn count_overflow(&self, _ready: &ReadyList) {
        // SAFETY: Under `ready`, which the caller holds.
        let n = unsafe {
            let o = &mut *self.overflow.get();
            *o = o.wrapping_add(1);
            *o
        };
        self.word(RING_OVERFLOW_OFF).store(n, Relaxed);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: Allocated by `Vmalloc` with `layout` (type invariant), freed once, here; no
        // mapping is left (each holds the instance's file, and so the instance).
        unsafe { Vmalloc::free(self.mem, self.layout) };
    }
}

/// An instance's ring, if it has one (`EventPoll::ring`).
pub(crate) struct RingSlot {
    /// Null until set up, then a `KBox<Ring>` leaked until the slot drops. Set once, under
    /// `mtx` and `ready`, with release: a reader under either lock, or one that loads it with
    /// acquire, sees the ring complete.
    ring: Atomic<*mut Ring>,
}

impl RingSlot {
    /// No ring.
    pub(crate) const fn new() -> Self {
        Self {
            ring: Atomic::new(core::ptr::null_mut()),
        }
    }

    fn get(&self) -> Option<&Ring> {
        let p = self.ring.load(Acquire);
        // SAFETY: Non-null: a ring leaked by `setup`, freed only when the slot drops.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// The ring, read by a holder of `ready` (the list being the proof). The hot paths (every
    /// wake-up, every hint) come here: a plain load, not the atomic helper's call.
    fn locked(&self, _ready: &ReadyList) -> Option<&Ring> {
        // SAFETY: Under `ready`, which the only writer (`ring_setup`) holds: a plain load,
        // and the ring it points to was complete before that writer released `ready`.
        let p = unsafe { *self.ring.as_ptr() };
        // SAFETY: Non-null: a ring leaked by `setup`, freed only when the slot drops.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Whether the instance has a ring. Stable under `mtx` (set up under it).
    pub(crate) fn is_set(&self) -> bool {
        !self.ring.load(Relaxed).is_null()
    }

    /// A wake-up of `epi` (requested `events`, the wake-up's `pollflags`), under `ready`:
    /// appends a record if the watch is in ring mode, not already pending on the ready lists,
    /// has no unconsumed record, and the ring has room. An unconsumed record that carries the
    /// events already takes the wake-up (merged); one that lacks some of them sends the watch
    /// to the ready list, where WAIT reports it re-polled (the watch then appears in both).
    pub(crate) fn offer(
        &self,
        ready: &ReadyList,
        epi: &Epitem,
        events: u32,
        pollflags: u32,
    ) -> Offer {
        let Some(ring) = self.locked(ready) else {
            return Offer::Normal;
        };
        if events & (EPOLLET | EPOLLONESHOT | EPOLLWAKEUP) != EPOLLET || pollflags & POLLFREE != 0 {
            return Offer::Normal;
        }
        let want = pollflags & events & !EP_PRIVATE_BITS;
        if want == 0 || ready.is_linked(epi) {
            return Offer::Normal;
        }
        // The waker changed the target's state before waking; a consumer publishes its head
        // before reading that state: see the module doc. fs/eventpoll.c has no counterpart
        // (the ring is ours); this is the store-buffering pattern `smp_mb__after_spinlock()`
        // serves in `try_to_wake_up()`.
        smp_mb(Full);
        let head = ring.head(ready);
        let last = epi.ring_mark(ready);
        if last > head {
            // Its record `last - 1` is not consumed yet, so still in its slot.
            return if want & !ring.recorded(ready, last - 1) == 0 {
                Offer::Merged
            } else {
                Offer::Normal
            };
        }
        if ring.seq(ready) - head >= u64::from(ring.entries) {
            ring.count_overflow(ready);
            return Offer::Normal;
        }
        let n = ring.append(ready, want, epi.data_ring(ready));
        epi.set_ring_mark(ready, n + 1);
        Offer::Appended
    }

    /// `epi` is being modified, deleted or released (under `ready`): its unconsumed record, if
    /// any, becomes a tombstone (events 0, which the helpers skip), and its next wake-up makes
    /// a new record. A consumer that copied the record before this is not stopped.
    pub(crate) fn forget(&self, ready: &ReadyList, epi: &Epitem) {
        let Some(ring) = self.locked(ready) else {
            return;
        };
        let last = epi.ring_mark(ready);
        if last == 0 {
            return;
        }
        epi.set_ring_mark(ready, 0);
        // `last - 1` is at least `head`, itself at least `seq - entries`: its slot still holds
        // it (only producers write slots, and we hold their lock).
        if last > ring.head(ready) {
            ring.word(ring.slot(last - 1)).store(0, Relaxed);
        }
    }

    /// Whether records wait in the ring (WAIT does not sleep then); caller holds `ready`.
    pub(crate) fn pending(&self, ready: &ReadyList) -> bool {
        self.locked(ready)
            .is_some_and(|ring| ring.seq(ready) != ring.head(ready))
    }

    /// Mirrors `EventPoll::ready_hint` to the header's `RUST_EPOLL_RING_NEED_WAIT`; under
    /// `ready`, where the hint is written.
    pub(crate) fn mirror_hint(&self, ready: &ReadyList, hint: bool) {
        if let Some(ring) = self.locked(ready) {
            let flags = if hint { RING_NEED_WAIT } else { 0 };
            ring.word(RING_FLAGS_OFF).store(flags, Relaxed);
        }
    }
}

impl Drop for RingSlot {
    fn drop(&mut self) {
        let p = *self.ring.get_mut();
        if !p.is_null() {
            // SAFETY: Leaked by `setup` with `KBox::into_raw`, dropped once, here.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

impl EventPoll {
    /// RUST_EPOLL_RING_SETUP: gives the instance a ring of `entries` records (a power of two,
    /// at most `RING_MAX_ENTRIES`) and reports the size to map. EINVAL for a bad size or
    /// flags, EBUSY if it has one already, ENOMEM, EFAULT.
    pub(crate) fn ring_setup(&self, arg: usize) -> Result<isize> {
        let args = crate::read_arg::<RingSetupArgs>(arg)?;
        if args.flags != 0 || !args.entries.is_power_of_two() || args.entries > RING_MAX_ENTRIES {
            return Err(EINVAL);
        }
        // Under `mtx`: MOD writes a watch's data under `ready` too once there is a ring
        // (`Epitem::set_event`), and decides so under `mtx`.
        let tree = self.lock_tree(0);
        if self.ring.is_set() {
            return Err(EBUSY);
        }
        let ring = KBox::new(Ring::new(args.entries)?, GFP_KERNEL_ACCOUNT)?;
        let size = ring.layout.size() as u64;
        let at = arg + offset_of!(RingSetupArgs, mmap_size);
        UserSlice::new(UserPtr::from_addr(at), 8)
            .writer()
            .write(&size)?;
        {
            let _ready = self.ready.lock();
            let hint = self.ready_hint.load(Relaxed);
            ring.word(RING_FLAGS_OFF)
                .store(if hint { RING_NEED_WAIT } else { 0 }, Relaxed);
            self.ring.ring.store(KBox::into_raw(ring), Release);
        }
        drop(tree);
        Ok(0)
    }

    /// `f_op->mmap`: maps the ring, shared, from offset 0, never executable.
    pub(crate) fn ring_mmap(&self, vma: &VmaNew) -> Result {
        let ring = self.ring.get().ok_or(ENODEV)?;
        // A private mapping would copy the header on the consumer's first write of the head.
        if vma.flags() & vm::SHARED == 0 {
            return Err(EINVAL);
        }
        // SAFETY: The VMA is being set up by this mmap, which holds the mmap lock.
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
        let len = vma.end() - vma.start();
        if pgoff != 0 || len > ring.layout.size() {
            return Err(EINVAL);
        }
        vma.try_clear_mayexec()?;
        vma.set_dontexpand();
        let map = vma.set_mixedmap();
        for off in (0..len).step_by(PAGE_SIZE) {
            // SAFETY: `off` is inside the ring's `Vmalloc` allocation, which outlives this
            // call (the instance's file is held by our caller).
            let page = unsafe { Vmalloc::to_page(ring.mem.add(off)) };
            // The mapping takes its own reference on the page.
            map.vm_insert_page(vma.start() + off, &page)?;
        }
        Ok(())
    }
}
