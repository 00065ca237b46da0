// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures on the ctl and wait paths, by the kernel's fail-nth: for n = 1, 2, ...
 * the n-th slab allocation of one call fails, until a call runs with no fault left to inject
 * (then every allocation site on that path has failed once). Each failed call must return
 * ENOMEM and change nothing: the watch is either fully added or not at all (fdinfo, and a
 * retried ADD that must not find it), the instance keeps working. kmemleak and KASAN on the
 * debug kernel watch the error paths. Needs CONFIG_FAULT_INJECTION with FAILSLAB and its
 * debugfs files (the debug kernel): elsewhere it skips. Device and native side by side.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "ep.h"

/* Writes `val` to a debugfs/proc knob; false if it is not there. */
static bool knob(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

/*
 * This thread's fail-nth, opened once: opening it allocates, which would use up the fault
 * armed for the call under test if it were opened again to read the result.
 */
static int fail_nth = -1;

/* Makes failslab fail sleeping (GFP_KERNEL) allocations too, quietly. */
static bool failslab_ready(void)
{
	if (!knob("/sys/kernel/debug/failslab/ignore-gfp-wait", "N") ||
	    !knob("/sys/kernel/debug/failslab/verbose", "0"))
		return false;
	if (fail_nth < 0)
		fail_nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	return fail_nth >= 0;
}

/* Arms the n-th allocation of this thread to fail. */
static void arm(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (pwrite(fail_nth, buf, len, 0) != len)
		abort();
}

/* Whether the armed fault was injected (and disarms it otherwise). */
static bool injected(void)
{
	char buf[16] = "";
	int left;

	if (pread(fail_nth, buf, sizeof(buf) - 1, 0) < 0)
		abort();
	left = atoi(buf);
	if (left && pwrite(fail_nth, "0", 1, 0) != 1)
		abort();
	return left == 0;
}

FIXTURE(fi) {
	int epfd;
};

FIXTURE_VARIANT(fi) {
	bool native;
};

FIXTURE_VARIANT_ADD(fi, device) {
	.native = false,
};

FIXTURE_VARIANT_ADD(fi, native) {
	.native = true,
};

FIXTURE_SETUP(fi)
{
	if (!failslab_ready())
		SKIP(return, "no fail-nth/failslab in this kernel (the debug kernel has them)");
	self->epfd = ep_create(variant->native);
	ASSERT_GE(self->epfd, 0);
}

FIXTURE_TEARDOWN(fi)
{
	close(self->epfd);
}

enum target { PIPE, INSTANCE, EVENTFD_IN_NESTED };

/*
 * ADD under fail-nth, for n = 1.. until no fault is left to inject. `what` picks the target:
 * a pipe (two wait queues), an instance (the nesting edge and loop check), or an eventfd
 * into an instance that is itself watched (the reverse-path check).
 */
static int add_faults(struct __test_metadata *_metadata, bool native, int epfd, enum target what)
{
	int sites = 0;

	for (int n = 1; n < 200; n++) {
		int p[2], t, outer = -1, r, err;
		bool hit;

		ASSERT_EQ(0, pipe(p));
		t = p[0];
		if (what == INSTANCE) {
			t = ep_create(native);
			ASSERT_GE(t, 0);
		} else if (what == EVENTFD_IN_NESTED) {
			outer = ep_create(native);
			ASSERT_GE(outer, 0);
			ASSERT_EQ(0, ep_ctl(native, outer, EPOLL_CTL_ADD, epfd, EPOLLIN, 0));
			t = eventfd(0, 0);
			ASSERT_GE(t, 0);
		}
		arm(n);
		r = ep_ctl(native, epfd, EPOLL_CTL_ADD, t, EPOLLIN, 1);
		err = errno;
		hit = injected();
		if (r == 0) {
			EXPECT_EQ(1, fdinfo_count(epfd)) TH_LOG("n=%d: added, but not listed", n);
		} else {
			EXPECT_EQ(ENOMEM, err) TH_LOG("n=%d: %s", n, strerror(err));
			EXPECT_TRUE(hit);
			EXPECT_EQ(0, fdinfo_count(epfd)) TH_LOG("n=%d: failed, but listed", n);
			/* Nothing half-done: the same ADD now succeeds. */
			EXPECT_EQ(0, ep_ctl(native, epfd, EPOLL_CTL_ADD, t, EPOLLIN, 1))
				TH_LOG("n=%d: retry: %s", n, strerror(errno));
		}
		/* The watch works: a ready target is reported. */
		if (what == PIPE && write(p[1], "x", 1) == 1) {
			struct epoll_event ev;

			EXPECT_EQ(1, ep_wait(native, epfd, &ev, 1, 0));
		}
		EXPECT_EQ(0, ep_ctl(native, epfd, EPOLL_CTL_DEL, t, 0, 0));
		if (t != p[0])
			close(t);
		if (outer >= 0)
			close(outer);
		close(p[0]);
		close(p[1]);
		if (!hit)
			return sites;
		sites++;
	}
	return -1;
}

TEST_F(fi, add_pipe)
{
	int sites = add_faults(_metadata, variant->native, self->epfd, PIPE);

	TH_LOG("ADD of a pipe: %d allocation(s) failed in turn", sites);
	EXPECT_GE(sites, 1);
}

TEST_F(fi, add_instance)
{
	int sites = add_faults(_metadata, variant->native, self->epfd, INSTANCE);

	TH_LOG("ADD of an instance: %d allocation(s) failed in turn", sites);
	EXPECT_GE(sites, 1);
}

TEST_F(fi, add_into_watched_instance)
{
	int sites = add_faults(_metadata, variant->native, self->epfd, EVENTFD_IN_NESTED);

	TH_LOG("ADD into a watched instance: %d allocation(s) failed in turn", sites);
	EXPECT_GE(sites, 1);
}

/* MOD, DEL and WAIT allocate nothing: an armed fault is never consumed by them. */
TEST_F(fi, mod_del_wait_allocate_nothing)
{
	struct epoll_event ev;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(variant->native, self->epfd, EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
	ASSERT_EQ(1, write(p[1], "x", 1));
	arm(1);
	EXPECT_EQ(0, ep_ctl(variant->native, self->epfd, EPOLL_CTL_MOD, p[0], EPOLLIN, 2));
	EXPECT_FALSE(injected());
	arm(1);
	EXPECT_EQ(1, ep_wait(variant->native, self->epfd, &ev, 1, 0));
	EXPECT_FALSE(injected());
	EXPECT_EQ(2, ev.data.u64);
	arm(1);
	EXPECT_EQ(0, ep_ctl(variant->native, self->epfd, EPOLL_CTL_DEL, p[0], 0, 0));
	EXPECT_FALSE(injected());
	close(p[0]);
	close(p[1]);
}

/* Opening an instance: fails with ENOMEM or gives a working instance. */
TEST(open_device)
{
	int sites = 0;

	if (!failslab_ready())
		SKIP(return, "no fail-nth/failslab in this kernel (the debug kernel has them)");
	for (int n = 1; n < 200; n++) {
		int p[2], e, err;
		bool hit;
		struct epoll_event ev;

		arm(n);
		e = ep_create(false);
		err = errno;
		hit = injected();
		if (e < 0) {
			ASSERT_EQ(ENOMEM, err) TH_LOG("n=%d: %s", n, strerror(err));
		} else {
			ASSERT_EQ(0, pipe(p));
			ASSERT_EQ(1, write(p[1], "x", 1));
			EXPECT_EQ(0, ep_ctl(false, e, EPOLL_CTL_ADD, p[0], EPOLLIN, 3));
			EXPECT_EQ(1, ep_wait(false, e, &ev, 1, 0));
			close(p[0]);
			close(p[1]);
			close(e);
		}
		if (!hit)
			break;
		sites++;
	}
	TH_LOG("open: %d allocation(s) failed in turn", sites);
	EXPECT_GE(sites, 1);
}

/* A batch of three ADDs: the failing one is reported; exactly the ones before it stay. */
TEST(batch)
{
	int sites = 0;

	if (!failslab_ready())
		SKIP(return, "no fail-nth/failslab in this kernel (the debug kernel has them)");
	for (int n = 1; n < 200; n++) {
		struct rust_epoll_ctl ops[3];
		struct rust_epoll_ctl_batch b = { .ops = (uintptr_t)ops, .nr_ops = 3 };
		int e = ep_create(false), efd[3], r;
		bool hit;

		ASSERT_GE(e, 0);
		for (int i = 0; i < 3; i++) {
			efd[i] = eventfd(0, 0);
			ASSERT_GE(efd[i], 0);
			ops[i] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = efd[i],
							  .events = EPOLLIN, .data = i };
		}
		arm(n);
		r = ioctl(e, RUST_EPOLL_CTL_BATCH, &b);
		hit = injected();
		ASSERT_EQ(0, r) TH_LOG("n=%d: %s", n, strerror(errno));
		if (b.applied < 3)
			EXPECT_EQ(-ENOMEM, b.error) TH_LOG("n=%d: op %u: %d", n, b.applied, b.error);
		EXPECT_EQ((int)b.applied, fdinfo_count(e)) TH_LOG("n=%d", n);
		for (int i = 0; i < 3; i++)
			close(efd[i]);
		close(e);
		if (!hit)
			break;
		sites++;
	}
	TH_LOG("batch of 3 ADDs: %d allocation(s) failed in turn", sites);
	EXPECT_GE(sites, 3);
}

TEST_HARNESS_MAIN
