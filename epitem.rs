// SPDX-License-Identifier: GPL-2.0

//! One watch: fs/eventpoll.c's `struct epitem`, `struct eppoll_entry`,
//! `ep_ptable_queue_proc`, `ep_poll_callback` and `ep_unregister_pollwait`.
//!
//! An epitem embeds its rb-tree node, its ready-list link and, unlike C, room for the wait
//! entries of the first [`INLINE_WAITS`] wait queues its target registers (a pipe registers
//! two, most files one), so a watch is one allocation; further queues get boxed entries.
//!
//! Lifetime: the interest set owns each epitem (`rbtree.rs`). While an epitem has entries on
//! a target's wait queues, `ep_poll_callback` may run on it at any time, in the waker's context
//! (hard IRQ included) and under the target's queue lock. Dropping an epitem therefore first
//! takes every entry off its queue (`remove_wait_queue` takes that same lock, so no callback
//! is running on it afterwards) and then takes it off the ready list; only then is the memory
//! freed. The target file is not held: its wait queues outlive the entries because the
//! file's release takes them off first (`release.rs`), except for queues torn down with
//! `POLLFREE`, which the callback handles as C does.

use core::{
    cell::UnsafeCell,
    ffi::{c_int, c_uint, c_void},
    ptr::{self, NonNull},
    sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering},
};
use kernel::{
    bindings,
    fs::File,
    prelude::*,
    sync::{aref::ARef, rcu},
    types::Opaque,
};

use crate::{
    eventpoll::EventPoll,
    rbtree::FileFd,
    ready::{list_del_init, list_init},
    release,
    uapi::*,
    waitqueue::{self, PollTable},
};

/// Wait entries embedded in each epitem; more are boxed.
pub(crate) const INLINE_WAITS: usize = 2;

/// Flag: the target is a native epoll instance (see `EventPoll::poll`).
const NATIVE_EPOLL: u8 = 1;
/// Flag: the target is one of our instances (its nesting edge is keyed by this item).
const INSTANCE: u8 = 2;

/// A wait queue that a watch's target registered: fs/eventpoll.c's `struct eppoll_entry`.
#[repr(C)]
pub(crate) struct EppollEntry {
    /// Our entry on the target's queue; its `private` points at the owning [`Epitem`].
    wait: Opaque<bindings::wait_queue_entry>,
    /// The queue `wait` is on, or null when unused or after `POLLFREE` removed it.
    whead: AtomicPtr<bindings::wait_queue_head>,
}

