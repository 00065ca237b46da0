// SPDX-License-Identifier: GPL-2.0

//! One watch: fs/eventpoll.c's `struct epitem`, `struct eppoll_entry`,
//! `ep_ptable_queue_proc`, `ep_poll_callback`, `ep_item_poll` and `ep_unregister_pollwait`.
//!
//! An epitem embeds its rb-tree node, its ready-list link, its link on its file's list of
//! watches and, unlike C, the wait entry of the first wait queue its target registers (most
//! files register one); further queues (a pipe registers two) get boxed entries. Epitems come
//! from their own slab cache (`cache.rs`), as C's `epi_cache`.
//!
//! Lifetime: the interest set owns each epitem (`rbtree.rs`). While an epitem has entries on
//! a target's wait queues, `ep_poll_callback` may run on it at any time, in the waker's context
//! (hard IRQ included) and under the target's queue lock. Dropping an epitem therefore first
//! takes every entry off its queue (`remove_wait_queue` takes that same lock, so no callback
//! is running on it afterwards) and then takes it off the ready lists; only then is the memory
//! freed. The target file is not held: its wait queues outlive the entries because the
//! file's release takes them off first, under the lock that dropping the epitem also takes
//! (`release.rs`), except for queues torn down with `POLLFREE`, which the callback handles as C
//! does.
//!
//! Which lock guards which field is written on each field. `events` is written under `mtx`
//! and read by the callback without it, under `ready`, as C reads it under `ep->lock`:
//! `ep_modify`'s `smp_mb()` between the write and the re-poll, and that lock between the
//! waker's store and the callback's read, make one of the two see the event (`ctl.rs`,
//! [`EventPoll::item_ready`]).

use core::{
    cell::{Cell, UnsafeCell},
    ffi::{c_int, c_uint, c_void},
    ptr::{self, NonNull},
};
use kernel::{
    bindings,
    bindings::list_head,
    fs::File,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
    types::Opaque,
};

use crate::{
    eventpoll::EventPoll,
    list::{init_list_head, list_del_init},
    rbtree::FileFd,
    release,
    uapi::*,
    waitqueue::{self, PollTable},
    wakeup::WakeupSource,
};

/// Flag: the target is a native epoll instance (see `EventPoll::poll`).
const NATIVE_EPOLL: u8 = 1;
/// Flag: the target is one of our instances.
const INSTANCE: u8 = 2;

extern "C" {
    // (`file` and `pt` as `void *`: bindgen's `struct file` holds an empty struct, and so does
    // `poll_table` through its queue procedure's `wait_queue_head` on a kernel without lockdep
    // (an empty `lock_class_key`, Debian's), which rustc does not call FFI-safe.)
    fn rust_epoll_item_poll(file: *mut c_void, state: *const i8, pt: *mut c_void) -> c_uint;
}

/// A wait queue that a watch's target registered: fs/eventpoll.c's `struct eppoll_entry`.
#[repr(C)]
pub(crate) struct EppollEntry {
    /// Our entry on the target's queue; its `private` points at the owning [`Epitem`].
    wait: Opaque<bindings::wait_queue_entry>,
    /// The queue `wait` is on, or null when unused or after `POLLFREE` removed it. Written
    /// under the queue's lock (release by the callback, see there), read by `unhook`.
    whead: Atomic<*mut bindings::wait_queue_head>,
}

impl EppollEntry {
    const fn new() -> Self {
        Self {
            wait: Opaque::uninit(),
            whead: Atomic::new(ptr::null_mut()),
        }
    }

    /// Hooks this entry onto `whead` with `ep_poll_callback` (`ep_ptable_queue_proc`).
    ///
    /// # Safety
    ///
    /// The entry must be unused and must not move or be freed until [`Self::unhook`] ran;
    /// `whead` must be a live wait queue; `epi` must outlive the entry's registration.
    unsafe fn hook(&self, whead: *mut bindings::wait_queue_head, epi: &Epitem, exclusive: bool) {
        let wait = self.wait.get();
        // SAFETY: The entry is unused, so not on any queue; `epi` outlives the registration.
        unsafe {
            waitqueue::init_wait_func_entry(
                wait,
                ep_poll_callback,
                ptr::from_ref(epi).cast_mut().cast(),
            )
        };
        self.whead.store(whead, Relaxed);
        // SAFETY: `whead` is live and `wait` initialised; the caller keeps `wait` in place.
        unsafe {
            if exclusive {
                bindings::add_wait_queue_exclusive(whead, wait);
            } else {
                bindings::add_wait_queue(whead, wait);
            }
        }
    }

