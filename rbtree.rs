// SPDX-License-Identifier: GPL-2.0

//! The interest set: fs/eventpoll.c's `ep->rbr`, `ep_find`, `ep_rbtree_insert` and
//! `ep_cmp_ffd`, over the kernel's own `rb_root`.
//!
//! Each [`Epitem`] embeds its `rb_node`, so a watch is one allocation, as in C. The tree owns
//! its items: [`RbTree::insert`] takes a `Pin<CacheBox<Epitem>>` (from the epitem cache,
//! `cache.rs`) and [`RbTree::remove`] gives it back. `kernel::rbtree` allocates its own node
//! per entry, which is why this file exists.
//! The tree lives inside the eventpoll's `mtx`, so `&mut RbTree` means "ctl is serialised".

use core::{cmp::Ordering, ptr};
use kernel::{bindings, prelude::*};

use crate::{cache::CacheBox, epitem::Epitem};

/// An epitem owned outside the tree.
pub(crate) type EpitemBox = Pin<CacheBox<Epitem>>;

/// The key of a watch (`struct epoll_filefd`): the target file and the fd it was added by.
/// Ordered like `ep_cmp_ffd`: by file pointer, then fd.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FileFd {
    pub(crate) file: usize,
    pub(crate) fd: i32,
}

/// An rb-tree of epitems keyed by [`FileFd`].
///
/// # Invariants
///
/// Every node reachable from `root` is the `rbn` of an `Epitem` leaked from an
/// [`EpitemBox`] by [`RbTree::insert`], owned by the tree until [`RbTree::remove`].
pub(crate) struct RbTree {
    root: bindings::rb_root,
}

// SAFETY: The tree owns its epitems, which are `Send`; moving the tree moves only the root
// pointer (nodes do not point back at `root`).
unsafe impl Send for RbTree {}

impl RbTree {
    /// An empty tree.
    pub(crate) const fn new() -> Self {
        Self {
            root: bindings::rb_root {
                rb_node: ptr::null_mut(),
            },
        }
    }

    /// The item watching `key` (`ep_find`).
    pub(crate) fn find(&self, key: FileFd) -> Option<&Epitem> {
        let mut node = self.root.rb_node;
        while !node.is_null() {
            // SAFETY: By the type invariant `node` is the `rbn` of an item the tree owns, which
            // lives as long as the tree borrows it.
            let epi = unsafe { &*Epitem::from_rbn(node) };
            node = match key.cmp(&epi.key()) {
                // SAFETY: `node` is a valid node of this tree (type invariant).
                Ordering::Less => unsafe { (*node).rb_left },
                // SAFETY: As above.
                Ordering::Greater => unsafe { (*node).rb_right },
                Ordering::Equal => return Some(epi),
            };
        }
        None
    }

