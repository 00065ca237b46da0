// SPDX-License-Identifier: GPL-2.0

//! Text views of an instance: fs/eventpoll.c's `ep_show_fdinfo`, and a debugfs picture.
//!
//! `/proc/PID/fdinfo/N` of an instance prints one line per watch, in native epoll's exact
//! format, so tools that parse epoll fdinfo read ours unchanged.
//!
//! `/sys/kernel/debug/rust_epoll/<pid>-<n>` draws the instance for people learning epoll, once
//! `/sys/kernel/debug/rust_epoll/views` is 1 (off by default: a debugfs file made at every open
//! and removed at every close cost more than the rest of the open and close together):
//! the interest set as the red-black tree it is (sideways: the root at the left, right
//! subtrees above), the same items in key order with their requested and last-seen events,
//! and the ready list from head to tail. Each file holds a pointer to its instance; the
//! instance removes its file first thing when it goes, and debugfs waits for readers then.
//! The tree is keyed by file address, which is never shown: each file appears as a hash of
//! its address with a key drawn at module load (as `%p` prints pointers), so two items of one
//! file are recognisably the same and nothing about kernel memory leaks.
//!
//! `/sys/kernel/debug/rust_epoll/release_hook` says whether the `__fput` hook is alive and how
//! many releases it has seen (`release.rs`, `helpers.c`).

use core::{
    ffi::{c_int, c_void},
    fmt::{self, Write},
    ptr::NonNull,
};
use kernel::{
    bindings,
    error::from_err_ptr,
    fs::File,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::{
        atomic::{Atomic, Relaxed},
        global_lock,
    },
};

use crate::{epitem::Epitem, eventpoll::EventPoll, rbtree::RbTree, uapi::*};

extern "C" {
    fn rust_epoll_release_hook_calls() -> core::ffi::c_ulong;
    fn rust_epoll_release_hook_check() -> core::ffi::c_int;
    fn rust_epoll_debugfs_create_views(parent: *mut c_void);
    fn rust_epoll_views_enabled() -> bool;
    fn rust_epoll_debugfs_create_file(
        name: *const kernel::ffi::c_char,
        parent: *mut c_void,
        data: *mut c_void,
    ) -> *mut c_void;
}

/// A debugfs directory or file of ours; dropping it removes it (a directory with what is in
/// it).
///
/// Not the kernel crate's `debugfs::{Dir, File}`: their `file_operations` have no `.owner`, so
/// an open file of theirs does not hold the module, and closing it after rmmod reads the freed
/// module's `file_operations` (debugfs's `full_proxy_release`). Ours are C's, with
/// `THIS_MODULE` (`helpers.c`); `module_cycles.sh` checks that an open file refuses rmmod.
///
/// # Invariants
///
/// The pointer is a dentry made by debugfs, not removed yet.
pub(crate) struct Dentry(NonNull<bindings::dentry>);

// SAFETY: A dentry pointer may be used and removed from any thread (debugfs locks inside).
unsafe impl Send for Dentry {}
// SAFETY: `&Dentry` only gives the pointer, for debugfs calls that lock inside.
unsafe impl Sync for Dentry {}

impl Dentry {
    /// A directory at debugfs's root, or `None` (no debugfs, or out of memory).
    fn dir(name: &CStr) -> Option<Self> {
        // SAFETY: `name` is a valid string; a null parent is debugfs's root.
        let d = unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), core::ptr::null_mut()) };
        // INVARIANT: debugfs made it (an error pointer is not kept).
        Some(Self(NonNull::new(from_err_ptr(d).ok()?)?))
    }

    /// A read-only file in `self` whose text is [`rust_epoll_debugfs_show`]'s for `data`.
    ///
    /// # Safety
    ///
    /// `data` is null (the release hook's file) or an [`EventPoll`] that stays valid until the
    /// file is removed (debugfs waits for readers in the removal).
    unsafe fn file(&self, name: &CStr, data: *const EventPoll) -> Option<Self> {
        // SAFETY: `name` is a valid string, the parent is a live debugfs directory (type
        // invariant), and the data is what `rust_epoll_debugfs_show` expects (our contract).
        let d = unsafe {
            rust_epoll_debugfs_create_file(
                name.as_char_ptr(),
                self.0.as_ptr().cast(),
                data.cast_mut().cast(),
            )
        };
        // INVARIANT: As in `dir`.
        Some(Self(NonNull::new(
            from_err_ptr(d.cast::<bindings::dentry>()).ok()?,
        )?))
    }
}