    /// Takes this entry off its queue, if it is still on one (`ep_remove_wait_queue`).
    fn unhook(&self) {
        // A `POLLFREE` wake-up may clear `whead` and free the queue after an RCU grace period;
        // an RCU read-side section keeps the queue alive between the load and
        // `remove_wait_queue`. Our callers hold a bucket spinlock, whose preemption-off section
        // is one already (RCU's flavours are one since 5.0); with PREEMPT_RT a spinlock does not
        // disable preemption, so an explicit read lock is taken there.
        #[cfg(CONFIG_PREEMPT_RT)]
        let _rcu = kernel::sync::rcu::read_lock();
        // Acquire: pairs with the callback's release store of null (the POLLFREE handshake of
        // fs/eventpoll.c's `ep_remove_wait_queue`, `smp_load_acquire(&pwq->whead)`).
        let whead = self.whead.load(Acquire);
        if !whead.is_null() {
            // SAFETY: `whead` is non-null, so the entry is on that queue, which is alive: the
            // caller holds the bucket lock, and the item is still on its file's list (a plain
            // file's head in the index, an instance's read under the lock), so the target's
            // release, which comes before the file frees its queues, waits for that lock
            // (`release.rs`: `forget` unhooks before it unindexes); and a queue freed by
            // `POLLFREE` clears `whead` first and waits for RCU readers such as this one.
            unsafe { bindings::remove_wait_queue(whead, self.wait.get()) };
            self.whead.store(ptr::null_mut(), Relaxed);
        }
    }
}

/// A wait entry past the inline one: a singly linked chain, 8 bytes in the epitem.
pub(crate) struct OverflowEntry {
    entry: EppollEntry,
    next: Option<Pin<KBox<OverflowEntry>>>,
}

/// One watch: fs/eventpoll.c's `struct epitem`.
#[pin_data(PinnedDrop)]
pub(crate) struct Epitem {
    /// Node in the interest set; under `EventPoll::mtx`.
    #[pin]
    rbn: Opaque<bindings::rb_node>,
    /// Link on the ready, transfer or released list; under `EventPoll::ready`.
    #[pin]
    rdllink: Opaque<list_head>,
    /// Link on the target file's list of watches (`fllink`); written under its bucket lock,
    /// read under RCU alone by the walks of `release.rs`, which also read `ep`.
    #[pin]
    fllink: Opaque<list_head>,
    /// The target's address (`ffd.file`), without a reference: see `release.rs` for when it
    /// may be followed.
    file: usize,
    /// The eventpoll this item belongs to (`epi->ep`); it outlives its items.
    ep: NonNull<EventPoll>,
    /// The user's data (`epi->event.data`); under `mtx`, and with a ring written under `ready`
    /// too (the ring's records are made under `ready`: see [`Self::set_event`]).
    data: UnsafeCell<u64>,
    /// Requested events (`epi->event.events`). Written under `mtx`; read by the callback
    /// without a lock, and by `mtx` holders.
    events: Atomic<u32>,
    /// The fd the target was added by (`ffd.fd`): part of the key, reported in fdinfo.
    fd: i32,
    /// The events of the last wake-up or report that found some (for the debugfs view): the
    /// low 16 bits, where every `EPOLL*` event is (above are epoll's private flags and
    /// `EPOLL_URING_WAKE`, which are not events); under `ready`.
    last_seen: UnsafeCell<u16>,
    /// The number of the last scan during which a wake-up found the item linked (C chains it
    /// on `ovflist` then), cleared when a scan takes it: see `ready.rs`; under `ready`.
    scan_event: UnsafeCell<u32>,
    /// Where the watch is in the release protocol (`release::state`).
    pub(crate) state: Atomic<i8>,
    /// [`NATIVE_EPOLL`], [`INSTANCE`]: set at creation.
    flags: u8,
    /// The first wait queue the target registered (in C, a `pwqlist` entry).
    #[pin]
    pwq: EppollEntry,
    /// Entries past the first, newest first: under `mtx` while hooking, read-only afterwards.
    more: UnsafeCell<Option<Pin<KBox<OverflowEntry>>>>,
    /// The wakeup source of an EPOLLWAKEUP watch (`epi->ws`): see `wakeup.rs`.
    pub(crate) ws: WakeupSource,
    /// The ring's mark of this watch (`ring.rs`): one more than the number of its last record,
    /// 0 if it has none since its ADD or last MOD; under `ready`.
    ring_last: UnsafeCell<u64>,
    /// The target instance, when the target is one of ours (C reaches it as
    /// `epi->ffd.file->private_data` under `mtx`, which its release would take; ours does
    /// not, so the watch holds the instance itself, not its file).
    child: Option<Arc<EventPoll>>,
}

