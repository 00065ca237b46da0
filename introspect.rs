// SPDX-License-Identifier: GPL-2.0

//! Text views of an instance: fs/eventpoll.c's `ep_show_fdinfo`.
//!
//! `/proc/PID/fdinfo/N` of an instance prints one line per watch, in native epoll's exact
//! format, so tools that parse epoll fdinfo read ours unchanged.

use kernel::{fs::File, seq_file::SeqFile, seq_print};

use crate::epitem::Epitem;

/// One fdinfo line for `epi` (`tfd: … events: … data: …  pos:… ino:… sdev:…`).
pub(crate) fn show_epitem(m: &SeqFile, epi: &Epitem) {
    let (pos, ino, sdev) = file_position(epi.file());
    seq_print!(
        m,
        "tfd: {:8} events: {:8x} data: {:16x}  pos:{} ino:{:x} sdev:{:x}\n",
        epi.fd(),
        epi.events(),
        epi.data(),
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
