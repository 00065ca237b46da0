// SPDX-License-Identifier: GPL-2.0
/*
 * What the device adds to epoll, and native epoll's own ioctls on it:
 * - EPIOCSPARAMS / EPIOCGPARAMS (ioctl_eventpoll(2)): every TEST_F runs on /dev/rust_epoll
 *   ("device") and on native epoll ("native") with the same assertions.
 * - RUST_EPOLL_BATCH_RECEIPT: a batch's per-operation results against the same operations
 *   done one by one with epoll_ctl() on a native instance, operation by operation.
 * - RUST_EPOLL_WAIT_MIN: both ends of "min_events or min_wait_us, whichever first", the
 *   timeout, signals, and a plain waiter beside a min-waiter. Timing bounds are loose: the
 *   VM is emulated (TCG) and shares its host.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ep.h"

/* <linux/eventpoll.h>'s, which conflicts with <sys/epoll.h>: the header's twins. */
#define EPIOCSPARAMS RUST_EPOLL_SPARAMS
#define EPIOCGPARAMS RUST_EPOLL_GPARAMS
_Static_assert(RUST_EPOLL_SPARAMS == _IOW(0x8A, 0x01, struct rust_epoll_params), "EPIOCSPARAMS");
_Static_assert(RUST_EPOLL_GPARAMS == _IOR(0x8A, 0x02, struct rust_epoll_params), "EPIOCGPARAMS");

FIXTURE(ep) {
	int epfd;
};

FIXTURE_VARIANT(ep) {
	bool native;
};

FIXTURE_VARIANT_ADD(ep, device) {
	.native = false,
};

FIXTURE_VARIANT_ADD(ep, native) {
	.native = true,
};

FIXTURE_SETUP(ep)
{
	self->epfd = ep_create(variant->native);
	ASSERT_GE(self->epfd, 0) TH_LOG("creating the instance: %s", strerror(errno));
}

FIXTURE_TEARDOWN(ep)
{
	close(self->epfd);
}

static void put(int fd)
{
	char c = 'x';

	if (write(fd, &c, 1) != 1)
		abort();
}

static int set_params(int epfd, uint32_t usecs, uint16_t budget, uint8_t prefer, uint8_t pad)
{
	struct rust_epoll_params p = {
		.busy_poll_usecs = usecs, .busy_poll_budget = budget,
		.prefer_busy_poll = prefer, .__pad = pad,
	};

	return ioctl(epfd, EPIOCSPARAMS, &p);
}

/* CAP_NET_ADMIN in or out of the effective set (the harness runs each test in a child). */
static int net_admin(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[0].effective |= 1u << CAP_NET_ADMIN;
	else
		d[0].effective &= ~(1u << CAP_NET_ADMIN);
	return syscall(SYS_capset, &h, d);
}

/* A new instance's parameters are all 0, whatever the caller's struct held. */
TEST_F(ep, params_default_zero)
{
	struct rust_epoll_params p = { 0xff, 0xff, 1, 0xf };

	ASSERT_EQ(0, ioctl(self->epfd, EPIOCGPARAMS, &p));
	EXPECT_EQ(0, p.busy_poll_usecs);
	EXPECT_EQ(0, p.busy_poll_budget);
	EXPECT_EQ(0, p.prefer_busy_poll);
	EXPECT_EQ(0, p.__pad);
}

