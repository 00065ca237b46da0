// SPDX-License-Identifier: GPL-2.0

//! Instances inside instances: fs/eventpoll.c's `ep_loop_check`, `ep_loop_check_proc`,
//! `ep_get_upwards_depth_proc`, `EP_MAX_NESTS` and `epnested_mutex`.
//!
//! Which of our instances watch which is kept as a global list of (watcher, watched, watch)
//! edges. Its pointers are only compared, never followed, so an edge can never dangle into a
//! use-after-free; an edge exists from the moment the watch is hooked until the epitem is
//! dropped or the watched instance is freed, whichever comes first (a watch of a closed
//! instance is freed a little later, by its watcher's reap, and the watched instance's memory
//! may be reused by then: the watch's own address, unique while it lives, is what finds its
//! edge). Adding an instance to an instance holds [`EPNESTED`] from the check to the edge's
//! insertion, so two concurrent ADDs cannot close a cycle between them; removing an edge only
//! takes the list's own leaf lock, so it can happen under any eventpoll's `mtx`.
//!
//! Native epoll instances are opaque to us: a chain through one is not seen by the check.
//! Wake-ups along such a chain are cut by a recursion guard instead (`EventPoll::item_ready`).

use kernel::{prelude::*, sync::global_lock};

use crate::{epitem::Epitem, eventpoll::EventPoll};

/// One watch of an instance by an instance: (watcher, watched, the epitem).
type Edge = (usize, usize, usize);

/// How deep instances may nest (`EP_MAX_NESTS`).
pub(crate) const EP_MAX_NESTS: usize = 4;

global_lock! {
    // SAFETY: Initialised by the module initialiser (`init`) before any instance exists.
    pub(crate) unsafe(uninit) static EPNESTED: Mutex<()> = ();
}

global_lock! {
    // SAFETY: As above.
    unsafe(uninit) static EDGES: Mutex<KVec<Edge>> = KVec::new();
}

/// Initialises the global locks.
///
/// # Safety
///
/// Must be called exactly once, before any other function of this file.
pub(crate) unsafe fn init() {
    // SAFETY: Called once, first (our contract).
    unsafe {
        EPNESTED.init();
        EDGES.init();
    }
}

/// Frees the edge list's memory at module unload (a static's destructor never runs).
pub(crate) fn exit() {
    *EDGES.lock() = KVec::new();
}

/// An instance's identity in the edge list: its address, only ever compared.
pub(crate) fn key(ep: &EventPoll) -> usize {
    core::ptr::from_ref(ep) as usize
}

/// Longest chain of instances below `at` (0 if it watches none), or more than `EP_MAX_NESTS`
/// if `into` is found below it (`ep_loop_check_proc`).
fn depth_below(edges: &[Edge], into: usize, at: usize, depth: usize) -> usize {
    let mut result = 0;
    for &(_, child, _) in edges.iter().filter(|(parent, _, _)| *parent == at) {
        result = if child == into || depth > EP_MAX_NESTS {
            EP_MAX_NESTS + 1
        } else {
            result.max(depth_below(edges, into, child, depth + 1) + 1)
        };
        if result > EP_MAX_NESTS {
            break;
        }
    }
    result
}

/// Longest chain of instances above `at` (`ep_get_upwards_depth_proc`); bounded because the
/// graph has no cycles and no chain longer than `EP_MAX_NESTS`.
fn depth_above(edges: &[Edge], at: usize, depth: usize) -> usize {
    if depth > EP_MAX_NESTS {
        return depth;
    }
    edges
        .iter()
        .filter(|(_, child, _)| *child == at)
        .map(|&(parent, _, _)| depth_above(edges, parent, depth + 1) + 1)
        .max()
        .unwrap_or(0)
}

/// `ep_loop_check`: may `to` be added to `ep`? `ELOOP` if that closes a cycle or makes a chain
/// deeper than `EP_MAX_NESTS`. The caller holds [`EPNESTED`] until the edge is added.
pub(crate) fn loop_check(ep: &EventPoll, to: &EventPoll) -> Result {
    let edges = EDGES.lock();
    let depth = depth_below(&edges, key(ep), key(to), 0);
    if depth > EP_MAX_NESTS {
        return Err(ELOOP);
    }
    if depth + 1 + depth_above(&edges, key(ep), 0) > EP_MAX_NESTS {
        return Err(ELOOP);
    }
    Ok(())
}

/// Records that `parent` watches `child` (see [`key`]) through `epi`.
pub(crate) fn add_edge(parent: &EventPoll, child: usize, epi: &Epitem) -> Result {
    EDGES
        .lock()
        .push(
            (key(parent), child, core::ptr::from_ref(epi) as usize),
            GFP_KERNEL_ACCOUNT,
        )
        .map_err(|_| ENOMEM)
}

/// Forgets the edge of `epi`, if its watched instance has not already gone.
pub(crate) fn remove_edge(epi: &Epitem) {
    let epi = core::ptr::from_ref(epi) as usize;
    let mut edges = EDGES.lock();
    if let Some(i) = edges.iter().position(|e| e.2 == epi) {
        // The list is small (nested watches only); order does not matter.
        let _ = edges.remove(i);
    }
}

/// Forgets every watch of `child`, which is being freed.
pub(crate) fn forget_child(child: &EventPoll) {
    let child = key(child);
    EDGES.lock().retain(|e| e.1 != child);
}
