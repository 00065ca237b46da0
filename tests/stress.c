// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress, bounded by time (STRESS_SECONDS, default 5): 8 threads share 2
 * instances and 256 targets of mixed kinds (pipe, eventfd, socketpair, timerfd, a nested
 * instance) and do random ADD/MOD/DEL/WAIT/close/dup/write/read, while one of them forks
 * children that use the inherited instances and exit with everything open. Runs on the
 * device and on native epoll with the same checks; what userspace can see is checked here:
 *
 * - every record names a target that was added (its data carries the slot and the
 *   generation of the target; a generation from the future was never added);
 * - no record twice in one WAIT;
 * - a one-shot watch reports at most once per ADD;
 * - every ctl on a state this program knows answers as epoll would (ADD of an unwatched
 *   target succeeds, DEL of a watched one succeeds);
 * - when every target is closed, no watch is left (fdinfo).
 *
 * The kernel checks the rest (vm-run's dmesg check; KASAN, lockdep, kmemleak on the debug
 * kernel).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ep.h"

enum { SLOTS = 256, THREADS = 8, ONESHOT_IDS = 1 << 22 };
enum kind { PIPE, EVENTFD, SOCKETPAIR, TIMERFD, NESTED, KINDS };

struct slot {
	pthread_mutex_t lock;
	enum kind kind;
	int fd;		/* the watched fd */
	int wfd;	/* where writes go (the other end; the nested instance's pipe) */
	int extra;	/* the nested instance's pipe read end */
	int dups[3];	/* earlier numbers of fd, kept open: watches may be keyed by them */
	int ndups;
	uint32_t gen;	/* bumped whenever fd stops naming the watched file */
	bool added[2];	/* watched by instance 0 / 1 under the current gen */
};

struct stress {
	bool native;
	int ep[2];
	struct slot slot[SLOTS];
	int64_t end;
	uint32_t next_oneshot;
	uint8_t *oneshot_reports;	/* by one-shot ADD id */
	long bad, ops, waits, events, closes, forks;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void bad(struct stress *s, const char *what, long a, long b)
{
	if (__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED) < 10)
		fprintf(stderr, "# stress: %s (%ld, %ld): %s\n", what, a, b, strerror(errno));
}

/*
 * Record data: slot (8 bits) | instance (1) | one-shot (1) | gen (22) | one-shot id (22).
 * The one-shot id is 0 for other watches.
 */
static uint64_t data_of(int slot, int inst, bool oneshot, uint32_t gen, uint32_t id)
{
	return (uint64_t)slot << 56 | (uint64_t)inst << 55 | (uint64_t)oneshot << 54 |
	       (uint64_t)(gen & 0x3fffff) << 22 | (id & 0x3fffff);
}

/* Makes a new target for `sl` (under its lock, or before the threads start). */
static int open_target(struct stress *s, struct slot *sl)
{
	int p[2];

	sl->extra = -1;
	sl->ndups = 0;
	switch (sl->kind) {
	case PIPE:
		if (pipe2(p, O_NONBLOCK))
			return -1;
		sl->fd = p[0];
		sl->wfd = p[1];
		return 0;
	case EVENTFD:
		sl->fd = sl->wfd = eventfd(0, EFD_NONBLOCK);
		return sl->fd < 0 ? -1 : 0;
	case SOCKETPAIR:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p))
			return -1;
		sl->fd = p[0];
		sl->wfd = p[1];
		return 0;
	case TIMERFD: {
		struct itimerspec its = { .it_interval.tv_nsec = 1000000, .it_value.tv_nsec = 1000000 };

		sl->fd = sl->wfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
		return sl->fd < 0 ? -1 : timerfd_settime(sl->fd, 0, &its, NULL);
	}
	default:
		sl->fd = ep_create(s->native);
		if (sl->fd < 0 || pipe2(p, O_NONBLOCK))
			return -1;
		sl->extra = p[0];
		sl->wfd = p[1];
		return ep_ctl(s->native, sl->fd, EPOLL_CTL_ADD, p[0], EPOLLIN, 1);
	}
}

static void close_target(struct slot *sl)
{
	close(sl->fd);
	if (sl->wfd != sl->fd)
		close(sl->wfd);
	if (sl->extra >= 0)
		close(sl->extra);
	for (int i = 0; i < sl->ndups; i++)
		close(sl->dups[i]);
}