// SAFETY: Every field is atomic, immutable after creation, or guarded by the lock named on it
// (a `list_head`/`rb_node` written only through the functions of its lock; `fllink` is also
// read under RCU alone, through `list_next_rcu`, by the walks of `release.rs`, which its
// writers allow for: `list_add_tail_rcu`, `list_del_rcu`); `ep` points to an eventpoll, which
// is `Sync`.
unsafe impl Send for Epitem {}
// SAFETY: As above.
unsafe impl Sync for Epitem {}

// The `rcu_head` of a dropped item (`Epitem::RCU_OFFSET`) fits over `rbn`, aligned, at an
// offset `kfree_rcu` accepts.
const _: () = {
    assert!(
        core::mem::size_of::<bindings::rb_node>()
            >= core::mem::size_of::<bindings::kvfree_rcu_head>()
    );
    assert!(
        core::mem::offset_of!(Epitem, rbn) % core::mem::align_of::<bindings::kvfree_rcu_head>()
            == 0
    );
    assert!(core::mem::offset_of!(Epitem, rbn) < 4096);
};

impl Epitem {
    /// Where the epitem cache writes a dropped item's `rcu_head` (its memory is freed a grace
    /// period after the drop, for the walks under RCU: `release.rs`): over `rbn`, as C's
    /// `union { struct rb_node rbn; struct rcu_head rcu; }`. An item is out of the interest
    /// set before it is dropped, and nothing reads `rbn` of an item outside it; the walks read
    /// `fllink` and `ep` only.
    pub(crate) const RCU_OFFSET: usize = core::mem::offset_of!(Epitem, rbn);

