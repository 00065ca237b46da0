// SPDX-License-Identifier: GPL-2.0

//! Instances inside instances: fs/eventpoll.c's `ep_ctl_lock`'s full check, `ep_loop_check`,
//! `ep_loop_check_proc`, `ep_get_upwards_depth_proc`, `loop_check_gen`, `EP_MAX_NESTS`,
//! `epnested_mutex` and the `tfile_check_list` of `struct ep_ctl_ctx`.
//!
//! As in C, the graph of our instances is not kept anywhere but in the instances themselves:
//! the downward walk goes through each instance's interest set under its `mtx` (taken at its
//! depth as lockdep subclass), the upward walk through the watches of each instance's file
//! (`release.rs`), under RCU as C's. Both are memoized with the generation `loop_check_gen`:
//! an instance visited once in a check is not walked again (its depth is remembered), so a
//! check is linear in the instances and watches it can reach, however many paths lead through
//! them.
//!
//! A full check (adding an instance, or adding anything to an instance that is itself watched
//! or is being visited by a check in flight) runs under [`EPNESTED`] from the checks to the
//! new watch, so that no two ADDs can together do what each alone may not. The generation is
//! bumped at the start of a check and again at its end, so `ep.gen == loop_check_gen` is true
//! exactly while a check that visited `ep` is in flight: an ADD to such an instance waits for
//! that check (`ep_ctl_lock`), and so counts the paths the check is about to add.
//!
//! Native epoll instances are opaque to us: a chain through one is not seen by the check,
//! and a native target is neither walked nor counted as a leaf. Wake-ups along a cycle through
//! one are deferred to a work item, which does not defer what comes back to it
//! (`EventPoll::item_ready`).

use core::ptr;
use kernel::{
    fs::File,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Acquire, Atomic, Relaxed, Release},
        global_lock, GlobalGuard,
    },
};

use crate::{eventpoll::EventPoll, release};

/// How deep instances may nest (`EP_MAX_NESTS`).
pub(crate) const EP_MAX_NESTS: usize = 4;

global_lock! {
    // SAFETY: Initialised by the module initialiser (`init`) before any instance exists.
    pub(crate) unsafe(uninit) static EPNESTED: Mutex<()> = ();
}

/// `loop_check_gen`: bumped under [`EPNESTED`] at the start and at the end of each full check;
/// read without it by `ep_ctl_lock`'s test. Both bumps are release stores, read by that test
/// with acquire: whoever sees a check ended sees the watches it made (see `in_check`).
static LOOP_CHECK_GEN: Atomic<u64> = Atomic::new(0);

/// Initialises the global lock.
///
/// # Safety
///
/// Must be called exactly once, before any other function of this file.
pub(crate) unsafe fn init() {
    // SAFETY: Called once, first (our contract).
    unsafe { EPNESTED.init() };
}

/// The memo of one instance in the check in flight (`ep->gen`, `ep->loop_check_depth`).
pub(crate) struct LoopMemo {
    /// The generation of the last check that visited the instance; read without [`EPNESTED`].
    gen: Atomic<u64>,
    /// The depth found below (or above) the instance in that check; under [`EPNESTED`].
    depth: Atomic<i32>,
}

impl LoopMemo {
    pub(crate) const fn new() -> Self {
        Self {
            gen: Atomic::new(0),
            depth: Atomic::new(0),
        }
    }

    /// Whether a check in flight has visited the instance (`ep->gen == loop_check_gen`).
    /// Read without `EPNESTED`, under the instance's `mtx` (the caller's, `ep_ctl_lock`): a
    /// check's loop walk visits the instance under that `mtx`, so its mark is seen here (the
    /// upward depth walk marks instances without it, as C's does: harmless, a mark seen here
    /// only sends the ADD through the full check, and the race below is the loop walk's);
    /// `false` then means either no check visited it, or the check that did has ended.
    /// Acquire: in the second case every watch that check made (of this instance above all)
    /// is visible to the caller's loads that follow. (Pairs with the release store of
    /// `FullCheck::drop`.)
    pub(crate) fn in_check(&self) -> bool {
        self.gen.load(Relaxed) == LOOP_CHECK_GEN.load(Acquire)
    }