impl EppollEntry {
    const fn new() -> Self {
        Self {
            wait: Opaque::uninit(),
            whead: AtomicPtr::new(ptr::null_mut()),
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
        self.whead.store(whead, Ordering::Relaxed);
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
        // the read lock keeps the queue alive between the load and `remove_wait_queue`.
        let _rcu = rcu::read_lock();
        let whead = self.whead.load(Ordering::Acquire);
        if !whead.is_null() {
            // SAFETY: `whead` is non-null, so the entry is on that queue, which is alive: the
            // target file is held, and a queue freed by `POLLFREE` clears `whead` first and
            // waits for RCU readers such as this one.
            unsafe { bindings::remove_wait_queue(whead, self.wait.get()) };
            self.whead.store(ptr::null_mut(), Ordering::Relaxed);
        }
    }
}

/// A wait entry past the inline ones: a singly linked chain, 8 bytes in the epitem.
pub(crate) struct OverflowEntry {
    entry: EppollEntry,
    next: Option<Pin<KBox<OverflowEntry>>>,
}

/// One watch: fs/eventpoll.c's `struct epitem`.
#[pin_data(PinnedDrop)]
pub(crate) struct Epitem {
    /// Node in the interest set; owned by `EventPoll::mtx`.
    #[pin]
    rbn: Opaque<bindings::rb_node>,
    /// Link on the ready list or the transfer list; under `EventPoll::ready`.
    #[pin]
    rdllink: Opaque<bindings::list_head>,
    /// The target's address (`ffd.file`), without a reference: see `release.rs` for when it
    /// may be followed.
    file: usize,
    /// The fd the target was added by (`ffd.fd`): part of the key, reported in fdinfo.
    fd: i32,
    /// The eventpoll this item belongs to (`epi->ep`); it outlives its items.
    ep: NonNull<EventPoll>,
    /// Requested events (`epi->event.events`). Written under `mtx`, read by the callback.
    events: AtomicU32,
    /// The user's data (`epi->event.data`).
    data: AtomicU64,
    /// The events of the last wake-up or poll that found some (for the debugfs view).
    last_seen: AtomicU32,
    /// The wait queues the target registered (`epi->pwqlist`); written only while the target
    /// is polled with our queue procedure in `ep_insert`, under `mtx`.
    #[pin]
    pwqs: [EppollEntry; INLINE_WAITS],
    /// Entries past `INLINE_WAITS`, newest first: under `mtx`.
    more: UnsafeCell<Option<Pin<KBox<OverflowEntry>>>>,
    /// How many inline entries are hooked: under `mtx`.
    nwait: UnsafeCell<u8>,
    /// Set when registering on a queue failed (out of memory): the insert is undone.
    failed: UnsafeCell<bool>,
    /// [`NATIVE_EPOLL`], [`INSTANCE`]: one byte, so that a watch fits kmalloc-192.
    flags: AtomicU8,
    /// Where the watch is in the release protocol (`release::state`); under `release::RELEASE`.
    pub(crate) state: AtomicU8,
    /// The next epitem in the index bucket or, once released, on the eventpoll's released
    /// list; under `release::RELEASE`.
    pub(crate) flnext: AtomicPtr<Epitem>,
}

// SAFETY: Fields shared with `ep_poll_callback` are atomics or behind the ready lock; the
// rest is only touched under the eventpoll's `mtx`. `ep` points to a `Sync` eventpoll.
unsafe impl Send for Epitem {}
// SAFETY: As above.
unsafe impl Sync for Epitem {}

impl Epitem {
    /// A new, unhooked watch of `file` (added as `fd`) for `ep`.
    pub(crate) fn new<'a>(
        ep: &'a EventPoll,
        file: &File,
        fd: i32,
        events: u32,
        data: u64,
        native_epoll: bool,
    ) -> impl PinInit<Self, Error> + use<'a> {
        let flags = if native_epoll {
            NATIVE_EPOLL
        } else if crate::device::instance_of(file).is_some() {
            INSTANCE
        } else {
            0
        };
        let file = file.as_ptr() as usize;
        try_pin_init!(Self {
            rbn: Opaque::uninit(),
            // SAFETY: `slot` is valid for writes.
            rdllink <- Opaque::ffi_init(|slot| unsafe { list_init(slot) }),
            file,
            fd,
            ep: NonNull::from(ep),
            events: AtomicU32::new(events),
            data: AtomicU64::new(data),
            last_seen: AtomicU32::new(0),
            pwqs: [EppollEntry::new(), EppollEntry::new()],
            more: UnsafeCell::new(None),
            nwait: UnsafeCell::new(0),
            failed: UnsafeCell::new(false),
            flags: AtomicU8::new(flags),
            state: AtomicU8::new(release::state::NEW),
            flnext: AtomicPtr::new(ptr::null_mut()),
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

    /// Requested events.
    pub(crate) fn events(&self) -> u32 {
        self.events.load(Ordering::Relaxed)
    }

    /// The user's data.
    pub(crate) fn data(&self) -> u64 {
        self.data.load(Ordering::Relaxed)
    }

    /// Sets events and data (`ep_modify`; caller holds `mtx`). The full barrier orders the
    /// store against the re-poll that follows, pairing with the callback's read (as the
    /// `smp_mb()` in C's `ep_modify`).
    pub(crate) fn set_event(&self, events: u32, data: u64) {
        self.data.store(data, Ordering::Relaxed);
        self.events.store(events, Ordering::SeqCst);
    }

    /// The events of the last wake-up or poll that reported some.
    pub(crate) fn last_seen(&self) -> u32 {
        self.last_seen.load(Ordering::Relaxed)
    }

    /// Whether the target is one of our instances.
    pub(crate) fn targets_instance(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & INSTANCE != 0
    }

    /// The target instance, from inside its wake-up of its pollers, which the callback is
    /// (see `EventPoll::item_ready`); `None` if the target is not one of ours.
    pub(crate) fn waking_instance(&self) -> Option<&EventPoll> {
        if !self.targets_instance() {
            return None;
        }
        let f = self.file as *mut bindings::file;
        // SAFETY: The target instance is waking its `poll_wait`, where this item's entry is:
        // its file is not released (release unhooks the entry first, under that queue's lock,
        // which the wake-up holds), and an instance's `private_data` is its eventpoll, which
        // lives as long as the file.
        Some(unsafe { &*(*f).private_data.cast::<EventPoll>() })
    }

    /// Whether the target is a native epoll instance.
    pub(crate) fn targets_native_epoll(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & NATIVE_EPOLL != 0
    }

    /// Disarms a one-shot watch after its report: only the private bits remain.
    pub(crate) fn disarm(&self) {
        self.events.fetch_and(EP_PRIVATE_BITS, Ordering::Relaxed);
    }

    pub(crate) fn rbn(&self) -> *mut bindings::rb_node {
        self.rbn.get()
    }

    pub(crate) fn rdllink(&self) -> *mut bindings::list_head {
        self.rdllink.get()
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
    pub(crate) unsafe fn from_rdllink(link: *mut bindings::list_head) -> NonNull<Epitem> {
        // SAFETY: `rdllink` is a field of `Epitem`; the result is non-null as `link` is.
        unsafe {
            NonNull::new_unchecked(link.byte_sub(core::mem::offset_of!(Epitem, rdllink)).cast())
        }
    }

    pub(crate) fn ep(&self) -> &EventPoll {
        // SAFETY: The eventpoll outlives its items (it empties its interest set before it is
        // freed), and it is pinned.
        unsafe { self.ep.as_ref() }
    }

    /// Polls the target for its current events, masked by the requested ones (`ep_item_poll`
    /// without a queue procedure). A target being released has none. `depth` is the nesting
    /// depth of the `mtx` the caller holds (see `mutex.rs`).
    pub(crate) fn poll(&self, depth: u32) -> u32 {
        let Some(file) = self.get_file() else {
            return 0;
        };
        let events = self.events();
        let mut pt = PollTable::new(None, events);
        let revents = poll_file(&file, &mut pt, depth) & events;
        if revents != 0 {
            self.last_seen.store(revents, Ordering::Relaxed);
        }
        revents
    }

    /// Polls the target with our queue procedure, so that it hooks this item onto each of its
    /// wait queues (the `ep_item_poll` call of `ep_insert`). Returns the ready events, or
    /// `ENOMEM` if an entry could not be allocated (the item is then partly hooked; dropping
    /// it unhooks it).
    ///
    /// Caller holds `mtx` (at `depth`) and a reference on `file`, the target; the item is in
    /// the interest set, where it stays pinned, and in the release index.
    pub(crate) fn hook(&self, file: &File, depth: u32) -> Result<u32> {
        let events = self.events();
        let mut epq = EpPqueue {
            pt: PollTable::new(Some(ep_ptable_queue_proc), events),
            epi: self,
        };
        let revents = poll_file(file, &mut epq.pt, depth) & events;
        if revents != 0 {
            self.last_seen.store(revents, Ordering::Relaxed);
        }
        // SAFETY: `failed` is only touched under `mtx`, which our caller holds.
        if unsafe { *self.failed.get() } {
            return Err(ENOMEM);
        }
        Ok(revents)
    }

    /// Takes every entry off its wait queue (`ep_unregister_pollwait`). Called once, under
    /// `release::RELEASE`, by whichever of the target's release and the item's drop comes
    /// first.
    pub(crate) fn unhook(&self) {
        // SAFETY: `nwait` and `more` are written only by `queue` during `hook`, which ends
        // before the item's `ctl` returns its reference on the target; until then neither
        // release (the target is held) nor drop (`mtx` is held) can be here. Afterwards they
        // are only read.
        let (nwait, mut more) = unsafe { (*self.nwait.get(), (*self.more.get()).as_deref()) };
        for pwq in self.pwqs.iter().take(usize::from(nwait)) {
            pwq.unhook();
        }
        while let Some(o) = more {
            o.entry.unhook();
            more = o.next.as_deref();
        }
    }

    /// Registers this item on one more of its target's wait queues.
    ///
    /// # Safety
    ///
    /// Called only from `ep_ptable_queue_proc` during [`Self::hook`] (so under `mtx`), with a
    /// live `whead`.
    unsafe fn queue(&self, whead: *mut bindings::wait_queue_head) {
        // SAFETY: Under `mtx` (caller's contract): exclusive access to these cells.
        let (nwait, more, failed) = unsafe {
            (
                &mut *self.nwait.get(),
                &mut *self.more.get(),
                &mut *self.failed.get(),
            )
        };
        if *failed {
            return;
        }
        let exclusive = self.events() & EPOLLEXCLUSIVE != 0;
        let pwq: &EppollEntry = if let Some(pwq) = self.pwqs.get(usize::from(*nwait)) {
            *nwait += 1;
            pwq
        } else {
            let entry = OverflowEntry {
                entry: EppollEntry::new(),
                next: more.take(),
            };
            match KBox::pin(entry, GFP_KERNEL_ACCOUNT) {
                Ok(b) => &more.insert(b).entry,
                Err(_) => {
                    *failed = true;
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
    fn drop(self: Pin<&mut Self>) {
        // First no callback can run on the item and the target's release cannot find it,
        // then it is off the ready list: after both, nothing but this owner refers to it.
        release::forget(&self);
        self.ep().ready.lock().as_mut().remove(&self);
        self.ep().user.uncharge();
        if self.targets_instance() {
            // A no-op if the insert failed before the edge was added.
            crate::nesting::remove_edge(&self);
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

/// The poll table of `ep_insert` with the item it is registering (`struct ep_pqueue`).
#[repr(C)]
struct EpPqueue<'a> {
    pt: PollTable,
    epi: &'a Epitem,
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
    // SAFETY: We are inside `Epitem::hook` (under `mtx`) and `whead` is live.
    unsafe { epq.epi.queue(whead) };
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
    _sync: c_int,
    key: *mut c_void,
) -> c_int {
    // The key is a poll mask cast to a pointer (`key_to_poll`); it fits in 32 bits.
    let pollflags = key as usize as u32;
    // SAFETY: `private` was set to the epitem by `hook`, and the epitem outlives the entry's
    // time on the queue (it unhooks before it is freed; unhooking takes the queue lock that
    // our caller holds).
    let epi = unsafe { &*(*wait).private.cast::<Epitem>() };
    let events = epi.events();
    let mut ewake = 0;
    if pollflags != 0 {
        epi.last_seen.store(pollflags, Ordering::Relaxed);
    }

    // A disarmed one-shot item, or a wake-up for events it does not want, is ignored.
    if events & !EP_PRIVATE_BITS != 0 && (pollflags == 0 || pollflags & events != 0) {
        let woke_waiter = epi.ep().item_ready(epi);
        if woke_waiter && events & EPOLLEXCLUSIVE != 0 && pollflags & POLLFREE == 0 {
            // With EPOLLEXCLUSIVE, tell the waker we consumed its wake-up only when the event
            // is one this item asked for, so that it wakes the next exclusive entry otherwise.
            ewake = match pollflags & EPOLLINOUT_BITS {
                EPOLLIN => c_int::from(events & EPOLLIN != 0),
                EPOLLOUT => c_int::from(events & EPOLLOUT != 0),
                0 => 1,
                _ => 0,
            };
        }
    }
    if events & EPOLLEXCLUSIVE == 0 {
        ewake = 1;
    }

    if pollflags & POLLFREE != 0 {
        // The queue is being freed (e.g. signalfd's at exec or exit). Leave it now and clear
        // `whead` with release semantics: the owner may free the queue after an RCU grace
        // period, and `unhook` must then see null and not touch it.
        // SAFETY: `wait` is on the queue whose lock our caller holds; `__wake_up_common`
        // tolerates the current entry removing itself. `EppollEntry` is `repr(C)` with `wait`
        // first, and `Opaque` is transparent, so the cast finds its entry.
        unsafe {
            list_del_init(ptr::addr_of_mut!((*wait).entry));
            (*wait.cast::<EppollEntry>())
                .whead
                .store(ptr::null_mut(), Ordering::Release);
        }
    }
    ewake
}
// A watch with its two inline wait entries fits kmalloc-192 (native epoll: a 128-byte epitem
// plus a 48-byte eppoll_entry per wait queue, from their own caches).
const _: () = assert!(core::mem::size_of::<Epitem>() <= 192);
