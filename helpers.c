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
 *   __wake_up_locked_key(), as fs/eventpoll.c's ep_poll_safewake() does. Whether current
 *   holds a mutex is __mutex_owner(), private to kernel/locking/.
 * - The file release hook (for release.rs): fs/eventpoll.c is called by __fput() through
 *   eventpoll_release(); a module is not, so an ftrace callback on __fput() calls
 *   release.rs instead, and checks that it is still being called (see below).
 * - The index of watched files (for release.rs): an rhashtable, whose lookup, insert and
 *   remove are static inline with their parameters as a compile-time constant, and
 *   kfree_rcu(), a macro.
 * - Polling a watch (for epitem.rs, release.rs): epi_fget()'s file_ref_get() and vfs_poll()
 *   are static inline; ep_item_poll() is done here in one call (try-get, poll, put).
 * - Reporting events (for wait.rs): epoll_put_uevent() is static inline; records are written
 *   as native epoll writes them, two stores in one user-access section each.
 * - spin_trylock_irqsave() (for irqlock.rs) and fatal_signal_pending() are static inline, as
 *   is spin_unlock_irq() without preemption; select_estimate_accuracy() (for waitqueue.rs,
 *   the timeout's slack) is not exported.
 * - EPOLLWAKEUP (for wakeup.rs): a wakeup source named after a dentry needs a name snapshot.
 * - Native epoll's files (for device.rs): eventpoll_fops is static; its ->poll is recognised
 *   by name, through kallsyms.
 * - debugfs files (for introspect.rs) whose file_operations have an owner: the kernel crate's
 *   have none (see below).
 * - Busy polling (for busy_poll.rs): a socket's NAPI id (sock_from_file() is exported, the
 *   struct sock layout and napi_id_valid() are C's), busy_loop_current_time() (static
 *   inline), and napi_busy_loop(), exported but declared only in <net/busy_poll.h>.
 */
#include <linux/anon_inodes.h>
#include <linux/dcache.h>
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/eventpoll.h>
#include <linux/ftrace.h>
#include <linux/jiffies.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/device.h>	/* pm_wakeup.h: wakeup_source_register() */
#include <linux/rcupdate.h>
#include <linux/rhashtable.h>
#include <linux/seq_file.h>
#include <linux/sched/signal.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>
#include <linux/signal.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/net.h>
#include <net/busy_poll.h>
#include <net/sock.h>

#include "include/uapi/rust_epoll.h"

#if !IS_ENABLED(CONFIG_DYNAMIC_FTRACE_WITH_ARGS)
#error "rust-epoll's file release hook needs CONFIG_FUNCTION_TRACER with DYNAMIC_FTRACE_WITH_ARGS"
#endif
#if !IS_ENABLED(CONFIG_TASKS_RCU)
#error "rust-epoll's __fput hook may be preempted: it needs synchronize_rcu_tasks() to wait for it at unregistration"
#endif
#if IS_ENABLED(CONFIG_PREEMPT_RT)
#error "rust-epoll assumes a spinlock_t is a raw spinlock (irqlock.rs) and a mutex a plain one (helpers.c): not PREEMPT_RT"
#endif
#if !IS_ENABLED(CONFIG_KALLSYMS)
#error "rust-epoll recognises native epoll files by their ->poll's name: it needs CONFIG_KALLSYMS"
#endif

/* release.rs's state::INDEXED: a watch on its file's list, hooked on its queues. */
#define RUST_EPOLL_INDEXED 1

/* Called from Rust, which declares them again on its side. */
int rust_epoll_set_user_sigmask(const sigset_t __user *umask, size_t sigsetsize);
void rust_epoll_restore_sigmask_unless(bool interrupted);
void rust_epoll_mutex_lock_nested(struct mutex *lock, unsigned int subclass);
bool rust_epoll_mutex_held_by_current(struct mutex *lock);
void rust_epoll_wake_up_nested(struct wait_queue_head *wq, unsigned long key, int subclass,
			       u8 *nests);
