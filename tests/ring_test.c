// SPDX-License-Identifier: GPL-2.0
/*
 * The shared ready ring (README, "The ready ring"), on the device only (native epoll has
 * none): setup and mmap errors; records, which watches get them, and the at-most-once rule;
 * overflow and its recovery through WAIT; WAIT and poll woken by appends; tombstones after
 * MOD, DEL and the last close; a hostile head; the pages' lifetime (munmap and close in both
 * orders, fork, two mappings); racing producers against one or two consumers with exact
 * accounting; fail-nth on setup (debug kernel only). The kernel's own checks (vm-run's dmesg
 * check, KASAN and lockdep on the debug kernel) watch what userspace cannot see.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ep.h"

/* An instance with its ring mapped. */
struct ring {
	int ep;
	struct rust_epoll_ring *r;
	size_t size;
};

static int ring_setup(int ep, unsigned int entries, size_t *size)
{
	struct rust_epoll_ring_setup s = { .entries = entries };
	int r = ioctl(ep, RUST_EPOLL_RING_SETUP, &s);

	if (!r && size)
		*size = s.mmap_size;
	return r;
}

static struct rust_epoll_ring *ring_map(int ep, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ep, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int ring_open(struct ring *g, unsigned int entries)
{
	g->ep = ep_create(false);
	if (g->ep < 0 || ring_setup(g->ep, entries, &g->size))
		return -1;
	g->r = ring_map(g->ep, g->size);
	return g->r ? 0 : -1;
}

static void ring_close(struct ring *g)
{
	munmap(g->r, g->size);
	close(g->ep);
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	return ep_ctl(false, ep, EPOLL_CTL_ADD, fd, events, data);
}

/* Consumes everything in the ring into `out` (at most `max`); returns how many. */
static int consume(struct rust_epoll_ring *r, struct epoll_event *out, int max)
{
	int n = 0, k;

	while (n < max && (k = rust_epoll_ring_consume(r, (struct rust_epoll_event *)out + n, max - n)))
		n += k;
	return n;
}

static uint32_t load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void efd_write(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, 8) != 8)
		abort();
}

static uint64_t efd_read(int fd)
{
	uint64_t v = 0;

	return read(fd, &v, 8) == 8 ? v : 0;
}

static size_t page_align(size_t n)
{
	size_t p = sysconf(_SC_PAGESIZE);

	return (n + p - 1) / p * p;
}

FIXTURE(rg) {
	struct ring g;
};

FIXTURE_SETUP(rg)
{
	ASSERT_EQ(0, ring_open(&self->g, 64)) TH_LOG("ring of 64: %s", strerror(errno));
}

FIXTURE_TEARDOWN(rg)
{
	ring_close(&self->g);
}

TEST(setup_and_mmap_errors)
{
	unsigned int bad[] = { 0, 3, 6, 96, 1u << 21, 0x80000000u, 0xffffffffu };
	struct rust_epoll_ring_setup s = { .entries = 8, .flags = 1 };
	struct rust_epoll_ring *r;
	int ep = ep_create(false);
	size_t size = 0;
	void *p;

	ASSERT_GE(ep, 0);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-1, ring_setup(ep, bad[i], NULL)) TH_LOG("entries %u", bad[i]);
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_RING_SETUP, &s));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(ep, RUST_EPOLL_RING_SETUP, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* No ring yet: nothing to map. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ep, 0));
	EXPECT_EQ(ENODEV, errno);

	ASSERT_EQ(0, ring_setup(ep, 8, &size));
	EXPECT_EQ(page_align(RUST_EPOLL_RING_RECORDS_OFF + 8 * sizeof(struct epoll_event)), size);
	EXPECT_EQ(-1, ring_setup(ep, 8, NULL));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, ep, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ, MAP_SHARED, ep, size));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size + 4096, PROT_READ, MAP_SHARED, ep, 0));
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, ep, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_TRUE(errno == EINVAL || errno == EPERM) TH_LOG("PROT_EXEC: %s", strerror(errno));

	r = ring_map(ep, size);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(8, r->entries);
	EXPECT_EQ(0, r->head);
	EXPECT_EQ(0, r->tail);
	EXPECT_EQ(0, r->flags);
	EXPECT_EQ(0, r->overflow);
	/* Never executable, and not growable. */
	EXPECT_EQ(-1, mprotect(r, size, PROT_READ | PROT_EXEC));
	EXPECT_EQ(MAP_FAILED, mremap(r, size, size + 4096, 0));
	munmap(r, size);
	close(ep);

	/* The extremes: 1 record, and the largest ring. */
	for (unsigned int entries = 1; entries; entries = entries == 1 ? RUST_EPOLL_RING_MAX_ENTRIES : 0) {
		ep = ep_create(false);
		ASSERT_EQ(0, ring_setup(ep, entries, &size)) TH_LOG("entries %u: %s", entries, strerror(errno));
		EXPECT_EQ(page_align(RUST_EPOLL_RING_RECORDS_OFF + entries * sizeof(struct epoll_event)), size);
		r = ring_map(ep, size);
		ASSERT_NE(NULL, r);
		EXPECT_EQ(entries, r->entries);
		munmap(r, size);
		close(ep);
	}
}