    /// The item watching `key`, or the place where one for `key` would go: `ep_find` and
    /// `ep_rbtree_insert` in one walk down the tree.
    pub(crate) fn entry(&mut self, key: FileFd) -> Entry<'_> {
        let mut link: *mut *mut bindings::rb_node = &mut self.root.rb_node;
        let mut parent: *mut bindings::rb_node = ptr::null_mut();
        // SAFETY: `link` points at the root slot or a child slot of a node the tree owns.
        while !unsafe { *link }.is_null() {
            // SAFETY: As above; the slot holds a valid node.
            parent = unsafe { *link };
            // SAFETY: `parent` is an owned item's `rbn` (type invariant).
            let other = unsafe { &*Epitem::from_rbn(parent) };
            link = match key.cmp(&other.key()) {
                // SAFETY: `parent` is valid; we take the address of one of its child slots.
                Ordering::Less => unsafe { ptr::addr_of_mut!((*parent).rb_left) },
                // SAFETY: As above.
                Ordering::Greater => unsafe { ptr::addr_of_mut!((*parent).rb_right) },
                Ordering::Equal => return Entry::Occupied,
            };
        }
        Entry::Vacant(Vacant {
            tree: self,
            parent,
            link,
        })
    }

    /// Takes the item watching `key` out of the tree and gives ownership back.
    pub(crate) fn remove(&mut self, key: FileFd) -> Option<EpitemBox> {
        let epi: *const Epitem = self.find(key)?;
        // SAFETY: `epi` was found in this tree, so its `rbn` is one of our nodes.
        unsafe { Some(self.erase(epi)) }
    }

    /// Takes the first item out (for tearing the instance down).
    pub(crate) fn pop_first(&mut self) -> Option<EpitemBox> {
        // SAFETY: `root` is a valid tree.
        let node = unsafe { bindings::rb_first(&self.root) };
        if node.is_null() {
            return None;
        }
        // SAFETY: `node` is a node of this tree, the `rbn` of an owned item.
        unsafe { Some(self.erase(Epitem::from_rbn(node))) }
    }

    /// The root node, for drawing the tree (`introspect.rs`).
    pub(crate) fn root(&self) -> *mut bindings::rb_node {
        self.root.rb_node
    }

    /// The items in key order (`rb_first` / `rb_next`).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Epitem> + '_ {
        // SAFETY: `root` is a valid tree.
        let mut node = unsafe { bindings::rb_first(&self.root) };
        core::iter::from_fn(move || {
            if node.is_null() {
                return None;
            }
            // SAFETY: `node` is a node of this tree, the `rbn` of an item it owns, which lives
            // as long as the tree is borrowed (the tree cannot change meanwhile).
            let epi = unsafe { &*Epitem::from_rbn(node) };
            // SAFETY: As above.
            node = unsafe { bindings::rb_next(node) };
            Some(epi)
        })
    }

    /// # Safety
    ///
    /// `epi` must be an item owned by this tree.
    unsafe fn erase(&mut self, epi: *const Epitem) -> EpitemBox {
        // SAFETY: The caller guarantees `epi` is in this tree.
        unsafe { bindings::rb_erase((*epi).rbn(), &mut self.root) };
        // SAFETY: `epi` came from `CacheBox::into_raw` in `insert` on a box of the epitem
        // cache, and is no longer reachable from the tree, so ownership returns to a box.
        unsafe { CacheBox::from_raw(epi.cast_mut(), &crate::resources().epitems) }
    }
}

/// What [`RbTree::entry`] found.
pub(crate) enum Entry<'a> {
    /// An item watches the key.
    Occupied,
    /// No item: where one goes.
    Vacant(Vacant<'a>),
}

/// The empty slot of the tree where an item of the walked key goes.
///
/// # Invariants
///
/// `link` is the empty child slot of `parent` (or the root slot, `parent` null) that a walk
/// for the key ended at; the tree has not changed since (it is borrowed mutably).
pub(crate) struct Vacant<'a> {
    tree: &'a mut RbTree,
    parent: *mut bindings::rb_node,
    link: *mut *mut bindings::rb_node,
}

impl<'a> Vacant<'a> {
    /// Links `epi`, whose key must be the walked one, into the slot: the tree owns it now, and
    /// until it is removed. Gives the tree back, and the item.
    pub(crate) fn insert(self, epi: EpitemBox) -> (&'a mut RbTree, *const Epitem) {
        // INVARIANT: from here the tree owns the epitem; it stays pinned, as `into_raw` leaves
        // it where it is until `erase` turns it back into a box. Its key is the walked one
        // (the caller's contract), so the tree stays ordered.
        let epi = CacheBox::into_raw(epi);
        // SAFETY: `epi` is valid; `link` is the empty slot under `parent` where its key goes
        // (type invariant: nothing changed the tree since the walk).
        unsafe {
            let node = (*epi).rbn();
            bindings::rb_link_node(node, self.parent, self.link);
            bindings::rb_insert_color(node, &mut self.tree.root);
        }
        (self.tree, epi)
    }
}

impl Drop for RbTree {
    fn drop(&mut self) {
        // `EventPoll::clear` empties the tree when the instance's file is released; this only
        // frees what a logic error could leave behind (dropping an item unhooks it as usual).
        while self.pop_first().is_some() {}
    }
}