bool rust_epoll_wake_up_found(struct wait_queue_head *wq, bool sync);
int rust_epoll_release_hook_register(void);
void rust_epoll_release_hook_unregister(void);
int rust_epoll_release_hook_check(void);
unsigned long rust_epoll_release_hook_calls(void);
bool rust_epoll_epi_fget(struct file *file, const s8 *state);
struct rust_epoll_fhead;
int rust_epoll_index_init(void);
void rust_epoll_index_destroy(void);
struct rust_epoll_fhead *rust_epoll_index_lookup(unsigned long file);
int rust_epoll_index_insert(struct rust_epoll_fhead *head);
void rust_epoll_index_remove(struct rust_epoll_fhead *head);
__poll_t rust_epoll_item_poll(struct file *file, const s8 *state, poll_table *pt);
size_t rust_epoll_put_events(struct epoll_event __user *uevents,
			     const struct epoll_event *records, size_t n);
bool rust_epoll_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags);
void rust_epoll_spin_unlock_irq(spinlock_t *lock);
void rust_epoll_assert_irqs_enabled(void);
bool rust_epoll_is_eventpoll_fops(const struct file_operations *fop);
int rust_epoll_native_epoll_known(void);
bool rust_epoll_fatal_signal_pending(void);
void rust_epoll_prepare_to_wait_exclusive_head(struct wait_queue_head *wq,
					       struct wait_queue_entry *wait, int state);
bool rust_epoll_finish_wait_woken(struct wait_queue_head *wq, struct wait_queue_entry *wait);
int rust_epoll_autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode,
					int sync, void *key);
u64 rust_epoll_select_slack(s64 expires);
struct dentry *rust_epoll_debugfs_create_file(const char *name, struct dentry *parent, void *data);
void rust_epoll_debugfs_create_views(struct dentry *parent);
bool rust_epoll_views_enabled(void);
int rust_epoll_read_wait(const struct rust_epoll_wait __user *u, struct rust_epoll_wait *w);
int rust_epoll_read_ctl(const struct rust_epoll_ctl __user *u, struct rust_epoll_ctl *c);
#ifdef CONFIG_PM_SLEEP
struct wakeup_source *rust_epoll_wakeup_source_for(struct file *file);
bool rust_epoll_wakeup_source_active(struct wakeup_source *ws);
#endif

unsigned int rust_epoll_sock_napi_id(struct file *file);
void rust_epoll_napi_busy_loop(unsigned int napi_id, bool (*loop_end)(void *, unsigned long),
			       void *loop_end_arg, bool prefer_busy_poll, u16 budget);
unsigned long rust_epoll_busy_loop_current_time(void);

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
 * The hook's own health. ftrace can stop calling its callbacks behind our back: an internal
 * ftrace error calls ftrace_kill(), which no ops flag prevents (FTRACE_OPS_FL_PERMANENT only
 * blocks the sysctl), and after which ops can no longer be unregistered either. A release the
 * hook misses leaves our wait entries on freed queues, so before each ADD the module checks
 * that the hook is still being called: cheaply, when it has seen a release in the last 100 ms
 * (every close in the system is one); otherwise by releasing a file of its own and watching
 * the hook see it. Once the hook is found dead, every ADD is refused, and the module pins
 * itself in memory (its ftrace ops can no longer be unregistered).
 */
static unsigned long hook_last_call;	/* jiffies of the hook's last call */
static unsigned long hook_calls;	/* calls seen, for the debugfs view */
static struct file *probe_file;		/* the file a probe is releasing, or NULL */
static bool probe_seen;			/* the hook saw probe_file */
static bool hook_dead;
static DEFINE_MUTEX(probe_lock);

/*
 * Runs at the entry of every __fput(), in the releasing task's context, before the file's
 * ->release() can free its wait queues: the place of eventpoll_release(). Called directly by
 * the ftrace trampoline (no FTRACE_OPS_FL_RECURSION: ftrace's recursion guard would skip a
 * call rather than run it, and a skipped release is a use-after-free). Nothing it calls can
 * reach __fput() again. It must not sleep: our ops, in module memory, is FTRACE_OPS_FL_DYNAMIC,
 * and unregister_ftrace_function() waits for tasks on its trampoline and in this function with
 * synchronize_rcu_tasks(), which counts a voluntary sleep as having left them. It may be
 * preempted (a preemption is no quiescent state of RCU Tasks): release.rs drops its bucket
 * lock between batches of a file's watches, a preemption point, as eventpoll_release_file()
 * takes each watch's ep->mtx in turn. (Every x86 kernel of 7.3 is preemptible, PREEMPT_LAZY or
 * PREEMPT: no cond_resched() is needed, it is a no-op there.) When other ftrace users trace
 * __fput() too, ftrace calls every ops through its list function with preemption off: then
 * the release is not preemptible, as before 2026-12-03.
 */
