// SPDX-License-Identifier: GPL-2.0
/*
 * The core eventpoll, seen from userspace: create, ctl, wait. Every TEST_F runs twice, on
 * /dev/rust_epoll ("device") and on the kernel's native epoll ("native"), with the same
 * assertions: whatever native epoll does, the device must do too.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ep.h"

FIXTURE(ep) {
	int epfd;
	int p[2];	/* a pipe most tests watch */
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
	ASSERT_EQ(0, pipe2(self->p, O_NONBLOCK));
}

FIXTURE_TEARDOWN(ep)
{
	close(self->epfd);
	close(self->p[0]);
	close(self->p[1]);
}

#define CTL(op, fd, ev, data) ep_ctl(variant->native, self->epfd, op, fd, ev, data)
#define WAIT(evs, max, to) ep_wait(variant->native, self->epfd, evs, max, to)
#define ADD(fd, ev, data) CTL(EPOLL_CTL_ADD, fd, ev, data)

static void put(int fd)
{
	char c = 'x';

	if (write(fd, &c, 1) != 1)
		abort();
}

/* Each open is an independent instance; many can exist and be closed. */
TEST(open_close_many)
{
	static int fds[1000];
	struct epoll_event ev;
	int p[2];

	for (int i = 0; i < 1000; i++) {
		fds[i] = ep_create(false);
		ASSERT_GE(fds[i], 0) TH_LOG("open %d: %s", i, strerror(errno));
	}
	ASSERT_EQ(0, pipe(p));
	put(p[1]);
	ASSERT_EQ(0, ep_ctl(false, fds[0], EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
	/* A watch in one instance is invisible in another. */
	EXPECT_EQ(1, ep_wait(false, fds[0], &ev, 1, 0));
	EXPECT_EQ(0, ep_wait(false, fds[1], &ev, 1, 0));
	EXPECT_EQ(-1, ep_ctl(false, fds[1], EPOLL_CTL_DEL, p[0], 0, 0));
	EXPECT_EQ(ENOENT, errno);
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(0, close(fds[i]));
	close(p[0]);
	close(p[1]);
}

TEST_F(ep, add_ready_pipe_reports_at_once)
{
	struct epoll_event ev[4];

	put(self->p[1]);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 0xdeadbeefcafef00dULL));
	ASSERT_EQ(1, WAIT(ev, 4, 0));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	EXPECT_EQ(0xdeadbeefcafef00dULL, ev[0].data.u64);
}

TEST_F(ep, level_triggered_reports_until_read)
{
	struct epoll_event ev[4];
	char c;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 5));
	EXPECT_EQ(0, WAIT(ev, 4, 0));
	put(self->p[1]);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(1, WAIT(ev, 4, 0));
		EXPECT_EQ(EPOLLIN, ev[0].events);
		EXPECT_EQ(5, ev[0].data.u64);
	}
	ASSERT_EQ(1, read(self->p[0], &c, 1));
	EXPECT_EQ(0, WAIT(ev, 4, 0));
}

TEST_F(ep, ebadf)
{
	int p[2];

	EXPECT_EQ(-1, ADD(-1, EPOLLIN, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ADD(100000, EPOLLIN, 0));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, pipe(p));
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(-1, ADD(p[0], EPOLLIN, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, CTL(EPOLL_CTL_DEL, p[0], 0, 0));
	EXPECT_EQ(EBADF, errno);
}

/* A regular file on tmpfs has no poll: EPERM, as epoll_ctl(2) says. */
TEST_F(ep, eperm_for_unpollable_file)
{
	char path[] = "/tmp/rust_epoll_test.XXXXXX";
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	unlink(path);
	EXPECT_EQ(-1, ADD(fd, EPOLLIN, 0));
	EXPECT_EQ(EPERM, errno);
	close(fd);
}

TEST_F(ep, einval_for_self_and_bad_op)
{
	EXPECT_EQ(-1, ADD(self->epfd, EPOLLIN, 0));
	EXPECT_EQ(EINVAL, errno);
	for (int op = -1; op < 6; op++) {
		if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_DEL || op == EPOLL_CTL_MOD)
			continue;
		EXPECT_EQ(-1, CTL(op, self->p[0], EPOLLIN, 0));
		EXPECT_EQ(EINVAL, errno);
	}
	/* Nothing was added by the failed calls. */
	EXPECT_EQ(-1, CTL(EPOLL_CTL_DEL, self->p[0], 0, 0));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ep, eexist_and_enoent)
{
	EXPECT_EQ(-1, CTL(EPOLL_CTL_MOD, self->p[0], EPOLLIN, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, CTL(EPOLL_CTL_DEL, self->p[0], 0, 0));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 0));
	EXPECT_EQ(-1, ADD(self->p[0], EPOLLIN, 0));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(0, CTL(EPOLL_CTL_DEL, self->p[0], 0, 0));
	EXPECT_EQ(-1, CTL(EPOLL_CTL_DEL, self->p[0], 0, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(0, ADD(self->p[0], EPOLLIN, 0));
}

TEST_F(ep, exclusive_flag_rules)
{
	EXPECT_EQ(-1, ADD(self->p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN | EPOLLEXCLUSIVE, 0));
	EXPECT_EQ(-1, CTL(EPOLL_CTL_MOD, self->p[0], EPOLLIN | EPOLLEXCLUSIVE, 0));
	EXPECT_EQ(EINVAL, errno);
	/* An exclusive watch cannot be modified at all. */
	EXPECT_EQ(-1, CTL(EPOLL_CTL_MOD, self->p[0], EPOLLIN, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, CTL(EPOLL_CTL_DEL, self->p[0], 0, 0));
	/* Nor can an epoll instance be watched exclusively, a native one included. */
	int native = epoll_create1(0);

	ASSERT_GE(native, 0);
	EXPECT_EQ(-1, ADD(native, EPOLLIN | EPOLLEXCLUSIVE, 0));
	EXPECT_EQ(EINVAL, errno);
	close(native);
}

TEST_F(ep, maxevents_einval)
{
	struct epoll_event ev;

	EXPECT_EQ(-1, WAIT(&ev, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, WAIT(&ev, -1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, WAIT(&ev, INT_MAX, 0));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * The buffer's end at the top of the user address range: accepted up to USER_PTR_MAX
 * (x86-64's access_ok compares the end, addr + len), refused with EFAULT one byte past it.
 * Nothing is ready, so nothing is written either way. The limit is 4-level paging's unless
 * native epoll accepts 5-level paging's.
 */
TEST_F(ep, buffer_end_at_user_limit)
{
#if defined(__x86_64__)
	const uint64_t l4 = 0x7ffffffff000ULL, l5 = 0xfffffffffff000ULL;
	int nat = epoll_create1(0);
	uint64_t lim;

	ASSERT_LE(0, nat);
	lim = epoll_wait(nat, (struct epoll_event *)(uintptr_t)(l5 - 12), 1, 0) == 0 ? l5 : l4;
	close(nat);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 1));
	for (uint64_t end = lim - 1; end <= lim + 1; end++) {
		errno = 0;
		EXPECT_EQ(end <= lim ? 0 : -1, WAIT((struct epoll_event *)(uintptr_t)(end - 12), 1, 0))
			TH_LOG("end %#llx", (unsigned long long)end);
		EXPECT_EQ(end <= lim ? 0 : EFAULT, errno);
	}
#else
	SKIP(return, "the limit tested is x86-64's");
#endif
}

/* An unwritable buffer gives EFAULT, and the event is still there afterwards. */
TEST_F(ep, efault_keeps_events)
{
	struct epoll_event ev[2];
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	int q[2];

	/* A kernel address (only a 64-bit program can name one): refused before anything else. */
	if (sizeof(void *) == 8) {
		EXPECT_EQ(-1, WAIT((struct epoll_event *)(uintptr_t)0xffff888000000000ULL, 1, 0));
		EXPECT_EQ(EFAULT, errno);
	}
	put(self->p[1]);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 1));
	struct epoll_event *volatile null_events = NULL;

	EXPECT_EQ(-1, WAIT(null_events, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(1, WAIT(ev, 2, 0));
	EXPECT_EQ(1, ev[0].data.u64);

	/* Room for one record before an inaccessible page: one is written, one stays ready. */
	ASSERT_EQ(0, pipe(q));
	put(q[1]);
	ASSERT_EQ(0, ADD(q[0], EPOLLIN, 2));
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	struct epoll_event *edge = (struct epoll_event *)(map + page - sizeof(struct epoll_event));

	ASSERT_EQ(1, WAIT(edge, 2, 0));
	uint64_t first = edge->data.u64;

	ASSERT_EQ(2, WAIT(ev, 2, 0));
	EXPECT_NE(ev[0].data.u64, ev[1].data.u64);
	EXPECT_TRUE(ev[0].data.u64 == first || ev[1].data.u64 == first);
	munmap(map, 2 * page);
	close(q[0]);
	close(q[1]);
}

/*
 * Five WAITs with timeout 0, the fastest under 50 ms: a timeout of 0 taken as a sleep shows
 * in every one, while a vCPU the host descheduled (TCG) delays one at most.
 */
TEST_F(ep, timeout_zero_returns_at_once)
{
	struct epoll_event ev;
	int64_t best = INT64_MAX;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 0));
	for (int i = 0; i < 5; i++) {
		int64_t t0 = now_ms(), dt;

		EXPECT_EQ(0, WAIT(&ev, 1, 0));
		dt = now_ms() - t0;
		best = dt < best ? dt : best;
	}
	EXPECT_LT(best, 50);
}

TEST_F(ep, timeout_100ms)
{
	struct epoll_event ev;
	int64_t t0, dt;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 0));
	t0 = now_ms();
	EXPECT_EQ(0, WAIT(&ev, 1, 100));
	dt = now_ms() - t0;
	EXPECT_GE(dt, 100);
	EXPECT_LT(dt, 1000);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * epoll_pwait2's nanosecond timeout: 1.5 ms is neither rounded to 0 (every wait lasts at least
 * that) nor up to a 100 Hz jiffy (the fastest of five is under 10 ms; one wait the host
 * delayed does not decide). A timeout of 0 returns at once (the fastest of five under 50 ms).
 */
