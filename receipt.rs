// SPDX-License-Identifier: GPL-2.0

//! The batched ctl with a receipt per operation (`RUST_EPOLL_BATCH_RECEIPT`, kqueue's
//! `EV_RECEIPT`), which fs/eventpoll.c has no counterpart of: every operation is attempted,
//! each as `do_epoll_ctl` alone, and each result is written back into the operation's own
//! `flags` field. The header defines the contract; this file keeps to it as follows.

use kernel::{
    fs::File,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

use crate::{eventpoll::EventPoll, uapi::*};

/// Where an operation's result goes: its `flags` field.
const RESULT_OFFSET: usize = core::mem::offset_of!(CtlArgs, flags);

impl EventPoll {
    /// RUST_EPOLL_CTL_BATCH with RUST_EPOLL_BATCH_RECEIPT: `batch` (already read and checked
    /// by `ctl_batch`) from the user's struct at `arg`. For each slot in turn: read it, write
    /// 0 over its `flags` (so that a slot we cannot write stops the batch before its operation
    /// runs), attempt the operation, write its result. A slot that cannot be read or written
    /// stops the batch with -EFAULT in `error`; no result of an operation stops it.
    pub(crate) fn ctl_batch_receipt(
        &self,
        me: &File,
        arg: usize,
        batch: &CtlBatchArgs,
    ) -> Result<isize> {
        let size = core::mem::size_of::<CtlArgs>();
        let (mut applied, mut error) = (0u32, 0i32);
        while applied < batch.nr_ops {
            // A slot whose address wraps around cannot be read: EFAULT, as for an unmapped one.
            let slot = (batch.ops as usize)
                .checked_add(applied as usize * size)
                .filter(|slot| slot.checked_add(size).is_some());
            let Some(slot) = slot else {
                error = EFAULT.to_errno();
                break;
            };
            let result = UserPtr::from_addr(slot + RESULT_OFFSET);
            let Ok(op) = crate::read_arg::<CtlArgs>(slot) else {
                error = EFAULT.to_errno();
                break;
            };
            if write_i32(result, 0).is_err() {
                error = EFAULT.to_errno();
                break;
            }
            let res = match self.ctl(me, &op) {
                Ok(_) => 0,
                Err(e) => e.to_errno(),
            };
            applied += 1;
            if write_i32(result, res).is_err() {
                // The operation ran, and stays counted; its result is lost (only another
                // thread changing the mapping since the write above can cause this).
                error = EFAULT.to_errno();
                break;
            }
        }
        let at = arg + core::mem::offset_of!(CtlBatchArgs, applied);
        let mut out = UserSlice::new(UserPtr::from_addr(at), 8).writer();
        out.write(&applied)?;
        out.write(&error)?;
        if error == 0 && batch.flags & RUST_EPOLL_BATCH_WAIT != 0 {
            return self.wait(&batch.wait);
        }
        Ok(0)
    }
}

/// Writes one `i32` at the user address `at`.
fn write_i32(at: UserPtr, v: i32) -> Result {
    UserSlice::new(at, core::mem::size_of::<i32>())
        .writer()
        .write(&v)
}