impl Drop for Dentry {
    fn drop(&mut self) {
        // SAFETY: A live debugfs dentry (type invariant), removed once, here. The removal waits
        // for readers inside the file's operations.
        unsafe { bindings::debugfs_remove(self.0.as_ptr()) };
    }
}

/// The text of one of our debugfs files (`helpers.c`'s `single_open` show function): the
/// release hook's state for a null `private`, else the picture of the instance it points to.
///
/// # Safety
///
/// Called by `seq_read` on a file opened by `helpers.c`'s `rust_epoll_debugfs_open`: `m` is its
/// live `seq_file`, and `private` is the data given to [`Dentry::file`], still valid (the
/// file's removal waits for this call).
#[no_mangle]
unsafe extern "C" fn rust_epoll_debugfs_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is live and ours for this call (our contract).
    let private = unsafe { (*m).private }.cast::<EventPoll>().cast_const();
    // SAFETY: As above; `seq_read` holds the seq_file's lock, so no other thread uses it.
    let seq = unsafe { SeqFile::from_raw(m) };
    if private.is_null() {
        seq.call_printf(format_args!("{HookState}"));
    } else {
        // SAFETY: The instance outlives its file's readers (our contract).
        let ep = unsafe { &*private };
        seq.call_printf(format_args!("{}", Picture(ep)));
    }
    0
}

/// The module's debugfs directory, with its `release_hook` file in it.
struct Debugfs {
    dir: Dentry,
}

global_lock! {
    // SAFETY: Initialised by the module initialiser (`init`) before any instance exists.
    unsafe(uninit) static DEBUGFS_DIR: Mutex<Option<Debugfs>> = None;
}

/// Numbers the instances' debugfs files.
static NEXT_ID: Atomic<u64> = Atomic::new(1);

/// The key of the file hashes (`ptr_key` of `%p`), drawn at module load.
static HASH_KEY: Atomic<u64> = Atomic::new(0);

/// A file as the debugfs picture names it: a keyed hash of its address.
fn file_id(file: usize) -> u32 {
    let key = bindings::siphash_key_t {
        key: [HASH_KEY.load(Relaxed), 0x7275_7374_5f65_706f],
    };
    // SAFETY: `key` is a valid key for the call.
    (unsafe { bindings::siphash_1u64(file as u64, &key) }) as u32
}

/// Most items drawn per section, so that a huge instance still reads in one go.
const DRAW_MAX: usize = 256;

/// Creates `/sys/kernel/debug/rust_epoll/`.
///
/// # Safety
///
/// Must be called exactly once, before any instance exists; [`exit`] undoes it.
pub(crate) unsafe fn init() {
    // SAFETY: Called once, first (our contract).
    unsafe { DEBUGFS_DIR.init() };
    let mut key = 0u64;
    // SAFETY: `key` is valid for writes of its size.
    unsafe { bindings::get_random_bytes((&raw mut key).cast(), core::mem::size_of::<u64>()) };
    HASH_KEY.store(key, Relaxed);
    let Some(dir) = Dentry::dir(c"rust_epoll") else {
        return;
    };
    // SAFETY: Null data: the release hook's file. (Removed with the directory.)
    let hook = unsafe { dir.file(c"release_hook", core::ptr::null()) };
    // Owned by the directory: removing it removes the file.
    core::mem::forget(hook);
    // SAFETY: A live debugfs directory; the file goes with it.
    unsafe { rust_epoll_debugfs_create_views(dir.0.as_ptr().cast()) };
    *DEBUGFS_DIR.lock() = Some(Debugfs { dir });
}

/// The `release_hook` file's text.
struct HookState;

impl fmt::Display for HookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: FFI calls without preconditions (the check may sleep: we may too).
        let (alive, calls) = unsafe {
            (
                rust_epoll_release_hook_check() == 0,
                rust_epoll_release_hook_calls(),
            )
        };
        writeln!(
            f,
            "__fput hook: {}, {} releases seen",
            if alive {
                "alive"
            } else {
                "DEAD (new watches refused)"
            },
            calls
        )
    }
}

/// An instance's picture (see [`draw`]).
struct Picture<'a>(&'a EventPoll);

impl fmt::Display for Picture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        draw(self.0, f)
    }
}

/// Removes the directory (module exit: no instance file is open any more, so no picture is
/// left in it).
pub(crate) fn exit() {
    drop(DEBUGFS_DIR.lock().take());
}

