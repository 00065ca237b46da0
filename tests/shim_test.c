// SPDX-License-Identifier: GPL-2.0
/*
 * The LD_PRELOAD shim's own promises, run with LD_PRELOAD=librust_epoll_preload.so: in the VM
 * against the device, and on the host (no device) for the missing-device behaviour.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "../include/uapi/rust_epoll.h"

static bool on_device(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISCHR(st.st_mode);
}

static bool device_present(void)
{
	return !access("/dev/rust_epoll", F_OK);
}

/* epoll_create1(0) by the syscall instruction itself, past libc and so past the shim. */
static int raw_epoll_create1(void)
{
	long ret;

	asm volatile("syscall" : "=a"(ret) : "0"((long)SYS_epoll_create1), "D"(0L)
		     : "rcx", "r11", "memory");
	return (int)ret;
}

TEST(creates_on_the_device_with_cloexec)
{
	int a, b;

	if (!device_present())
		SKIP(return, "no /dev/rust_epoll here");
	a = epoll_create1(EPOLL_CLOEXEC);
	b = epoll_create(1);
	ASSERT_GE(a, 0);
	ASSERT_GE(b, 0);
	EXPECT_TRUE(on_device(a));
	EXPECT_TRUE(on_device(b));
	EXPECT_EQ(FD_CLOEXEC, fcntl(a, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(b, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(-1, epoll_create1(12345));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, epoll_create(0));
	EXPECT_EQ(EINVAL, errno);
	close(a);
	close(b);
}

/* An epoll fd the shim did not make goes to native epoll, unchanged. */
TEST(native_epoll_fd_passes_through)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 5 };
	int ep = raw_epoll_create1(), p[2];

	ASSERT_GE(ep, 0);
	EXPECT_FALSE(on_device(ep));
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(5, ev.data.u64);
	close(ep);
	close(p[0]);
	close(p[1]);
}

/*
 * ioctl() on an instance made by the shim: EPIOCSPARAMS/EPIOCGPARAMS reach the device, an
 * unknown request is EINVAL as on native epoll (the device itself says ENOTTY), also through
 * syscall(); other fds keep their own answers (ENOTTY from a socket).
 */
TEST(ioctl_on_an_instance)
{
	struct rust_epoll_params p = { .busy_poll_usecs = 25, .busy_poll_budget = 16,
				       .prefer_busy_poll = 1 };
	int ep, s;

	if (!device_present())
		SKIP(return, "no /dev/rust_epoll here");
	ep = epoll_create1(0);
	ASSERT_TRUE(on_device(ep));
	ASSERT_EQ(0, ioctl(ep, RUST_EPOLL_SPARAMS, &p));
	memset(&p, 0, sizeof(p));
	ASSERT_EQ(0, syscall(SYS_ioctl, ep, RUST_EPOLL_GPARAMS, &p));
	EXPECT_EQ(25, p.busy_poll_usecs);
	EXPECT_EQ(16, p.busy_poll_budget);
	EXPECT_EQ(1, p.prefer_busy_poll);
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_GPARAMS + 10, &p));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, syscall(SYS_ioctl, ep, RUST_EPOLL_GPARAMS + 10, &p));
	EXPECT_EQ(EINVAL, errno);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	ASSERT_GE(s, 0);
	EXPECT_EQ(-1, ioctl(s, RUST_EPOLL_GPARAMS, &p));
	EXPECT_EQ(ENOTTY, errno);
	close(s);
	close(ep);
}

/* A forked child and a dup'd fd keep using the same instance on the device. */
TEST(fork_and_dup)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 9 };
	int ep, d, p[2], status;
	pid_t pid;

	if (!device_present())
		SKIP(return, "no /dev/rust_epoll here");
	ep = epoll_create1(0);
	ASSERT_GE(ep, 0);
	ASSERT_EQ(0, pipe(p));
	d = dup(ep);
	ASSERT_EQ(0, epoll_ctl(d, EPOLL_CTL_ADD, p[0], &ev));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(epoll_wait(ep, &ev, 1, 2000) == 1 && ev.data.u64 == 9 ? 0 : 1);
	usleep(50 * 1000);
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(d);
	close(ep);
	close(p[0]);
	close(p[1]);
}

/* The kernel's selftests call epoll_pwait2 through syscall(): it reaches the device too. */
TEST(pwait2_through_syscall)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 }, t0, t1;
	struct epoll_event ev;
	int ep;

	if (!device_present())
		SKIP(return, "no /dev/rust_epoll here");
	ep = epoll_create1(0);
	ASSERT_TRUE(on_device(ep));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 0));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GE((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec, 2000000);
	ts.tv_nsec = -1;
	EXPECT_EQ(-1, syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 0));
	EXPECT_EQ(EINVAL, errno);
	close(ep);
}