static void notrace rust_epoll_fput_hook(unsigned long ip, unsigned long parent_ip,
					 struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct file *file = (struct file *)ftrace_regs_get_argument(fregs, 0);

	/* At most one store per jiffy: the line is shared by every close in the system. */
	if (READ_ONCE(hook_last_call) != jiffies)
		WRITE_ONCE(hook_last_call, jiffies);
	data_race(hook_calls++);	/* a statistic: a lost increment is harmless */
	if (unlikely(file == READ_ONCE(probe_file)))
		WRITE_ONCE(probe_seen, true);
	/*
	 * As __fput() calls eventpoll_release() only for an opened file: one whose open failed
	 * was never watched, and may carry our f_op with another private_data (misc_open's).
	 */
	if (likely(file->f_mode & FMODE_OPENED))
		rust_epoll_file_release(file);
}

/*
 * PERMANENT: while it is registered, ftrace_enabled cannot be turned off, which would
 * silently stop the hook.
 */
static struct ftrace_ops rust_epoll_fput_ops = {
	.func = rust_epoll_fput_hook,
	.flags = FTRACE_OPS_FL_PERMANENT,
};

static const struct file_operations probe_fops = {
	.owner = THIS_MODULE,
};

/* Releases a file of our own and reports whether the hook saw it. */
static bool probe_hook(void)
{
	struct file *file;
	bool seen;

	file = anon_inode_getfile("[rust_epoll_probe]", &probe_fops, NULL, O_RDONLY);
	if (IS_ERR(file))
		return true;	/* no verdict without a file: the recent past stands */
	mutex_lock(&probe_lock);
	WRITE_ONCE(probe_seen, false);
	WRITE_ONCE(probe_file, file);
	__fput_sync(file);	/* the last reference: __fput() runs now, in this task */
	WRITE_ONCE(probe_file, NULL);
	seen = READ_ONCE(probe_seen);
	mutex_unlock(&probe_lock);
	return seen;
}

/* 0 if the hook is being called, -EIO if it is not (and from then on). May sleep. */
int rust_epoll_release_hook_check(void)
{
	if (READ_ONCE(hook_dead))
		return -EIO;
	if (time_before(jiffies, READ_ONCE(hook_last_call) + HZ / 10) || probe_hook())
		return 0;
	if (!xchg(&hook_dead, true)) {
		pr_err("rust_epoll: ftrace no longer calls the __fput hook (ftrace killed?): new watches are refused and the module stays loaded\n");
		__module_get(THIS_MODULE);
	}
	return -EIO;
}

unsigned long rust_epoll_release_hook_calls(void)
{
	return data_race(hook_calls);
}

void rust_epoll_release_hook_unregister(void);

int rust_epoll_release_hook_register(void)
{
	static unsigned char name[] = "__fput";
	int err;

	err = ftrace_set_filter(&rust_epoll_fput_ops, name, sizeof(name) - 1, 1);
	if (err)
		return err;
	err = register_ftrace_function(&rust_epoll_fput_ops);
	if (err) {
		ftrace_free_filter(&rust_epoll_fput_ops);
		return err;
	}
	/* The hook must see a release now, or no watch could be made safely. */
	if (!probe_hook()) {
		pr_err("rust_epoll: the __fput hook did not see a file's release\n");
		rust_epoll_release_hook_unregister();
		return -EIO;
	}
	return 0;
}

/* Returns once no call of the hook is running (unregister_ftrace_function synchronises). */
void rust_epoll_release_hook_unregister(void)
{
	unregister_ftrace_function(&rust_epoll_fput_ops);
	ftrace_free_filter(&rust_epoll_fput_ops);
}