TEST_F(ep, nanosecond_timeout)
{
	struct epoll_event ev;
	int64_t t0, dt, best = INT64_MAX;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 0));
	for (int i = 0; i < 5; i++) {
		t0 = now_ns();
		ASSERT_EQ(0, ep_wait_ns(variant->native, self->epfd, &ev, 1, 1500000));
		dt = now_ns() - t0;
		EXPECT_GE(dt, 1500000);
		best = dt < best ? dt : best;
	}
	EXPECT_LT(best, 10000000);
	best = INT64_MAX;
	for (int i = 0; i < 5; i++) {
		t0 = now_ns();
		EXPECT_EQ(0, ep_wait_ns(variant->native, self->epfd, &ev, 1, 0));
		dt = now_ns() - t0;
		best = dt < best ? dt : best;
	}
	EXPECT_LT(best, 50000000);
	put(self->p[1]);
	EXPECT_EQ(1, ep_wait_ns(variant->native, self->epfd, &ev, 1, -1));
}

struct delayed_write {
	int fd;
	int delay_ms;
};

static void *write_later(void *arg)
{
	struct delayed_write *w = arg;

	usleep(w->delay_ms * 1000);
	put(w->fd);
	return NULL;
}

TEST_F(ep, infinite_timeout_wakes_on_write)
{
	struct delayed_write w = { .fd = self->p[1], .delay_ms = 50 };
	struct epoll_event ev;
	pthread_t t;
	int64_t t0 = now_ms();

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 9));
	ASSERT_EQ(0, pthread_create(&t, NULL, write_later, &w));
	ASSERT_EQ(1, WAIT(&ev, 1, -1));
	EXPECT_EQ(9, ev.data.u64);
	EXPECT_GE(now_ms() - t0, 40);
	pthread_join(t, NULL);
}

static void on_signal(int sig)
{
	(void)sig;
}

static void *signal_later(void *arg)
{
	usleep(100 * 1000);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

/* glibc's signal() sets SA_RESTART; WAIT must still fail with EINTR, as epoll_wait does. */
TEST_F(ep, eintr_despite_sa_restart)
{
	pthread_t me = pthread_self(), t;
	struct epoll_event ev;
	int64_t t0 = now_ms();

	signal(SIGUSR1, on_signal);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 0));
	ASSERT_EQ(0, pthread_create(&t, NULL, signal_later, &me));
	EXPECT_EQ(-1, WAIT(&ev, 1, 5000));
	EXPECT_EQ(EINTR, errno);
	EXPECT_LT(now_ms() - t0, 4000);
	pthread_join(t, NULL);
}

/* Fewer slots than ready items: nothing is lost and every item gets its turn (round robin). */
TEST_F(ep, maxevents_below_ready_count_round_robin)
{
	int p[10][2], seen[10] = { 0 };
	struct epoll_event ev[3];
	int got = 0;

	for (int i = 0; i < 10; i++) {
		ASSERT_EQ(0, pipe(p[i]));
		put(p[i][1]);
		ASSERT_EQ(0, ADD(p[i][0], EPOLLIN, i));
	}
	/* Ten records in four waits of at most three: each item exactly once. */
	while (got < 10) {
		int n = WAIT(ev, 3, 0);

		ASSERT_GE(n, 1);
		ASSERT_LE(n, 3);
		for (int j = 0; j < n && got < 10; j++, got++) {
			ASSERT_LT(ev[j].data.u64, 10);
			EXPECT_EQ(0, seen[ev[j].data.u64]++) TH_LOG("item %llu reported twice",
				(unsigned long long)ev[j].data.u64);
		}
	}
	for (int i = 0; i < 10; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

TEST_F(ep, mod_changes_events_and_data)
{
	struct epoll_event ev;

	ASSERT_EQ(0, ADD(self->p[1], EPOLLIN, 1));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, self->p[1], EPOLLOUT, 7));
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(EPOLLOUT, ev.events);
	EXPECT_EQ(7, ev.data.u64);
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, self->p[1], EPOLLIN, 8));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
}

TEST_F(ep, del_stops_events)
{
	struct epoll_event ev;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 0));
	put(self->p[1]);
	ASSERT_EQ(0, CTL(EPOLL_CTL_DEL, self->p[0], 0, 0));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
}

/* EPOLLERR and EPOLLHUP are always watched, even when not asked for. */
TEST_F(ep, hup_is_always_reported)
{
	struct epoll_event ev;

	ASSERT_EQ(0, ADD(self->p[0], 0, 3));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	close(self->p[1]);
	self->p[1] = open("/dev/null", O_RDONLY);
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(EPOLLHUP, ev.events);
	EXPECT_EQ(3, ev.data.u64);
}

TEST_F(ep, edge_triggered)
{
	struct epoll_event ev;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN | EPOLLET, 0));
	put(self->p[1]);
	EXPECT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	put(self->p[1]);
	EXPECT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
}

TEST_F(ep, oneshot_until_rearmed)
{
	struct epoll_event ev;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN | EPOLLONESHOT, 0));
	put(self->p[1]);
	EXPECT_EQ(1, WAIT(&ev, 1, 0));
	put(self->p[1]);
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, self->p[0], EPOLLIN | EPOLLONESHOT, 0));
	EXPECT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
}

TEST_F(ep, data_is_64_bits)
{
	struct epoll_event ev;

	put(self->p[1]);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, ~0ULL));
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(~0ULL, ev.data.u64);
}