/* An edge-triggered watch gets records; WAIT returns 0 at once while the ring holds some. */
TEST_F(rg, records_and_wait)
{
	struct epoll_event ev[8];
	int efd = eventfd(0, EFD_NONBLOCK), p[2];
	int64_t t0;

	ASSERT_EQ(0, add(self->g.ep, efd, EPOLLIN | EPOLLET, 7));
	EXPECT_EQ(0, rust_epoll_ring_count(self->g.r));
	efd_write(efd);
	EXPECT_EQ(1, rust_epoll_ring_count(self->g.r));
	EXPECT_EQ(1, load(&self->g.r->tail));
	EXPECT_EQ(0, rust_epoll_ring_need_wait(self->g.r));
	t0 = now_ms();
	EXPECT_EQ(0, ep_wait(false, self->g.ep, ev, 8, 5000));
	EXPECT_LT(now_ms() - t0, 1000);
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	EXPECT_EQ(7, ev[0].data.u64);
	EXPECT_EQ(1, load(&self->g.r->head));
	EXPECT_EQ(0, ep_wait(false, self->g.ep, ev, 8, 0));

	/* A level-triggered watch goes through WAIT, and the header says so while it is ready. */
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, add(self->g.ep, p[0], EPOLLIN, 9));
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(0, rust_epoll_ring_count(self->g.r));
	EXPECT_TRUE(rust_epoll_ring_need_wait(self->g.r));
	ASSERT_EQ(1, ep_wait(false, self->g.ep, ev, 8, 0));
	EXPECT_EQ(9, ev[0].data.u64);
	EXPECT_TRUE(rust_epoll_ring_need_wait(self->g.r));	/* still readable: re-queued */
	char c;
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ(0, ep_wait(false, self->g.ep, ev, 8, 0));
	EXPECT_FALSE(rust_epoll_ring_need_wait(self->g.r));

	/* So do edge-triggered one-shot watches. */
	ASSERT_EQ(0, ep_ctl(false, self->g.ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET | EPOLLONESHOT, 10));
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(0, rust_epoll_ring_count(self->g.r));
	EXPECT_TRUE(rust_epoll_ring_need_wait(self->g.r));
	ASSERT_EQ(1, ep_wait(false, self->g.ep, ev, 8, 0));
	EXPECT_EQ(10, ev[0].data.u64);
	EXPECT_FALSE(rust_epoll_ring_need_wait(self->g.r));
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_EQ(0, ep_wait(false, self->g.ep, ev, 8, 0));	/* disarmed */

	/* An edge-triggered watch added while its target is ready gets a record at once. */
	int efd2 = eventfd(0, EFD_NONBLOCK);
	efd_write(efd2);
	ASSERT_EQ(0, add(self->g.ep, efd2, EPOLLIN | EPOLLET, 11));
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	EXPECT_EQ(11, ev[0].data.u64);
	close(efd);
	close(efd2);
	close(p[0]);
	close(p[1]);
}

