// SPDX-License-Identifier: GPL-2.0
/*
 * libshim_ctor.so: a library that does what jemalloc's and glib's do before main, for
 * shim_ctor_test. Its constructor runs before the LD_PRELOAD shim's own (the loader runs a
 * program's libraries' constructors before a preloaded library's) and calls every function
 * the shim wraps: syscall(), close(), dup(), dup2(), dup3(), epoll_create1(), epoll_ctl(),
 * epoll_wait(), from four racing threads first and then from one. It only records what it
 * saw; shim_ctor_test checks it in main.
 *
 * It also defines dup3() as an IFUNC whose resolver calls dup3(), close() and syscall():
 * the shim's dlsym(RTLD_NEXT, "dup3") finds it (this library comes before libc) and runs the
 * resolver, so a wrapped function is called from inside the shim's own dlsym(), as when
 * dlsym() allocates and malloc's initialisation makes system calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_ctor.h"

struct shim_ctor_results shim_ctor;

/* The IFUNC dup3: the implementation goes through syscall(), which the shim passes on. */
static int dup3_impl(int oldfd, int newfd, int flags)
{
	atomic_fetch_add(&shim_ctor.ifunc_impl_calls, 1);
	return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

static __thread int resolver_depth;

static int (*dup3_resolver(void))(int, int, int)
{
	atomic_fetch_add(&shim_ctor.ifunc_resolver_calls, 1);
	/* Entered again before returning: the shim called dlsym() from inside dlsym(). */
	if (resolver_depth) {
		atomic_fetch_add(&shim_ctor.ifunc_resolver_nested, 1);
		return dup3_impl;
	}
	resolver_depth++;
	errno = 0;
	shim_ctor.resolver_dup3 = dup3(-1, SHIM_CTOR_FD + 3, 0);
	shim_ctor.resolver_dup3_errno = errno;
	errno = 0;
	shim_ctor.resolver_close = close(-1);
	shim_ctor.resolver_close_errno = errno;
	shim_ctor.resolver_getppid = syscall(SYS_getppid);
	resolver_depth--;
	return dup3_impl;
}

int dup3(int oldfd, int newfd, int flags) __attribute__((ifunc("dup3_resolver")));

static pthread_barrier_t start;

/* dup, dup2, dup3, close and syscall from several threads at once, all first uses. */
static void *racer(void *arg)
{
	int fd = *(int *)arg, errors = 0;
	long pid = getpid();

	pthread_barrier_wait(&start);
	for (int i = 0; i < 200; i++) {
		int a = dup(fd), b, c;

		b = a >= 0 ? dup2(fd, a) : -1;
		c = a >= 0 ? dup3(fd, a, O_CLOEXEC) : -1;
		if (a < 0 || b != a || c != a || !(fcntl(a, F_GETFD) & FD_CLOEXEC))
			errors++;
		if (close(a) || syscall(SYS_getpid) != pid)
			errors++;
	}
	atomic_fetch_add(&shim_ctor.thread_errors, errors);
	return NULL;
}

static int same_file(int a, int b)
{
	struct stat x, y;

	return !fstat(a, &x) && !fstat(b, &y) && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

__attribute__((constructor)) static void before_the_shim(void)
{
	struct shim_ctor_results *r = &shim_ctor;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SHIM_CTOR_DATA }, out;
	pthread_t t[4];
	int p[2], d, ep2;

	r->ran = 1;
	r->pid = getpid();
	r->ppid = getppid();
	if (pipe(p))
		return;
	pthread_barrier_init(&start, NULL, 4);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, racer, &p[0]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);

	r->getpid = syscall(SYS_getpid);
	d = dup(p[0]);
	r->dup_ok = d >= 0 && same_file(d, p[0]);
	r->dup2_ok = dup2(p[0], SHIM_CTOR_FD) == SHIM_CTOR_FD && same_file(SHIM_CTOR_FD, p[0]);
	r->dup3_ok = dup3(p[1], SHIM_CTOR_FD + 1, O_CLOEXEC) == SHIM_CTOR_FD + 1 &&
		     same_file(SHIM_CTOR_FD + 1, p[1]) &&
		     (fcntl(SHIM_CTOR_FD + 1, F_GETFD) & FD_CLOEXEC);
	r->close_ok = !close(d) && !close(SHIM_CTOR_FD) && fcntl(SHIM_CTOR_FD, F_GETFD) < 0;
	r->syscall_close_ok = !syscall(SYS_close, SHIM_CTOR_FD + 1) &&
			      fcntl(SHIM_CTOR_FD + 1, F_GETFD) < 0 && errno == EBADF;
	errno = 0;
	r->close_bad = close(-1);
	r->close_bad_errno = errno;

	/* An instance made, used and dup'ed before main; main waits on the dup. */
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	r->ep_errno = errno;
	if (r->ep < 0)
		return;
	r->ctl = epoll_ctl(r->ep, EPOLL_CTL_ADD, p[0], &ev);
	r->write = (int)write(p[1], "x", 1);
	r->wait = epoll_wait(r->ep, &out, 1, 1000);
	r->wait_data = r->wait == 1 ? out.data.u64 : 0;
	r->ep_dup = dup(r->ep);
	r->syscall_wait = (int)syscall(SYS_epoll_wait, r->ep_dup, &out, 1, 0);

	/* An instance's fd number dup2'ed over by a pipe: no longer the shim's instance. */
	ep2 = epoll_create1(0);
	r->stale_dup2 = dup2(p[0], ep2) == ep2;
	errno = 0;
	r->stale_ctl = epoll_ctl(ep2, EPOLL_CTL_ADD, p[1], &ev);
	r->stale_ctl_errno = errno;
	close(ep2);
	r->pipe[0] = p[0];
	r->pipe[1] = p[1];
}
