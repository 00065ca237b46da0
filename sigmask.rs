// SPDX-License-Identifier: GPL-2.0

//! epoll_pwait's signal mask (`set_user_sigmask` / `restore_saved_sigmask_unless`), done by
//! `helpers.c`: the one part of this module that needs C's view of `current`.

use core::ffi::{c_int, c_void};
use kernel::{error::to_result, prelude::*};

extern "C" {
    fn rust_epoll_set_user_sigmask(umask: *const c_void, sigsetsize: usize) -> c_int;
    fn rust_epoll_restore_sigmask_unless(interrupted: bool);
}

/// The caller's signal mask, swapped for a user-supplied one while it lives.
pub(crate) struct SigmaskGuard {
    active: bool,
}

impl SigmaskGuard {
    /// Installs the mask at user address `umask` (`sigsetsize` bytes); none if `umask` is 0.
    /// EINVAL for a size other than the kernel's `sigset_t`, EFAULT for an unreadable mask.
    pub(crate) fn set(umask: u64, sigsetsize: u32) -> Result<Self> {
        if umask == 0 {
            return Ok(Self { active: false });
        }
        // SAFETY: The function copies from the user address itself (checked there) and only
        // touches the current task's signal state.
        to_result(unsafe {
            rust_epoll_set_user_sigmask(umask as usize as *const c_void, sigsetsize as usize)
        })?;
        Ok(Self { active: true })
    }

    /// Ends the swap: the old mask comes back now, or, when the wait was interrupted by a
    /// signal, after that signal's handler has been set up on the way out.
    pub(crate) fn restore(mut self, interrupted: bool) {
        self.finish(interrupted);
    }

    fn finish(&mut self, interrupted: bool) {
        if self.active {
            self.active = false;
            // SAFETY: Pairs with the successful `set` above, on the same task.
            unsafe { rust_epoll_restore_sigmask_unless(interrupted) };
        }
    }
}

impl Drop for SigmaskGuard {
    fn drop(&mut self) {
        self.finish(false);
    }
}