static void do_wait(struct stress *s, uint64_t *seed)
{
	int inst = rnd(seed) & 1;
	struct epoll_event ev[16];
	int n = ep_wait(s->native, s->ep[inst], ev, 16, rnd(seed) % 3);

	if (n < 0) {
		if (errno != EINTR)
			bad(s, "wait", inst, n);
		return;
	}
	__atomic_add_fetch(&s->waits, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->events, n, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++) {
		uint64_t d = ev[i].data.u64;
		int sl = d >> 56;
		uint32_t gen = d >> 22 & 0x3fffff;
		uint32_t cur = __atomic_load_n(&s->slot[sl].gen, __ATOMIC_ACQUIRE) & 0x3fffff;

		if ((int)(d >> 55 & 1) != inst)
			bad(s, "record of the other instance", sl, inst);
		/* gen is a 22-bit counter: "from the future" is ahead by less than half its range. */
		if (((gen - cur) & 0x3fffff) != 0 && ((gen - cur) & 0x3fffff) < 0x200000)
			bad(s, "record of a target never added", sl, gen);
		for (int j = 0; j < i; j++)
			if (ev[j].data.u64 == d)
				bad(s, "the same record twice in one WAIT", sl, gen);
		if (d >> 54 & 1) {
			uint32_t id = d & 0x3fffff;

			if (__atomic_add_fetch(&s->oneshot_reports[id], 1, __ATOMIC_RELAXED) > 1)
				bad(s, "one-shot watch reported twice", sl, id);
		}
	}
}

static void do_slot_op(struct stress *s, uint64_t *seed)
{
	int i = rnd(seed) % SLOTS, inst = rnd(seed) & 1, op = rnd(seed) % 16;
	struct slot *sl = &s->slot[i];
	char buf[64];

	pthread_mutex_lock(&sl->lock);
	if (op < 4) {			/* ADD */
		static const uint32_t evs[] = { EPOLLIN, EPOLLIN | EPOLLOUT, EPOLLIN | EPOLLET,
						 EPOLLIN | EPOLLONESHOT };
		uint32_t events = evs[rnd(seed) % 4], id = 0;
		bool oneshot = events & EPOLLONESHOT;

		if (oneshot) {
			id = __atomic_add_fetch(&s->next_oneshot, 1, __ATOMIC_RELAXED) % ONESHOT_IDS;
			__atomic_store_n(&s->oneshot_reports[id], 0, __ATOMIC_RELAXED);
		}
		if (ep_ctl(s->native, s->ep[inst], EPOLL_CTL_ADD, sl->fd, events,
			   data_of(i, inst, oneshot, sl->gen, id)) == 0) {
			if (sl->added[inst])
				bad(s, "ADD of a watched target succeeded", i, inst);
			sl->added[inst] = true;
		} else if (errno != EEXIST || !sl->added[inst]) {
			bad(s, "ADD", i, inst);
		}
	} else if (op < 6) {		/* MOD (never turns a watch one-shot) */
		int r = ep_ctl(s->native, s->ep[inst], EPOLL_CTL_MOD, sl->fd,
			       rnd(seed) & 1 ? EPOLLOUT : EPOLLIN, data_of(i, inst, false, sl->gen, 0));

		if (r != 0 && (errno != ENOENT || sl->added[inst]))
			bad(s, "MOD", i, inst);
	} else if (op < 8) {		/* DEL */
		int r = ep_ctl(s->native, s->ep[inst], EPOLL_CTL_DEL, sl->fd, 0, 0);

		if (r == 0 ? !sl->added[inst] : errno != ENOENT || sl->added[inst])
			bad(s, "DEL", i, r);
		sl->added[inst] = false;
	} else if (op < 9) {		/* close: the watches go by themselves */
		close_target(sl);
		__atomic_add_fetch(&sl->gen, 1, __ATOMIC_RELEASE);
		sl->added[0] = sl->added[1] = false;
		if (open_target(s, sl))
			bad(s, "reopen", i, sl->kind);
		__atomic_add_fetch(&s->closes, 1, __ATOMIC_RELAXED);
	} else if (op < 10 && sl->ndups < 3) {
		/*
		 * dup: the file gets a second number, watched anew; the watches keyed by the old
		 * number stay (until the file closes), reporting the old generation. The old
		 * number stays open, so that no other target can be added under it meanwhile.
		 */
		int d = dup(sl->fd);

		if (d < 0) {
			bad(s, "dup", i, 0);
		} else {
			sl->dups[sl->ndups++] = sl->fd;
			if (sl->wfd == sl->fd)	/* eventfd, timerfd: closed once, as fd */
				sl->wfd = d;
			sl->fd = d;
			__atomic_add_fetch(&sl->gen, 1, __ATOMIC_RELEASE);
			sl->added[0] = sl->added[1] = false;
		}
	} else if (op < 13) {		/* write */
		uint64_t one = 1;

		(void)!write(sl->wfd, &one, sl->kind == EVENTFD ? 8 : 1);
	} else {			/* read */
		(void)!read(sl->fd, buf, sizeof(buf));
		if (sl->extra >= 0)
			(void)!read(sl->extra, buf, sizeof(buf));
	}
	pthread_mutex_unlock(&sl->lock);
	__atomic_add_fetch(&s->ops, 1, __ATOMIC_RELAXED);
}