    /// The remembered depth, if the instance was visited by this check.
    fn get(&self, check: &FullCheck<'_>) -> Option<usize> {
        // SAFETY: Every write of `gen` and `depth` holds `EPNESTED`, as the check does (it is
        // the proof): nothing writes them meanwhile. (Plain loads: this runs once per
        // instance and watch the check reaches.)
        unsafe { (*self.gen.as_ptr() == check.gen).then(|| *self.depth.as_ptr() as usize) }
    }

    /// Marks the instance visited by this check. (A store others may read: `in_check`.)
    fn visit(&self, check: &FullCheck<'_>) {
        self.gen.store(check.gen, Relaxed);
    }

    /// Remembers the depth found.
    fn set(&self, _check: &FullCheck<'_>, depth: usize) {
        // SAFETY: `depth` is only read and written under `EPNESTED` (the check is the proof).
        unsafe { *self.depth.as_ptr() = depth as i32 };
    }
}

/// A full check in flight: [`EPNESTED`] held, and what `struct ep_ctl_ctx` carries.
pub(crate) struct FullCheck<'a> {
    _nested: GlobalGuard<EPNESTED>,
    /// This check's `loop_check_gen`.
    gen: u64,
    /// The instance being added to (`ctx->inserting_into`); only compared.
    inserting_into: *const EventPoll,
    /// Files whose wake-up paths the new watch may add to (`tfile_check_list`), each held so
    /// that it is not released before it is checked.
    files: KVVec<ARef<File>>,
    _ep: core::marker::PhantomData<&'a EventPoll>,
}

impl<'a> FullCheck<'a> {
    /// Starts a full check of an ADD to `ep`: takes [`EPNESTED`] and a new generation.
    pub(crate) fn begin(ep: &'a EventPoll) -> Self {
        let nested = EPNESTED.lock();
        let gen = LOOP_CHECK_GEN.load(Relaxed).wrapping_add(1);
        // Release too: a reader that sees this generation (and so not an earlier check's)
        // sees what the earlier checks did, through `EPNESTED` (see `in_check`).
        LOOP_CHECK_GEN.store(gen, Release);
        Self {
            _nested: nested,
            gen,
            inserting_into: ep,
            files: KVVec::new(),
            _ep: core::marker::PhantomData,
        }
    }

    /// `ep_loop_check`: may `to` be added to the instance of this check? `ELOOP` if that
    /// closes a cycle or makes a chain deeper than `EP_MAX_NESTS`. Collects the files below
    /// `to`, whose wake-up paths the new watch lengthens.
    pub(crate) fn loop_check(&mut self, ep: &EventPoll, to: &EventPoll) -> Result {
        let depth = self.loop_check_proc(to, 0)?;
        if depth > EP_MAX_NESTS {
            return Err(ELOOP);
        }
        // Under RCU, as C's (`rcu_read_lock()` around `ep_get_upwards_depth_proc`).
        let walk = release::Walk::new();
        let up = self.upwards_depth_proc(&walk, ep, 0);
        drop(walk);
        if depth + 1 + up > EP_MAX_NESTS {
            return Err(ELOOP);
        }
        Ok(())
    }