/* GET returns what SET stored, field by field, including the largest values allowed. */
TEST_F(ep, params_set_then_get)
{
	struct rust_epoll_params p;
	const struct { uint32_t usecs; uint16_t budget; uint8_t prefer; } cases[] = {
		{ 25, 16, 1 }, { INT_MAX, 64, 0 }, { 0, 0, 1 }, { 1, 65535, 1 }, { 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(0, set_params(self->epfd, cases[i].usecs, cases[i].budget, cases[i].prefer, 0));
		memset(&p, 0xaa, sizeof(p));
		ASSERT_EQ(0, ioctl(self->epfd, EPIOCGPARAMS, &p));
		EXPECT_EQ(cases[i].usecs, p.busy_poll_usecs);
		EXPECT_EQ(cases[i].budget, p.busy_poll_budget);
		EXPECT_EQ(cases[i].prefer, p.prefer_busy_poll);
		EXPECT_EQ(0, p.__pad);
	}
}

/* Each EINVAL, and a refused SET changes nothing. */
TEST_F(ep, params_einval)
{
	struct rust_epoll_params p;

	ASSERT_EQ(0, set_params(self->epfd, 7, 8, 1, 0));
	EXPECT_EQ(-1, set_params(self->epfd, 0, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_params(self->epfd, (uint32_t)INT_MAX + 1, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_params(self->epfd, UINT32_MAX, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_params(self->epfd, 32, 0, 2, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_params(self->epfd, 32, 0, 255, 0));
	EXPECT_EQ(EINVAL, errno);
	/* EINVAL comes before EPERM: __pad is checked first. */
	ASSERT_EQ(0, net_admin(false));
	EXPECT_EQ(-1, set_params(self->epfd, 0, 65535, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, net_admin(true));
	ASSERT_EQ(0, ioctl(self->epfd, EPIOCGPARAMS, &p));
	EXPECT_EQ(7, p.busy_poll_usecs);
	EXPECT_EQ(8, p.busy_poll_budget);
	EXPECT_EQ(1, p.prefer_busy_poll);
}

/* A budget above NAPI_POLL_WEIGHT (64) needs CAP_NET_ADMIN; up to it, it does not. */
TEST_F(ep, params_eperm_without_cap_net_admin)
{
	struct rust_epoll_params p;

	if (geteuid() != 0)
		SKIP(return, "needs root (CAP_NET_ADMIN to drop and take back)");
	ASSERT_EQ(0, set_params(self->epfd, 10, 65, 0, 0));
	ASSERT_EQ(0, net_admin(false));
	EXPECT_EQ(0, set_params(self->epfd, 10, 64, 0, 0));
	EXPECT_EQ(-1, set_params(self->epfd, 10, 65, 1, 0));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, ioctl(self->epfd, EPIOCGPARAMS, &p));
	EXPECT_EQ(64, p.busy_poll_budget);
	EXPECT_EQ(0, p.prefer_busy_poll);
	ASSERT_EQ(0, net_admin(true));
	EXPECT_EQ(0, set_params(self->epfd, 10, 65535, 1, 0));
}

/* EFAULT for an unreadable or unwritable struct, also one cut by an inaccessible page. */
TEST_F(ep, params_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rust_epoll_params *cut;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	cut = (struct rust_epoll_params *)(map + page - 4);
	memset(cut, 0, 4);
	EXPECT_EQ(-1, ioctl(self->epfd, EPIOCGPARAMS, (void *)0xdeadbeef));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->epfd, EPIOCSPARAMS, (void *)0xdeadbeef));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->epfd, EPIOCSPARAMS, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->epfd, EPIOCSPARAMS, cut));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->epfd, EPIOCGPARAMS, cut));
	EXPECT_EQ(EFAULT, errno);
	/* Read-only memory: SET reads it, GET cannot write it. */
	struct rust_epoll_params *ro = (struct rust_epoll_params *)map;

	memset(ro, 0, sizeof(*ro));
	ro->busy_poll_usecs = 3;
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	EXPECT_EQ(0, ioctl(self->epfd, EPIOCSPARAMS, ro));
	EXPECT_EQ(-1, ioctl(self->epfd, EPIOCGPARAMS, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(map, 2 * page);
}

/*
 * With busy polling on, WAIT still reports a TCP socket's data and still times out. (Loopback
 * has no NAPI ids, so no NAPI context is polled: that path needs a NIC with NAPI.)
 */
TEST_F(ep, params_busy_poll_on_tcp_loopback)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct epoll_event ev[2];
	int l, c, s;
	int64_t t0;

	ASSERT_EQ(0, set_params(self->epfd, 200, 16, 1, 0));
	l = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(l, 1));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&a, &len));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&a, sizeof(a)));
	s = accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_EQ(0, ep_ctl(variant->native, self->epfd, EPOLL_CTL_ADD, s, EPOLLIN, 9));
	t0 = now_ms();
	EXPECT_EQ(0, ep_wait(variant->native, self->epfd, ev, 2, 50));
	EXPECT_GE(now_ms() - t0, 50);
	put(c);
	ASSERT_EQ(1, ep_wait(variant->native, self->epfd, ev, 2, 1000));
	EXPECT_EQ(9, ev[0].data.u64);
	close(s);
	close(c);
	close(l);
}