/* A watch is in the ring at most once until consumed; events its record lacks go to WAIT. */
TEST_F(rg, at_most_once_until_consumed)
{
	struct epoll_event ev[8];
	int efd = eventfd(0, EFD_NONBLOCK), efd2 = eventfd(0, EFD_NONBLOCK);

	ASSERT_EQ(0, add(self->g.ep, efd, EPOLLIN | EPOLLET, 1));
	for (int i = 0; i < 5; i++)
		efd_write(efd);
	EXPECT_EQ(1, rust_epoll_ring_count(self->g.r));
	EXPECT_FALSE(rust_epoll_ring_need_wait(self->g.r));
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	efd_write(efd);
	efd_write(efd);
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	EXPECT_EQ(1, ev[0].data.u64);
	EXPECT_EQ(2, load(&self->g.r->tail));

	/* Writable at ADD: a record of OUT. Then IN, which the record lacks: WAIT reports it. */
	ASSERT_EQ(0, add(self->g.ep, efd2, EPOLLIN | EPOLLOUT | EPOLLET, 2));
	EXPECT_EQ(1, rust_epoll_ring_count(self->g.r));
	efd_write(efd2);
	EXPECT_EQ(1, rust_epoll_ring_count(self->g.r));
	EXPECT_TRUE(rust_epoll_ring_need_wait(self->g.r));
	ASSERT_EQ(1, ep_wait(false, self->g.ep, ev, 8, 0));
	EXPECT_EQ(2, ev[0].data.u64);
	EXPECT_EQ(EPOLLIN | EPOLLOUT, ev[0].events);
	EXPECT_FALSE(rust_epoll_ring_need_wait(self->g.r));
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	EXPECT_EQ(EPOLLOUT, ev[0].events);
	EXPECT_EQ(2, ev[0].data.u64);
	close(efd);
	close(efd2);
}

/* A full ring leaves the rest on the ready list, flagged; WAIT reports it; the ring recovers. */
TEST(overflow_and_recovery)
{
	struct epoll_event ev[64];
	struct ring g;
	int efd[16], seen[16];

	ASSERT_EQ(0, ring_open(&g, 4));
	for (int i = 0; i < 16; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK);
		ASSERT_EQ(0, add(g.ep, efd[i], EPOLLIN | EPOLLET, i));
	}
	for (int round = 1; round <= 3; round++) {
		int n;

		memset(seen, 0, sizeof(seen));
		for (int i = 0; i < 16; i++)
			efd_write(efd[i]);
		EXPECT_EQ(4, rust_epoll_ring_count(g.r));
		EXPECT_EQ(12 * round, load(&g.r->overflow));
		EXPECT_TRUE(rust_epoll_ring_need_wait(g.r));
		ASSERT_EQ(5, ep_wait(false, g.ep, ev, 5, 0));
		for (int i = 0; i < 5; i++)
			seen[ev[i].data.u64]++;
		EXPECT_TRUE(rust_epoll_ring_need_wait(g.r));
		ASSERT_EQ(7, ep_wait(false, g.ep, ev, 64, 0));
		for (int i = 0; i < 7; i++)
			seen[ev[i].data.u64]++;
		EXPECT_FALSE(rust_epoll_ring_need_wait(g.r));
		n = consume(g.r, ev, 64);
		ASSERT_EQ(4, n);
		for (int i = 0; i < n; i++)
			seen[ev[i].data.u64]++;
		for (int i = 0; i < 16; i++) {
			EXPECT_EQ(1, seen[i]) TH_LOG("round %d: watch %d seen %d times", round, i, seen[i]);
			efd_read(efd[i]);
		}
		EXPECT_EQ(0, ep_wait(false, g.ep, ev, 64, 0));
	}
	for (int i = 0; i < 16; i++)
		close(efd[i]);
	ring_close(&g);
}

struct delayed_write {
	int fd;
	int ms;
};

static void *write_later(void *arg)
{
	struct delayed_write *d = arg;

	usleep(d->ms * 1000);
	efd_write(d->fd);
	return NULL;
}

/* WAIT sleeps while the ring and the ready list are empty, and an append wakes it. */
TEST_F(rg, wait_woken_by_append)
{
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK);
	struct delayed_write d = { efd, 200 };
	pthread_t t;
	int64_t t0, dt;

	ASSERT_EQ(0, add(self->g.ep, efd, EPOLLIN | EPOLLET, 3));
	t0 = now_ms();
	EXPECT_EQ(0, ep_wait(false, self->g.ep, ev, 4, 100));
	EXPECT_GE(now_ms() - t0, 100);
	t0 = now_ms();
	pthread_create(&t, NULL, write_later, &d);
	EXPECT_EQ(0, ep_wait(false, self->g.ep, ev, 4, 10000));
	dt = now_ms() - t0;
	pthread_join(t, NULL);
	EXPECT_GE(dt, 150);
	EXPECT_LT(dt, 5000);
	ASSERT_EQ(1, consume(self->g.r, ev, 4));
	EXPECT_EQ(3, ev[0].data.u64);
	close(efd);
}