    /// `ep_loop_check_proc`: the depth of the chains below `ep` (0 if it watches no instance),
    /// or more than `EP_MAX_NESTS` if the instance being added to is below it. `depth` is how
    /// many instances above `ep` the walk is.
    fn loop_check_proc(&mut self, ep: &EventPoll, depth: usize) -> Result<usize> {
        if let Some(d) = ep.memo().get(self) {
            return Ok(d);
        }
        let tree = ep.lock_tree((depth + 1) as u32);
        ep.memo().visit(self);
        let mut result = 0;
        // The last leaf file listed from this instance.
        let mut listed = 0;
        for epi in tree.iter() {
            // A watch whose target was closed is gone (native epoll removed it in `__fput`),
            // though the reap has not freed it yet: it makes no chain, or the depth below a
            // closed instance would still count until the reap ran (a spurious ELOOP).
            if epi.is_released() {
                continue;
            }
            if let Some(below) = epi.child() {
                // An instance whose release has begun is empty, or nearly: walking it is
                // harmless, and removing links cannot make a cycle or a longer chain.
                result = if ptr::eq(below, self.inserting_into) || depth > EP_MAX_NESTS {
                    EP_MAX_NESTS + 1
                } else {
                    result.max(self.loop_check_proc(below, depth + 1)? + 1)
                };
                if result > EP_MAX_NESTS {
                    break;
                }
            } else if !epi.targets_native_epoll() && epi.key().file != listed {
                // A leaf (not an epoll file, ours or native): its wake-up paths get longer
                // (`list_file`). Once per file from each instance: a file's watches are
                // adjacent in the tree (by file, then fd), and one file dup'ed N times and
                // each descriptor watched is N of them, which C lists once (its head's
                // `next` marks it listed), without an allocation or a reference per watch.
                listed = epi.key().file;
                if let Some(file) = epi.get_file() {
                    self.files.push(file, GFP_KERNEL)?;
                }
            }
        }
        ep.memo().set(self, result);
        Ok(result)
    }

    /// `ep_get_upwards_depth_proc`: the depth of the chains above `ep`. The graph already
    /// obeys the limits, so this is at most `EP_MAX_NESTS`; a walk deeper than that (which
    /// cannot happen) counts as too deep.
    fn upwards_depth_proc<'w>(
        &self,
        walk: &'w release::Walk,
        ep: &'w EventPoll,
        depth: usize,
    ) -> usize {
        if let Some(d) = ep.memo().get(self) {
            return d;
        }
        if depth > EP_MAX_NESTS {
            return EP_MAX_NESTS + 1;
        }
        let mut result = 0;
        let res = walk.watchers(ep, |above| {
            result = result.max(self.upwards_depth_proc(walk, above, depth + 1) + 1);
            Ok(())
        });
        if res.is_err() {
            result = EP_MAX_NESTS + 1;
        }
        ep.memo().visit(self);
        ep.memo().set(self, result);
        result
    }

    /// Adds the target of a new watch of a plain file to the files to check (`list_file` of
    /// `ep_register_epitem`).
    pub(crate) fn list_file(&mut self, file: &File) -> Result {
        Ok(self.files.push(file.into(), GFP_KERNEL)?)
    }

    /// `reverse_path_check`: every listed file still within epoll's path limits, once the new
    /// watch is in the index. `EINVAL` if not.
    pub(crate) fn reverse_path_check(&mut self) -> Result {
        // Each file once, as C's list holds each head once.
        heapsort_by_address(&mut self.files);
        let mut last = 0;
        for file in self.files.iter() {
            let addr = file.as_ptr() as usize;
            if addr != last {
                release::reverse_path_check(addr)?;
                last = addr;
            }
        }
        Ok(())
    }
}

/// Sorts files by address, in place, in O(n log n) and without allocating. (Written out:
/// `core`'s sorts compile to code that objtool rejects in a module.)
fn heapsort_by_address(v: &mut [ARef<File>]) {
    let key = |v: &[ARef<File>], i: usize| v[i].as_ptr() as usize;
    let sift_down = |v: &mut [ARef<File>], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && key(v, child) < key(v, child + 1) {
            child += 1;
        }
        if key(v, root) >= key(v, child) {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    for i in (0..v.len() / 2).rev() {
        sift_down(v, i, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

impl Drop for FullCheck<'_> {
    /// `ep_ctl_unlock`: the listed files are put, and the generation bumped again so that no
    /// instance looks visited by a check in flight, before [`EPNESTED`] is released. Release:
    /// the watch this check added is indexed before the bump can be seen (`in_check`).
    fn drop(&mut self) {
        self.files.clear();
        LOOP_CHECK_GEN.store(LOOP_CHECK_GEN.load(Relaxed).wrapping_add(1), Release);
    }
}