/*
 * RUST_EPOLL_BATCH_RECEIPT against native epoll_ctl() one by one. `ops` name fds by index
 * into `fds`; both sides get their own copy of the targets' state.
 */
struct rop {
	int op;
	int fd;		/* index into fds[], or a raw fd when < 0: -1 - fd */
	uint32_t events;
	uint32_t flags;	/* must be 0; not 0 to test the EINVAL */
};

static int target_fd(const int *fds, int fd)
{
	return fd >= 0 ? fds[fd] : -1 - fd;
}

/* Native epoll_ctl() one by one: each result, 0 or -errno. */
static void native_results(int epfd, const int *fds, const struct rop *ops, int n, int *res)
{
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = ops[i].events, .data.u64 = i };

		if (ops[i].flags) {
			res[i] = -EINVAL;	/* what the device's flags rule says: no native twin */
			continue;
		}
		res[i] = epoll_ctl(epfd, ops[i].op, target_fd(fds, ops[i].fd), &ev) ? -errno : 0;
	}
}

/* The device in one receipt batch: each result from its slot; returns the ioctl's result. */
static int device_receipt(int epfd, const int *fds, const struct rop *ops, int n, int *res,
			  struct rust_epoll_ctl_batch *b)
{
	struct rust_epoll_ctl *c = calloc(n, sizeof(*c));
	int ret;

	for (int i = 0; i < n; i++)
		c[i] = (struct rust_epoll_ctl){ .op = ops[i].op, .fd = target_fd(fds, ops[i].fd),
						.events = ops[i].events, .flags = ops[i].flags,
						.data = i };
	*b = (struct rust_epoll_ctl_batch){ .ops = (uintptr_t)c, .nr_ops = n,
					    .flags = RUST_EPOLL_BATCH_RECEIPT,
					    .applied = 77, .error = 77 };
	ret = ioctl(epfd, RUST_EPOLL_CTL_BATCH, b);
	for (int i = 0; i < n; i++)
		res[i] = (int32_t)c[i].flags;
	free(c);
	return ret;
}

/* The watches of an instance as (fd, events, data) lines from fdinfo, sorted. */
static void watches(int epfd, char *out, size_t size)
{
	char path[64], line[256];
	FILE *f;
	char *lines[64];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	out[0] = 0;
	while (f && fgets(line, sizeof(line), f) && n < 64) {
		unsigned int tfd, ev;
		unsigned long long data;

		if (sscanf(line, "tfd: %u events: %x data: %llx", &tfd, &ev, &data) == 3) {
			if (asprintf(&lines[n], "%u %x %llx\n", tfd, ev, data) > 0)
				n++;
		}
	}
	if (f)
		fclose(f);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(lines[i], lines[j]) > 0) {
				char *t = lines[i];

				lines[i] = lines[j];
				lines[j] = t;
			}
	for (int i = 0; i < n; i++) {
		strncat(out, lines[i], size - strlen(out) - 1);
		free(lines[i]);
	}
}