/// The debugfs file of an instance; dropping it removes the file.
pub(crate) type DebugView = Dentry;

/// Creates the debugfs file of `ep` (named `<pid>-<n>`), if debugfs is there and `views` is on.
///
/// # Safety
///
/// `ep` stays where it is until the returned file is dropped (the instance drops it first
/// thing when its own file is released, before its last reference can go).
pub(crate) unsafe fn create_view(ep: &EventPoll) -> Option<DebugView> {
    // SAFETY: FFI call without preconditions.
    if !unsafe { rust_epoll_views_enabled() } {
        return None;
    }
    let id = NEXT_ID.fetch_add(1, Relaxed);
    // The creator's pid as its getpid() sees it (C's `task_tgid_nr_ns`, in its pid namespace).
    // The bindings' `task_struct.tgid` is right too: layout.rs checks it (README, bindgen).
    let pid = kernel::current!().tgid_nr_ns(None);
    let mut name = [0u8; 48];
    let mut w = NameWriter {
        buf: &mut name,
        len: 0,
    };
    write!(w, "{pid}-{id}\0").ok()?;
    let len = w.len;
    let name = CStr::from_bytes_with_nul(&name[..len]).ok()?;
    let dir = DEBUGFS_DIR.lock();
    // SAFETY: `ep` outlives the file (our contract).
    unsafe { dir.as_ref()?.dir.file(name, ep) }
}

/// Formats into a fixed buffer (the file name).
struct NameWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for NameWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `IN|OUT|ET` for an event mask.
struct Events(u32);

impl fmt::Display for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u32, &str); 14] = [
            (EPOLLIN, "IN"),
            (0x2, "PRI"),
            (EPOLLOUT, "OUT"),
            (EPOLLERR, "ERR"),
            (EPOLLHUP, "HUP"),
            (EPOLLRDNORM, "RDNORM"),
            (0x80, "RDBAND"),
            (0x100, "WRNORM"),
            (0x200, "WRBAND"),
            (0x2000, "RDHUP"),
            (EPOLLEXCLUSIVE, "EXCLUSIVE"),
            (EPOLLWAKEUP, "WAKEUP"),
            (EPOLLONESHOT, "ONESHOT"),
            (EPOLLET, "ET"),
        ];
        // Built in a buffer first, so that the caller's width pads it.
        let mut buf = [0u8; 96];
        let mut w = NameWriter {
            buf: &mut buf,
            len: 0,
        };
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                if w.len != 0 {
                    w.write_str("|")?;
                }
                w.write_str(name)?;
            }
        }
        if w.len == 0 {
            w.write_str("-")?;
        }
        let len = w.len;
        f.pad(core::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
    }
}

/// Draws the subtree at `node` sideways: right subtree above, left below, indented by depth;
/// `(B)`/`(R)` is the node's colour. Returns how many nodes were drawn.
///
/// # Safety
///
/// `node` must be null or a node of an interest set whose `mtx` the caller holds.
unsafe fn draw_tree(
    f: &mut fmt::Formatter<'_>,
    node: *mut bindings::rb_node,
    depth: usize,
    drawn: &mut usize,
) -> fmt::Result {
    if node.is_null() || *drawn >= DRAW_MAX {
        return Ok(());
    }
    // SAFETY: `node` is a node of the tree, kept alive and unchanged by `mtx`.
    let (right, left, black) = unsafe {
        (
            (*node).rb_right,
            (*node).rb_left,
            (*node).__rb_parent_color & 1 == 1,
        )
    };
    // SAFETY: As above, for the subtrees.
    unsafe { draw_tree(f, right, depth + 1, drawn)? };
    // SAFETY: `node` is the `rbn` of a live epitem of this tree.
    let epi = unsafe { &*Epitem::from_rbn(node) };
    *drawn += 1;
    writeln!(
        f,
        "  {:width$}{} fd {} (file #{:08x})",
        "",
        if black { "(B)" } else { "(R)" },
        epi.fd(),
        file_id(epi.key().file),
        width = depth * 6
    )?;
    // SAFETY: As above.
    unsafe { draw_tree(f, left, depth + 1, drawn) }
}