/* A thread asleep in one of the three epoll waits, which it never returns from by itself. */
struct sleeper {
	int ep;
	int call;	/* 0 epoll_wait, 1 epoll_pwait, 2 epoll_pwait2 */
};

static void *sleep_in_wait(void *arg)
{
	struct sleeper *s = arg;
	struct epoll_event ev;
	sigset_t none;

	sigemptyset(&none);
	if (s->call == 0)
		epoll_wait(s->ep, &ev, 1, -1);
	else if (s->call == 1)
		epoll_pwait(s->ep, &ev, 1, -1, &none);
	else
		epoll_pwait2(s->ep, &ev, 1, NULL, &none);
	return NULL;
}

/*
 * epoll_wait, epoll_pwait and epoll_pwait2 are cancellation points (glibc's SYSCALL_CANCEL):
 * pthread_cancel() ends a thread asleep in one, on the device as on native epoll (an instance
 * made past the shim). The shim's WAIT is an ioctl(), which is none: the thread slept on.
 */
TEST(waits_are_cancellation_points)
{
	static const char *const calls[] = { "epoll_wait", "epoll_pwait", "epoll_pwait2" };

	if (!device_present())
		SKIP(return, "no /dev/rust_epoll here");
	for (int device = 0; device < 2; device++) {
		for (int call = 0; call < 3; call++) {
			struct epoll_event ev = { .events = EPOLLIN };
			struct sleeper s = { .ep = device ? epoll_create1(0) : raw_epoll_create1(),
					     .call = call };
			int efd = eventfd(0, 0), joined;
			uint64_t one = 1;
			struct timespec until;
			void *res = NULL;
			pthread_t t;

			ASSERT_GE(s.ep, 0);
			ASSERT_EQ(device, on_device(s.ep));
			ASSERT_GE(efd, 0);
			/* The way out if the thread cannot be cancelled: an event. */
			ASSERT_EQ(0, epoll_ctl(s.ep, EPOLL_CTL_ADD, efd, &ev));
			ASSERT_EQ(0, pthread_create(&t, NULL, sleep_in_wait, &s));
			usleep(100 * 1000);
			ASSERT_EQ(0, pthread_cancel(t));
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 2;
			joined = pthread_timedjoin_np(t, &res, &until);
			EXPECT_EQ(0, joined) TH_LOG("%s on %s: still asleep 2 s after pthread_cancel",
						    calls[call], device ? "the device" : "native epoll");
			if (joined) {
				ASSERT_EQ(8, write(efd, &one, 8));
				ASSERT_EQ(0, pthread_join(t, &res));
			}
			EXPECT_EQ(PTHREAD_CANCELED, res) TH_LOG("%s on %s", calls[call],
								device ? "the device" : "native epoll");
			close(efd);
			close(s.ep);
		}
	}
}

/* Without the device: the call fails with open()'s errno, unless fallback is asked for. */
/*
 * An instance the process did not create through the shim (inherited across exec, received
 * over a socket; here opened directly, before any epoll_create): still the device's, so
 * epoll_ctl and epoll_wait on it work (they went to native epoll, EINVAL, while the shim knew
 * the device's number only from its own epoll_create).
 */
TEST(instance_not_made_by_the_shim)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 5 };
	int ep, p[2];

	if (!device_present())
		SKIP(return, "no /dev/rust_epoll");
	ep = open("/dev/rust_epoll", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev)) TH_LOG("errno %d", errno);
	ASSERT_EQ(1, write(p[1], "x", 1));
	ev.data.u64 = 0;
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 1000));
	EXPECT_EQ(5, ev.data.u64);
	close(ep);
	close(p[0]);
	close(p[1]);
}

TEST(device_missing)
{
	int ep;

	if (device_present())
		SKIP(return, "the device is here (this one runs on the host)");
	unsetenv("RUST_EPOLL_FALLBACK");
	EXPECT_EQ(-1, epoll_create1(0));
	EXPECT_EQ(ENOENT, errno);
	setenv("RUST_EPOLL_FALLBACK", "1", 1);
	ep = epoll_create1(0);
	ASSERT_GE(ep, 0);
	EXPECT_FALSE(on_device(ep));
	close(ep);
}

TEST_HARNESS_MAIN