/*
 * The index of watched files (release.rs): a file's address to its FileHead, the list of our
 * watches of it (C's file->f_ep, which a module cannot add to struct file). An rhashtable, so
 * that it grows with the number of watched files and a lookup stays O(1): the release hook
 * looks up every file released in the system. Our instances' heads are embedded in their
 * eventpolls and are not in it (release.rs finds them through the file).
 *
 * The layout is release.rs's FileHead (#[repr(C)], checked there). Inserts and removes are
 * made under the file's bucket lock (release.rs), so a file's head is found, added and taken
 * off by one task at a time; lookups are made under RCU, by the hook without that lock. A
 * head off the index is freed after a grace period, its rcu_head over its (empty, no longer
 * read) list of watches, so a lookup walking past it reads a head still. (The walks under RCU
 * of release.rs read a head's first link under its bucket lock, while it is in the index, and
 * afterwards only compare addresses with it.)
 */
struct rust_epoll_fhead {
	struct rhash_head node;
	unsigned long file;
	union {
		struct list_head epitems;
		struct rcu_head rcu;
	};
};

static const struct rhashtable_params fhead_params = {
	.head_offset = offsetof(struct rust_epoll_fhead, node),
	.key_offset = offsetof(struct rust_epoll_fhead, file),
	.key_len = sizeof(unsigned long),
	.automatic_shrinking = true,
};

static struct rhashtable fhead_index;

int rust_epoll_index_init(void)
{
	/* release.rs's FileHead asserts the same. */
	BUILD_BUG_ON(offsetof(struct rust_epoll_fhead, node) != 0);
	BUILD_BUG_ON(offsetof(struct rust_epoll_fhead, file) != 8);
	BUILD_BUG_ON(offsetof(struct rust_epoll_fhead, epitems) != 16);
	BUILD_BUG_ON(sizeof(struct rust_epoll_fhead) != 32);
	return rhashtable_init(&fhead_index, &fhead_params);
}

/* At module exit, the index empty (every watch is gone, and so every head). */
void rust_epoll_index_destroy(void)
{
	rhashtable_destroy(&fhead_index);
}

/*
 * The head of @file, or NULL. The head stays valid after the RCU section only for a caller
 * holding @file's bucket lock, under which heads of @file are taken off. A NULL is followed
 * by a read barrier (smp_acquire__after_ctrl_dep): the head's removal was ordered after
 * everything its remover did before (rcu_assign_pointer's release), and the caller's reads
 * after the miss are ordered after it too. (In C the check is eventpoll_release()'s
 * READ_ONCE(file->f_ep), include/linux/eventpoll.h, ordered by the file's refcount drop.)
 */
struct rust_epoll_fhead *rust_epoll_index_lookup(unsigned long file)
{
	struct rust_epoll_fhead *head;

	rcu_read_lock();
	head = rhashtable_lookup(&fhead_index, &file, fhead_params);
	rcu_read_unlock();
	if (!head)
		smp_acquire__after_ctrl_dep();
	return head;
}

/* Adds @head (not in the index; no head of its file is), under its file's bucket lock. */
int rust_epoll_index_insert(struct rust_epoll_fhead *head)
{
	/* GFP_ATOMIC inside, if the table must grow at once: an error is -ENOMEM, -EBUSY or -E2BIG. */
	return rhashtable_insert_fast(&fhead_index, &head->node, fhead_params);
}

/* Takes @head, whose list is empty, off the index and frees it after a grace period. */
void rust_epoll_index_remove(struct rust_epoll_fhead *head)
{
	WARN_ON_ONCE(rhashtable_remove_fast(&fhead_index, &head->node, fhead_params));
	kfree_rcu(head, rcu);
}

/*
 * epi_fget(): a reference on a watch's target unless its release has begun. @state is the
 * watch's release state, set away from INDEXED (with release ordering) by the release hook
 * before __fput() frees the file. The RCU read section keeps @file's memory a struct file
 * (SLAB_TYPESAFE_BY_RCU) from the state check to the try-get. If the memory has been reused
 * by a new file since, the hook's store came before that file's free, the free before the
 * reallocation, and the new file's f_ref was set after it: our fully ordered try-get reads
 * that f_ref, so the second check sees the store. The free-to-reallocation step is the slab
 * allocator's ordering, which every SLAB_TYPESAFE_BY_RCU reader that re-checks identity after
 * a try-get relies on (get_file_rcu() does the same).
 */