/* Two fds of one pipe are two watches, keyed by (file, fd) like epoll's. */
TEST_F(ep, dup_is_a_separate_watch)
{
	struct epoll_event ev[4];
	int d = dup(self->p[0]);

	ASSERT_GE(d, 0);
	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 1));
	ASSERT_EQ(0, ADD(d, EPOLLIN, 2));
	put(self->p[1]);
	ASSERT_EQ(2, WAIT(ev, 4, 0));
	EXPECT_EQ(3, ev[0].data.u64 + ev[1].data.u64);
	close(d);
}

TEST_F(ep, target_eventfd)
{
	struct epoll_event ev;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK);

	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, ADD(efd, EPOLLIN, 1));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	ASSERT_EQ(8, write(efd, &one, 8));
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(EPOLLIN, ev.events);
	ASSERT_EQ(8, read(efd, &one, 8));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	close(efd);
}

TEST_F(ep, target_socketpair)
{
	struct epoll_event ev[2];
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	ASSERT_EQ(0, ADD(sv[0], EPOLLIN | EPOLLRDHUP, 0));
	EXPECT_EQ(0, WAIT(ev, 2, 0));
	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	ASSERT_EQ(1, WAIT(ev, 2, 0));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	close(sv[1]);
	ASSERT_EQ(1, WAIT(ev, 2, 0));
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP | EPOLLHUP, ev[0].events);
	close(sv[0]);
}

TEST_F(ep, target_tcp_loopback)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct epoll_event ev;
	int l, c, s;

	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(l, 8));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&a, &len));
	ASSERT_EQ(0, ADD(l, EPOLLIN, 1));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(1, WAIT(&ev, 1, 1000));
	EXPECT_EQ(1, ev.data.u64);
	s = accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_EQ(0, ADD(s, EPOLLIN | EPOLLRDHUP, 2));
	ASSERT_EQ(1, write(c, "x", 1));
	ASSERT_EQ(1, WAIT(&ev, 1, 1000));
	EXPECT_EQ(2, ev.data.u64);
	EXPECT_EQ(EPOLLIN, ev.events);
	close(c);
	usleep(10000);
	ASSERT_EQ(1, WAIT(&ev, 1, 1000));
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP, ev.events & (EPOLLIN | EPOLLRDHUP));
	close(s);
	close(l);
}

/* Urgent TCP data is EPOLLPRI. */
TEST_F(ep, epollpri_on_urgent_data)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct epoll_event ev;
	int l, c, s;

	l = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(l, 1));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&a, &len));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&a, sizeof(a)));
	s = accept(l, NULL, NULL);
	ASSERT_GE(s, 0);
	ASSERT_EQ(0, ADD(s, EPOLLPRI, 1));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	ASSERT_EQ(1, send(c, "!", 1, MSG_OOB));
	ASSERT_EQ(1, WAIT(&ev, 1, 1000));
	EXPECT_EQ(EPOLLPRI, ev.events);
	close(c);
	close(s);
	close(l);
}

/* The requested events of the watch of `fd`, as fdinfo shows them. */
static unsigned int fdinfo_events(int epfd, int fd)
{
	char path[64], line[256];
	unsigned int events = 0, tfd;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "tfd: %u events: %x", &tfd, &events) == 2 && (int)tfd == fd)
			break;
	if (f)
		fclose(f);
	return events;
}

/*
 * EPOLLWAKEUP needs CAP_BLOCK_SUSPEND (and a kernel with suspend): the device keeps or drops it
 * exactly as native epoll does with the capability, and both drop it without.
 */
TEST(epollwakeup_like_native)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cap[2];
	int dev = ep_create(false), nat = ep_create(true), p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(false, dev, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLWAKEUP, 0));
	ASSERT_EQ(0, ep_ctl(true, nat, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLWAKEUP, 0));
	EXPECT_EQ(fdinfo_events(nat, p[0]), fdinfo_events(dev, p[0]));
	ASSERT_EQ(0, syscall(SYS_capget, &hdr, cap));
	cap[CAP_BLOCK_SUSPEND / 32].effective &= ~(1U << (CAP_BLOCK_SUSPEND % 32));
	ASSERT_EQ(0, syscall(SYS_capset, &hdr, cap));
	ASSERT_EQ(0, ep_ctl(false, dev, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLWAKEUP, 0));
	ASSERT_EQ(0, ep_ctl(true, nat, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLWAKEUP, 0));
	EXPECT_EQ(0, fdinfo_events(dev, p[1]) & EPOLLWAKEUP);
	EXPECT_EQ(fdinfo_events(nat, p[1]), fdinfo_events(dev, p[1]));
	close(dev);
	close(nat);
	close(p[0]);
	close(p[1]);
}

TEST_F(ep, target_timerfd)
{
	struct itimerspec its = { .it_value.tv_nsec = 20 * 1000 * 1000 };
	struct epoll_event ev;
	int64_t t0;
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);

	ASSERT_GE(tfd, 0);
	ASSERT_EQ(0, ADD(tfd, EPOLLIN, 4));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	t0 = now_ms();
	ASSERT_EQ(0, timerfd_settime(tfd, 0, &its, NULL));
	ASSERT_EQ(1, WAIT(&ev, 1, 2000));
	EXPECT_EQ(4, ev.data.u64);
	EXPECT_GE(now_ms() - t0, 15);
	close(tfd);
}

TEST_F(ep, target_signalfd)
{
	struct epoll_event ev;
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));
	sfd = signalfd(-1, &set, SFD_NONBLOCK);
	ASSERT_GE(sfd, 0);
	ASSERT_EQ(0, ADD(sfd, EPOLLIN, 6));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	ASSERT_EQ(1, WAIT(&ev, 1, 1000));
	EXPECT_EQ(6, ev.data.u64);
	close(sfd);
}

/* 10,000 watches in one instance: one ready among them is found, then all of them. */
TEST_F_TIMEOUT(ep, ten_thousand_watches, 180)
{
	enum { N = 10000 };
	static int efd[N];
	static struct epoll_event ev[N];
	struct rlimit rl = { N + 256, N + 256 };
	uint64_t one = 1;

	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	for (int i = 0; i < N; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK);
		ASSERT_GE(efd[i], 0);
		ASSERT_EQ(0, ADD(efd[i], EPOLLIN, i));
	}
	EXPECT_EQ(0, WAIT(ev, N, 0));
	ASSERT_EQ(8, write(efd[7777], &one, 8));
	ASSERT_EQ(1, WAIT(ev, N, 0));
	EXPECT_EQ(7777, ev[0].data.u64);
	for (int i = 0; i < N; i++)
		ASSERT_EQ(8, write(efd[i], &one, 8));
	EXPECT_EQ(N, WAIT(ev, N, 0));
	for (int i = 0; i < N; i += 2)
		ASSERT_EQ(0, CTL(EPOLL_CTL_DEL, efd[i], 0, 0));
	EXPECT_EQ(N / 2, WAIT(ev, N, 0));
	for (int i = 0; i < N; i++)
		close(efd[i]);
}

struct poller {
	bool native;
	int epfd;
	int misses;
};

static void *poll_lt_often(void *arg)
{
	struct poller *p = arg;
	struct epoll_event ev;

	for (int i = 0; i < 5000; i++)
		if (ep_wait(p->native, p->epfd, &ev, 1, 0) != 1)
			p->misses++;
	return NULL;
}

/*
 * Regression (the kernel's epoll65 found it): with timeout 0, an always-ready level-triggered
 * item is reported to every caller, even while another thread is transferring it.
 */
TEST_F(ep, concurrent_zero_timeout_waits_never_miss_lt)
{
	struct poller p[8];
	pthread_t t[8];
	uint64_t one = 1;
	int efd = eventfd(0, 0);

	ASSERT_EQ(8, write(efd, &one, 8));
	ASSERT_EQ(0, ADD(efd, EPOLLIN, 0));
	for (int i = 0; i < 8; i++) {
		p[i] = (struct poller){ variant->native, self->epfd, 0 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, poll_lt_often, &p[i]));
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, p[i].misses);
	}
	close(efd);
}

struct waiter {
	bool native;
	int epfd;
	int ret;
	uint64_t data;
};