/* Every errno epoll_ctl() has, in one receipt batch: same results as native, one by one. */
TEST(receipt_matches_native_one_by_one)
{
	int dev = ep_create(false), nat = ep_create(true);
	int other = ep_create(true);
	int p[2], q[2], efd, reg, closed;
	char wd[4096], wn[4096];

	ASSERT_GE(dev, 0);
	ASSERT_GE(nat, 0);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, pipe(q));
	efd = eventfd(0, 0);
	reg = open("/proc/self/exe", O_RDONLY);	/* a regular file: not pollable by epoll */
	closed = dup(p[0]);
	close(closed);
	ASSERT_GE(reg, 0);
	/* fds[0..3]: pipe, pipe, eventfd, native epoll; the instance itself is added per side. */
	int fds[] = { p[0], q[1], efd, other };
	const struct rop ops[] = {
		{ EPOLL_CTL_ADD, 0, EPOLLIN },
		{ EPOLL_CTL_ADD, 0, EPOLLIN },			/* EEXIST */
		{ EPOLL_CTL_MOD, 1, EPOLLOUT },			/* ENOENT */
		{ EPOLL_CTL_DEL, 2, 0 },			/* ENOENT */
		{ EPOLL_CTL_ADD, -1 - closed, EPOLLIN },	/* EBADF */
		{ EPOLL_CTL_ADD, -1 - 9999, EPOLLIN },		/* EBADF */
		{ EPOLL_CTL_ADD, -1 - reg, EPOLLIN },		/* EPERM */
		{ 42, 1, EPOLLIN },				/* EINVAL: op */
		{ EPOLL_CTL_ADD, 1, EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT }, /* EINVAL */
		{ EPOLL_CTL_ADD, 3, EPOLLIN | EPOLLEXCLUSIVE },	/* EINVAL: epoll target */
		{ EPOLL_CTL_ADD, 1, EPOLLOUT, 1 },		/* EINVAL: flags */
		{ EPOLL_CTL_ADD, 1, EPOLLOUT | EPOLLEXCLUSIVE },
		{ EPOLL_CTL_MOD, 1, EPOLLOUT },			/* EINVAL: MOD of exclusive */
		{ EPOLL_CTL_ADD, 2, EPOLLIN | EPOLLET },
		{ EPOLL_CTL_MOD, 2, EPOLLIN | EPOLLOUT },
		{ EPOLL_CTL_ADD, 3, EPOLLIN },
		{ EPOLL_CTL_DEL, 0, 0 },
		{ EPOLL_CTL_DEL, 0, 0 },			/* ENOENT */
		{ EPOLL_CTL_MOD, 0, EPOLLIN },			/* ENOENT */
		{ EPOLL_CTL_ADD, 0, EPOLLIN | EPOLLONESHOT },
	};
	int n = sizeof(ops) / sizeof(ops[0]);
	int rd[64], rn[64];
	struct rust_epoll_ctl_batch b;

	native_results(nat, fds, ops, n, rn);
	ASSERT_EQ(0, device_receipt(dev, fds, ops, n, rd, &b));
	EXPECT_EQ(n, b.applied);
	EXPECT_EQ(0, b.error);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(rn[i], rd[i]) TH_LOG("op %d: native %d, device %d", i, rn[i], rd[i]);
	}
	EXPECT_EQ(-EEXIST, rd[1]);
	EXPECT_EQ(-EBADF, rd[4]);
	EXPECT_EQ(-EPERM, rd[6]);
	EXPECT_EQ(-EINVAL, rd[10]);

	/* The instance itself: EINVAL on both. */
	struct rop self_op = { EPOLL_CTL_ADD, 0, EPOLLIN };
	int fds_d[] = { dev }, fds_n[] = { nat };

	native_results(nat, fds_n, &self_op, 1, rn);
	ASSERT_EQ(0, device_receipt(dev, fds_d, &self_op, 1, rd, &b));
	EXPECT_EQ(-EINVAL, rn[0]);
	EXPECT_EQ(rn[0], rd[0]);

	/* The same interest sets afterwards (fdinfo lists the same watches). */
	watches(dev, wd, sizeof(wd));
	watches(nat, wn, sizeof(wn));
	EXPECT_STREQ(wn, wd);
	close(dev);
	close(nat);
	close(other);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(efd);
	close(reg);
}

/* 1,000 random operations on 8 targets, in batches of up to 64: same results as native. */
TEST(receipt_random_ops_match_native)
{
	int dev = ep_create(false), nat = ep_create(true);
	int fds[8], pipes[8][2];
	unsigned int seed = 12345;
	const int total = 1000;
	int done = 0;

	ASSERT_GE(dev, 0);
	ASSERT_GE(nat, 0);
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, pipe(pipes[i]));
		fds[i] = pipes[i][i & 1];
	}
	while (done < total) {
		struct rop ops[64];
		int n = 1 + rand_r(&seed) % 64, rd[64], rn[64];
		struct rust_epoll_ctl_batch b;
		static const uint32_t evs[] = { EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLET,
						EPOLLIN | EPOLLONESHOT, EPOLLOUT | EPOLLEXCLUSIVE,
						EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP };

		for (int i = 0; i < n; i++)
			ops[i] = (struct rop){ .op = 1 + rand_r(&seed) % 3, .fd = rand_r(&seed) % 8,
					       .events = evs[rand_r(&seed) % 6] };
		native_results(nat, fds, ops, n, rn);
		ASSERT_EQ(0, device_receipt(dev, fds, ops, n, rd, &b));
		ASSERT_EQ(n, b.applied);
		ASSERT_EQ(0, b.error);
		for (int i = 0; i < n; i++) {
			ASSERT_EQ(rn[i], rd[i]) TH_LOG("op %d of batch at %d", i, done);
		}
		done += n;
	}
	char wd[4096], wn[4096];

	watches(dev, wd, sizeof(wd));
	watches(nat, wn, sizeof(wn));
	EXPECT_STREQ(wn, wd);
	for (int i = 0; i < 8; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	close(dev);
	close(nat);
}

