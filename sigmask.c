// SPDX-License-Identifier: GPL-2.0
/*
 * epoll_pwait's signal mask, for rust-epoll: what fs/eventpoll.c gets from set_user_sigmask()
 * and restore_saved_sigmask_unless(). Neither is reachable from a module (the first is not
 * exported, the second and the thread-flag helpers are static inline, and current's fields
 * are only laid out right by the C headers), so they live here, in the module's one C file.
 */
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/uaccess.h>

/* Called from sigmask.rs, which declares them again on its side. */
int rust_epoll_set_user_sigmask(const sigset_t __user *umask, size_t sigsetsize);
void rust_epoll_restore_sigmask_unless(bool interrupted);

/*
 * Installs the user's mask for the duration of a wait, saving the current one to be restored
 * on the way out to userspace, after any signal handler the new mask lets run.
 */
int rust_epoll_set_user_sigmask(const sigset_t __user *umask, size_t sigsetsize)
{
	sigset_t kmask;

	if (!umask)
		return 0;
	if (sigsetsize != sizeof(sigset_t))
		return -EINVAL;
	if (copy_from_user(&kmask, umask, sizeof(sigset_t)))
		return -EFAULT;

	set_restore_sigmask();
	current->saved_sigmask = current->blocked;
	/* set_current_blocked(), which is not exported, by way of sigprocmask(), which is. */
	sigdelsetmask(&kmask, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &kmask, NULL);
	return 0;
}

/*
 * After the wait: unless it was interrupted by a signal (whose delivery restores the saved
 * mask once its handler is set up), the saved mask comes back now.
 */
void rust_epoll_restore_sigmask_unless(bool interrupted)
{
	if (interrupted)
		WARN_ON(!signal_pending(current));
	else if (test_and_clear_restore_sigmask())
		sigprocmask(SIG_SETMASK, &current->saved_sigmask, NULL);
}