static void *wait_once(void *arg)
{
	struct waiter *w = arg;
	struct epoll_event ev;

	w->ret = ep_wait(w->native, w->epfd, &ev, 1, 3000);
	w->data = ev.data.u64;
	return NULL;
}

/*
 * Two threads wait on one instance. One event wakes one waiter; that waiter, leaving a
 * ready item behind, wakes the next (the chained wake-up): both return.
 */
TEST_F(ep, two_threads_wait_on_one_instance)
{
	struct waiter w[2] = {
		{ variant->native, self->epfd, -2, 0 }, { variant->native, self->epfd, -2, 0 },
	};
	pthread_t t[2];
	int64_t t0 = now_ms();

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 1));
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, wait_once, &w[i]));
	usleep(100 * 1000);
	put(self->p[1]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(1, w[0].ret);
	EXPECT_EQ(1, w[1].ret);
	EXPECT_LT(now_ms() - t0, 2500);
}

/* The instance follows its open file: a forked child waits on it and sees the event. */
TEST_F(ep, fork_shares_the_instance)
{
	struct epoll_event ev;
	int status;
	pid_t pid;

	ASSERT_EQ(0, ADD(self->p[0], EPOLLIN, 11));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(WAIT(&ev, 1, 2000) == 1 && ev.data.u64 == 11 ? 0 : 1);
	usleep(50 * 1000);
	put(self->p[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The device's own interface: reserved fields, bad argument pointers, unknown ioctls. */
TEST(device_rejects_bad_requests)
{
	int fd = ep_create(false), p[2];
	struct rust_epoll_ctl c = { .op = EPOLL_CTL_ADD, .events = EPOLLIN };
	struct epoll_event ev;
	struct rust_epoll_wait w = { .events = (uintptr_t)&ev, .maxevents = 1 };

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pipe(p));
	c.fd = p[0];
	c.flags = 1;
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_CTL, &c));
	EXPECT_EQ(EINVAL, errno);
	c.flags = 0;
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_CTL, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_CTL, (void *)0xffff888000000000ULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_WAIT, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(RUST_EPOLL_IOC_MAGIC, 99)));
	EXPECT_EQ(ENOTTY, errno);
	w.sigmask = 1;
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.sigmask = 0;
	w.flags = 2;
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.flags = 0;
	w.timeout_ns = 1;	/* without RUST_EPOLL_WAIT_NSEC */
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.flags = RUST_EPOLL_WAIT_NSEC;
	w.timeout = 5;		/* both timeouts */
	EXPECT_EQ(-1, ioctl(fd, RUST_EPOLL_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.timeout = 0;
	w.flags = 0;
	w.timeout_ns = 0;
	EXPECT_EQ(0, ioctl(fd, RUST_EPOLL_WAIT, &w));
	/* None of the refused requests added anything. */
	EXPECT_EQ(-1, ep_ctl(false, fd, EPOLL_CTL_DEL, p[0], 0, 0));
	EXPECT_EQ(ENOENT, errno);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* Closing an instance with watches on live targets frees it; the targets live on. */
TEST(close_instance_with_watches)
{
	int p[2], fds[100];
	char c;

	ASSERT_EQ(0, pipe(p));
	for (int round = 0; round < 100; round++) {
		fds[round] = ep_create(false);
		ASSERT_GE(fds[round], 0);
		ASSERT_EQ(0, ep_ctl(false, fds[round], EPOLL_CTL_ADD, p[0], EPOLLIN, round));
		ASSERT_EQ(0, ep_ctl(false, fds[round], EPOLL_CTL_ADD, p[1], EPOLLOUT, round));
	}
	put(p[1]);
	for (int round = 0; round < 100; round++)
		close(fds[round]);
	/* Wake-ups after the instances are gone reach no freed entry. */
	put(p[1]);
	ASSERT_EQ(1, read(p[0], &c, 1));
	close(p[0]);
	close(p[1]);
}

/* The "tfd:" lines of /proc/self/fdinfo/<fd>, concatenated. */
static void fdinfo_watches(int fd, char *out, size_t size)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	out[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "tfd:", 4) && strlen(out) + strlen(line) < size)
			strcat(out, line);
	fclose(f);
}

/* fdinfo lists the watches exactly as native epoll's does, for the same targets. */
TEST(fdinfo_matches_native)
{
	static char mine[4096], theirs[4096];
	int dev = ep_create(false), nat = ep_create(true), p[2], efd = eventfd(0, 0);

	ASSERT_GE(dev, 0);
	ASSERT_GE(nat, 0);
	ASSERT_EQ(0, pipe(p));
	for (int i = 0; i < 2; i++) {
		int e = i ? nat : dev;
		bool native = i;

		ASSERT_EQ(0, ep_ctl(native, e, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 0x1234));
		ASSERT_EQ(0, ep_ctl(native, e, EPOLL_CTL_ADD, p[1], EPOLLOUT, ~0ULL));
		ASSERT_EQ(0, ep_ctl(native, e, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLRDHUP, 7));
		ASSERT_EQ(0, ep_ctl(native, e, EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLONESHOT, 8));
	}
	fdinfo_watches(dev, mine, sizeof(mine));
	fdinfo_watches(nat, theirs, sizeof(theirs));
	EXPECT_NE(0, strlen(theirs));
	EXPECT_STREQ(theirs, mine);
	close(dev);
	close(nat);
	close(p[0]);
	close(p[1]);
	close(efd);
}

/*
 * The module cannot be unloaded while an instance is open: the kernel refuses with
 * EWOULDBLOCK (what rmmod reports as "in use"), and the instance keeps working.
 */