/*
 * Where the array faults: a read-only array stops the batch before any operation (applied
 * 0, EFAULT, nothing added); an array cut by an inaccessible page is processed up to the cut.
 */
TEST(receipt_fault_stops_before_the_slot)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int dev = ep_create(false);
	int p[4][2];
	struct rust_epoll_ctl *c;
	struct rust_epoll_ctl_batch b;

	ASSERT_NE(MAP_FAILED, map);
	ASSERT_GE(dev, 0);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pipe(p[i]));

	/* Read-only. */
	c = (struct rust_epoll_ctl *)map;
	for (int i = 0; i < 4; i++)
		c[i] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[i][0], .events = EPOLLIN };
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	b = (struct rust_epoll_ctl_batch){ .ops = (uintptr_t)c, .nr_ops = 4,
					   .flags = RUST_EPOLL_BATCH_RECEIPT };
	ASSERT_EQ(0, ioctl(dev, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(0, b.applied);
	EXPECT_EQ(-EFAULT, b.error);
	EXPECT_EQ(0, fdinfo_count(dev));

	/* Cut: two slots fit before the inaccessible page. */
	ASSERT_EQ(0, mprotect(map, page, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	c = (struct rust_epoll_ctl *)(map + page - 2 * sizeof(*c));
	c[0] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[0][0], .events = EPOLLIN };
	c[1] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[0][0], .events = EPOLLIN };
	b = (struct rust_epoll_ctl_batch){ .ops = (uintptr_t)c, .nr_ops = 4,
					   .flags = RUST_EPOLL_BATCH_RECEIPT };
	ASSERT_EQ(0, ioctl(dev, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(2, b.applied);
	EXPECT_EQ(-EFAULT, b.error);
	EXPECT_EQ(0, (int32_t)c[0].flags);
	EXPECT_EQ(-EEXIST, (int32_t)c[1].flags);
	EXPECT_EQ(1, fdinfo_count(dev));

	/* Without the flag, the old contract: stop at the first failure. */
	c = (struct rust_epoll_ctl *)map;
	c[0] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[0][0], .events = EPOLLIN };
	c[1] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[1][0], .events = EPOLLIN };
	b = (struct rust_epoll_ctl_batch){ .ops = (uintptr_t)c, .nr_ops = 2 };
	ASSERT_EQ(0, ioctl(dev, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(0, b.applied);
	EXPECT_EQ(-EEXIST, b.error);
	EXPECT_EQ(0, c[0].flags);	/* untouched */
	EXPECT_EQ(1, fdinfo_count(dev));

	/* An array whose addresses wrap around (found by tests/fuzz.c): EFAULT at slot 0. */
	b = (struct rust_epoll_ctl_batch){ .ops = (uint64_t)-40, .nr_ops = 3,
					   .flags = RUST_EPOLL_BATCH_RECEIPT };
	ASSERT_EQ(0, ioctl(dev, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(0, b.applied);
	EXPECT_EQ(-EFAULT, b.error);

	/* Unknown batch flags are still refused. */
	b = (struct rust_epoll_ctl_batch){ .ops = (uintptr_t)c, .nr_ops = 1, .flags = 1u << 2 };
	EXPECT_EQ(-1, ioctl(dev, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(EINVAL, errno);
	for (int i = 0; i < 4; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	close(dev);
	munmap(map, 2 * page);
}

/* RECEIPT with WAIT: failures do not stop the wait, which reports the events. */
TEST(receipt_then_wait)
{
	int dev = ep_create(false);
	int p[2];
	struct epoll_event ev[4];
	struct rust_epoll_ctl c[3];
	struct rust_epoll_ctl_batch b;

	ASSERT_EQ(0, pipe(p));
	put(p[1]);
	c[0] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_DEL, .fd = p[0] };
	c[1] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[0], .events = EPOLLIN, .data = 5 };
	c[2] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[0], .events = EPOLLIN };
	b = (struct rust_epoll_ctl_batch){
		.ops = (uintptr_t)c, .nr_ops = 3,
		.flags = RUST_EPOLL_BATCH_RECEIPT | RUST_EPOLL_BATCH_WAIT,
		.wait = { .events = (uintptr_t)ev, .maxevents = 4, .timeout = 1000 },
	};
	EXPECT_EQ(1, ioctl(dev, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(3, b.applied);
	EXPECT_EQ(0, b.error);
	EXPECT_EQ(-ENOENT, (int32_t)c[0].flags);
	EXPECT_EQ(0, (int32_t)c[1].flags);
	EXPECT_EQ(-EEXIST, (int32_t)c[2].flags);
	EXPECT_EQ(5, ev[0].data.u64);
	close(p[0]);
	close(p[1]);
	close(dev);
}

/* RUST_EPOLL_WAIT_MIN. */
static int wait_min(int epfd, struct epoll_event *evs, int max, int timeout_ms,
		    uint32_t min_events, uint32_t min_wait_us)
{
	struct rust_epoll_wait_min w = {
		.wait = { .events = (uintptr_t)evs, .maxevents = max, .timeout = timeout_ms },
		.min_events = min_events,
		.min_wait_us = min_wait_us,
	};

	return ioctl(epfd, RUST_EPOLL_WAIT_MIN, &w);
}

/* Writes one byte to each of `n` fds, `gap_ms` apart, after `first_ms`. */
struct writer {
	int fds[16];
	int n;
	int first_ms, gap_ms;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *write_spaced(void *arg)
{
	struct writer *w = arg;

	sleep_ms(w->first_ms);
	for (int i = 0; i < w->n; i++) {
		if (i)
			sleep_ms(w->gap_ms);
		put(w->fds[i]);
	}
	return NULL;
}

FIXTURE(mw) {
	int epfd;
	int p[8][2];
};

FIXTURE_SETUP(mw)
{
	self->epfd = ep_create(false);
	ASSERT_GE(self->epfd, 0);
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(0, pipe2(self->p[i], O_NONBLOCK));
		ASSERT_EQ(0, ep_ctl(false, self->epfd, EPOLL_CTL_ADD, self->p[i][0], EPOLLIN, i));
	}
}

FIXTURE_TEARDOWN(mw)
{
	for (int i = 0; i < 8; i++) {
		close(self->p[i][0]);
		close(self->p[i][1]);
	}
	close(self->epfd);
}

/* N reached early: 4 events 100 ms apart, minimum 4 or 10 s: returns with all 4 at ~300 ms. */
TEST_F(mw, min_events_reached_first)
{
	struct writer w = { .n = 4, .first_ms = 50, .gap_ms = 100 };
	struct epoll_event ev[8];
	pthread_t t;
	int64_t t0;

	for (int i = 0; i < 4; i++)
		w.fds[i] = self->p[i][1];
	t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&t, NULL, write_spaced, &w));
	EXPECT_EQ(4, wait_min(self->epfd, ev, 8, 20000, 4, 10000000));
	int64_t dt = now_ms() - t0;

	EXPECT_GE(dt, 340) TH_LOG("returned after %lld ms, before the 4th event", (long long)dt);
	EXPECT_LT(dt, 5000);
	pthread_join(t, NULL);
}

/* M expires first: 2 events at once, minimum 8 or 300 ms: returns with 2 at ~300 ms. */
TEST_F(mw, min_wait_expires_with_fewer)
{
	struct epoll_event ev[8];
	int64_t t0 = now_ms();

	put(self->p[0][1]);
	put(self->p[1][1]);
	EXPECT_EQ(2, wait_min(self->epfd, ev, 8, 20000, 8, 300000));
	int64_t dt = now_ms() - t0;

	EXPECT_GE(dt, 299);
	EXPECT_LT(dt, 5000);
	/* Already 2 ready, minimum 2: at once. */
	t0 = now_ms();
	EXPECT_EQ(2, wait_min(self->epfd, ev, 8, 20000, 2, 10000000));
	EXPECT_LT(now_ms() - t0, 1000);
}

/* Nothing ready when M expires: the first event after it ends the wait. */
TEST_F(mw, min_wait_then_first_event)
{
	struct writer w = { .n = 1, .first_ms = 400 };
	struct epoll_event ev[8];
	pthread_t t;
	int64_t t0;

	w.fds[0] = self->p[3][1];
	t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&t, NULL, write_spaced, &w));
	EXPECT_EQ(1, wait_min(self->epfd, ev, 8, 20000, 4, 100000));
	int64_t dt = now_ms() - t0;

	EXPECT_GE(dt, 399);
	EXPECT_LT(dt, 5000);
	EXPECT_EQ(3, ev[0].data.u64);
	pthread_join(t, NULL);
}

/* The timeout comes first: what is ready (or nothing) when it expires. */
TEST_F(mw, timeout_before_min_wait)
{
	struct epoll_event ev[8];
	int64_t t0 = now_ms();

	EXPECT_EQ(0, wait_min(self->epfd, ev, 8, 150, 4, 10000000));
	EXPECT_GE(now_ms() - t0, 150);
	EXPECT_LT(now_ms() - t0, 5000);
	put(self->p[5][1]);
	t0 = now_ms();
	EXPECT_EQ(1, wait_min(self->epfd, ev, 8, 150, 4, 10000000));
	EXPECT_GE(now_ms() - t0, 150);
	EXPECT_EQ(5, ev[0].data.u64);
	/* A timeout of 0: at once. */
	t0 = now_ms();
	EXPECT_EQ(1, wait_min(self->epfd, ev, 8, 0, 4, 10000000));
	EXPECT_LT(now_ms() - t0, 1000);
}

/* min_events of 1 or min_wait_us of 0 is a plain WAIT; bad minimums are EINVAL. */
TEST_F(mw, plain_cases_and_einval)
{
	struct epoll_event ev[8];
	int64_t t0;

	put(self->p[0][1]);
	t0 = now_ms();
	EXPECT_EQ(1, wait_min(self->epfd, ev, 8, 20000, 1, 10000000));
	EXPECT_EQ(1, wait_min(self->epfd, ev, 8, 20000, 8, 0));
	EXPECT_LT(now_ms() - t0, 1000);
	EXPECT_EQ(-1, wait_min(self->epfd, ev, 8, 0, 0, 100));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wait_min(self->epfd, ev, 8, 0, 9, 100));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wait_min(self->epfd, ev, 0, 0, 1, 100));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wait_min(self->epfd, NULL, 8, 0, 2, 100));
	EXPECT_EQ(EFAULT, errno);
	/* The 40-byte WAIT is unchanged beside it. */
	EXPECT_EQ(1, ep_wait(false, self->epfd, ev, 8, 0));
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal ends the minimum wait: what is ready is returned, or EINTR. */
TEST_F(mw, signal_ends_min_wait)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct epoll_event ev[8];
	int64_t t0;

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	put(self->p[2][1]);
	t0 = now_ms();
	ualarm(200000, 0);
	EXPECT_EQ(1, wait_min(self->epfd, ev, 8, 20000, 4, 10000000));
	EXPECT_LT(now_ms() - t0, 5000);
	char c;

	ASSERT_EQ(1, read(self->p[2][0], &c, 1));
	ualarm(200000, 0);
	EXPECT_EQ(-1, wait_min(self->epfd, ev, 8, 20000, 4, 10000000));
	EXPECT_EQ(EINTR, errno);
}

