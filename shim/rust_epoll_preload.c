// SPDX-License-Identifier: GPL-2.0
/*
 * librust_epoll_preload.so: runs unmodified epoll programs on /dev/rust_epoll.
 *
 * With LD_PRELOAD set to it, epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait,
 * epoll_pwait2 and libc's syscall() with the epoll syscall numbers go to the device, and so
 * does ioctl() on an instance (the device answers native epoll's EPIOCSPARAMS and EPIOCGPARAMS
 * itself, and a request it does not know fails with EINVAL, as on native epoll). Epoll
 * fds the shim did not create (inherited from a parent that ran without it, made by a raw
 * syscall instruction) pass through to the real functions. Which fds are the device's is a
 * table indexed by fd, updated by the shim's epoll_create*, close, dup, dup2 and dup3, and
 * confirmed by fstat the first time an unknown fd is used: no lock anywhere, and nothing on
 * the wait path but one load. Fork keeps the table (the child inherits the fds too).
 *
 * The real functions are looked up on first use, so the wrappers work from any library's
 * constructor, including those the loader runs before the shim's (see resolve()).
 *
 * If the device cannot be opened, the shim says so once on stderr; the call then fails with
 * open()'s errno, unless RUST_EPOLL_FALLBACK=1, which falls back to native epoll (so that a
 * test can never pass on native epoll by accident).
 *
 * Known limits: an invalid `struct epoll_event *` given to epoll_ctl, or `struct timespec *`
 * given to epoll_pwait2, faults in the shim (native epoll returns EFAULT); fds duplicated by
 * fcntl(F_DUPFD), inherited across exec or received over a socket are found by fstat. A
 * wrapped call made inside the shim's own dlsym() is a plain system call (no cancellation
 * point); a WAIT is one, as epoll_wait() is (device_wait_cancellable()). x86-64 only (raw_syscall()).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../include/uapi/rust_epoll.h"

#define MAX_TRACKED_FD (1 << 20)
#define KERNEL_SIGSET_SIZE (_NSIG / 8)

enum { UNKNOWN = 0, OURS = 1, NOT_OURS = 2 };

/* What each fd is, as far as the shim knows: 1 MiB of bss, no locks. */
static _Atomic unsigned char fd_kind[MAX_TRACKED_FD];
static _Atomic dev_t device_rdev;
static _Atomic int warned;

/*
 * The functions the shim wraps, as the next object in the lookup order (libc) defines them.
 *
 * Resolved on first use, not in a constructor: other libraries' constructors (jemalloc's
 * malloc initialisation, GObject's type registration) call syscall(), close() and dup*()
 * before the shim's own constructor has run, and the lookup order of constructors is the loader's to choose. One
 * pointer per symbol, published with release/acquire: threads racing on first use each call
 * dlsym() and store the same value, so no lock is needed (and none could be taken safely in a
 * constructor or a signal handler).
 *
 * dlsym() may itself end up in a wrapped function: through malloc (jemalloc's initialisation
 * calls syscall()), or through an IFUNC resolver that dlsym() runs for the symbol it finds.
 * While this thread is inside the shim's dlsym(), `resolving` is set and a wrapped function
 * whose pointer is not known yet issues its system call directly (raw_syscall), instead of
 * recursing into dlsym(). The flag is initial-exec TLS: reading it allocates nothing. It is
 * volatile: it is static and its address never escapes, so the compiler could otherwise prove
 * that dlsym() cannot read it and drop the store of 1 as dead.
 */
#define MISSING ((void *)-1L)	/* dlsym() found no such symbol: use the system call */

static struct {
	void *_Atomic epoll_create1, *_Atomic epoll_ctl, *_Atomic epoll_pwait, *_Atomic epoll_pwait2,
		*_Atomic close, *_Atomic dup, *_Atomic dup2, *_Atomic dup3, *_Atomic syscall,
		*_Atomic ioctl;
} real;

static __thread volatile int resolving __attribute__((tls_model("initial-exec")));

/* The real `name` or NULL (missing, or being resolved by this thread): then use the syscall. */
static void *resolve(void *_Atomic *slot, const char *name)
{
	void *fn = atomic_load_explicit(slot, memory_order_acquire);
	int saved_errno;

	if (fn)
		return fn == MISSING ? NULL : fn;
	if (resolving)
		return NULL;
	saved_errno = errno;
	resolving = 1;
	fn = dlsym(RTLD_NEXT, name);
	resolving = 0;
	errno = saved_errno;
	atomic_store_explicit(slot, fn ? fn : MISSING, memory_order_release);
	return fn;
}