TEST(unload_refused_while_open)
{
	struct epoll_event ev;
	int fd = ep_create(false), p[2];

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(false, fd, EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
	EXPECT_EQ(-1, syscall(SYS_delete_module, "rust_epoll", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	put(p[1]);
	EXPECT_EQ(1, ep_wait(false, fd, &ev, 1, 0));
	close(fd);
	close(p[0]);
	close(p[1]);
}

/*
 * Races, bounded: for 3 seconds, one thread adds, modifies and deletes watches on 64 pipes,
 * two wait, one writes and drains. Each WAIT's records name watched pipes, each at most once
 * per call; the kernel (KASAN/lockdep when on, vm-run's dmesg check always) checks the rest.
 */
enum { STRESS_PIPES = 64, STRESS_MS = 3000, STRESS_MAX_MS = 30000, STRESS_WORK = 1000 };

struct stress {
	bool native;
	int epfd;
	int p[STRESS_PIPES][2];
	int64_t end;
	int bad;
	long waits, events, ctls;
};

/*
 * Whether the threads go on: for STRESS_MS, then until STRESS_WORK ctls and events have been
 * made (a slow kernel runs longer rather than less), at most STRESS_MAX_MS.
 */
static bool stress_on(struct stress *s)
{
	int64_t t = now_ms();

	if (t < s->end)
		return true;
	return t < s->end - STRESS_MS + STRESS_MAX_MS &&
	       (__atomic_load_n(&s->ctls, __ATOMIC_RELAXED) < STRESS_WORK ||
		__atomic_load_n(&s->events, __ATOMIC_RELAXED) < STRESS_WORK);
}

static void *stress_ctl(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = 1;

	while (stress_on(s)) {
		int i = rand_r(&seed) % STRESS_PIPES, op = 1 + rand_r(&seed) % 3;
		uint32_t ev = (rand_r(&seed) & 1 ? EPOLLIN : EPOLLOUT) | (rand_r(&seed) & 1 ? EPOLLET : 0);

		ep_ctl(s->native, s->epfd, op, s->p[i][rand_r(&seed) & 1], ev, i);
		__atomic_add_fetch(&s->ctls, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *stress_wait(void *arg)
{
	struct stress *s = arg;
	struct epoll_event ev[16];

	while (stress_on(s)) {
		int n = ep_wait(s->native, s->epfd, ev, 16, 10);
		int seen[STRESS_PIPES * 2] = { 0 };

		if (n < 0 && errno != EINTR) {
			__atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_add_fetch(&s->waits, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < n; i++) {
			uint64_t d = ev[i].data.u64;
			/* One record per watch: a pipe's two ends are two watches with the same data. */
			int key = d < STRESS_PIPES ? (int)d * 2 + !!(ev[i].events & EPOLLOUT) : 0;

			if (d >= STRESS_PIPES || seen[key]++ > 0)
				__atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&s->events, n > 0 ? n : 0, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *stress_io(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = 2;
	char buf[64];

	while (stress_on(s)) {
		int i = rand_r(&seed) % STRESS_PIPES;

		if (rand_r(&seed) & 1)
			(void)!write(s->p[i][1], "x", 1);
		else
			(void)!read(s->p[i][0], buf, sizeof(buf));
	}
	return NULL;
}

TEST_F_TIMEOUT(ep, stress_ctl_wait_write, 60)
{
	static struct stress s;
	pthread_t t[4];

	memset(&s, 0, sizeof(s));
	s.native = variant->native;
	s.epfd = self->epfd;
	for (int i = 0; i < STRESS_PIPES; i++)
		ASSERT_EQ(0, pipe2(s.p[i], O_NONBLOCK));
	s.end = now_ms() + STRESS_MS;
	ASSERT_EQ(0, pthread_create(&t[0], NULL, stress_ctl, &s));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, stress_wait, &s));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, stress_wait, &s));
	ASSERT_EQ(0, pthread_create(&t[3], NULL, stress_io, &s));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld ctls, %ld waits, %ld events", s.ctls, s.waits, s.events);
	EXPECT_EQ(0, s.bad);
	/* It ran (a floor, not a speed: the debug kernel under load made a few hundred in 3 s). */
	EXPECT_GT(s.ctls, 100);
	EXPECT_GT(s.events, 100);
	for (int i = 0; i < STRESS_PIPES; i++) {
		close(s.p[i][0]);
		close(s.p[i][1]);
	}
}

/* The instance itself is pollable: POLLIN while its ready list holds a really ready item. */
TEST(instance_is_pollable)
{
	int ep = ep_create(false), p[2];
	struct pollfd pfd = { .fd = ep, .events = POLLIN };
	char c;

	ASSERT_GE(ep, 0);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	put(p[1]);
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents);
	/* Readiness that went away is not reported: the stale item is dropped. */
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(ep);
	close(p[0]);
	close(p[1]);
}

/* Nesting, each way: (outer, inner) = (native, device), (device, native), (device, device). */
FIXTURE(nest) {
	int outer, inner, p[2];
};

FIXTURE_VARIANT(nest) {
	bool outer_native, inner_native;
};

FIXTURE_VARIANT_ADD(nest, device_in_native) {
	.outer_native = true, .inner_native = false,
};

FIXTURE_VARIANT_ADD(nest, native_in_device) {
	.outer_native = false, .inner_native = true,
};

FIXTURE_VARIANT_ADD(nest, device_in_device) {
	.outer_native = false, .inner_native = false,
};

FIXTURE_VARIANT_ADD(nest, native_in_native) {
	.outer_native = true, .inner_native = true,
};

FIXTURE_SETUP(nest)
{
	self->outer = ep_create(variant->outer_native);
	self->inner = ep_create(variant->inner_native);
	ASSERT_GE(self->outer, 0);
	ASSERT_GE(self->inner, 0);
	ASSERT_EQ(0, pipe(self->p));
	ASSERT_EQ(0, ep_ctl(variant->inner_native, self->inner, EPOLL_CTL_ADD, self->p[0], EPOLLIN, 1));
	ASSERT_EQ(0, ep_ctl(variant->outer_native, self->outer, EPOLL_CTL_ADD, self->inner, EPOLLIN, 2));
}

FIXTURE_TEARDOWN(nest)
{
	close(self->outer);
	close(self->inner);
	close(self->p[0]);
	close(self->p[1]);
}

/* Readiness propagates up: an event in the inner instance makes the outer one report it. */
TEST_F(nest, readiness_propagates)
{
	struct epoll_event ev;

	EXPECT_EQ(0, ep_wait(variant->outer_native, self->outer, &ev, 1, 0));
	put(self->p[1]);
	ASSERT_EQ(1, ep_wait(variant->outer_native, self->outer, &ev, 1, 0));
	EXPECT_EQ(EPOLLIN, ev.events);
	EXPECT_EQ(2, ev.data.u64);
	ASSERT_EQ(1, ep_wait(variant->inner_native, self->inner, &ev, 1, 0));
	EXPECT_EQ(1, ev.data.u64);
}

/* A task asleep on the outer instance is woken by a write into the inner one's pipe. */
TEST_F(nest, wakeup_propagates)
{
	struct delayed_write w = { .fd = self->p[1], .delay_ms = 50 };
	struct epoll_event ev;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, write_later, &w));
	ASSERT_EQ(1, ep_wait(variant->outer_native, self->outer, &ev, 1, 2000));
	EXPECT_EQ(2, ev.data.u64);
	pthread_join(t, NULL);
}

/*
 * Two levels up, readiness that went away is not reported: polled by a WAIT of a third
 * instance, the outer instance re-polls its watch of the inner one (ep_item_poll of an
 * epoll target: the inner instance re-polls its own items) instead of trusting its ready
 * list. The device's outer instance took a native inner one's watch as ready while linked.
 */
TEST_F(nest, quiet_inner_is_dropped_two_levels_up)
{
	int top = ep_create(variant->outer_native);
	struct epoll_event ev;
	char c;

	ASSERT_GE(top, 0);
	ASSERT_EQ(0, ep_ctl(variant->outer_native, top, EPOLL_CTL_ADD, self->outer, EPOLLIN, 3));
	put(self->p[1]);
	/* Level-triggered all the way: every level's item stays on its ready list. */
	ASSERT_EQ(1, ep_wait(variant->outer_native, top, &ev, 1, 2000));
	EXPECT_EQ(3, ev.data.u64);
	ASSERT_EQ(1, ep_wait(variant->outer_native, top, &ev, 1, 0));
	ASSERT_EQ(1, read(self->p[0], &c, 1));
	EXPECT_EQ(0, ep_wait(variant->outer_native, top, &ev, 1, 0));
	/* And again, a wake-up later: the path still works. */
	put(self->p[1]);
	EXPECT_EQ(1, ep_wait(variant->outer_native, top, &ev, 1, 2000));
	close(top);
}

/* Instances of the same kind: self-add, cycles and depth, checked like native epoll. */
FIXTURE(loops) {
	int e[8];
};

FIXTURE_VARIANT(loops) {
	bool native;
};

FIXTURE_VARIANT_ADD(loops, device) {
	.native = false,
};

FIXTURE_VARIANT_ADD(loops, native) {
	.native = true,
};

FIXTURE_SETUP(loops)
{
	for (int i = 0; i < 8; i++) {
		self->e[i] = ep_create(variant->native);
		ASSERT_GE(self->e[i], 0);
	}
}

FIXTURE_TEARDOWN(loops)
{
	for (int i = 0; i < 8; i++)
		close(self->e[i]);
}

#define LCTL(op, a, b, ev) ep_ctl(variant->native, self->e[a], op, self->e[b], ev, b)

TEST_F(loops, cycle_is_eloop)
{
	EXPECT_EQ(-1, LCTL(EPOLL_CTL_ADD, 0, 0, EPOLLIN));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, LCTL(EPOLL_CTL_ADD, 0, 1, EPOLLIN));
	EXPECT_EQ(-1, LCTL(EPOLL_CTL_ADD, 1, 0, EPOLLIN));
	EXPECT_EQ(ELOOP, errno);
	ASSERT_EQ(0, LCTL(EPOLL_CTL_ADD, 1, 2, EPOLLIN));
	EXPECT_EQ(-1, LCTL(EPOLL_CTL_ADD, 2, 0, EPOLLIN));
	EXPECT_EQ(ELOOP, errno);
	/* Once the edge is gone, the same ADD is fine. */
	ASSERT_EQ(0, LCTL(EPOLL_CTL_DEL, 0, 1, 0));
	EXPECT_EQ(0, LCTL(EPOLL_CTL_ADD, 2, 0, EPOLLIN));
}

/* A chain of five instances is the deepest allowed (EP_MAX_NESTS = 4), built either way. */
TEST_F(loops, depth_limit_bottom_up)
{
	for (int i = 1; i < 5; i++)
		ASSERT_EQ(0, LCTL(EPOLL_CTL_ADD, i, i - 1, EPOLLIN));
	EXPECT_EQ(-1, LCTL(EPOLL_CTL_ADD, 5, 4, EPOLLIN));
	EXPECT_EQ(ELOOP, errno);
}

TEST_F(loops, depth_limit_top_down)
{
	for (int i = 1; i < 5; i++)
		ASSERT_EQ(0, LCTL(EPOLL_CTL_ADD, i - 1, i, EPOLLIN));
	EXPECT_EQ(-1, LCTL(EPOLL_CTL_ADD, 4, 5, EPOLLIN));
	EXPECT_EQ(ELOOP, errno);
	/* Joining two chains in the middle counts both heights. */
	ASSERT_EQ(0, LCTL(EPOLL_CTL_ADD, 6, 7, EPOLLIN));
	EXPECT_EQ(-1, LCTL(EPOLL_CTL_ADD, 3, 6, EPOLLIN));
	EXPECT_EQ(ELOOP, errno);
	EXPECT_EQ(0, LCTL(EPOLL_CTL_ADD, 2, 6, EPOLLIN));
}

TEST_F(loops, exclusive_on_instance_is_einval)
{
	EXPECT_EQ(-1, LCTL(EPOLL_CTL_ADD, 0, 1, EPOLLIN | EPOLLEXCLUSIVE));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * epoll's reverse-path limits: at most 500, 100, 50 and 10 wake-up paths of length 1 to 4
 * lead up from one file through nested instances; the ADD that would make one more fails
 * with EINVAL (and changes nothing). Built as: a chain of `levels` instances, e[0] on top;
 * inner instances, each watching the same pipe, are added below the chain's bottom one
 * until an ADD fails. Both orders of building a path are tried: the pipe into an inner
 * instance that is already nested, and a nested instance with the pipe already in it.
 */
static int paths_until_einval(bool native, int *chain, int levels, bool pipe_first, int *err)
{
	int p[2], n = 0;
	static int inner[600];

	if (pipe(p))
		return -1;
	for (int i = 1; i < levels; i++)
		if (ep_ctl(native, chain[i - 1], EPOLL_CTL_ADD, chain[i], EPOLLIN, i))
			return -1;
	*err = 0;
	for (; n < 600; n++) {
		int e = ep_create(native);

		if (e < 0)
			return -1;
		inner[n] = e;
		if (pipe_first ? ep_ctl(native, e, EPOLL_CTL_ADD, p[0], EPOLLIN, 0) ||
				 ep_ctl(native, chain[levels - 1], EPOLL_CTL_ADD, e, EPOLLIN, n)
			       : ep_ctl(native, chain[levels - 1], EPOLL_CTL_ADD, e, EPOLLIN, n) ||
				 ep_ctl(native, e, EPOLL_CTL_ADD, p[0], EPOLLIN, 0)) {
			*err = errno;
			close(e);
			break;
		}
	}
	for (int i = 0; i < n; i++)
		close(inner[i]);
	close(p[0]);
	close(p[1]);
	return n;
}

TEST_F_TIMEOUT(loops, reverse_path_limits, 120)
{
	static const int limit[5] = { 0, 500, 100, 50, 10 };

	for (int levels = 1; levels <= 4; levels++) {
		for (int pipe_first = 0; pipe_first < 2; pipe_first++) {
			int chain[4], err, n;

			for (int i = 0; i < levels; i++) {
				chain[i] = ep_create(variant->native);
				ASSERT_GE(chain[i], 0);
			}
			n = paths_until_einval(variant->native, chain, levels, pipe_first, &err);
			EXPECT_EQ(limit[levels], n) TH_LOG("paths of length %d", levels);
			EXPECT_EQ(EINVAL, err);
			for (int i = 0; i < levels; i++)
				close(chain[i]);
		}
	}
}


/*
 * A cycle through native epoll, which no loop check can see: our instance watches a native
 * one, which watches ours. Waits, polls and wake-ups on it finish; nothing deadlocks.
 */
TEST(cycle_through_native_does_not_hang)
{
	int dev = ep_create(false), nat = ep_create(true), p[2];
	struct pollfd pfd = { .fd = dev, .events = POLLIN };
	struct epoll_event ev;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(false, dev, EPOLL_CTL_ADD, nat, EPOLLIN, 1));
	ASSERT_EQ(0, ep_ctl(true, nat, EPOLL_CTL_ADD, dev, EPOLLIN, 2));
	ASSERT_EQ(0, ep_ctl(true, nat, EPOLL_CTL_ADD, p[0], EPOLLIN, 3));
	for (int i = 0; i < 100; i++) {
		put(p[1]);
		EXPECT_GE(ep_wait(false, dev, &ev, 1, 100), 0);
		EXPECT_GE(ep_wait(true, nat, &ev, 1, 0), 0);
		EXPECT_GE(poll(&pfd, 1, 0), 0);
	}
	close(dev);
	close(nat);
	close(p[0]);
	close(p[1]);
}

/*
 * Found by the fuzzer: a cycle through native epoll with one of ours inside it, closed by an
 * ADD: ours `a` adds native `n`, which watches ours `x`, which watches `a`. The ADD polls `n`
 * under a's lock, `n` polls `x`, `x` polls `a`: the same task again, three levels down.
 * Then both sides wait, in two threads at once, with events flowing: nothing deadlocks.
 */
struct cycle_waiter {
	int fd;
	bool native;
	int64_t end;
	long waits;
};

static void *cycle_wait(void *arg)
{
	struct cycle_waiter *w = arg;
	struct epoll_event ev[4];

	while (now_ms() < w->end) {
		ep_wait(w->native, w->fd, ev, 4, 1);
		w->waits++;
	}
	return NULL;
}

TEST(cycle_through_native_and_ours_does_not_hang)
{
	int a = ep_create(false), x = ep_create(false), n = ep_create(true), p[2];
	struct cycle_waiter w[3];
	pthread_t t[3];

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	ASSERT_EQ(0, ep_ctl(false, a, EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
	ASSERT_EQ(0, ep_ctl(false, x, EPOLL_CTL_ADD, a, EPOLLIN, 2));
	ASSERT_EQ(0, ep_ctl(true, n, EPOLL_CTL_ADD, x, EPOLLIN, 3));
	put(p[1]);
	/* (As native epoll, EPOLLEXCLUSIVE is refused for an epoll target, native or ours.) */
	EXPECT_EQ(0, ep_ctl(false, a, EPOLL_CTL_ADD, n, EPOLLIN, 4));
	w[0] = (struct cycle_waiter){ a, false, now_ms() + 1000 };
	w[1] = (struct cycle_waiter){ n, true, now_ms() + 1000 };
	w[2] = (struct cycle_waiter){ x, false, now_ms() + 1000 };
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, cycle_wait, &w[i]));
	while (now_ms() < w[0].end) {
		char c;

		put(p[1]);
		(void)!read(p[0], &c, 1);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		EXPECT_LT(0, w[i].waits);
	}
	close(a);
	close(x);
	close(n);
	close(p[0]);
	close(p[1]);
}

struct excl_waiter {
	bool native;
	int epfd;
	int ret;
};

static void *excl_wait(void *arg)
{
	struct excl_waiter *w = arg;
	struct epoll_event ev;

	w->ret = ep_wait(w->native, w->epfd, &ev, 1, 500);
	return NULL;
}

/*
 * Four instances watch one eventfd, each with a task asleep on it. One write wakes every
 * instance without EPOLLEXCLUSIVE, but fewer than all of them with it (the thundering herd).
 */
static int woken_by_one_write(bool native, bool exclusive)
{
	struct excl_waiter w[4];
	pthread_t t[4];
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK), woken = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct excl_waiter){ native, ep_create(native), -2 };
		if (ep_ctl(native, w[i].epfd, EPOLL_CTL_ADD, efd, EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0), i))
			return -1;
		pthread_create(&t[i], NULL, excl_wait, &w[i]);
	}
	usleep(100 * 1000);
	if (write(efd, &one, 8) != 8)
		return -1;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		woken += w[i].ret == 1;
		close(w[i].epfd);
	}
	close(efd);
	return woken;
}