    /// A new, unhooked watch of `file` (added as `fd`) for `ep`; `child` is the target's
    /// eventpoll when it is one of ours.
    pub(crate) fn new<'a>(
        ep: &'a EventPoll,
        file: &File,
        fd: i32,
        events: u32,
        data: u64,
        child: Option<&EventPoll>,
    ) -> impl PinInit<Self, Error> + use<'a> {
        let flags = if child.is_some() {
            INSTANCE
        } else if crate::device::is_native_epoll(file) {
            NATIVE_EPOLL
        } else {
            0
        };
        let child = child.map(EventPoll::arc);
        let file = file.as_ptr() as usize;
        try_pin_init!(Self {
            rbn: Opaque::uninit(),
            // SAFETY: `slot` is valid for writes.
            rdllink <- Opaque::ffi_init(|slot| unsafe { init_list_head(slot) }),
            // SAFETY: As above.
            fllink <- Opaque::ffi_init(|slot| unsafe { init_list_head(slot) }),
            file,
            ep: NonNull::from(ep),
            data: UnsafeCell::new(data),
            events: Atomic::new(events),
            fd,
            last_seen: UnsafeCell::new(0),
            scan_event: UnsafeCell::new(0),
            state: Atomic::new(release::state::NEW),
            flags,
            pwq: EppollEntry::new(),
            more: UnsafeCell::new(None),
            ws: WakeupSource::none(),
            ring_last: UnsafeCell::new(0),
            child,
        }? Error)
    }

    /// The key in the interest set.
    pub(crate) fn key(&self) -> FileFd {
        FileFd {
            file: self.file,
            fd: self.fd,
        }
    }

    /// A counted reference on the target, unless its release has begun (`epi_fget`).
    pub(crate) fn get_file(&self) -> Option<ARef<File>> {
        release::get_file(self)
    }

    /// The fd the target was added by.
    pub(crate) fn fd(&self) -> i32 {
        self.fd
    }

    /// Requested events, read by an `mtx` holder.
    pub(crate) fn events(&self, _mtx: &crate::rbtree::RbTree) -> u32 {
        // SAFETY: Writers hold `mtx`, which the caller holds too (the tree is the proof), so
        // nothing writes concurrently; concurrent readers only read.
        unsafe { *self.events.as_ptr() }
    }

    /// Requested events, read without `mtx` (the debugfs view, the callback).
    pub(crate) fn events_lockless(&self) -> u32 {
        self.events.load(Relaxed)
    }

    /// The user's data, read by an `mtx` holder.
    pub(crate) fn data(&self, _mtx: &crate::rbtree::RbTree) -> u64 {
        // SAFETY: Under `mtx` (the tree is the proof), which every writer holds.
        unsafe { *self.data.get() }
    }

    /// `ep_modify`'s update: new events and data. The caller issues C's `smp_mb()` before it
    /// re-polls (see `ctl.rs`).
    pub(crate) fn set_event(&self, _mtx: &crate::rbtree::RbTree, events: u32, data: u64) {
        let ep = self.ep();
        if !ep.ring.is_set() {
            // SAFETY: Under `mtx` (the tree is the proof), which every writer of `data` holds;
            // without a ring (which only appears under `mtx`) every reader holds it too.
            unsafe { *self.data.get() = data };
            self.events.store(events, Relaxed);
            return;
        }
        // With a ring, the callback reads `data` under `ready` to make a record: written under
        // it too. The watch's unconsumed record from before the MOD becomes a tombstone, and
        // its next event makes a record with the new data.
        let ready = ep.ready.lock();
        // SAFETY: Under `mtx` and `ready`: no reader of either kind runs concurrently.
        unsafe { *self.data.get() = data };
        self.events.store(events, Relaxed);
        ep.ring.forget(&ready, self);
    }

    /// The user's data, read under `ready` by the ring (see [`Self::set_event`]).
    pub(crate) fn data_ring(&self, _ready: &crate::ready::ReadyList) -> u64 {
        // SAFETY: The ring reads under `ready` only once the instance has a ring, set up under
        // `mtx`; from then on every writer holds `ready` too (`set_event`; `new` writes before
        // the item is reachable).
        unsafe { *self.data.get() }
    }

    /// The ring's mark: one more than the number of the watch's last record (0: none).
    pub(crate) fn ring_mark(&self, _ready: &crate::ready::ReadyList) -> u64 {
        // SAFETY: Under `ready` (the list is the proof), which every writer holds.
        unsafe { *self.ring_last.get() }
    }

    /// Sets the ring's mark (see [`Self::ring_mark`]).
    pub(crate) fn set_ring_mark(&self, _ready: &crate::ready::ReadyList, last: u64) {
        // SAFETY: Under `ready` (the list is the proof); no reference to the cell is held.
        unsafe { *self.ring_last.get() = last };
    }

    /// Disarms a one-shot watch after its report (`epi->event.events &= EP_PRIVATE_BITS`).
    pub(crate) fn disarm(&self, mtx: &crate::rbtree::RbTree) {
        self.events
            .store(self.events(mtx) & EP_PRIVATE_BITS, Relaxed);
    }

    /// The events of the last wake-up or report that found some.
    pub(crate) fn last_seen(&self, _ready: &crate::ready::ReadyList) -> u32 {
        // SAFETY: Under `ready` (the list is the proof), which every writer holds.
        u32::from(unsafe { *self.last_seen.get() })
    }

    /// Records events seen for the debugfs view.
    pub(crate) fn set_last_seen(&self, _ready: &crate::ready::ReadyList, events: u32) {
        // SAFETY: Under `ready` (the list is the proof). The truncation keeps every event.
        unsafe { *self.last_seen.get() = events as u16 };
    }

    /// The number of the last scan during which a wake-up found the item linked (0: none
    /// since a scan last took it).
    pub(crate) fn scan_event(&self, _ready: &crate::ready::ReadyList) -> u32 {
        // SAFETY: Under `ready` (the list is the proof), which every writer holds.
        unsafe { *self.scan_event.get() }
    }

    /// Sets the item's scan mark (see [`Self::scan_event`]).
    pub(crate) fn set_scan_event(&self, _ready: &crate::ready::ReadyList, scan: u32) {
        // SAFETY: Under `ready` (the list is the proof); no reference to the cell is held.
        unsafe { *self.scan_event.get() = scan };
    }

    /// Whether the target is one of our instances.
    pub(crate) fn targets_instance(&self) -> bool {
        self.flags & INSTANCE != 0
    }

    /// Whether the target is a native epoll instance.
    pub(crate) fn targets_native_epoll(&self) -> bool {
        self.flags & NATIVE_EPOLL != 0
    }

    /// Whether the target's release took this watch: for userspace it is gone (native epoll
    /// removes it in `eventpoll_release_file`), only its memory waits for the reap. Racy
    /// against a release in progress, which may as well have come after the caller's look.
    pub(crate) fn is_released(&self) -> bool {
        self.state.load(Relaxed) == release::state::RELEASED
    }

    /// The target instance, if the target is one of ours. It may have been released (then it
    /// is empty); its memory lives as long as this watch.
    pub(crate) fn child(&self) -> Option<&EventPoll> {
        self.child.as_deref()
    }

    pub(crate) fn rbn(&self) -> *mut bindings::rb_node {
        self.rbn.get()
    }

    pub(crate) fn rdllink(&self) -> *mut list_head {
        self.rdllink.get()
    }

    pub(crate) fn fllink(&self) -> *mut list_head {
        self.fllink.get()
    }

    /// The epitem that embeds `node`.
    ///
    /// # Safety
    ///
    /// `node` must be the `rbn` of an `Epitem`.
    pub(crate) unsafe fn from_rbn(node: *mut bindings::rb_node) -> *const Epitem {
        // SAFETY: `rbn` is a field of `Epitem`, `Opaque` is `repr(transparent)`.
        unsafe { node.byte_sub(core::mem::offset_of!(Epitem, rbn)).cast() }
    }

    /// The epitem that embeds `link`.
    ///
    /// # Safety
    ///
    /// `link` must be the `rdllink` of a live `Epitem`.
    pub(crate) unsafe fn from_rdllink(link: *mut list_head) -> NonNull<Epitem> {
        // SAFETY: `rdllink` is a field of `Epitem`; the result is non-null as `link` is.
        unsafe {
            NonNull::new_unchecked(link.byte_sub(core::mem::offset_of!(Epitem, rdllink)).cast())
        }
    }

    /// The epitem that embeds `link`.
    ///
    /// # Safety
    ///
    /// `link` must be the `fllink` of an `Epitem` that lives for `'a`.
    pub(crate) unsafe fn from_fllink<'a>(link: *mut list_head) -> &'a Epitem {
        // SAFETY: `fllink` is a field of `Epitem`; alive for `'a` (caller's contract).
        unsafe {
            &*link
                .byte_sub(core::mem::offset_of!(Epitem, fllink))
                .cast::<Epitem>()
        }
    }

    /// The eventpoll of the epitem whose `fllink` is `link`, read through raw pointers, never
    /// a reference to the item: for a walk under RCU (`release.rs`), which may find an item
    /// that is being dropped. The drop leaves `ep` as it was, and the memory stays until the
    /// walk's read-side section ends; the eventpoll outlives that too.
    ///
    /// # Safety
    ///
    /// `link` is the `fllink` of an epitem whose memory, and whose eventpoll, stay alive for
    /// `'a`.
    pub(crate) unsafe fn ep_of_fllink<'a>(link: *mut list_head) -> &'a EventPoll {
        // SAFETY: `fllink` is a field of `Epitem`; the item's memory is alive and `ep` is
        // never written after creation (caller's contract); so is the eventpoll it points to.
        unsafe {
            let epi = link
                .byte_sub(core::mem::offset_of!(Epitem, fllink))
                .cast::<Epitem>();
            (*core::ptr::addr_of!((*epi).ep)).as_ref()
        }
    }

    pub(crate) fn ep(&self) -> &EventPoll {
        // SAFETY: The eventpoll outlives its items (it empties its interest set before it is
        // freed, see `EventPoll::clear`), and it is pinned.
        unsafe { self.ep.as_ref() }
    }

    /// Polls the target for its current events, masked by the requested ones (`ep_item_poll`
    /// without a queue procedure). A target being released has none. Caller holds `mtx` at
    /// nesting `depth` (see `mutex.rs`), the tree being the proof. Inline: it is WAIT's
    /// per-item step, and out of line it cost a frame and a poll table's set-up per item.
    #[inline]
    pub(crate) fn poll(&self, mtx: &crate::rbtree::RbTree, depth: u32) -> u32 {
        let events = self.events(mtx);
        let mut pt = PollTable::new(None, events);
        if !self.targets_instance() {
            // One call for C's `epi_fget()` + `vfs_poll()` + `fput()` (see `helpers.c`).
            // SAFETY: `file` and `state` are this watch's; the helper dereferences the file
            // only once it holds a reference, taken as `get_file` does.
            return unsafe {
                rust_epoll_item_poll(
                    self.file as *mut c_void,
                    self.state.as_ptr(),
                    pt.as_raw().cast(),
                )
            } & events;
        }
        let Some(file) = self.get_file() else {
            return 0;
        };
        poll_file(&file, &mut pt, depth) & events
    }

    /// Polls the target with our queue procedure, so that it hooks this item onto each of its
    /// wait queues (the `ep_item_poll` call of `ep_insert`). Returns the ready events, or
    /// `ENOMEM` if an entry could not be allocated (the item is then partly hooked; dropping
    /// it unhooks it).
    ///
    /// Caller holds `mtx` (at `depth`) and a reference on `file`, the target; the item is in
    /// the interest set, where it stays pinned, and on its file's list.
    ///
    /// # Safety
    ///
    /// Called at most once per item (`ep_insert`'s one hooking poll): the inline entry is
    /// taken by the first queue the target registers, without a record of it in the item.
    pub(crate) unsafe fn hook(
        &self,
        mtx: &crate::rbtree::RbTree,
        file: &File,
        depth: u32,
    ) -> Result<u32> {
        let events = self.events(mtx);
        let state = HookState {
            inline_used: Cell::new(false),
            failed: Cell::new(false),
        };
        let mut epq = EpPqueue {
            pt: PollTable::new(Some(ep_ptable_queue_proc), events),
            epi: self,
            state: &state,
        };
        let revents = poll_file(file, &mut epq.pt, depth) & events;
        if state.failed.get() {
            return Err(ENOMEM);
        }
        Ok(revents)
    }

    /// Takes every entry off its wait queue (`ep_unregister_pollwait`). Called once, under
    /// the bucket lock, by whichever of the target's release and the item's drop comes first.
    pub(crate) fn unhook(&self) {
        // SAFETY: `more` is written only by `queue` during `hook`, which ends before the item's
        // `ctl` returns its reference on the target; until then neither release (the target is
        // held) nor drop (`mtx` is held) can be here. Afterwards it is only read.
        let mut more = unsafe { (*self.more.get()).as_deref() };
        // The inline entry, if it was never hooked, has a null `whead` (as one that a
        // `POLLFREE` took off its queue): `unhook` leaves it alone.
        self.pwq.unhook();
        while let Some(o) = more {
            o.entry.unhook();
            more = o.next.as_deref();
        }
    }

    /// Registers this item on one more of its target's wait queues, with `state`, that of its
    /// one [`Self::hook`].
    ///
    /// # Safety
    ///
    /// Called only from `ep_ptable_queue_proc` during [`Self::hook`] (so under `mtx`), with a
    /// live `whead`.
    unsafe fn queue(&self, state: &HookState, whead: *mut bindings::wait_queue_head, events: u32) {
        // SAFETY: Under `mtx` (caller's contract): exclusive access to this cell.
        let more = unsafe { &mut *self.more.get() };
        // (C's `ep_ptable_queue_proc` gives up likewise once an allocation failed: it clears
        // `epq->epi`.)
        if state.failed.get() {
            return;
        }
        let exclusive = events & EPOLLEXCLUSIVE != 0;
        // `hook` runs once per item, so the inline entry is free until this hook used it.
        let pwq: &EppollEntry = if !state.inline_used.get() {
            state.inline_used.set(true);
            &self.pwq
        } else {
            let entry = OverflowEntry {
                entry: EppollEntry::new(),
                next: more.take(),
            };
            match KBox::pin(entry, GFP_KERNEL_ACCOUNT) {
                Ok(b) => &more.insert(b).entry,
                Err(_) => {
                    state.failed.set(true);
                    return;
                }
            }
        };
        // SAFETY: `pwq` is unused (just counted in), pinned inside this pinned item or its
        // box, and unhooked before either is freed; `whead` is live (caller's contract).
        unsafe { pwq.hook(whead, self, exclusive) };
    }
}