#define REAL(name) ((__typeof__(&name))resolve(&real.name, #name))

/* A system call by the instruction itself, with libc's convention: -1 and errno on failure. */
static long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if ((unsigned long)ret > -4096UL) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
#else
#error "rust_epoll_preload: raw_syscall() is written for x86-64 only"
#endif
}

/* Warms every pointer once the loader gets to the shim (the wrappers work before that too). */
__attribute__((constructor)) static void shim_init(void)
{
	(void)REAL(epoll_create1);
	(void)REAL(epoll_ctl);
	(void)REAL(epoll_pwait);
	(void)REAL(epoll_pwait2);
	(void)REAL(close);
	(void)REAL(dup);
	(void)REAL(dup2);
	(void)REAL(dup3);
	(void)REAL(syscall);
	(void)REAL(ioctl);
}

static int real_epoll_create1(int flags)
{
	__typeof__(&epoll_create1) fn = REAL(epoll_create1);

	return fn ? fn(flags) : (int)raw_syscall(SYS_epoll_create1, flags, 0, 0, 0, 0, 0);
}

static int real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	__typeof__(&epoll_ctl) fn = REAL(epoll_ctl);

	return fn ? fn(epfd, op, fd, event)
		  : (int)raw_syscall(SYS_epoll_ctl, epfd, op, fd, (long)event, 0, 0);
}

static int real_epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
			    const sigset_t *sigmask)
{
	__typeof__(&epoll_pwait) fn = REAL(epoll_pwait);

	return fn ? fn(epfd, events, maxevents, timeout, sigmask)
		  : (int)raw_syscall(SYS_epoll_pwait, epfd, (long)events, maxevents, timeout,
				     (long)sigmask, KERNEL_SIGSET_SIZE);
}

static int real_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			     const struct timespec *timeout, const sigset_t *sigmask)
{
	__typeof__(&epoll_pwait2) fn = REAL(epoll_pwait2);

	return fn ? fn(epfd, events, maxevents, timeout, sigmask)
		  : (int)raw_syscall(SYS_epoll_pwait2, epfd, (long)events, maxevents, (long)timeout,
				     (long)sigmask, KERNEL_SIGSET_SIZE);
}

static int real_close(int fd)
{
	__typeof__(&close) fn = REAL(close);

	return fn ? fn(fd) : (int)raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
}

static int real_dup(int oldfd)
{
	__typeof__(&dup) fn = REAL(dup);

	return fn ? fn(oldfd) : (int)raw_syscall(SYS_dup, oldfd, 0, 0, 0, 0, 0);
}

static int real_dup2(int oldfd, int newfd)
{
	__typeof__(&dup2) fn = REAL(dup2);

	return fn ? fn(oldfd, newfd) : (int)raw_syscall(SYS_dup2, oldfd, newfd, 0, 0, 0, 0);
}

static int real_dup3(int oldfd, int newfd, int flags)
{
	__typeof__(&dup3) fn = REAL(dup3);

	return fn ? fn(oldfd, newfd, flags) : (int)raw_syscall(SYS_dup3, oldfd, newfd, flags, 0, 0, 0);
}

static long real_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	__typeof__(&syscall) fn = REAL(syscall);

	return fn ? fn(nr, a1, a2, a3, a4, a5, a6) : raw_syscall(nr, a1, a2, a3, a4, a5, a6);
}

static int real_ioctl(int fd, unsigned long request, void *arg)
{
	__typeof__(&ioctl) fn = REAL(ioctl);

	return fn ? fn(fd, request, arg) : (int)raw_syscall(SYS_ioctl, fd, (long)request, (long)arg, 0, 0, 0);
}

static void set_kind(int fd, unsigned char kind)
{
	if (fd >= 0 && fd < MAX_TRACKED_FD)
		atomic_store_explicit(&fd_kind[fd], kind, memory_order_relaxed);
}