bool rust_epoll_epi_fget(struct file *file, const s8 *state)
{
	bool got = false;

	rcu_read_lock();
	if (smp_load_acquire(state) == RUST_EPOLL_INDEXED && file_ref_get(&file->f_ref)) {
		if (READ_ONCE(*state) == RUST_EPOLL_INDEXED)
			got = true;
		else
			fput(file);
	}
	rcu_read_unlock();
	return got;
}

/* ep_item_poll() for a target that is not one of our instances: 0 if it is being released. */
__poll_t rust_epoll_item_poll(struct file *file, const s8 *state, poll_table *pt)
{
	__poll_t res;

	if (!rust_epoll_epi_fget(file, state))
		return 0;
	res = vfs_poll(file, pt);
	fput(file);
	return res;
}

/* Writes @n records as ep_send_events() does; returns how many fit before a fault. */
size_t rust_epoll_put_events(struct epoll_event __user *uevents,
			     const struct epoll_event *records, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uevents = epoll_put_uevent(records[i].events, records[i].data, uevents);
		if (!uevents)
			break;
	}
	return i;
}

bool rust_epoll_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags)
{
	unsigned long f;

	if (!spin_trylock_irqsave(lock, f))
		return false;
	*flags = f;
	return true;
}

#ifdef CONFIG_PROVE_LOCKING
/* irqlock.rs's lock_irq() is spin_lock_irq(): only where interrupts are on. */
void rust_epoll_assert_irqs_enabled(void)
{
	lockdep_assert_irqs_enabled();
}
#endif

#ifdef CONFIG_INLINE_SPIN_UNLOCK_IRQ
/* Without preemption spin_unlock_irq() is inline: no _raw_spin_unlock_irq() to call. */
void rust_epoll_spin_unlock_irq(spinlock_t *lock)
{
	spin_unlock_irq(lock);
}
#endif

/*
 * Whether @fop is native epoll's eventpoll_fops, which is static: its ->poll is
 * ep_eventpoll_poll(), by name. device.rs asks once, then compares f_op pointers.
 */
bool rust_epoll_is_eventpoll_fops(const struct file_operations *fop)
{
	static const char want[] = "ep_eventpoll_poll";
	char name[KSYM_SYMBOL_LEN];

	if (!fop || !fop->poll)
		return false;
	sprint_symbol_no_offset(name, (unsigned long)fop->poll);
	/* A compiler's suffix (".llvm.<hash>" under LTO, ".cold" ...) is the same function. */
	return !strncmp(name, want, sizeof(want) - 1) &&
	       (name[sizeof(want) - 1] == '\0' || name[sizeof(want) - 1] == '.');
}

/*
 * At load: native epoll files can be recognised at all, i.e. the kernel has a function of
 * that name (kallsyms finds it for the kprobe, registered disabled: no code is patched). A
 * module that could not tell native epoll files from others would lose both of its guards
 * against cycles through them, so it refuses to load instead. Without CONFIG_EPOLL there are
 * no native epoll files; without CONFIG_KPROBES this check cannot be made (Debian's kernels
 * and the test kernel have it).
 */
int rust_epoll_native_epoll_known(void)
{
#if IS_ENABLED(CONFIG_EPOLL) && IS_ENABLED(CONFIG_KPROBES)
	struct kprobe kp = {
		.symbol_name = "ep_eventpoll_poll",
		.flags = KPROBE_FLAG_DISABLED,
	};
	int err = register_kprobe(&kp);

	if (err) {
		pr_err("rust_epoll: cannot find ep_eventpoll_poll (error %d): native epoll files could not be recognised\n", err);
		return err;
	}
	unregister_kprobe(&kp);
#endif
	return 0;
}

bool rust_epoll_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

/*
 * ep_poll()'s queueing of a waiter: exclusive, at the head of the queue (after any
 * WQ_FLAG_PRIORITY entry), where __add_wait_queue_exclusive() puts it, so that a wake-up
 * reaches the waiter that went to sleep last: epoll's LIFO order among its waiters.
 * prepare_to_wait_exclusive(), the exported way, queues at the tail (FIFO). The task state is
 * set inside the queue's lock, as prepare_to_wait_exclusive() sets it.
 */