/* The instance is readable (poll, native epoll watching it) while the ring holds records. */
TEST_F(rg, polled_while_records_wait)
{
	struct pollfd pfd = { .fd = self->g.ep, .events = POLLIN };
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK), nat = epoll_create1(0);
	struct delayed_write d = { efd, 100 };
	pthread_t t;

	ASSERT_EQ(0, add(self->g.ep, efd, EPOLLIN | EPOLLET, 4));
	ASSERT_EQ(0, ep_ctl(true, nat, EPOLL_CTL_ADD, self->g.ep, EPOLLIN, 44));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, epoll_wait(nat, ev, 4, 0));
	pthread_create(&t, NULL, write_later, &d);
	EXPECT_EQ(1, poll(&pfd, 1, 5000));
	pthread_join(t, NULL);
	EXPECT_EQ(POLLIN, pfd.revents & POLLIN);
	ASSERT_EQ(1, epoll_wait(nat, ev, 4, 0));
	EXPECT_EQ(44, ev[0].data.u64);
	ASSERT_EQ(1, consume(self->g.r, ev, 4));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(nat);
	close(efd);
}

struct pipe_write {
	int fd;
	volatile bool done;
};

static void *write_pipe(void *arg)
{
	struct pipe_write *w = arg;

	if (write(w->fd, "x", 1) != 1)
		abort();
	w->done = true;
	return NULL;
}

/*
 * A wake-up racing a MOD: once MOD has returned, a record follows the new mask. A pipe's
 * read end watched EPOLLIN (data 1) is written by one thread while another MODs it to
 * EPOLLOUT (data 2), which a read end never is: no record may say EPOLLIN with data 2. The
 * callback read the mask before taking `ready` and used it after; a MOD in between (it
 * writes mask and data under `ready`) left it the old mask and the new data. The window is
 * a few instructions; tests/race_widen.sh holds it open 100 ms in a copy of the module
 * (mod_gap_old: the read before the lock, and this test must fail; mod_gap: the code as it
 * is, and it must pass). Here, with the module as built, it must pass.
 */
TEST_F(rg, a_wake_up_racing_a_mod_reports_the_new_mask)
{
	struct epoll_event ev[8];
	struct pipe_write w;
	int p[2], n, bad = 0;
	pthread_t t;

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	ASSERT_EQ(0, add(self->g.ep, p[0], EPOLLIN | EPOLLET, 1));
	w.fd = p[1];
	w.done = false;
	ASSERT_EQ(0, pthread_create(&t, NULL, write_pipe, &w));
	usleep(20000);	/* in the widened copy, the writer's callback is in its window now */
	ASSERT_EQ(0, ep_ctl(false, self->g.ep, EPOLL_CTL_MOD, p[0], EPOLLOUT | EPOLLET, 2));
	pthread_join(t, NULL);
	n = consume(self->g.r, ev, 8);
	for (int i = 0; i < n; i++) {
		TH_LOG("record %d: events %#x, data %llu", i, ev[i].events,
		       (unsigned long long)ev[i].data.u64);
		if (ev[i].data.u64 == 2 && (ev[i].events & EPOLLIN))
			bad++;
	}
	TH_LOG("a record of the old mask with the new data after MOD: %s", bad ? "yes" : "no");
	EXPECT_EQ(0, bad);
	close(p[0]);
	close(p[1]);
}