/* Whether `fd` is an instance of the device: the table, or fstat the first time. */
static int is_ours(int fd)
{
	unsigned char kind = UNKNOWN;
	struct stat st;

	if (fd >= 0 && fd < MAX_TRACKED_FD)
		kind = atomic_load_explicit(&fd_kind[fd], memory_order_relaxed);
	if (kind != UNKNOWN)
		return kind == OURS;
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode))
		return 0;
	/*
	 * A character device before this process made an instance of its own: one it inherited
	 * across exec or received over a socket. The device node says which number is ours.
	 */
	if (!atomic_load(&device_rdev)) {
		struct stat dev;

		if (stat(RUST_EPOLL_DEVICE, &dev) || !S_ISCHR(dev.st_mode))
			return 0;
		atomic_store(&device_rdev, dev.st_rdev);
	}
	kind = st.st_rdev == atomic_load(&device_rdev) ? OURS : NOT_OURS;
	set_kind(fd, kind);
	return kind == OURS;
}

static int fallback_allowed(void)
{
	const char *f = getenv("RUST_EPOLL_FALLBACK");

	return f && !strcmp(f, "1");
}

int epoll_create1(int flags)
{
	struct stat st;
	int fd, err;

	if (flags & ~EPOLL_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	fd = open(RUST_EPOLL_DEVICE, O_RDWR | (flags & EPOLL_CLOEXEC ? O_CLOEXEC : 0));
	if (fd < 0) {
		err = errno;
		if (!atomic_exchange(&warned, 1))
			fprintf(stderr, "rust_epoll_preload: cannot open %s: %s%s\n", RUST_EPOLL_DEVICE,
				strerror(err), fallback_allowed() ? "; falling back to native epoll" : "");
		if (fallback_allowed())
			return real_epoll_create1(flags);
		errno = err;
		return -1;
	}
	if (!atomic_load(&device_rdev) && !fstat(fd, &st))
		atomic_store(&device_rdev, st.st_rdev);
	set_kind(fd, OURS);
	return fd;
}

int epoll_create(int size)
{
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return epoll_create1(0);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	struct rust_epoll_ctl c = { .op = (__u32)op, .fd = fd };

	if (!is_ours(epfd))
		return real_epoll_ctl(epfd, op, fd, event);
	if (op != EPOLL_CTL_DEL) {
		if (!event) {
			errno = EFAULT;
			return -1;
		}
		c.events = event->events;
		c.data = event->data.u64;
	}
	return real_ioctl(epfd, RUST_EPOLL_CTL, &c);
}

/* One WAIT: a timeout in ns (< 0: none) and an optional signal mask. */
static int device_wait(int epfd, struct epoll_event *events, int maxevents, long long timeout_ns,
		       const sigset_t *sigmask)
{
	unsigned long addr = (unsigned long)(uintptr_t)events;

	/* epoll_wait()'s common case, whole milliseconds and no mask: arguments in registers. */
	if (!sigmask && addr >> 48 == 0 && maxevents > 0 && maxevents <= 0xffff &&
	    (timeout_ns == -1 || (timeout_ns >= 0 && timeout_ns % 1000000 == 0 &&
				  timeout_ns / 1000000 <= RUST_EPOLL_WAIT_REG_MAX_MS)))
		return real_ioctl(epfd, RUST_EPOLL_WAIT_REG(timeout_ns < 0 ? -1 : timeout_ns / 1000000),
				  (void *)RUST_EPOLL_WAIT_REG_ARG(addr, maxevents));
	struct rust_epoll_wait w = {
		.events = (__u64)(uintptr_t)events,
		.maxevents = maxevents,
		.flags = RUST_EPOLL_WAIT_NSEC,
		.timeout_ns = timeout_ns,
		.sigmask = (__u64)(uintptr_t)sigmask,
		.sigsetsize = sigmask ? KERNEL_SIGSET_SIZE : 0,
	};

	return real_ioctl(epfd, RUST_EPOLL_WAIT, &w);
}

/*
 * device_wait() as a cancellation point: glibc makes epoll_wait, epoll_pwait and epoll_pwait2
 * cancellation points (SYSCALL_CANCEL), but ioctl() is none, so a thread asleep in a WAIT
 * would outlive pthread_cancel(). As glibc 2.36 runs a cancellable system call
 * (__pthread_enable_asynccancel), the WAIT runs with asynchronous cancellation, the caller's
 * type restored after it (and errno with it). libc's syscall() is not a cancellation point, so
 * the shim's syscall() calls device_wait() itself.
 */
static int device_wait_cancellable(int epfd, struct epoll_event *events, int maxevents,
				   long long timeout_ns, const sigset_t *sigmask)
{
	int type, ret, err;

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &type);
	ret = device_wait(epfd, events, maxevents, timeout_ns, sigmask);
	err = errno;
	pthread_setcanceltype(type, NULL);
	errno = err;
	return ret;
}