#[pinned_drop]
impl PinnedDrop for Epitem {
    /// `ep_remove`: first no callback can run on the item and the target's release cannot
    /// find it, then it is off the ready lists: after both, nothing but this owner refers to
    /// it.
    fn drop(self: Pin<&mut Self>) {
        release::forget(&self);
        {
            let mut ready = self.ep().ready.lock();
            ready.as_mut().remove(&self);
            // A record in the ring becomes a tombstone.
            self.ep().ring.forget(&ready, &self);
        }
        // A released watch was uncharged by its release; a new one (never indexed, an ADD
        // undone) or a deleted one is uncharged now.
        // SAFETY: Nothing writes `state` of an item off every list (after `forget`): a plain
        // load.
        if unsafe { *self.state.as_ptr() } != release::state::RELEASED {
            self.ep().user.uncharge();
        }
    }
}

/// `vfs_poll`, except that one of our instances is polled directly, one nesting level below
/// the caller's (`ep_item_poll` calls `__ep_eventpoll_poll` with `depth + 1` likewise).
fn poll_file(file: &File, pt: &mut PollTable, depth: u32) -> u32 {
    match crate::device::instance_of(file) {
        // SAFETY: `file` is that instance's file, held by the caller; `pt` is a valid table.
        Some(child) => unsafe { child.poll(file.as_ptr(), pt.as_raw(), depth + 1) },
        None => waitqueue::vfs_poll(file, pt),
    }
}