void rust_epoll_prepare_to_wait_exclusive_head(struct wait_queue_head *wq,
					       struct wait_queue_entry *wait, int state)
{
	unsigned long flags;

	spin_lock_irqsave(&wq->lock, flags);
	if (list_empty(&wait->entry))
		__add_wait_queue_exclusive(wq, wait);
	/*
	 * prepare_to_wait_exclusive()'s full barrier, where C's ep_poll() uses
	 * __set_current_state() under ep->lock. Not needed for us either (a waker links under
	 * ready, then wakes under this lock, after our check under ready or seeing us queued
	 * and sleeping): kept, as the common helper's, at no cost worth a difference.
	 */
	set_current_state(state);
	spin_unlock_irqrestore(&wq->lock, flags);
}

/*
 * fs/eventpoll.c's ep_autoremove_wake_function(): the entry leaves the queue on every wake-up,
 * also one that finds the task running already (its timeout fired and it has not run since):
 * ep_poll() then sees the entry off the queue and harvests what the wake-up was for, and the
 * wake-up, which returns 0 (no task woken), goes on to the next exclusive waiter. The exported
 * autoremove_wake_function() removes the entry only when it woke the task.
 */
int rust_epoll_autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode,
					int sync, void *key)
{
	int ret = default_wake_function(wq_entry, mode, sync, key);

	/* Pairs with list_empty_careful() in rust_epoll_finish_wait_woken(), as in ep_poll(). */
	list_del_init_careful(&wq_entry->entry);
	return ret;
}

/*
 * finish_wait() that also says whether a wake-up took the entry off the queue (its wake
 * function is rust_epoll_autoremove_wake_function or calls it): ep_poll()'s end of a sleep,
 * which under the lock reads list_empty(&wait.entry) before it removes the entry, and on a
 * timeout that no wake-up preceded returns 0 without looking at the ready list.
 */
bool rust_epoll_finish_wait_woken(struct wait_queue_head *wq, struct wait_queue_entry *wait)
{
	unsigned long flags;
	bool woken = true;

	__set_current_state(TASK_RUNNING);
	if (!list_empty_careful(&wait->entry)) {
		spin_lock_irqsave(&wq->lock, flags);
		woken = list_empty(&wait->entry);
		list_del_init(&wait->entry);
		spin_unlock_irqrestore(&wq->lock, flags);
	}
	return woken;
}

/*
 * fs/select.c's select_estimate_accuracy() (declared in <linux/poll.h>, not exported), for
 * an absolute CLOCK_MONOTONIC deadline in ns: the slack ep_poll() gives each sleep. The task's
 * timer slack (0 for a real-time task: no slack at all), or the time left / 1000 (/ 200 if
 * niced), capped at MAX_SLACK, whichever is larger; line for line as __estimate_accuracy().
 */
#define RUST_EPOLL_MAX_SLACK	(100 * NSEC_PER_MSEC)	/* fs/select.c's MAX_SLACK */
u64 rust_epoll_select_slack(s64 expires)
{
	u64 slack = current->timer_slack_ns;
	struct timespec64 now, tv = ns_to_timespec64(expires);
	int divfactor = 1000;
	long est;

	if (slack == 0)
		return 0;
	ktime_get_ts64(&now);
	tv = timespec64_sub(tv, now);
	if (tv.tv_sec < 0) {
		est = 0;
	} else {
		if (task_nice(current) > 0)
			divfactor = divfactor / 5;
		if (tv.tv_sec > RUST_EPOLL_MAX_SLACK / (NSEC_PER_SEC / divfactor)) {
			est = RUST_EPOLL_MAX_SLACK;
		} else {
			est = tv.tv_nsec / divfactor;
			est += tv.tv_sec * (NSEC_PER_SEC / divfactor);
			if (est > RUST_EPOLL_MAX_SLACK)
				est = RUST_EPOLL_MAX_SLACK;
		}
	}
	return (u64)est < slack ? slack : est;
}

/*
 * The ioctls' arguments, read field by field in one user-access section (a few loads) rather
 * than by copy_from_user() (a string copy, byte by byte under TCG): epoll_wait() and
 * epoll_ctl() get theirs in registers. -EFAULT if any part is unreadable.
 */