static long long ms_to_ns(int timeout)
{
	return timeout < 0 ? -1 : (long long)timeout * 1000000;
}

int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
		const sigset_t *sigmask)
{
	if (!is_ours(epfd))
		return real_epoll_pwait(epfd, events, maxevents, timeout, sigmask);
	return device_wait_cancellable(epfd, events, maxevents, ms_to_ns(timeout), sigmask);
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	return epoll_pwait(epfd, events, maxevents, timeout, NULL);
}

/* epoll_pwait2's timespec: EINVAL when out of range, as the syscall says. */
static int timespec_to_ns(const struct timespec *ts, long long *ns)
{
	if (!ts) {
		*ns = -1;
		return 0;
	}
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L) {
		errno = EINVAL;
		return -1;
	}
	*ns = ts->tv_sec > 9000000000LL ? -1 : (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
	return 0;
}

int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents, const struct timespec *timeout,
		 const sigset_t *sigmask)
{
	long long ns;

	if (!is_ours(epfd))
		return real_epoll_pwait2(epfd, events, maxevents, timeout, sigmask);
	if (timespec_to_ns(timeout, &ns))
		return -1;
	return device_wait_cancellable(epfd, events, maxevents, ns, sigmask);
}

int close(int fd)
{
	set_kind(fd, UNKNOWN);
	return real_close(fd);
}

int dup(int oldfd)
{
	int fd = real_dup(oldfd);

	if (fd >= 0)
		set_kind(fd, UNKNOWN);
	return fd;
}

int dup2(int oldfd, int newfd)
{
	int fd = real_dup2(oldfd, newfd);

	if (fd >= 0)
		set_kind(fd, UNKNOWN);
	return fd;
}

int dup3(int oldfd, int newfd, int flags)
{
	int fd = real_dup3(oldfd, newfd, flags);

	if (fd >= 0)
		set_kind(fd, UNKNOWN);
	return fd;
}

/*
 * ioctl() on an instance. The device answers native epoll's own requests with their numbers
 * (EPIOCSPARAMS and EPIOCGPARAMS, ioctl_eventpoll(2)), so every request goes through as it is;
 * only the error for a request it does not know differs: ENOTTY from a device, EINVAL from
 * native epoll (ep_eventpoll_ioctl), which is what the program expects. Other fds: untouched.
 */
int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	ret = real_ioctl(fd, request, arg);
	if (ret == -1 && errno == ENOTTY) {
		if (is_ours(fd))
			errno = EINVAL;
		else
			errno = ENOTTY;	/* as is_ours() found it (its fstat may set errno) */
	}
	return ret;
}

/* libc's syscall(): the epoll numbers go to the shim's functions, with the syscalls' errors. */
long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	switch (nr) {
	case SYS_epoll_create:
		return epoll_create((int)a[0]);
	case SYS_epoll_create1:
		return epoll_create1((int)a[0]);
	case SYS_epoll_ctl:
		return epoll_ctl((int)a[0], (int)a[1], (int)a[2], (struct epoll_event *)a[3]);
	case SYS_epoll_wait:
		if (!is_ours((int)a[0]))
			break;
		return device_wait((int)a[0], (struct epoll_event *)a[1], (int)a[2],
				   ms_to_ns((int)a[3]), NULL);
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		if (!is_ours((int)a[0]))
			break;
		if (a[4] && (size_t)a[5] != KERNEL_SIGSET_SIZE) {
			errno = EINVAL;
			return -1;
		}
		if (nr == SYS_epoll_pwait)
			return device_wait((int)a[0], (struct epoll_event *)a[1], (int)a[2],
					   ms_to_ns((int)a[3]), (const sigset_t *)a[4]);
		long long ns;

		if (timespec_to_ns((const struct timespec *)a[3], &ns))
			return -1;
		return device_wait((int)a[0], (struct epoll_event *)a[1], (int)a[2], ns,
				   (const sigset_t *)a[4]);
	case SYS_close:
		set_kind((int)a[0], UNKNOWN);
		break;
	case SYS_ioctl:
		return ioctl((int)a[0], (unsigned long)a[1], (void *)a[2]);
	}
	return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