TEST(exclusive_wakes_fewer)
{
	for (int native = 0; native < 2; native++) {
		int all = woken_by_one_write(native, false), excl = woken_by_one_write(native, true);

		TH_LOG("%s: %d of 4 woken without EPOLLEXCLUSIVE, %d with it",
		       native ? "native" : "device", all, excl);
		EXPECT_EQ(4, all);
		EXPECT_GE(excl, 1);
		EXPECT_LT(excl, 4);
	}
}

static int do_ctl_batch(int ep, struct rust_epoll_ctl *ops, unsigned int n, struct rust_epoll_ctl_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->ops = (uintptr_t)ops;
	b->nr_ops = n;
	b->error = 12345;	/* must be overwritten */
	return ioctl(ep, RUST_EPOLL_CTL_BATCH, b);
}

/* The batch: applied in order, stops at the first failure and says where, stays applied. */
TEST(ctl_batch)
{
	int ep = ep_create(false), p[4][2];
	struct rust_epoll_ctl ops[5];
	struct rust_epoll_ctl_batch b;
	struct epoll_event ev[4];
	long page = sysconf(_SC_PAGESIZE);
	char *map;

	ASSERT_GE(ep, 0);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pipe(p[i]));
	for (int i = 0; i < 4; i++)
		ops[i] = (struct rust_epoll_ctl){ .op = EPOLL_CTL_ADD, .fd = p[i][0], .events = EPOLLIN, .data = i };

	/* All applied. */
	ASSERT_EQ(0, do_ctl_batch(ep, ops, 2, &b));
	EXPECT_EQ(2, b.applied);
	EXPECT_EQ(0, b.error);
	/* One failing in the middle: ops[0] again (EEXIST) between two new ones. */
	ops[4] = ops[0];
	struct rust_epoll_ctl mid[3] = { ops[2], ops[4], ops[3] };

	ASSERT_EQ(0, do_ctl_batch(ep, mid, 3, &b));
	EXPECT_EQ(1, b.applied);
	EXPECT_EQ(-EEXIST, b.error);
	EXPECT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_DEL, p[2][0], 0, 0));	/* applied, stays */
	EXPECT_EQ(-1, ep_ctl(false, ep, EPOLL_CTL_DEL, p[3][0], 0, 0));	/* after the failure */
	EXPECT_EQ(ENOENT, errno);

	/* Bad sizes and flags. */
	EXPECT_EQ(-1, do_ctl_batch(ep, ops, 0, &b));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, do_ctl_batch(ep, ops, RUST_EPOLL_BATCH_MAX + 1, &b));
	EXPECT_EQ(EINVAL, errno);
	memset(&b, 0, sizeof(b));
	b.ops = (uintptr_t)ops;
	b.nr_ops = 1;
	b.flags = 1u << 2;	/* no such flag */
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_CTL_BATCH, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* Unreadable operations: nothing from a NULL array; up to the fault from a cut one. */
	ASSERT_EQ(0, do_ctl_batch(ep, NULL, 2, &b));
	EXPECT_EQ(0, b.applied);
	EXPECT_EQ(-EFAULT, b.error);
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	struct rust_epoll_ctl *cut = (struct rust_epoll_ctl *)(map + page) - 1;

	cut[0] = ops[3];
	ASSERT_EQ(0, do_ctl_batch(ep, cut, 2, &b));
	EXPECT_EQ(1, b.applied);
	EXPECT_EQ(-EFAULT, b.error);
	EXPECT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_DEL, p[3][0], 0, 0));
	munmap(map, 2 * page);

	/* kevent style: change, then wait, in one call. */
	put(p[3][1]);
	memset(&b, 0, sizeof(b));
	b.ops = (uintptr_t)&ops[3];
	b.nr_ops = 1;
	b.flags = RUST_EPOLL_BATCH_WAIT;
	b.wait = (struct rust_epoll_wait){ .events = (uintptr_t)ev, .maxevents = 4, .timeout = 1000 };
	ASSERT_EQ(1, ioctl(ep, RUST_EPOLL_CTL_BATCH, &b));
	EXPECT_EQ(3, ev[0].data.u64);
	EXPECT_EQ(1, b.applied);
	EXPECT_EQ(0, b.error);
	close(ep);
	for (int i = 0; i < 4; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

/* The path of this process's one debugfs picture, or "" if there is none. */
/* The debugfs picture shows the watches, the tree and the ready list, and goes with the instance. */
TEST(debugfs_view)
{
	static char path[256], text[8192], want[64];
	int ep, p[2], was;

	if (access("/sys/kernel/debug/rust_epoll", F_OK))
		SKIP(return, "debugfs not mounted");
	was = debugfs_views(true);
	ASSERT_GE(was, 0) TH_LOG("no /sys/kernel/debug/rust_epoll/views");
	ep = ep_create(false);
	debugfs_views(was);
	ASSERT_GE(ep, 0);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 0x10));
	ASSERT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 0x20));
	find_debugfs_view(path, sizeof(path));
	ASSERT_NE(0, path[0]);
	put(p[1]);
	read_file(path, text, sizeof(text));
	TH_LOG("%s:\n%s", path, text);
	EXPECT_NE(NULL, strstr(text, "2 watches, 2 ready"));
	EXPECT_NE(NULL, strstr(text, "(B) fd"));
	snprintf(want, sizeof(want), "fd %-5d wants IN|ERR|HUP|ET", p[0]);
	EXPECT_NE(NULL, strstr(text, want));
	EXPECT_NE(NULL, strstr(text, "last seen IN"));
	snprintf(want, sizeof(want), "ready list (head to tail): fd %d fd %d", p[1], p[0]);
	EXPECT_NE(NULL, strstr(text, want));
	close(ep);
	EXPECT_NE(0, access(path, F_OK));
	close(p[0]);
	close(p[1]);
}