int rust_epoll_read_wait(const struct rust_epoll_wait __user *u, struct rust_epoll_wait *w)
{
	scoped_user_read_access(u, efault) {
		unsafe_get_user(w->events, &u->events, efault);
		unsafe_get_user(w->maxevents, &u->maxevents, efault);
		unsafe_get_user(w->timeout, &u->timeout, efault);
		unsafe_get_user(w->sigmask, &u->sigmask, efault);
		unsafe_get_user(w->sigsetsize, &u->sigsetsize, efault);
		unsafe_get_user(w->flags, &u->flags, efault);
		unsafe_get_user(w->timeout_ns, &u->timeout_ns, efault);
	}
	return 0;
efault:
	return -EFAULT;
}

int rust_epoll_read_ctl(const struct rust_epoll_ctl __user *u, struct rust_epoll_ctl *c)
{
	scoped_user_read_access(u, efault) {
		unsafe_get_user(c->op, &u->op, efault);
		unsafe_get_user(c->fd, &u->fd, efault);
		unsafe_get_user(c->events, &u->events, efault);
		unsafe_get_user(c->flags, &u->flags, efault);
		unsafe_get_user(c->data, &u->data, efault);
	}
	return 0;
efault:
	return -EFAULT;
}

#ifdef CONFIG_PM_SLEEP
/* ep_create_wakeup_source()'s source for a watch, named after its target's dentry. */
struct wakeup_source *rust_epoll_wakeup_source_for(struct file *file)
{
	struct name_snapshot n;
	struct wakeup_source *ws;

	take_dentry_name_snapshot(&n, file->f_path.dentry);
	ws = wakeup_source_register(NULL, (const char *)n.name.name);
	release_dentry_name_snapshot(&n);
	return ws;
}

/* ws->active, a bitfield, read as ep_deliver_event() reads it: without a lock. */
bool rust_epoll_wakeup_source_active(struct wakeup_source *ws)
{
	return data_race((bool)ws->active);
}
#endif

void rust_epoll_mutex_lock_nested(struct mutex *lock, unsigned int subclass)
{
	mutex_lock_nested(lock, subclass);
}

/*
 * Whether current holds @lock (for mutex.rs, on a rare path): kernel/locking/mutex.h's
 * __mutex_owner() == current. That header is private and mutex_get_owner() is not exported;
 * the owner word is public in struct mutex: the owning task's pointer, its low bits flags
 * (MUTEX_FLAGS, 0x07 in 7.3's kernel/locking/mutex.h). (Not PREEMPT_RT: refused at the top.)
 */
bool rust_epoll_mutex_held_by_current(struct mutex *lock)
{
	return (atomic_long_read(&lock->owner) & ~0x07UL) == (unsigned long)current;
}

/*
 * ep_poll_safewake() under lockdep: wake_up_poll() with the queue's lock taken at a nesting
 * subclass, and the owner's `nests` set inside that lock for the duration, so that the
 * wake-up's callbacks (an instance watching this one) take theirs one deeper.
 */
void rust_epoll_wake_up_nested(struct wait_queue_head *wq, unsigned long key, int subclass,
			       u8 *nests)
{
	unsigned long flags;

	spin_lock_irqsave_nested(&wq->lock, flags, subclass);
	*nests = subclass + 1;
	__wake_up_locked_key(wq, TASK_NORMAL, (void *)key);
	*nests = 0;
	spin_unlock_irqrestore(&wq->lock, flags);
}

/*
 * wake_up() (or wake_up_sync()) of an instance's wq for ep_poll_callback, returning whether a
 * waiter was queued when the wake-up ran, read under the queue's lock: the callback's ewake.
 * C reads waitqueue_active(&ep->wq) and wakes inside ep->lock, where ep_poll also queues and
 * dequeues its waiters, so a waiter C saw is one the wake-up takes. Our waiters queue and
 * dequeue under wq's lock only, so the check is made under that lock, in the same section as
 * the wake-up: a waiter that timed out and left in between is not counted, and an
 * EPOLLEXCLUSIVE wake-up goes on to the next instance instead of stopping at one whose waiter
 * has gone. What remains different from C comes from our waiters queueing before they look
 * at the ready list (C looks, then queues, under ep->lock): a waiter that found an event
 * itself and left in between is not counted, so the next instance is woken too (one more,
 * which EPOLLEXCLUSIVE's "one or more" allows); one that has found an event but not yet
 * left is counted, so the wake-up stops here where C's would go on (the event is reported
 * by that waiter all the same); and a queued min-waiter counts whether or not it declines
 * (minwait.rs: the event is on its ready list and reported by its deadline, as the README
 * says).
 */