struct plain_waiter {
	int epfd;
	int n;
	int64_t at;
};

static void *plain_wait(void *arg)
{
	struct plain_waiter *w = arg;
	struct epoll_event ev[8];

	w->n = ep_wait(false, w->epfd, ev, 8, 10000);
	w->at = now_ms();
	return NULL;
}

/* A plain waiter beside a min-waiter still gets the wake-up the min-waiter declines. */
TEST_F(mw, plain_waiter_beside_min_waiter)
{
	struct plain_waiter pw = { .epfd = self->epfd };
	struct epoll_event ev[8];
	pthread_t t;
	int64_t t0;
	int n;

	if (fork() == 0) {
		/* The min-waiter, in a child sharing the instance: minimum 8 or 3 s. */
		_exit(wait_min(self->epfd, ev, 8, 20000, 8, 3000000) >= 0 ? 0 : 1);
	}
	sleep_ms(200);
	ASSERT_EQ(0, pthread_create(&t, NULL, plain_wait, &pw));
	sleep_ms(200);
	t0 = now_ms();
	put(self->p[6][1]);
	pthread_join(t, NULL);
	EXPECT_EQ(1, pw.n);
	EXPECT_LT(pw.at - t0, 2000) TH_LOG("the plain waiter woke after %lld ms",
					   (long long)(pw.at - t0));
	n = 0;
	wait(&n);
	EXPECT_EQ(0, n);
}