/* Without /sys/kernel/debug/rust_epoll/views on (the default), an instance gets no picture. */
TEST(debugfs_view_only_when_views_on)
{
	char path[256];
	int ep, was;

	was = debugfs_views(false);
	if (was < 0)
		SKIP(return, "no /sys/kernel/debug/rust_epoll/views (debugfs not mounted)");
	ep = ep_create(false);
	ASSERT_GE(ep, 0);
	find_debugfs_view(path, sizeof(path));
	EXPECT_EQ(0, path[0]) TH_LOG("%s exists with views off", path);
	close(ep);
	debugfs_views(was);
}

static volatile sig_atomic_t usr1_handled;

static void count_usr1(int sig)
{
	(void)sig;
	usr1_handled++;
}

static void *send_usr1_later(void *arg)
{
	usleep(100 * 1000);
	kill(*(pid_t *)arg, SIGUSR1);
	return NULL;
}

static int pwait(int ep, struct epoll_event *ev, int timeout, sigset_t *mask)
{
	struct rust_epoll_wait w = {
		.events = (uintptr_t)ev, .maxevents = 1, .timeout = timeout,
		.sigmask = (uintptr_t)mask, .sigsetsize = mask ? 8 : 0,
	};

	return ioctl(ep, RUST_EPOLL_WAIT, &w);
}