bool rust_epoll_wake_up_found(struct wait_queue_head *wq, bool sync)
{
	unsigned long flags;
	bool found;

	spin_lock_irqsave(&wq->lock, flags);
	found = !list_empty(&wq->head);
	if (found) {
		if (sync)
			__wake_up_locked_sync_key(wq, TASK_NORMAL, NULL);
		else
			__wake_up_locked_key(wq, TASK_NORMAL, NULL);
	}
	spin_unlock_irqrestore(&wq->lock, flags);
	return found;
}

/* busy_poll.rs has these values of C's. */
static_assert(NAPI_POLL_WEIGHT == 64);
static_assert(BUSY_POLL_BUDGET == 8);

/*
 * ep_set_busy_poll_napi_id()'s look at a watched file: the NAPI id of its socket, or 0 if it is
 * not a socket or its id is not a NAPI one (napi_id_valid()). The caller keeps @file alive.
 * Without CONFIG_NET_RX_BUSY_POLL these three are never called (busy_poll.rs checks first).
 */
unsigned int rust_epoll_sock_napi_id(struct file *file)
{
#ifdef CONFIG_NET_RX_BUSY_POLL
	struct socket *sock = sock_from_file(file);
	unsigned int napi_id;

	if (!sock || !sock->sk)
		return 0;
	napi_id = READ_ONCE(sock->sk->sk_napi_id);
	return napi_id_valid(napi_id) ? napi_id : 0;
#else
	return 0;
#endif
}

void rust_epoll_napi_busy_loop(unsigned int napi_id, bool (*loop_end)(void *, unsigned long),
			       void *loop_end_arg, bool prefer_busy_poll, u16 budget)
{
#ifdef CONFIG_NET_RX_BUSY_POLL
	napi_busy_loop(napi_id, loop_end, loop_end_arg, prefer_busy_poll, budget);
#endif
}

unsigned long rust_epoll_busy_loop_current_time(void)
{
	return busy_loop_current_time();
}

/*
 * debugfs files that hold the module while they are open. The kernel crate's debugfs
 * (rust/kernel/debugfs/file_ops.rs) builds its file_operations without .owner, so debugfs's
 * proxy open takes no module reference: rmmod succeeds while such a file is open, and its
 * close then reads ->release from the freed module's file_operations (full_proxy_release).
 * Ours have THIS_MODULE as owner, as DEFINE_SHOW_ATTRIBUTE's users do; a file's text is
 * rust_epoll_debugfs_show()'s (introspect.rs), given the file's data.
 */
int rust_epoll_debugfs_show(struct seq_file *m, void *v);

static int rust_epoll_debugfs_open(struct inode *inode, struct file *file)
{
	return single_open(file, rust_epoll_debugfs_show, inode->i_private);
}

static const struct file_operations rust_epoll_debugfs_fops = {
	.owner = THIS_MODULE,
	.open = rust_epoll_debugfs_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

struct dentry *rust_epoll_debugfs_create_file(const char *name, struct dentry *parent, void *data)
{
	return debugfs_create_file(name, 0400, parent, data, &rust_epoll_debugfs_fops);
}

/*
 * /sys/kernel/debug/rust_epoll/views: whether instances opened from now on get a debugfs
 * picture (introspect.rs). Off by default: a debugfs file created at every open and removed at
 * every close made opening and closing an instance cost 5-8x native's. debugfs_create_bool()'s
 * file_operations are the kernel's own, and its reads and writes take the file's active
 * reference, so this file needs no owner to outlive rmmod safely.
 */
static bool rust_epoll_views;

void rust_epoll_debugfs_create_views(struct dentry *parent)
{
	debugfs_create_bool("views", 0600, parent, &rust_epoll_views);
}

bool rust_epoll_views_enabled(void)
{
	return READ_ONCE(rust_epoll_views);
}