/* MOD, DEL and the last close turn an unconsumed record into a tombstone, which is skipped. */
TEST_F(rg, tombstones)
{
	struct rust_epoll_event *rec = rust_epoll_ring_records(self->g.r);
	struct epoll_event ev[8];
	int efd = eventfd(0, EFD_NONBLOCK), dup_fd;
	uint32_t t;

	/* DEL. */
	ASSERT_EQ(0, add(self->g.ep, efd, EPOLLIN | EPOLLET, 1));
	efd_write(efd);
	t = load(&self->g.r->tail);
	ASSERT_EQ(1, rust_epoll_ring_count(self->g.r));
	ASSERT_EQ(0, ep_ctl(false, self->g.ep, EPOLL_CTL_DEL, efd, 0, 0));
	EXPECT_EQ(0, rec[(t - 1) & 63].events);
	EXPECT_EQ(0, consume(self->g.r, ev, 8));
	EXPECT_EQ(t, load(&self->g.r->head));	/* consumed, not returned */

	/* MOD while ready: the old record goes, a new one has the new data. */
	ASSERT_EQ(0, add(self->g.ep, efd, EPOLLIN | EPOLLET, 2));	/* ready: a record */
	ASSERT_EQ(1, rust_epoll_ring_count(self->g.r));
	ASSERT_EQ(0, ep_ctl(false, self->g.ep, EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLET, 3));
	EXPECT_EQ(2, rust_epoll_ring_count(self->g.r));
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	EXPECT_EQ(3, ev[0].data.u64);

	/* MOD while not ready: the old record goes, the next event makes a new one. */
	efd_read(efd);
	efd_write(efd);
	ASSERT_EQ(1, rust_epoll_ring_count(self->g.r));
	efd_read(efd);
	ASSERT_EQ(0, ep_ctl(false, self->g.ep, EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLET, 4));
	EXPECT_EQ(0, consume(self->g.r, ev, 8));
	efd_write(efd);
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	EXPECT_EQ(4, ev[0].data.u64);

	/* The last close: a tombstone at once. A dup keeps the watch, and the record. */
	dup_fd = dup(efd);
	efd_write(efd);
	close(efd);
	ASSERT_EQ(1, consume(self->g.r, ev, 8));
	EXPECT_EQ(4, ev[0].data.u64);
	efd_write(dup_fd);
	ASSERT_EQ(1, rust_epoll_ring_count(self->g.r));
	close(dup_fd);
	EXPECT_EQ(0, consume(self->g.r, ev, 8));
	EXPECT_EQ(0, rust_epoll_ring_count(self->g.r));
	EXPECT_EQ(0, fdinfo_count(self->g.ep));
}

/* A head userspace corrupts never makes the kernel write outside the ring or hang. */
TEST(hostile_head)
{
	struct epoll_event ev[64];
	int efd[4], seen[4] = { 0 };
	struct ring g;
	uint32_t t;

	ASSERT_EQ(0, ring_open(&g, 8));
	for (int i = 0; i < 4; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK);
		ASSERT_EQ(0, add(g.ep, efd[i], EPOLLIN | EPOLLET, i));
	}
	srand(1);
	for (int round = 0; round < 5000; round++) {
		uint32_t h = (uint32_t)rand() * 2654435761u;

		if (round % 3 == 0)
			h = load(&g.r->tail) - 8 - rand() % 4;	/* just past full */
		else if (round % 3 == 1)
			h = load(&g.r->tail) + 1 + rand() % 16;	/* ahead of the tail */
		__atomic_store_n(&g.r->head, h, __ATOMIC_RELEASE);
		efd_write(efd[round % 4]);
		/* Records are never in doubt, the ready list still works, WAIT does not sleep. */
		ASSERT_LE(0, ep_wait(false, g.ep, ev, 64, 0));
		for (int i = 0; i < 4; i++)
			efd_read(efd[i]);
	}
	/* Every slot holds a record of one of ours, or nothing. */
	for (int i = 0; i < 8; i++) {
		EXPECT_LT(rust_epoll_ring_records(g.r)[i].data, 4);
	}
	/* A sane head again: everything works as before. */
	t = load(&g.r->tail);
	__atomic_store_n(&g.r->head, t, __ATOMIC_RELEASE);
	while (ep_wait(false, g.ep, ev, 64, 0) > 0)
		;
	for (int i = 0; i < 4; i++)
		efd_write(efd[i]);
	ASSERT_EQ(4, consume(g.r, ev, 64));
	for (int i = 0; i < 4; i++)
		seen[ev[i].data.u64]++;
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(1, seen[i]);
	}
	EXPECT_EQ(0, ep_wait(false, g.ep, ev, 64, 0));
	for (int i = 0; i < 4; i++)
		close(efd[i]);
	ring_close(&g);
}

/* munmap, then close: the instance goes at the close. */
TEST(munmap_then_close)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	struct ring g;

	ASSERT_EQ(0, ring_open(&g, 16));
	ASSERT_EQ(0, add(g.ep, efd, EPOLLIN | EPOLLET, 1));
	efd_write(efd);
	ASSERT_EQ(0, munmap(g.r, g.size));
	efd_write(efd);
	efd_read(efd);
	efd_write(efd);
	/* Mapped again, the same ring. */
	g.r = ring_map(g.ep, g.size);
	ASSERT_NE(NULL, g.r);
	EXPECT_EQ(1, rust_epoll_ring_count(g.r));
	ring_close(&g);
	efd_write(efd);
	close(efd);
}