/*
 * One write to an eventfd watched through WATCHES dup'ed fds wakes the instance once per
 * watch. A min-waiter's wake function runs each time, in the writer's context with
 * interrupts off: it must cost O(1), not a walk of the ready list (N²/2 link steps for the
 * one write, an unprivileged way to stall a CPU). Device: a min-waiter asleep with a minimum
 * of WATCHES; native: a plain waiter. The device's write must take no more than 4× native's
 * plus 50 ms.
 */
#define WATCHES 10000

struct many_waiter {
	int epfd;
	bool native;
	struct epoll_event *ev;
	int n;
};

static void *many_wait(void *arg)
{
	struct many_waiter *w = arg;

	if (w->native)
		w->n = ep_wait(true, w->epfd, w->ev, WATCHES, 10000);
	else
		w->n = wait_min(w->epfd, w->ev, WATCHES, 10000, WATCHES, 5000000);
	return NULL;
}

/* The write's duration in µs with `native`'s waiter asleep, or -1 (errno) on a setup error. */
static int64_t one_write_to_many_watches(bool native)
{
	struct many_waiter w = { .native = native };
	struct timespec a, b;
	static int fds[WATCHES];
	uint64_t one = 1;
	int64_t us = -1;
	pthread_t t;
	int efd, i;

	w.ev = calloc(WATCHES, sizeof(*w.ev));
	w.epfd = ep_create(native);
	efd = eventfd(0, EFD_NONBLOCK);
	if (!w.ev || w.epfd < 0 || efd < 0)
		return -1;
	for (i = 0; i < WATCHES; i++) {
		fds[i] = i ? dup(efd) : efd;
		if (fds[i] < 0 || ep_ctl(native, w.epfd, EPOLL_CTL_ADD, fds[i], EPOLLIN, i))
			goto out;
	}
	if (pthread_create(&t, NULL, many_wait, &w))
		goto out;
	sleep_ms(300);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (write(efd, &one, sizeof(one)) == sizeof(one)) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
	}
	pthread_join(t, NULL);
	/* The plain waiter may wake at the first watch's wake-up and take fewer. */
	if (native ? w.n < 1 : w.n != WATCHES) {
		fprintf(stderr, "# %s waiter got %d of %d\n", native ? "native" : "device", w.n,
			WATCHES);
		us = -1;
	}
out:
	for (int j = 1; j < WATCHES && j <= i; j++)
		if (fds[j] >= 0)
			close(fds[j]);
	close(efd);
	close(w.epfd);
	free(w.ev);
	return us;
}

TEST(one_write_to_many_watches_is_linear)
{
	struct rlimit rl = { WATCHES + 64, WATCHES + 64 };
	int64_t dev, nat;

	if (setrlimit(RLIMIT_NOFILE, &rl))
		SKIP(return, "RLIMIT_NOFILE of %d: %s", WATCHES + 64, strerror(errno));
	nat = one_write_to_many_watches(true);
	ASSERT_GE(nat, 0) TH_LOG("native: %s", strerror(errno));
	dev = one_write_to_many_watches(false);
	ASSERT_GE(dev, 0) TH_LOG("device: %s", strerror(errno));
	TH_LOG("one write, %d watches: device %lld us (min-waiter), native %lld us",
	       WATCHES, (long long)dev, (long long)nat);
	EXPECT_LE(dev, 4 * nat + 50000);
}

TEST_HARNESS_MAIN