/*
 * epoll_pwait's mask: SIGUSR1, blocked outside, is unblocked for the wait, so it interrupts
 * it and its handler runs; blocked by the wait's mask, it cannot interrupt; afterwards the
 * old mask is back either way. Checked against native epoll_pwait too.
 */
TEST(pwait_signal_mask)
{
	pid_t me = getpid();
	struct epoll_event ev;
	sigset_t block, empty, now;
	struct sigaction sa = { .sa_handler = count_usr1 };
	pthread_t t;

	sigemptyset(&empty);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &block, NULL));
	for (int native = 0; native < 2; native++) {
		int ep = ep_create(native);

		ASSERT_GE(ep, 0);
		usr1_handled = 0;
		/* Unblocked during the wait: EINTR, and the handler ran. */
		ASSERT_EQ(0, pthread_create(&t, NULL, send_usr1_later, &me));
		EXPECT_EQ(-1, native ? epoll_pwait(ep, &ev, 1, 2000, &empty) : pwait(ep, &ev, 2000, &empty));
		EXPECT_EQ(EINTR, errno);
		pthread_join(t, NULL);
		EXPECT_EQ(1, usr1_handled);
		ASSERT_EQ(0, sigprocmask(SIG_BLOCK, NULL, &now));
		EXPECT_TRUE(sigismember(&now, SIGUSR1));
		/* Blocked during the wait: it times out, and the signal stays pending. */
		ASSERT_EQ(0, pthread_create(&t, NULL, send_usr1_later, &me));
		EXPECT_EQ(0, native ? epoll_pwait(ep, &ev, 1, 300, &block) : pwait(ep, &ev, 300, &block));
		pthread_join(t, NULL);
		EXPECT_EQ(1, usr1_handled);
		ASSERT_EQ(0, sigprocmask(SIG_UNBLOCK, &block, NULL));
		EXPECT_EQ(2, usr1_handled);
		ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &block, NULL));
		close(ep);
	}
	/* A wrong sigsetsize is EINVAL, an unreadable mask EFAULT. */
	int ep = ep_create(false);
	struct rust_epoll_wait w = { .events = (uintptr_t)&ev, .maxevents = 1,
				     .sigmask = (uintptr_t)&empty, .sigsetsize = 4 };

	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_WAIT, &w));
	EXPECT_EQ(EINVAL, errno);
	w.sigmask = 8;
	w.sigsetsize = 8;
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_WAIT, &w));
	EXPECT_EQ(EFAULT, errno);
	close(ep);
}

/* Reloads the module with `params`; false if it is busy or not given (see vm-run). */
static bool reload_module(const char *params)
{
	const char *ko = getenv("RUST_EPOLL_KO");
	int fd, ret;

	if (!ko || !*ko || syscall(SYS_delete_module, "rust_epoll", O_NONBLOCK))
		return false;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	ret = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	return ret == 0;
}

/*
 * The per-user cap (max_user_watches): past it ADD fails with ENOSPC and adds nothing;
 * deleting a watch makes room again. Reloads the module with a cap of 20, then without.
 */
TEST(watch_limit_enospc)
{
	int ep, efd[24], added = 0;

	if (!reload_module("max_user_watches=20"))
		SKIP(return, "cannot reload the module (busy, or RUST_EPOLL_KO unset)");
	ep = ep_create(false);
	ASSERT_GE(ep, 0);
	for (int i = 0; i < 24; i++) {
		efd[i] = eventfd(0, 0);
		ASSERT_GE(efd[i], 0);
	}
	for (int i = 0; i < 24; i++) {
		if (ep_ctl(false, ep, EPOLL_CTL_ADD, efd[i], EPOLLIN, i)) {
			EXPECT_EQ(ENOSPC, errno);
			EXPECT_EQ(-1, ep_ctl(false, ep, EPOLL_CTL_DEL, efd[i], 0, 0));
			EXPECT_EQ(ENOENT, errno);
			break;
		}
		added++;
	}
	EXPECT_EQ(20, added);
	ASSERT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_DEL, efd[0], 0, 0));
	EXPECT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_ADD, efd[23], EPOLLIN, 23));
	/* Closing watched files gives their watches back, at once. */
	for (int i = 1; i < 20; i++) {
		close(efd[i]);
		efd[i] = eventfd(0, 0);
		ASSERT_GE(efd[i], 0);
	}
	for (int i = 1; i < 20; i++) {
		int err = ep_ctl(false, ep, EPOLL_CTL_ADD, efd[i], EPOLLIN, i);

		EXPECT_EQ(0, err) TH_LOG("re-adding %d after close: %s", i, strerror(errno));
	}
	EXPECT_EQ(-1, ep_ctl(false, ep, EPOLL_CTL_ADD, efd[20], EPOLLIN, 20));
	EXPECT_EQ(ENOSPC, errno);
	/*
	 * The quota is per user, not per instance: a watched file closed in one instance gives its
	 * watch back to the user at once, for another instance's ADD (native epoll uncharges in
	 * close(), before it returns). (No bare block after an EXPECT: the harness would take it
	 * for the EXPECT's failure handler.)
	 */
	int other = ep_create(false);

	ASSERT_GE(other, 0);
	for (int i = 1; i < 20; i++) {
		close(efd[i]);
		efd[i] = eventfd(0, 0);
		ASSERT_GE(efd[i], 0);
		EXPECT_EQ(0, ep_ctl(false, other, EPOLL_CTL_ADD, efd[i], EPOLLIN, i))
			TH_LOG("adding %d to another instance after a close: %s", i, strerror(errno));
	}
	close(other);
	close(ep);
	for (int i = 0; i < 24; i++)
		close(efd[i]);
	ASSERT_TRUE(reload_module(""));
}

/*
 * RUST_EPOLL_WAIT_REG, epoll_wait's arguments in registers, agrees with RUST_EPOLL_WAIT: its
 * timeouts (0, a short one, none), its errors (maxevents 0, a bad buffer), and its limits
 * (the largest timeout and maxevents it encodes).
 */
TEST(wait_reg_matches_wait)
{
#if defined(__x86_64__)
	struct epoll_event ev[4];
	int ep = ep_create(false), p[2];
	int64_t t0;

	ASSERT_GE(ep, 0);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(false, ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 9));
	EXPECT_EQ(0, ioctl(ep, RUST_EPOLL_WAIT_REG(0), RUST_EPOLL_WAIT_REG_ARG(ev, 4)));
	t0 = now_ms();
	EXPECT_EQ(0, ioctl(ep, RUST_EPOLL_WAIT_REG(50), RUST_EPOLL_WAIT_REG_ARG(ev, 4)));
	EXPECT_GE(now_ms() - t0, 50);
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_WAIT_REG(0), RUST_EPOLL_WAIT_REG_ARG(ev, 0)));
	EXPECT_EQ(EINVAL, errno);
	put(p[1]);
	/* A buffer that cannot be written: EFAULT, and the event stays. */
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_WAIT_REG(0), RUST_EPOLL_WAIT_REG_ARG(NULL, 1)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(1, ioctl(ep, RUST_EPOLL_WAIT_REG(-1), RUST_EPOLL_WAIT_REG_ARG(ev, 4)));
	EXPECT_EQ(9, ev[0].data.u64);
	EXPECT_EQ(1, ioctl(ep, RUST_EPOLL_WAIT_REG(RUST_EPOLL_WAIT_REG_MAX_MS),
			   RUST_EPOLL_WAIT_REG_ARG(ev, 0xffff)));
	/* The chooser falls back to the struct where the arguments do not fit. */
	EXPECT_EQ(1, rust_epoll_wait_reg(ep, ev, 70000, 0));
	EXPECT_EQ(1, rust_epoll_wait_reg(ep, ev, 4, RUST_EPOLL_WAIT_REG_MAX_MS + 1));
	close(ep);
	close(p[0]);
	close(p[1]);
#else
	SKIP(return, "RUST_EPOLL_WAIT_REG is for 64-bit programs");
#endif
}

TEST_HARNESS_MAIN