/* A child that uses the inherited instances and exits with everything open. */
static void do_fork(struct stress *s, uint64_t *seed)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		struct epoll_event ev[16];
		int p[2];

		/* Only the forking thread lives here: no slot lock may be taken. */
		for (int i = 0; i < 4; i++)
			ep_wait(s->native, s->ep[i & 1], ev, 16, 0);
		if (pipe(p) == 0) {
			int inst = rnd(seed) & 1;

			/* An old generation of slot 0 as far as the parent's checks go. */
			ep_ctl(s->native, s->ep[inst], EPOLL_CTL_ADD, p[0], EPOLLIN,
			       data_of(0, inst, false, 0x3fffff, 0));
		}
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0)
		bad(s, "fork", pid, status);
	__atomic_add_fetch(&s->forks, 1, __ATOMIC_RELAXED);
}

struct worker {
	struct stress *s;
	int id;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (w->id + 1);
	int64_t next_fork = now_ms() + 200;

	while (now_ms() < s->end) {
		if (w->id == 0 && now_ms() >= next_fork) {
			do_fork(s, &seed);
			next_fork = now_ms() + 200;
		} else if (rnd(&seed) % 4 == 0) {
			do_wait(s, &seed);
		} else {
			do_slot_op(s, &seed);
		}
	}
	return NULL;
}

FIXTURE(stress) {
	struct stress *s;
};

FIXTURE_VARIANT(stress) {
	bool native;
};

FIXTURE_VARIANT_ADD(stress, device) {
	.native = false,
};

FIXTURE_VARIANT_ADD(stress, native) {
	.native = true,
};

FIXTURE_SETUP(stress)
{
	self->s = calloc(1, sizeof(*self->s));
	ASSERT_NE(NULL, self->s);
	self->s->oneshot_reports = calloc(ONESHOT_IDS, 1);
	ASSERT_NE(NULL, self->s->oneshot_reports);
}

FIXTURE_TEARDOWN(stress)
{
	free(self->s->oneshot_reports);
	free(self->s);
}

TEST_F_TIMEOUT(stress, mixed_targets_8_threads, 600)
{
	const char *env = getenv("STRESS_SECONDS");
	int seconds = env ? atoi(env) : 5;
	struct stress *s = self->s;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct rlimit rl = { 4096, 4096 };

	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	s->native = variant->native;
	for (int i = 0; i < 2; i++) {
		s->ep[i] = ep_create(s->native);
		ASSERT_GE(s->ep[i], 0);
	}
	for (int i = 0; i < SLOTS; i++) {
		pthread_mutex_init(&s->slot[i].lock, NULL);
		s->slot[i].kind = i % KINDS;
		ASSERT_EQ(0, open_target(s, &s->slot[i])) TH_LOG("slot %d: %s", i, strerror(errno));
	}
	s->end = now_ms() + seconds * 1000;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .s = s, .id = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker, &w[i]));
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%s, %d s: %ld ops, %ld waits, %ld events, %ld closes, %ld forks",
	       s->native ? "native" : "device", seconds, s->ops, s->waits, s->events, s->closes,
	       s->forks);
	EXPECT_EQ(0, s->bad);
	EXPECT_LT(0, s->events);
	for (int i = 0; i < SLOTS; i++)
		close_target(&s->slot[i]);
	/* Every target is closed: no watch is left (the children's pipes went with them). */
	EXPECT_EQ(0, fdinfo_count(s->ep[0]));
	EXPECT_EQ(0, fdinfo_count(s->ep[1]));
	close(s->ep[0]);
	close(s->ep[1]);
}

TEST_HARNESS_MAIN
