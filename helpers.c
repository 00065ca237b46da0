// SPDX-License-Identifier: GPL-2.0
/*
 * The module's one C file: what fs/eventpoll.c reaches and a module's Rust cannot, because
 * C keeps it static inline, does not export it, or lays it out only in its own headers.
 *
 * - epoll_pwait's signal mask (for sigmask.rs): set_user_sigmask() is not exported,
 *   restore_saved_sigmask_unless() and the thread-flag helpers are static inline, so
 *   current's signal fields are handled here, in C.
 * - Nested locking (for mutex.rs and waitqueue.rs): mutex_lock_nested() is a macro without
 *   lockdep, and a wake-up under a nesting subclass is spin_lock_irqsave_nested() around
 *   __wake_up_locked_key(), as fs/eventpoll.c's ep_poll_safewake() does.
 * - The file release hook (for release.rs): fs/eventpoll.c is called by __fput() through
 *   eventpoll_release(); a module is not, so an ftrace callback on __fput() calls
 *   release.rs instead, and the try-get of a file's reference that epi_fget() does is
 *   file_ref_get(), static inline.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ftrace.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/uaccess.h>

#if !IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_ARGS)
#error "rust-epoll's file release hook needs CONFIG_FUNCTION_TRACER with DYNAMIC_FTRACE_WITH_ARGS"
#endif

/* Called from sigmask.rs and release.rs, which declare them again on their side. */
int rust_epoll_set_user_sigmask(const sigset_t __user *umask, size_t sigsetsize);
void rust_epoll_restore_sigmask_unless(bool interrupted);
void rust_epoll_mutex_lock_nested(struct mutex *lock, unsigned int subclass);
void rust_epoll_wake_up_nested(struct wait_queue_head *wq, unsigned long key, int subclass);
int rust_epoll_release_hook_register(void);
void rust_epoll_release_hook_unregister(void);
bool rust_epoll_file_try_get(struct file *file);

/* Implemented in release.rs. */
void rust_epoll_file_release(struct file *file);

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

/*
 * Runs at the entry of every __fput(), in the releasing task's context, before the file's
 * ->release() can free its wait queues: the place of eventpoll_release(). Called directly by
 * the ftrace trampoline (no FTRACE_OPS_FL_RECURSION: ftrace's recursion guard would skip a
 * call rather than run it, and a skipped release is a use-after-free). Nothing it calls can
 * reach __fput() again. Preemption is off across the call, so release.rs may not sleep.
 */
static void notrace rust_epoll_fput_hook(unsigned long ip, unsigned long parent_ip,
					 struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	preempt_disable_notrace();
	rust_epoll_file_release((struct file *)ftrace_regs_get_argument(fregs, 0));
	preempt_enable_notrace();
}

/*
 * PERMANENT: while it is registered, ftrace_enabled cannot be turned off, which would
 * silently stop the hook.
 */
static struct ftrace_ops rust_epoll_fput_ops = {
	.func = rust_epoll_fput_hook,
	.flags = FTRACE_OPS_FL_PERMANENT,
};

int rust_epoll_release_hook_register(void)
{
	static unsigned char name[] = "__fput";
	int err;

	err = ftrace_set_filter(&rust_epoll_fput_ops, name, sizeof(name) - 1, 1);
	if (err)
		return err;
	err = register_ftrace_function(&rust_epoll_fput_ops);
	if (err)
		ftrace_free_filter(&rust_epoll_fput_ops);
	return err;
}

/* Returns once no call of the hook is running (unregister_ftrace_function synchronises). */
void rust_epoll_release_hook_unregister(void)
{
	unregister_ftrace_function(&rust_epoll_fput_ops);
	ftrace_free_filter(&rust_epoll_fput_ops);
}

/*
 * epi_fget()'s file_ref_get(): a reference on a file unless its last one is gone. Full
 * ordering on success. The caller ensures @file is still a struct file (RCU, see release.rs).
 */
bool rust_epoll_file_try_get(struct file *file)
{
	return file_ref_get(&file->f_ref);
}

void rust_epoll_mutex_lock_nested(struct mutex *lock, unsigned int subclass)
{
	mutex_lock_nested(lock, subclass);
}

/*
 * wake_up_poll() with the queue's lock taken at a nesting subclass: an instance's pollers
 * are woken from inside the wake-up of the instance it watches, on a queue of the same class.
 */
void rust_epoll_wake_up_nested(struct wait_queue_head *wq, unsigned long key, int subclass)
{
	unsigned long flags;

	spin_lock_irqsave_nested(&wq->lock, flags, subclass);
	__wake_up_locked_key(wq, TASK_NORMAL, (void *)key);
	spin_unlock_irqrestore(&wq->lock, flags);
}