/// One line of the item list (`mtx` held: the tree is the proof).
fn draw_item(
    f: &mut fmt::Formatter<'_>,
    tree: &RbTree,
    epi: &Epitem,
    last_seen: u32,
    ready: bool,
) -> fmt::Result {
    writeln!(
        f,
        "  fd {:<5} wants {:<24} last seen {:<12} data {:#x}{}",
        epi.fd(),
        Events(epi.events(tree)),
        Events(last_seen),
        epi.data(tree),
        if ready { "  [ready]" } else { "" }
    )
}

/// The debugfs picture: counts, the rb-tree, the items in key order, the ready list.
fn draw(ep: &EventPoll, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let tree = ep.lock_tree_reaped(0);
    let watches = tree.iter().count();
    let mut ready_fds = [0i32; 64];
    let mut nready = 0;
    ep.ready.lock().for_each(|epi| {
        if let Some(slot) = ready_fds.get_mut(nready) {
            *slot = epi.fd();
        }
        nready += 1;
    });
    writeln!(
        f,
        "eventpoll: {} watches, {} ready, waiters {}, pollers {}",
        watches,
        nready,
        if ep.wq.is_active() { "yes" } else { "no" },
        if ep.poll_wait.is_active() {
            "yes"
        } else {
            "no"
        }
    )?;
    writeln!(
        f,
        "\ninterest set: red-black tree keyed by (file, fd), root at the left"
    )?;
    let mut drawn = 0;
    // SAFETY: We hold `mtx`, which keeps the tree unchanged while we draw it.
    unsafe { draw_tree(f, tree.root(), 0, &mut drawn)? };
    writeln!(f, "\nitems in key order:")?;
    for epi in tree.iter().take(DRAW_MAX) {
        let (last_seen, ready) = {
            let ready = ep.ready.lock();
            (epi.last_seen(&ready), ready.is_linked(epi))
        };
        draw_item(f, &tree, epi, last_seen, ready)?;
    }
    write!(f, "\nready list (head to tail):")?;
    for fd in ready_fds.iter().take(nready.min(ready_fds.len())) {
        write!(f, " fd {fd}")?;
    }
    if nready > ready_fds.len() {
        write!(f, " ... ({} more)", nready - ready_fds.len())?;
    }
    writeln!(f)
}

/// The instance's lines of `/proc/PID/fdinfo/N` (`ep_show_fdinfo`): one per watch, in key
/// order, until the buffer is full. `seq_read` then calls us again with a buffer twice as big
/// (from a page up: about 13 calls for 200,000 watches), so, as C does, each call stops at
/// the first line that did not fit: the calls together cost about two walks of the tree, where
/// walking it to the end every time cost one per call.
pub(crate) fn show_fdinfo(ep: &EventPoll, m: &SeqFile) {
    let tree = ep.lock_tree_reaped(0);
    for epi in tree.iter() {
        show_epitem(m, &tree, epi);
        if seq_has_overflowed(m) {
            break;
        }
    }
}

/// `seq_has_overflowed` (static inline in C, not in the kernel crate's `SeqFile`): the buffer
/// is full, and what is printed next is discarded.
fn seq_has_overflowed(m: &SeqFile) -> bool {
    let m = core::ptr::from_ref(m).cast::<bindings::seq_file>();
    // SAFETY: `SeqFile` is a transparent wrapper of `struct seq_file` (`kernel::seq_file`),
    // used by this thread alone while `show_fdinfo` runs; `count` and `size` are plain fields.
    unsafe { (*m).count == (*m).size }
}

/// One fdinfo line for `epi` (`tfd: … events: … data: …  pos:… ino:… sdev:…`).
/// A watch whose target is being released has no line, as its native counterpart is gone.
fn show_epitem(m: &SeqFile, tree: &RbTree, epi: &Epitem) {
    let Some(file) = epi.get_file() else {
        return;
    };
    let (pos, ino, sdev) = file_position(&file);
    seq_print!(
        m,
        "tfd: {:8} events: {:8x} data: {:16x}  pos:{} ino:{:x} sdev:{:x}\n",
        epi.fd(),
        epi.events(tree),
        epi.data(tree),
        pos,
        ino,
        sdev
    );
}

/// The file's position, inode number and device, as `ep_show_fdinfo` prints them.
fn file_position(file: &File) -> (i64, u64, u32) {
    let f = file.as_ptr();
    // SAFETY: `file` is alive, so are its inode and the inode's superblock. `f_pos` is read
    // without `f_pos_lock`, as C's fdinfo does: it is only informative.
    unsafe {
        let inode = (*f).f_inode;
        ((*f).f_pos, (*inode).i_ino, (*(*inode).i_sb).s_dev)
    }
}