/// The poll table of `ep_insert` with the item it is registering (`struct ep_pqueue`), and
/// what its queue procedure has done so far.
#[repr(C)]
struct EpPqueue<'a> {
    pt: PollTable,
    epi: &'a Epitem,
    state: &'a HookState,
}

/// What the queue procedure of one [`Epitem::hook`] has done so far: on the hook's stack,
/// reached through a shared reference (the poll table is all the procedure is given).
struct HookState {
    /// Whether the item's inline entry (`pwq`) is taken.
    inline_used: Cell<bool>,
    /// Set when registering on a queue failed (out of memory): the insert is undone (C clears
    /// `epq->epi`).
    failed: Cell<bool>,
}

/// Called by the target's `poll` for each wait queue it would wake (`ep_ptable_queue_proc`).
///
/// # Safety
///
/// `pt` must be the `pt` of an `EpPqueue` passed to `vfs_poll` by [`Epitem::hook`], and
/// `whead` a live wait queue of the target.
unsafe extern "C" fn ep_ptable_queue_proc(
    _file: *mut bindings::file,
    whead: *mut bindings::wait_queue_head,
    pt: *mut bindings::poll_table,
) {
    // SAFETY: `pt` is the first field of a `repr(C)` `EpPqueue` (`PollTable` is transparent),
    // alive for the duration of `vfs_poll`, which is calling us.
    let epq = unsafe { &*pt.cast::<EpPqueue<'_>>() };
    // SAFETY: `_key` holds the requested events (set by `PollTable::new`).
    let events = unsafe { (*pt)._key };
    // SAFETY: We are inside `Epitem::hook` (under `mtx`) and `whead` is live.
    unsafe { epq.epi.queue(epq.state, whead, events) };
}

/// The wake function of every wait entry (`ep_poll_callback`): runs when a target wakes one
/// of the queues a watch is hooked on, in the waker's context with that queue's lock held,
/// maybe in hard IRQ. Puts the item on the ready list and wakes a waiter and the pollers.
///
/// # Safety
///
/// `wait` must be the `wait` of an [`EppollEntry`] hooked by [`EppollEntry::hook`], whose
/// `private` is its live epitem; the caller holds the queue's lock.
unsafe extern "C" fn ep_poll_callback(
    wait: *mut bindings::wait_queue_entry,
    _mode: c_uint,
    sync: c_int,
    key: *mut c_void,
) -> c_int {
    // The key is a poll mask cast to a pointer (`key_to_poll`); it fits in 32 bits.
    let pollflags = key as usize as u32;
    // SAFETY: `private` was set to the epitem by `hook`, and the epitem outlives the entry's
    // time on the queue (it unhooks before it is freed; unhooking takes the queue lock that
    // our caller holds).
    let epi = unsafe { &*(*wait).private.cast::<Epitem>() };
    // SAFETY: The target is alive while one of its queues is being woken: the release hook
    // unhooks this entry, under the lock our caller holds, before the file's `->release()`.
    unsafe { epi.ep().note_napi_id(epi.key().file as *mut bindings::file) };
    // The item's events are read, and a wake-up it does not want ignored, under `ready`.
    let (events, woke_waiter) = epi.ep().item_ready(epi, pollflags, sync != 0);
    let mut ewake = 0;
    if woke_waiter && events & EPOLLEXCLUSIVE != 0 && pollflags & POLLFREE == 0 {
        // With EPOLLEXCLUSIVE, tell the waker we consumed its wake-up only when the event is
        // one this item asked for, so that it wakes the next exclusive entry otherwise.
        ewake = match pollflags & EPOLLINOUT_BITS {
            EPOLLIN => c_int::from(events & EPOLLIN != 0),
            EPOLLOUT => c_int::from(events & EPOLLOUT != 0),
            0 => 1,
            _ => 0,
        };
    }
    // EPOLLEXCLUSIVE is fixed for a watch's life (MOD refuses it): the value read is current.
    if events & EPOLLEXCLUSIVE == 0 {
        ewake = 1;
    }

    if pollflags & POLLFREE != 0 {
        // The queue is being freed (e.g. signalfd's at exec or exit). Leave it now and clear
        // `whead` with release semantics (C's `smp_store_release(&pwq->whead, NULL)`): the
        // owner may free the queue after an RCU grace period, and `unhook` must then see null
        // and not touch it. `list_del_init` tolerates a second delete by an `unhook` that
        // loaded `whead` before this store and waits for the queue lock we hold.
        // SAFETY: `wait` is on the queue whose lock our caller holds; `__wake_up_common`
        // tolerates the current entry removing itself. `EppollEntry` is `repr(C)` with `wait`
        // first, and `Opaque` is transparent, so the cast finds its entry.
        unsafe {
            list_del_init(ptr::addr_of_mut!((*wait).entry));
            (*wait.cast::<EppollEntry>())
                .whead
                .store(ptr::null_mut(), Release);
        }
    }
    ewake
}

// A watch with its inline wait entry, its file's share of a per-file head, the wakeup source
// pointer and the ring's mark stays within native epoll's 128-byte epitem plus one 48-byte
// eppoll_entry.
const _: () = assert!(core::mem::size_of::<Epitem>() <= 176);
