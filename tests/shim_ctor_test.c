// SPDX-License-Identifier: GPL-2.0
/*
 * The shim used before its own constructor ran: this program is linked with libshim_ctor.so,
 * whose constructor calls every wrapped function before main (see shim_ctor_lib.c), and runs
 * with LD_PRELOAD=librust_epoll_preload.so. A shim that resolves its real functions in its
 * constructor dies before main here (SIGSEGV on a NULL pointer). In the VM the constructor's
 * epoll instance is the device's; on the host (no device) it needs RUST_EPOLL_FALLBACK=1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shim_ctor.h"

static bool on_device(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISCHR(st.st_mode);
}

static bool device_present(void)
{
	return !access("/dev/rust_epoll", F_OK);
}

static bool shim_preloaded(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "librust_epoll_preload.so");
}

/* (Each test runs in a child of the process the constructor ran in.) */
TEST(constructor_ran_under_the_shim)
{
	ASSERT_TRUE(shim_preloaded());
	EXPECT_EQ(1, shim_ctor.ran);
}

/* syscall, dup, dup2, dup3, close from the constructor did what they say. */
TEST(constructor_syscall_close_dup)
{
	EXPECT_EQ(shim_ctor.pid, shim_ctor.getpid);
	EXPECT_TRUE(shim_ctor.dup_ok);
	EXPECT_TRUE(shim_ctor.dup2_ok);
	EXPECT_TRUE(shim_ctor.dup3_ok);
	EXPECT_TRUE(shim_ctor.close_ok);
	EXPECT_TRUE(shim_ctor.syscall_close_ok);
	EXPECT_EQ(-1, shim_ctor.close_bad);
	EXPECT_EQ(EBADF, shim_ctor.close_bad_errno);
}

/* Four threads racing on the first use of dup, dup2, dup3, close and syscall. */
TEST(constructor_threads_race_first_use)
{
	EXPECT_EQ(0, shim_ctor.thread_errors);
}

/* An instance made in the constructor: on the device, used there, then from main by its dup. */
TEST(constructor_epoll_instance)
{
	struct epoll_event ev;

	if (!device_present() && !getenv("RUST_EPOLL_FALLBACK"))
		SKIP(return, "no /dev/rust_epoll and no RUST_EPOLL_FALLBACK=1");
	ASSERT_GE(shim_ctor.ep, 0) TH_LOG("epoll_create1: %s", strerror(shim_ctor.ep_errno));
	EXPECT_EQ(device_present(), on_device(shim_ctor.ep));
	EXPECT_EQ(device_present(), on_device(shim_ctor.ep_dup));
	EXPECT_EQ(0, shim_ctor.ctl);
	EXPECT_EQ(1, shim_ctor.write);
	EXPECT_EQ(1, shim_ctor.wait);
	EXPECT_EQ(SHIM_CTOR_DATA, shim_ctor.wait_data);
	EXPECT_EQ(1, shim_ctor.syscall_wait);
	/* Level-triggered, the byte still in the pipe: main sees it through the dup. */
	ASSERT_EQ(1, epoll_wait(shim_ctor.ep_dup, &ev, 1, 0));
	EXPECT_EQ(SHIM_CTOR_DATA, ev.data.u64);
	EXPECT_EQ(0, close(shim_ctor.ep));
	ASSERT_EQ(1, epoll_wait(shim_ctor.ep_dup, &ev, 1, 0));
	EXPECT_EQ(0, close(shim_ctor.ep_dup));
}

/* dup2 over an instance's fd in the constructor: that fd is a pipe now, and native says EINVAL. */
TEST(constructor_dup2_over_an_instance)
{
	if (!device_present() && !getenv("RUST_EPOLL_FALLBACK"))
		SKIP(return, "no /dev/rust_epoll and no RUST_EPOLL_FALLBACK=1");
	EXPECT_TRUE(shim_ctor.stale_dup2);
	EXPECT_EQ(-1, shim_ctor.stale_ctl);
	EXPECT_EQ(EINVAL, shim_ctor.stale_ctl_errno);
}

/*
 * The shim's dlsym("dup3") ran the IFUNC resolver, which called dup3, close and syscall:
 * they worked, and the shim did not call dlsym again from inside dlsym.
 */
TEST(wrapped_calls_inside_dlsym)
{
	int fd;

	ASSERT_GE(shim_ctor.ifunc_resolver_calls, 1);
	EXPECT_EQ(0, shim_ctor.ifunc_resolver_nested);
	EXPECT_EQ(-1, shim_ctor.resolver_dup3);
	EXPECT_EQ(EBADF, shim_ctor.resolver_dup3_errno);
	EXPECT_EQ(-1, shim_ctor.resolver_close);
	EXPECT_EQ(EBADF, shim_ctor.resolver_close_errno);
	EXPECT_EQ(shim_ctor.ppid, shim_ctor.resolver_getppid);
	/* And dup3 is the resolver's implementation now, through the shim. */
	int before = shim_ctor.ifunc_impl_calls;

	fd = dup3(shim_ctor.pipe[0], SHIM_CTOR_FD + 2, 0);
	EXPECT_EQ(SHIM_CTOR_FD + 2, fd);
	EXPECT_EQ(before + 1, shim_ctor.ifunc_impl_calls);
	close(fd);
}

TEST_HARNESS_MAIN