/* close, then munmap: the mapping keeps the instance, which keeps working until the munmap. */
TEST(close_then_munmap)
{
	int efd = eventfd(0, EFD_NONBLOCK), efd2 = eventfd(0, EFD_NONBLOCK);
	struct rust_epoll_event ev[4];
	struct ring g;

	ASSERT_EQ(0, ring_open(&g, 16));
	ASSERT_EQ(0, add(g.ep, efd, EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(0, add(g.ep, efd2, EPOLLIN | EPOLLET, 2));
	ASSERT_EQ(0, close(g.ep));
	efd_write(efd);
	ASSERT_EQ(1, rust_epoll_ring_consume(g.r, ev, 4));
	EXPECT_EQ(1, ev[0].data);
	/* The last close of a watched file, through the instance that has no fd left. */
	efd_write(efd2);
	close(efd2);
	EXPECT_EQ(0, rust_epoll_ring_consume(g.r, ev, 4));
	ASSERT_EQ(0, munmap(g.r, g.size));
	efd_write(efd);	/* the instance is gone, and its watch with it */
	close(efd);
}

/* Two mappings of one ring, and a mapping of its first page only. */
TEST(two_mappings)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	struct rust_epoll_event ev[4];
	struct rust_epoll_ring *r2, *r3;
	struct ring g;

	ASSERT_EQ(0, ring_open(&g, 1024));
	r2 = ring_map(g.ep, g.size);
	ASSERT_NE(NULL, r2);
	r3 = ring_map(g.ep, 4096);
	ASSERT_NE(NULL, r3);
	ASSERT_EQ(0, add(g.ep, efd, EPOLLIN | EPOLLET, 5));
	efd_write(efd);
	EXPECT_EQ(1, load(&r3->tail));
	ASSERT_EQ(1, rust_epoll_ring_consume(r2, ev, 4));
	EXPECT_EQ(5, ev[0].data);
	EXPECT_EQ(1, load(&g.r->head));
	munmap(r3, 4096);
	close(g.ep);
	munmap(g.r, g.size);
	efd_write(efd);
	EXPECT_EQ(2, load(&r2->tail));
	munmap(r2, g.size);
	close(efd);
}

/* fork: the child's mapping shares the pages with the parent's (MAP_SHARED). */
TEST(fork_shares_the_ring)
{
	int efd = eventfd(0, EFD_NONBLOCK), sync_pipe[2], status;
	struct rust_epoll_event ev[4];
	struct ring g;
	pid_t pid;
	char c;

	ASSERT_EQ(0, ring_open(&g, 16));
	ASSERT_EQ(0, add(g.ep, efd, EPOLLIN | EPOLLET, 6));
	ASSERT_EQ(0, pipe(sync_pipe));
	efd_write(efd);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		/* The child consumes the parent's record, then makes one for it. */
		if (rust_epoll_ring_consume(g.r, ev, 4) != 1 || ev[0].data != 6)
			_exit(1);
		efd_read(efd);
		efd_write(efd);
		/* The parent closes its fd and unmaps first; ours keep the instance. */
		if (read(sync_pipe[0], &c, 1) != 1)
			_exit(2);
		efd_read(efd);
		efd_write(efd);
		if (rust_epoll_ring_consume(g.r, ev, 4) != 1 || ev[0].data != 6)
			_exit(3);
		_exit(0);	/* with everything open and mapped */
	}
	while (load(&g.r->tail) != 2)
		usleep(1000);
	EXPECT_EQ(1, load(&g.r->head));
	ASSERT_EQ(1, rust_epoll_ring_consume(g.r, ev, 4));
	EXPECT_EQ(6, ev[0].data);
	ring_close(&g);
	ASSERT_EQ(1, write(sync_pipe[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("child status %#x", status);
	close(efd);
	close(sync_pipe[0]);
	close(sync_pipe[1]);
}

/*
 * Racing producers: writer threads on eventfds (edge-triggered watches) against one or two
 * consumers that read an eventfd whenever a record or a WAIT event names it. The accounting is
 * exact: every write is read, so no write was left without a record or an event after it (an
 * edge-triggered watch's promise); every record names a watch that was added; with one
 * consumer, no watch is twice among the unconsumed records. A small ring overflows often.
 */
#define WRITERS 4
#define PER_WRITER 16
#define WATCHES (WRITERS * PER_WRITER)
#define TAG 0x5a5a000000000000ull

struct race {
	struct ring g;
	int efd[WATCHES];
	int unwatched[WRITERS];
	uint64_t written[WATCHES], received[WATCHES];
	uint64_t records, wait_events, bad, dups;
	int stop, done;
	bool check_dups;
};

struct writer_arg {
	struct race *race;
	int id;
};

static void *race_writer(void *arg)
{
	struct writer_arg *w = arg;
	struct race *rc = w->race;
	unsigned int seed = w->id + 1;

	while (!__atomic_load_n(&rc->stop, __ATOMIC_RELAXED)) {
		int k = w->id * PER_WRITER + rand_r(&seed) % PER_WRITER;

		efd_write(rc->efd[k]);
		__atomic_add_fetch(&rc->written[k], 1, __ATOMIC_RELAXED);
		efd_write(rc->unwatched[w->id]);
		if (rand_r(&seed) % 8 == 0)
			sched_yield();
	}
	return NULL;
}

static void race_take(struct race *rc, uint64_t data)
{
	uint64_t k = data & ~TAG;

	if ((data & TAG) != TAG || k >= WATCHES) {
		__atomic_add_fetch(&rc->bad, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&rc->received[k], efd_read(rc->efd[k]), __ATOMIC_RELAXED);
}

/* With one consumer the head stands still while we look: the unconsumed records are unique. */
static void race_check_unique(struct race *rc)
{
	struct rust_epoll_ring *r = rc->g.r;
	const struct rust_epoll_event *rec = rust_epoll_ring_records(r);
	uint32_t head = load(&r->head), tail = load(&r->tail);
	char seen[WATCHES] = { 0 };

	for (uint32_t i = head; i != tail; i++) {
		struct rust_epoll_event e;

		memcpy(&e, &rec[i & (r->entries - 1)], sizeof(e));
		if (!e.events || (e.data & ~TAG) >= WATCHES)
			continue;
		if (seen[e.data & ~TAG]++)
			__atomic_add_fetch(&rc->dups, 1, __ATOMIC_RELAXED);
	}
}

static void *race_consumer(void *arg)
{
	struct race *rc = arg;
	struct rust_epoll_event rec[32];
	struct epoll_event ev[64];

	while (!__atomic_load_n(&rc->done, __ATOMIC_ACQUIRE)) {
		unsigned int n;
		int m;

		if (rc->check_dups)
			race_check_unique(rc);
		n = rust_epoll_ring_consume(rc->g.r, rec, 32);
		for (unsigned int i = 0; i < n; i++)
			race_take(rc, rec[i].data);
		__atomic_add_fetch(&rc->records, n, __ATOMIC_RELAXED);
		if (n && !rust_epoll_ring_need_wait(rc->g.r))
			continue;
		/* Blocks only when the ring and the ready list are empty. */
		m = ep_wait(false, rc->g.ep, ev, 64, n ? 0 : 20);
		for (int i = 0; i < m; i++)
			race_take(rc, ev[i].data.u64);
		if (m > 0)
			__atomic_add_fetch(&rc->wait_events, m, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void race_run(struct __test_metadata *_metadata, int consumers, unsigned int entries)
{
	struct race *rc = calloc(1, sizeof(*rc));
	struct writer_arg wa[WRITERS];
	pthread_t w[WRITERS], c[2];
	uint64_t sum_w = 0, sum_r = 0;
	double seconds = getenv("RING_SECONDS") ? atof(getenv("RING_SECONDS")) : 2;
	int64_t deadline;

	ASSERT_EQ(0, ring_open(&rc->g, entries));
	rc->check_dups = consumers == 1;
	for (int k = 0; k < WATCHES; k++) {
		rc->efd[k] = eventfd(0, EFD_NONBLOCK);
		ASSERT_EQ(0, add(rc->g.ep, rc->efd[k], EPOLLIN | EPOLLET, TAG | k));
	}
	for (int i = 0; i < WRITERS; i++)
		rc->unwatched[i] = eventfd(0, EFD_NONBLOCK);
	for (int i = 0; i < consumers; i++)
		pthread_create(&c[i], NULL, race_consumer, rc);
	for (int i = 0; i < WRITERS; i++) {
		wa[i] = (struct writer_arg){ rc, i };
		pthread_create(&w[i], NULL, race_writer, &wa[i]);
	}
	usleep(seconds * 1e6);
	__atomic_store_n(&rc->stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	for (int k = 0; k < WATCHES; k++)
		sum_w += rc->written[k];
	/* Every write is read in the end, or some wake-up was lost. */
	deadline = now_ms() + 20000;
	do {
		sum_r = 0;
		for (int k = 0; k < WATCHES; k++)
			sum_r += __atomic_load_n(&rc->received[k], __ATOMIC_RELAXED);
	} while (sum_r != sum_w && now_ms() < deadline && !usleep(10000));
	__atomic_store_n(&rc->done, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < consumers; i++)
		pthread_join(c[i], NULL);
	TH_LOG("%d consumer(s), ring of %u: %llu writes, %llu records, %llu WAIT events, %u overflows",
	       consumers, entries, (unsigned long long)sum_w, (unsigned long long)rc->records,
	       (unsigned long long)rc->wait_events, load(&rc->g.r->overflow));
	for (int k = 0; k < WATCHES; k++) {
		EXPECT_EQ(rc->written[k], rc->received[k]) TH_LOG("watch %d", k);
	}
	EXPECT_EQ(0, rc->bad);
	EXPECT_EQ(0, rc->dups);
	EXPECT_GT(rc->records, 0);
	for (int k = 0; k < WATCHES; k++)
		close(rc->efd[k]);
	for (int i = 0; i < WRITERS; i++)
		close(rc->unwatched[i]);
	ring_close(&rc->g);
	free(rc);
}

TEST(racing_producers_one_consumer)
{
	race_run(_metadata, 1, 16);
}

TEST(racing_producers_two_consumers)
{
	race_run(_metadata, 2, 32);
}

/* fail-nth (as tests/fault_injection.c): each allocation of setup and mmap fails in turn. */
static int fail_nth = -1;

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

static bool failslab_ready(void)
{
	if (!knob("/sys/kernel/debug/failslab/ignore-gfp-wait", "N") ||
	    !knob("/sys/kernel/debug/failslab/verbose", "0"))
		return false;
	if (fail_nth < 0)
		fail_nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	return fail_nth >= 0;
}

static void arm(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (pwrite(fail_nth, buf, len, 0) != len)
		abort();
}

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

TEST(fail_nth_setup_and_mmap)
{
	int sites = 0, msites = 0;

	if (!failslab_ready())
		SKIP(return, "no fail-nth/failslab in this kernel (the debug kernel has them)");
	for (int n = 1; n < 200; n++) {
		int ep = ep_create(false), efd = eventfd(0, EFD_NONBLOCK), r, err;
		struct rust_epoll_event ev[2];
		struct rust_epoll_ring *map;
		size_t size = 0;
		bool hit;

		ASSERT_GE(ep, 0);
		arm(n);
		r = ring_setup(ep, 256, &size);
		err = errno;
		hit = injected();
		if (r) {
			EXPECT_EQ(ENOMEM, err) TH_LOG("n=%d: %s", n, strerror(err));
			EXPECT_TRUE(hit);
			/* Nothing half-done: setup succeeds now, not EBUSY. */
			ASSERT_EQ(0, ring_setup(ep, 256, &size)) TH_LOG("n=%d: retry: %s", n, strerror(errno));
		}
		/* The mapping too, under the same fault. */
		arm(n);
		map = ring_map(ep, size);
		err = errno;
		if (injected() && !map) {
			EXPECT_EQ(ENOMEM, err) TH_LOG("n=%d: mmap: %s", n, strerror(err));
			msites++;
			map = ring_map(ep, size);
		}
		ASSERT_NE(NULL, map) TH_LOG("n=%d: mmap: %s", n, strerror(errno));
		ASSERT_EQ(0, add(ep, efd, EPOLLIN | EPOLLET, 8));
		efd_write(efd);
		EXPECT_EQ(1, rust_epoll_ring_consume(map, ev, 2)) TH_LOG("n=%d", n);
		munmap(map, size);
		close(ep);
		close(efd);
		if (!hit)
			break;
		sites++;
	}
	TH_LOG("setup: %d allocation(s) failed in turn; mmap failed with ENOMEM %d time(s)", sites, msites);
	EXPECT_GE(sites, 1);
}

TEST_HARNESS_MAIN
