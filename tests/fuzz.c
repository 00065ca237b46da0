// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz.c - a bounded, seeded, reproducible ioctl fuzzer for /dev/rust_epoll.
 *
 * The three ioctls are the device's whole userspace surface, so they are where a buggy or
 * hostile caller meets the module. This throws requests at them that are a little or very
 * wrong: command numbers next to ours, arguments that point at nothing, at the kernel, across
 * the end of a mapping or at random bytes, structs with one field out of range, target fds
 * that are gone, are not pollable or are other instances (nesting, cycles through a native
 * epoll instance), huge maxevents and batches. Meanwhile the targets change under the watches:
 * pipes fill and drain, a timerfd fires every millisecond, instances and pipes are closed and
 * reopened so that watches die between calls.
 *
 * The contract checked is epoll's: every call returns a count or -1 with an errno that request
 * can give; an argument the kernel cannot read is EFAULT, a command not ours ENOTTY; a request
 * the header calls invalid is refused; a batch reports how far it got truthfully. Anything
 * else is printed with the call number and the request. That nothing else happens in the
 * kernel (no oops, no warning, no leak keeping the module busy) is scripts/vm-run's part.
 *
 * Bounded: FUZZ_CALLS or -n ioctls (default 100000), and every call that could sleep is cut
 * short by SIGALRM (see setup_alarm()). Reproducible: every request is drawn from an
 * xorshift64* stream seeded by FUZZ_SEED or -s (default 1), and nothing the kernel answers is
 * fed back into that stream, so a seed replays the same requests; timing (EINTR, readiness)
 * may still differ. FUZZ_TRACE=N or N-M prints calls N to M as they are made.
 *
 *   fuzz [-s SEED] [-n CALLS] [harness options]
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

#include "kselftest_harness.h"
#include "ep.h"

#define CTL_SIZE	sizeof(struct rust_epoll_ctl)
#define WAIT_SIZE	sizeof(struct rust_epoll_wait)
#define BATCH_SIZE	sizeof(struct rust_epoll_ctl_batch)
#define EVENT_SIZE	sizeof(struct rust_epoll_event)
/* The kernel's sigset_t on x86-64: the only sigsetsize a WAIT accepts. */
#define KERNEL_SIGSET_SIZE	8
/* epoll's EP_MAX_EVENTS: the largest maxevents a WAIT accepts. */
#define EP_MAX_EVENTS	((int32_t)(INT_MAX / EVENT_SIZE))
/* Addresses from here up are refused by access_ok() whatever the paging mode. */
#define KERNEL_HALF	(1ULL << 63)

_Static_assert(SIGALRM == 14, "the sigset page below assumes SIGALRM is bit 13");

/* ---- Random numbers ---- */

/* xorshift64*: small, fast and the same everywhere, unlike rand(). */
static uint64_t rng;

static void rng_seed(uint64_t seed)
{
	/* splitmix64 first, so that small seeds (and 0) still give well-mixed non-zero states. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng = (z ^ (z >> 31)) ?: 1;
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n). */
static uint32_t below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * n) >> 32);
}

static bool one_in(uint32_t n)
{
	return below(n) == 0;
}

#define PICK(a) ((a)[below(ARRAY_SIZE(a))])

/* ---- Memory the requests point at ---- */

/*
 * Each buffer a request may point into is followed by a PROT_NONE guard page, so that an
 * object placed across its end is partly readable and then faults, and so that nothing the
 * kernel writes through a pointer of ours can run past it into memory that matters. Each kind
 * of pointer has its own buffer: WAIT's records can never land on an argument struct.
 */
struct region {
	const char *name;
	uint8_t *base;
	size_t size;
};

static size_t page;
static struct region arg_rg = { "arg" };	/* ioctl argument structs */
static struct region ops_rg = { "ops" };	/* a batch's operations, up to 1024 */
static struct region ev_rg = { "events" };	/* records written by WAIT */
static struct region sig_rg = { "sigset" };	/* signal masks (see sigset_fill()) */
static struct region none_rg = { "prot_none" };	/* mapped, but not accessible */

static int region_init(struct region *r, size_t pages, int prot)
{
	uint8_t *p = mmap(NULL, (pages + 1) * page, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + pages * page, page, PROT_NONE))
		return -1;
	r->base = p;
	r->size = pages * page;
	return 0;
}

/* Bytes of the region from `p` on, 0 if `p` is not in it. */
static size_t region_left(const struct region *r, uint64_t p)
{
	uint64_t base = (uintptr_t)r->base;

	return p >= base && p < base + r->size ? base + r->size - p : 0;
}

/* Copies to `p` what of `len` bytes fits in the region before its guard page. */
static void place(const struct region *r, uint64_t p, const void *src, size_t len)
{
	size_t left = region_left(r, p);

	if (left)
		memcpy((void *)(uintptr_t)p, src, len < left ? len : left);
}

/*
 * A WAIT's signal mask is in force while it sleeps, and SIGALRM is what ends every sleep whose
 * timeout came out of random bytes. So the only readable sigmask a request ever points at is
 * this page, every byte of which has bit 5 clear: whichever 8 bytes of it are read, even
 * misaligned, bit 13 (SIGALRM) is clear. Every other sigmask is 0 or faults (EFAULT), and a
 * random sigmask pointer is never passed as it is, since it could land on memory we do not
 * control.
 */
static void sigset_fill(void)
{
	bool all = one_in(2);

	for (size_t i = 0; i < sig_rg.size; i++)
		sig_rg.base[i] = (all ? 0xff : (uint8_t)rnd()) & ~0x20;
}

/* ---- Pointers ---- */

enum pclass {
	P_NULL,
	P_SMALL,	/* below mmap_min_addr */
	P_UNMAPPED,	/* a user address with nothing mapped, or straddling the user limit */
	P_PROT_NONE,	/* mapped, inaccessible */
	P_KERNEL,	/* the kernel half */
	P_START,	/* the start of our buffer */
	P_INSIDE,	/* anywhere in our buffer, misaligned too, the whole object inside */
	P_STRADDLE,	/* part of the object in our buffer, the rest in its guard page */
};

static const char *const pclass_name[] = {
	"null", "small", "unmapped", "prot_none", "kernel", "start", "inside", "straddle",
};

/* Whether an object of the class is wholly in accessible memory. */
static bool accessible(enum pclass c)
{
	return c == P_START || c == P_INSIDE;
}

/* One of ours `good` percent of the time, else any bad class. */
static enum pclass pick_class(unsigned int good)
{
	static const enum pclass bad[] = {
		P_NULL, P_SMALL, P_UNMAPPED, P_PROT_NONE, P_KERNEL, P_STRADDLE,
	};

	if (below(100) < good)
		return one_in(4) ? P_START : P_INSIDE;
	return PICK(bad);
}

/*
 * Whether nothing is mapped in [addr, addr + len). Only the first 64 KiB matter: nothing we
 * pass makes the kernel write further than that, and its reads of our memory are harmless.
 */
static bool unmapped(uint64_t addr, size_t len)
{
	uint64_t end = addr + (len < 65536 ? len : 65536);
	unsigned char vec;

	for (uint64_t p = addr & ~(uint64_t)(page - 1); p < end; p += page)
		if (mincore((void *)(uintptr_t)p, page, &vec) == 0 || errno != ENOMEM)
			return false;
	return true;
}

static uint64_t pick_unmapped(size_t len)
{
	/* x86-64's TASK_SIZE_MAX: an object just below it runs out of user space. */
	const uint64_t user_top = 0x00007ffffffff000ULL;
	uint64_t cand[4];

	/* All drawn before any is checked, so that the layout does not change the stream. */
	for (int i = 0; i < 4; i++)
		cand[i] = one_in(8) ? user_top - 1 - below(len < page ? len : page) :
			0x10000 + rnd() % (user_top - 2 * page - 0x10000);
	for (int i = 0; i < 4; i++)
		if (unmapped(cand[i], len))
			return cand[i];
	return (uintptr_t)none_rg.base;
}

static uint64_t pick_kernel(void)
{
	static const uint64_t ptrs[] = {
		0xffff888000000000ULL,	/* the direct map */
		0xffffffff81000000ULL,	/* kernel text */
		0xffffffffff600000ULL,	/* the vsyscall page */
		0xffffffffffffffffULL,	/* -1: any length wraps */
		0xfffffffffffff000ULL,
		0x8000000000000000ULL,
	};

	return one_in(4) ? rnd() | KERNEL_HALF : PICK(ptrs);
}

/* A pointer of class `c` to an object of `len` bytes, ours being in region `r`. */
static uint64_t pick_ptr(const struct region *r, size_t len, enum pclass c)
{
	size_t fit = len < r->size ? len : r->size;

	switch (c) {
	case P_NULL:
		return 0;
	case P_SMALL:
		return 1 + below(page - 1);
	case P_UNMAPPED:
		return pick_unmapped(len);
	case P_PROT_NONE:
		return (uintptr_t)none_rg.base + below(none_rg.size / 2);
	case P_KERNEL:
		return pick_kernel();
	case P_START:
		return (uintptr_t)r->base;
	case P_INSIDE:
		return (uintptr_t)r->base + below(r->size - fit + 1);
	case P_STRADDLE:
		return (uintptr_t)r->base + r->size - 1 - below(fit > 1 ? fit - 1 : 1);
	}
	return 0;
}

/* ---- The fd pool ---- */

#define NDEV	6	/* instances: enough for a chain deeper than EP_MAX_NESTS (4) */

enum {
	F_DEV,				/* F_DEV .. F_DEV + NDEV - 1: instances */
	F_DUP = F_DEV + NDEV,		/* a second fd of an instance's file */
	F_NATIVE,			/* a native epoll instance, watching one of ours */
	F_PIPE0_R, F_PIPE0_W, F_PIPE1_R, F_PIPE1_W,
	F_EVENTFD,
	F_TIMERFD,			/* fires every millisecond: wake-ups from irq context */
	F_SOCK0, F_SOCK1,
	F_NULL,				/* /dev/null: not pollable (EPERM) */
	F_MEMFD,			/* a regular file: not pollable either */
	F_NR,
};

static int fds[F_NR];
static int closed_fd;	/* a number no file has */

static const char *fd_name(int slot)
{
	static const char *const names[F_NR] = {
		"dev0", "dev1", "dev2", "dev3", "dev4", "dev5", "dup", "native",
		"pipe0r", "pipe0w", "pipe1r", "pipe1w", "eventfd", "timerfd", "sock0", "sock1",
		"null", "memfd",
	};

	return slot >= 0 && slot < F_NR ? names[slot] : "?";
}

_Static_assert(F_DUP == 6, "fd_name() knows NDEV");

static void reclose(int slot)
{
	if (fds[slot] >= 0)
		close(fds[slot]);
	fds[slot] = -1;
}

/*
 * (Re)creates the file of `slot`, and its other end for pipes and sockets. Closing a watched
 * file kills its watches between two calls, and the new file usually gets the same fd number:
 * a watch keyed by (file, fd) must not be confused with it.
 */
static void reopen(int slot)
{
	/* Drawn whether or not used, to keep the stream independent of what opened. */
	int other = F_DEV + below(NDEV);
	int p[2] = { -1, -1 };

	switch (slot) {
	case F_DEV ... F_DEV + NDEV - 1:
		reclose(slot);
		fds[slot] = open(RUST_EPOLL_DEVICE, O_RDWR | O_CLOEXEC);
		break;
	case F_DUP:
		reclose(slot);
		fds[slot] = fds[other] < 0 ? -1 : fcntl(fds[other], F_DUPFD_CLOEXEC, 0);
		break;
	case F_NATIVE: {
		struct epoll_event ev = { .events = EPOLLIN };

		reclose(slot);
		fds[slot] = epoll_create1(EPOLL_CLOEXEC);
		if (fds[slot] >= 0 && fds[other] >= 0)
			epoll_ctl(fds[slot], EPOLL_CTL_ADD, fds[other], &ev);
		break;
	}
	case F_PIPE0_R:
	case F_PIPE0_W:
	case F_PIPE1_R:
	case F_PIPE1_W:
		slot = F_PIPE0_R + (slot - F_PIPE0_R) / 2 * 2;
		reclose(slot);
		reclose(slot + 1);
		if (!pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
			fds[slot] = p[0];
			fds[slot + 1] = p[1];
		}
		break;
	case F_EVENTFD:
		reclose(slot);
		fds[slot] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		break;
	case F_TIMERFD: {
		struct itimerspec its = {
			.it_interval = { .tv_nsec = 1000000 }, .it_value = { .tv_nsec = 1000000 },
		};

		reclose(slot);
		fds[slot] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (fds[slot] >= 0)
			timerfd_settime(fds[slot], 0, &its, NULL);
		break;
	}
	case F_SOCK0:
	case F_SOCK1:
		reclose(F_SOCK0);
		reclose(F_SOCK1);
		if (!socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p)) {
			fds[F_SOCK0] = p[0];
			fds[F_SOCK1] = p[1];
		}
		break;
	case F_NULL:
		reclose(slot);
		fds[slot] = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case F_MEMFD:
		reclose(slot);
		fds[slot] = memfd_create("rust_epoll_fuzz", MFD_CLOEXEC);
		break;
	}
}

/* A CTL target: any file of the pool, a number with no file, or anything at all. */
static int32_t pick_target(void)
{
	unsigned int r = below(20);

	if (r < 15)
		return fds[below(F_NR)];
	if (r < 17) {
		const int32_t bad[] = { -1, INT_MIN, INT_MAX, 1 << 20, closed_fd };

		return PICK(bad);
	}
	if (r < 19)
		return below(F_NR + 8);
	return (int32_t)rnd();
}

/* A target an ADD can succeed on, mostly not an instance (which often ends in ELOOP). */
static int32_t pick_pollable(void)
{
	static const int slots[] = {
		F_NATIVE, F_PIPE0_R, F_PIPE0_W, F_PIPE1_R, F_PIPE1_W, F_EVENTFD, F_TIMERFD,
		F_SOCK0, F_SOCK1,
	};

	return one_in(8) ? fds[F_DEV + below(NDEV)] : fds[PICK(slots)];
}

/*
 * The instance an ioctl goes to. Only ever one of ours: a random command on a pipe or a
 * socket could do real things (FIONBIO, TIOCSTI, ...) that have nothing to do with the module.
 */
static int pick_instance(int *slot)
{
	unsigned int start = below(NDEV + 1);

	for (unsigned int k = 0; k <= NDEV; k++) {
		unsigned int i = (start + k) % (NDEV + 1);
		int s = i == NDEV ? F_DUP : F_DEV + (int)i;

		if (fds[s] >= 0) {
			*slot = s;
			return fds[s];
		}
	}
	return -1;
}

/* Changes the targets' state between calls: readiness, and files going away. */
static void churn(void)
{
	int pipe_slot = F_PIPE0_R + 2 * below(2), sock = F_SOCK0 + below(2);
	int what = below(16), slot = below(F_NR);
	static char buf[4096];
	uint64_t one = 1;

	switch (what) {
	case 0:
	case 1:
		if (write(fds[pipe_slot + 1], buf, 1 + below(64)) < 0)
			break;
		break;
	case 2:
		if (read(fds[pipe_slot], buf, sizeof(buf)) < 0)
			break;
		break;
	case 3:
		if (write(fds[F_EVENTFD], &one, sizeof(one)) < 0)
			break;
		break;
	case 4:
		if (read(fds[F_EVENTFD], &one, sizeof(one)) < 0)
			break;
		break;
	case 5:
		send(fds[sock], buf, 1, MSG_DONTWAIT);
		break;
	case 6:
		recv(fds[sock], buf, sizeof(buf), MSG_DONTWAIT);
		break;
	case 7:
		if (read(fds[F_TIMERFD], &one, sizeof(one)) < 0)
			break;
		break;
	case 8:
	case 9:
	case 10:
		reopen(slot);
		break;
	case 11:
		reopen(F_DEV + below(NDEV));
		break;
	case 12: {
		/* Native epoll polls the instance it watches: our f_op->poll from its side. */
		struct epoll_event ev[4];

		epoll_wait(fds[F_NATIVE], ev, 4, 0);
		break;
	}
	case 13: {
		struct pollfd pfd[NDEV];

		for (int i = 0; i < NDEV; i++)
			pfd[i] = (struct pollfd){ .fd = fds[F_DEV + i], .events = POLLIN };
		poll(pfd, NDEV, 0);
		break;
	}
	case 14:
		sigset_fill();
		break;
	default:
		break;
	}
}

/* ---- Requests ---- */

enum kind { K_CTL, K_WAIT, K_BATCH, K_OTHER, K_NR };

static const char *const kind_name[] = { "CTL", "WAIT", "CTL_BATCH", "other" };

struct call {
	unsigned long n;
	int slot, fd;
	enum kind kind;
	int mode;		/* 0: valid-looking, 1: some fields mutated, 2: random bytes */
	uint32_t cmd;
	uint64_t arg;
	enum pclass arg_cls, ev_cls, sig_cls, ops_cls;
	union {
		struct rust_epoll_ctl ctl;
		struct rust_epoll_wait wait;
		struct rust_epoll_ctl_batch batch;
		uint8_t raw[64];
	} s;
	uint32_t ops_readable;	/* whole operations the kernel can read at `batch.ops` */
	int ret, err;
	bool reg;		/* a WAIT sent as RUST_EPOLL_WAIT_REG: `arg` packs events, maxevents */
	bool out;		/* `applied` and `error` were read back */
	uint32_t applied;
	int32_t error;
};

/* The operations of the current batch, as placed at its `ops`. */
static struct rust_epoll_ctl ops_local[RUST_EPOLL_BATCH_MAX];

static void fill_random(void *p, size_t len)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)rnd();
}

static int32_t wild_int(void)
{
	static const int32_t v[] = {
		0, 1, 2, -1, -2, INT_MAX, INT_MIN, INT_MAX - 1, 1 << 20,
		EP_MAX_EVENTS, EP_MAX_EVENTS + 1, RUST_EPOLL_BATCH_MAX, RUST_EPOLL_BATCH_MAX + 1,
	};

	return one_in(4) ? (int32_t)rnd() : PICK(v);
}

static int64_t wild_long(void)
{
	static const int64_t v[] = {
		0, 1, -1, 999999, 1000000000, INT64_MAX, INT64_MIN, (int64_t)INT_MAX + 1,
	};

	return one_in(4) ? (int64_t)rnd() : PICK(v);
}

static uint32_t pick_events(void)
{
	static const uint32_t bits[] = {
		EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDNORM, EPOLLRDBAND,
		EPOLLWRNORM, EPOLLWRBAND, EPOLLMSG, EPOLLRDHUP, EPOLLET, EPOLLONESHOT,
	};
	uint32_t ev = 0;

	if (one_in(16))
		return (uint32_t)rnd();
	for (int i = below(4); i >= 0; i--)
		ev |= PICK(bits);
	if (one_in(12))
		ev |= EPOLLEXCLUSIVE;
	if (one_in(16))
		ev |= EPOLLWAKEUP;
	return ev;
}

static void gen_ctl(struct rust_epoll_ctl *c, bool mutate)
{
	static const uint32_t ops[] = { EPOLL_CTL_ADD, EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL };
	static const uint32_t flags[] = { 1, 2, 0x80000000u, 0xffffffffu };

	c->op = PICK(ops);
	c->fd = pick_target();
	c->events = pick_events();
	c->flags = 0;
	c->data = rnd();
	if (!mutate)
		return;
	switch (below(5)) {
	case 0:
		c->op = one_in(2) ? (uint32_t)((int32_t)below(9) - 2) : (uint32_t)rnd();
		break;
	case 1:
		c->fd = wild_int();
		break;
	case 2:
		c->events = (uint32_t)rnd();
		break;
	case 3:
		c->flags = one_in(2) ? PICK(flags) : (uint32_t)rnd() | 1;
		break;
	default:
		c->data = one_in(2) ? ~0ULL : 0;
		break;
	}
}

/* No sigmask half the time; else one of ours, or (`wild`) any class. */
static void pick_sigmask(struct rust_epoll_wait *w, enum pclass *cls, bool wild)
{
	*cls = P_NULL;
	w->sigmask = 0;
	w->sigsetsize = 0;
	if (!wild && one_in(2))
		return;
	*cls = pick_class(wild ? 50 : 100);
	w->sigmask = pick_ptr(&sig_rg, KERNEL_SIGSET_SIZE, *cls);
	w->sigsetsize = KERNEL_SIGSET_SIZE;
}

/*
 * A WAIT. Valid-looking ones wait 0, 1 or 2 ms at most; a mutated or random one may ask for
 * any timeout, even none, and is then ended by SIGALRM within 5 ms.
 */
static void gen_wait(struct rust_epoll_wait *w, int mode, enum pclass *ev_cls,
		     enum pclass *sig_cls)
{
	static const uint32_t setsizes[] = { 0, 4, 7, 9, 16, 128 };
	static const uint32_t flags[] = { 2, 3, 0x80000000u, 0xffffffffu };
	int32_t max = one_in(8) ? 1 + below(1024) : 1 + below(16);
	uint32_t setsize;

	if (mode == 2) {
		fill_random(w, WAIT_SIZE);
		setsize = w->sigsetsize;
		*ev_cls = pick_class(50);
		w->events = pick_ptr(&ev_rg, EVENT_SIZE, *ev_cls);
		pick_sigmask(w, sig_cls, true);
		if (one_in(2))
			w->sigsetsize = setsize;
		return;
	}
	*ev_cls = pick_class(95);
	w->events = pick_ptr(&ev_rg, max * EVENT_SIZE, *ev_cls);
	w->maxevents = max;
	pick_sigmask(w, sig_cls, false);
	if (one_in(4)) {
		w->flags = RUST_EPOLL_WAIT_NSEC;
		w->timeout = 0;
		w->timeout_ns = one_in(2) ? 0 : below(2000000);
	} else {
		w->flags = 0;
		w->timeout = below(8) ? 0 : 1 + below(2);
		w->timeout_ns = 0;
	}
	if (mode == 0)
		return;
	switch (below(7)) {
	case 0:
		*ev_cls = pick_class(0);
		w->events = pick_ptr(&ev_rg, max * EVENT_SIZE, *ev_cls);
		break;
	case 1:
		w->maxevents = wild_int();
		break;
	case 2:
		w->timeout = wild_int();
		break;
	case 3:
		pick_sigmask(w, sig_cls, true);
		break;
	case 4:
		w->sigsetsize = one_in(4) ? (uint32_t)rnd() : PICK(setsizes);
		break;
	case 5:
		w->flags = one_in(4) ? (uint32_t)rnd() : PICK(flags);
		break;
	default:
		w->timeout_ns = wild_long();
		if (one_in(2))
			w->flags ^= RUST_EPOLL_WAIT_NSEC;
		break;
	}
}

static void gen_batch(struct call *c)
{
	struct rust_epoll_ctl_batch *b = &c->s.batch;
	uint32_t nr = below(4) ? 1 + below(8) : one_in(2) ? RUST_EPOLL_BATCH_MAX :
		1 + below(RUST_EPOLL_BATCH_MAX);
	uint32_t fill;
	bool paired;

	c->ops_cls = pick_class(c->mode == 0 ? 95 : 80);
	if (c->mode == 2) {
		fill_random(b, BATCH_SIZE);
		gen_wait(&b->wait, 2, &c->ev_cls, &c->sig_cls);
	} else {
		b->nr_ops = nr;
		b->flags = one_in(3) ? RUST_EPOLL_BATCH_WAIT : 0;
		/*
		 * A receipt batch attempts every operation: a long one runs to its end, where one
		 * without the flag usually stops early, and half the random ADDs carry EPOLLWAKEUP
		 * (a wakeup source registered and unregistered per watch, about 0.3 ms each under
		 * TCG, as natively). Kept to 64 operations, though a mutation of nr_ops below can
		 * still make one of up to 1,024: the loop's bound allows for that (slow_ns()).
		 */
		if (one_in(4)) {
			b->flags |= RUST_EPOLL_BATCH_RECEIPT;
			if (b->nr_ops > 64)
				b->nr_ops = nr = 1 + below(64);
		}
		b->applied = 0;
		b->error = 0;
		gen_wait(&b->wait, c->mode == 1 && one_in(3), &c->ev_cls, &c->sig_cls);
	}
	b->ops = pick_ptr(&ops_rg, nr * CTL_SIZE, c->ops_cls);
	if (c->mode == 1) {
		switch (below(6)) {
		case 0:
			b->nr_ops = one_in(2) ? (uint32_t)wild_int() : (uint32_t)rnd();
			break;
		case 1:
			b->flags = one_in(2) ? 4 : (uint32_t)rnd();
			break;
		case 2:
			c->ops_cls = pick_class(0);
			b->ops = pick_ptr(&ops_rg, nr * CTL_SIZE, c->ops_cls);
			break;
		case 3:
			/* Outputs: their input values must not matter. */
			b->applied = (uint32_t)rnd();
			b->error = (int32_t)rnd();
			break;
		default:
			break;
		}
	}
	/* Too many is refused before any is read. */
	fill = b->nr_ops <= RUST_EPOLL_BATCH_MAX ? b->nr_ops : 0;
	/*
	 * Independent operations rarely get far before one fails (ADD of a watched target, DEL of
	 * an unwatched one); a batch of ADD-then-MOD-or-DEL pairs on the same targets often runs to
	 * the end, through a thousand inserts and removals.
	 */
	paired = c->mode == 0 && one_in(2);
	for (uint32_t i = 0; i < fill; i++) {
		gen_ctl(&ops_local[i], !paired && one_in(8));
		if (paired && i % 2) {
			ops_local[i - 1].op = EPOLL_CTL_ADD;
			ops_local[i - 1].fd = pick_pollable();
			ops_local[i].op = one_in(4) ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
			ops_local[i].fd = ops_local[i - 1].fd;
		}
	}
	place(&ops_rg, b->ops, ops_local, fill * CTL_SIZE);
	c->ops_readable = region_left(&ops_rg, b->ops) / CTL_SIZE;
	if (c->ops_readable > fill)
		c->ops_readable = fill;
}

/*
 * Command numbers the VFS answers itself before our handler (do_vfs_ioctl(): FIOCLEX,
 * FIONBIO, FIFREEZE, FS_IOC_*, FICLONE, ...) have these types. What they do to the file is not
 * the module's, and some (FIFREEZE) would be harmful: fully random commands avoid them.
 */
static bool vfs_ioctl_type(uint32_t type)
{
	return type == 0x00 || type == 0x15 || type == 'T' || type == 'X' || type == 'f' ||
		type == 0x94;
}

static uint32_t near_size(uint32_t real)
{
	const uint32_t sizes[] = {
		0, 4, 8, real - 1, real + 1, real - 8, real + 8, (uint32_t)rnd() & _IOC_SIZEMASK,
	};
	uint32_t s = PICK(sizes);

	return s == real ? real + 16 : s;
}

static uint32_t pick_cmd(enum kind *kind)
{
	static const uint32_t real[] = { RUST_EPOLL_CTL, RUST_EPOLL_WAIT, RUST_EPOLL_CTL_BATCH };
	unsigned int r = below(100), i, nr;
	uint32_t cmd;

	if (r < 25) {
		*kind = K_CTL;
		return RUST_EPOLL_CTL;
	}
	if (r < 47) {
		*kind = K_WAIT;
		return RUST_EPOLL_WAIT;
	}
	if (r < 62) {
		*kind = K_BATCH;
		return RUST_EPOLL_CTL_BATCH;
	}
	*kind = K_OTHER;
	i = below(3);
	switch (below(5)) {
	case 0:	/* ours, in another direction */
		cmd = real[i] ^ ((1 + below(3)) << _IOC_DIRSHIFT);
		break;
	case 1:	/* ours, with another size */
		cmd = (real[i] & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
			(near_size(_IOC_SIZE(real[i])) & _IOC_SIZEMASK) << _IOC_SIZESHIFT;
		break;
	case 2:	/* our magic, a number not ours */
		nr = one_in(4) ? 0 : 4 + below(252);
		cmd = _IOC(below(4), RUST_EPOLL_IOC_MAGIC, nr,
			   one_in(2) ? _IOC_SIZE(real[below(3)]) : below(_IOC_SIZEMASK + 1));
		break;
	case 3:	/* a neighbouring magic */
		cmd = (real[i] & ~(_IOC_TYPEMASK << _IOC_TYPESHIFT)) |
			(one_in(2) ? 0xe8u : 0xeau) << _IOC_TYPESHIFT;
		break;
	default:
		cmd = (uint32_t)rnd();
		if (vfs_ioctl_type(_IOC_TYPE(cmd)))
			cmd ^= 0x80u << _IOC_TYPESHIFT;
		break;
	}
	for (i = 0; i < 3; i++)
		if (cmd == real[i])
			cmd ^= 1u << _IOC_NRSHIFT;
	/* Ours too, though not fuzzed here (tests/ext_test.c and ring_test.c cover them). */
	if (cmd == RUST_EPOLL_WAIT_MIN || cmd == RUST_EPOLL_SPARAMS || cmd == RUST_EPOLL_GPARAMS ||
	    cmd == RUST_EPOLL_RING_SETUP)
		cmd ^= 1u << _IOC_NRSHIFT;
	/*
	 * RUST_EPOLL_WAIT_REG is a family: every size field is a timeout, so each of them is
	 * ours (fuzzed as a form of WAIT, see gen_call()).
	 */
	if ((cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) == RUST_EPOLL_WAIT_REG(-1))
		cmd ^= 1u << _IOC_NRSHIFT;
	return cmd;
}

/*
 * Whether WAIT `w` can be sent as RUST_EPOLL_WAIT_REG: no mask, no nanoseconds, a timeout
 * and a buffer and maxevents the request number and argument have room for.
 */
static bool fits_wait_reg(const struct rust_epoll_wait *w)
{
	return !w->flags && !w->sigmask && !w->sigsetsize && !w->timeout_ns &&
	       w->timeout >= -1 && w->timeout <= RUST_EPOLL_WAIT_REG_MAX_MS &&
	       !(w->events >> 48) && w->maxevents > 0 && w->maxevents <= 0xffff;
}

/* Builds request number `n`: the instance, the command and what its argument points at. */
static void gen_call(struct call *c, unsigned long n)
{
	size_t size = BATCH_SIZE;

	memset(c, 0, sizeof(*c));
	c->n = n;
	c->fd = pick_instance(&c->slot);
	c->cmd = pick_cmd(&c->kind);
	c->mode = below(100) < 45 ? 0 : below(100) < 70 ? 1 : 2;
	c->sig_cls = c->ev_cls = c->ops_cls = P_NULL;
	switch (c->kind) {
	case K_CTL:
		size = CTL_SIZE;
		if (c->mode == 2)
			fill_random(&c->s.ctl, CTL_SIZE);
		else
			gen_ctl(&c->s.ctl, c->mode == 1);
		break;
	case K_WAIT:
		size = WAIT_SIZE;
		gen_wait(&c->s.wait, c->mode, &c->ev_cls, &c->sig_cls);
		c->reg = one_in(2) && fits_wait_reg(&c->s.wait);
		break;
	case K_BATCH:
		gen_batch(c);
		break;
	default:
		fill_random(c->s.raw, sizeof(c->s.raw));
		break;
	}
	c->arg_cls = pick_class(88);
	c->arg = pick_ptr(&arg_rg, size, c->arg_cls);
	place(&arg_rg, c->arg, &c->s, size);
	if (c->reg) {
		/* The same request in registers: no struct for the kernel to read. */
		c->cmd = RUST_EPOLL_WAIT_REG(c->s.wait.timeout);
		c->arg = RUST_EPOLL_WAIT_REG_ARG(c->s.wait.events, c->s.wait.maxevents);
	}
}

/* ---- What may come back ---- */

/* What a CTL on a readable request can fail with: epoll_ctl's errno values. */
static bool ctl_errno(int err)
{
	switch (err) {
	case EINVAL: case EBADF: case EPERM: case EEXIST: case ENOENT: case ELOOP:
	case ENOSPC: case ENOMEM:
		return true;
	}
	return false;
}

/* NULL if a CTL of `op` may end with `ret` (and `err`), else why not. */
static const char *check_ctl(const struct rust_epoll_ctl *op, int ret, int err)
{
	if (ret > 0 || (ret < 0 && !ctl_errno(err)))
		return "CTL ended in a way epoll_ctl cannot";
	if (op->flags && !(ret < 0 && err == EINVAL))
		return "CTL with flags set was not refused with EINVAL";
	if (ret == 0 && (op->fd < 0 || op->op < EPOLL_CTL_ADD || op->op > EPOLL_CTL_MOD))
		return "CTL accepted a negative fd or an unknown op";
	return NULL;
}

/* Whole records WAIT can have written at `p`. */
static uint64_t writable_records(uint64_t p, enum pclass c)
{
	return accessible(c) || c == P_STRADDLE ? region_left(&ev_rg, p) / EVENT_SIZE : 0;
}

/* NULL if a WAIT of `w` may end with `ret` (and `err`), else why not. */
static const char *check_wait(const struct rust_epoll_wait *w, enum pclass ev_cls,
			      enum pclass sig_cls, int ret, int err)
{
	bool nsec = w->flags & RUST_EPOLL_WAIT_NSEC;
	bool invalid = (w->flags & ~RUST_EPOLL_WAIT_NSEC) ||
		(!w->sigmask && w->sigsetsize) ||
		(w->sigmask && (w->sigsetsize != KERNEL_SIGSET_SIZE || !accessible(sig_cls))) ||
		(nsec ? w->timeout != 0 : w->timeout_ns != 0) ||
		w->maxevents <= 0 || w->maxevents > EP_MAX_EVENTS ||
		w->events >= KERNEL_HALF;

	if (ret < 0 && err != EINVAL && err != EFAULT && err != EINTR)
		return "WAIT failed with an errno epoll_pwait2 cannot give";
	/* The parameters are all checked before it sleeps: no EINTR either. */
	if (invalid)
		return ret < 0 && err != EINTR ? NULL : "an invalid WAIT was not refused";
	if (ret > w->maxevents)
		return "WAIT reported more than maxevents";
	if (ret > 0 && (uint64_t)ret > writable_records(w->events, ev_cls))
		return "WAIT reported more records than it can have written";
	return NULL;
}

/*
 * A batch with RUST_EPOLL_BATCH_RECEIPT: every readable (and, here, writable) slot is
 * attempted whatever the results, each result is one a CTL of it may end with, and the batch
 * stops only at a slot it cannot read, with EFAULT.
 */
static const char *check_receipt(struct call *c)
{
	const struct rust_epoll_ctl_batch *b = &c->s.batch;
	const char *why;

	if (c->applied > b->nr_ops || (c->error == 0) != (c->applied == b->nr_ops) ||
	    (c->error && c->error != -EFAULT))
		return "receipt CTL_BATCH's applied and error disagree";
	if (c->applied > c->ops_readable)
		return "receipt CTL_BATCH attempted operations it cannot have read";
	if (c->error && c->applied < c->ops_readable)
		return "receipt CTL_BATCH stopped at a slot it could read and write";
	for (uint32_t i = 0; i < c->applied; i++) {
		int32_t res;

		memcpy(&res, (const uint8_t *)(uintptr_t)b->ops + i * CTL_SIZE +
		       offsetof(struct rust_epoll_ctl, flags), sizeof(res));
		why = check_ctl(&ops_local[i], res ? -1 : 0, -res);
		if (why)
			return why;
	}
	if (c->error && c->ret != 0)
		return "receipt CTL_BATCH stopped yet did not return 0";
	if (c->error || !(b->flags & RUST_EPOLL_BATCH_WAIT))
		return c->ret == 0 ? NULL : "receipt CTL_BATCH without a wait did not return 0";
	return check_wait(&b->wait, c->ev_cls, c->sig_cls, c->ret, c->err);
}

static const char *check_batch(struct call *c)
{
	const struct rust_epoll_ctl_batch *b = &c->s.batch;
	const void *out = (const void *)(uintptr_t)(c->arg + offsetof(struct rust_epoll_ctl_batch,
								      applied));

	if (c->ret < 0 && c->err != EINVAL && c->err != EFAULT && c->err != EINTR)
		return "CTL_BATCH failed with an errno it cannot give";
	if (!b->nr_ops || b->nr_ops > RUST_EPOLL_BATCH_MAX ||
	    (b->flags & ~(RUST_EPOLL_BATCH_WAIT | RUST_EPOLL_BATCH_RECEIPT)))
		return c->ret < 0 && c->err == EINVAL ? NULL :
			"an invalid CTL_BATCH was not refused with EINVAL";
	/* Our argument buffer is writable, so the outcome was written back. */
	memcpy(&c->applied, out, sizeof(c->applied));
	memcpy(&c->error, (const uint8_t *)out + sizeof(c->applied), sizeof(c->error));
	c->out = true;
	if (b->flags & RUST_EPOLL_BATCH_RECEIPT)
		return check_receipt(c);
	if (c->applied > b->nr_ops || (c->error == 0) != (c->applied == b->nr_ops))
		return "CTL_BATCH's applied and error disagree";
	if (c->applied > c->ops_readable)
		return "CTL_BATCH applied operations it cannot have read";
	for (uint32_t i = 0; i < c->applied; i++)
		if (check_ctl(&ops_local[i], 0, 0))
			return "CTL_BATCH applied an operation that must fail";
	if (c->error) {
		if (c->ret != 0)
			return "CTL_BATCH failed an operation yet did not return 0";
		if (c->applied < c->ops_readable)
			return check_ctl(&ops_local[c->applied], -1, -c->error);
		return c->error == -EFAULT ? NULL :
			"CTL_BATCH did not report an unreadable operation as EFAULT";
	}
	if (!(b->flags & RUST_EPOLL_BATCH_WAIT))
		return c->ret == 0 ? NULL : "CTL_BATCH without WAIT did not return 0";
	return check_wait(&b->wait, c->ev_cls, c->sig_cls, c->ret, c->err);
}

/* NULL if call `c` ended as it may, else why not. */
static const char *check(struct call *c)
{
	if (c->kind == K_OTHER) {
		if (c->ret >= 0)
			return "a command not ours succeeded";
		return c->err == ENOTTY ? NULL : "a command not ours did not fail with ENOTTY";
	}
	if (c->reg)
		return check_wait(&c->s.wait, c->ev_cls, c->sig_cls, c->ret, c->err);
	if (!accessible(c->arg_cls))
		return c->ret < 0 && c->err == EFAULT ? NULL :
			"an unreadable argument was not refused with EFAULT";
	switch (c->kind) {
	case K_CTL:
		return check_ctl(&c->s.ctl, c->ret, c->err);
	case K_WAIT:
		return check_wait(&c->s.wait, c->ev_cls, c->sig_cls, c->ret, c->err);
	default:
		return check_batch(c);
	}
}

/* ---- Output ---- */

/* Prints a "# " line with SIGALRM blocked, so that no write of it is cut short. */
static __printf(1, 2) void say(const char *fmt, ...)
{
	sigset_t alrm, old;
	va_list ap;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, &old);
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static const char *errname(int err)
{
	static char buf[16];
	const char *name = err ? strerrorname_np(err) : "ok";

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

static void say_wait(const char *prefix, const struct rust_epoll_wait *w, const struct call *c)
{
	say("%swait { events %#llx [%s], maxevents %d, timeout %d, sigmask %#llx [%s], "
	    "sigsetsize %u, flags %#x, timeout_ns %lld }", prefix,
	    (unsigned long long)w->events, pclass_name[c->ev_cls], w->maxevents, w->timeout,
	    (unsigned long long)w->sigmask, pclass_name[c->sig_cls], w->sigsetsize, w->flags,
	    (long long)w->timeout_ns);
}

static void say_ctl(const char *prefix, const struct rust_epoll_ctl *o)
{
	say("%sctl { op %d, fd %d, events %#x, flags %#x, data %#llx }", prefix, (int32_t)o->op,
	    o->fd, o->events, o->flags, (unsigned long long)o->data);
}

/* The request and its outcome, enough to see what happened and find it again. */
static void describe(const struct call *c, const char *why)
{
	static const char *const modes[] = { "valid-looking", "mutated", "random bytes" };
	const struct rust_epoll_ctl_batch *b = &c->s.batch;

	say("call %lu%s%s: %s ioctl(%d [%s], %#x (dir %u type %#x nr %u size %u), %#llx [%s], %s)"
	    " = %d%s%s", c->n, why ? ": " : "", why ?: "", c->reg ? "WAIT_REG" : kind_name[c->kind], c->fd,
	    fd_name(c->slot), c->cmd, _IOC_DIR(c->cmd), _IOC_TYPE(c->cmd), _IOC_NR(c->cmd),
	    _IOC_SIZE(c->cmd), (unsigned long long)c->arg, pclass_name[c->arg_cls],
	    modes[c->mode], c->ret, c->ret < 0 ? " " : "", c->ret < 0 ? errname(c->err) : "");
	switch (c->kind) {
	case K_CTL:
		say_ctl("  ", &c->s.ctl);
		break;
	case K_WAIT:
		say_wait("  ", &c->s.wait, c);
		break;
	case K_BATCH:
		say("  batch { ops %#llx [%s, %u readable], nr_ops %u, flags %#x, applied %u, "
		    "error %d }", (unsigned long long)b->ops, pclass_name[c->ops_cls],
		    c->ops_readable, b->nr_ops, b->flags, b->applied, b->error);
		say_wait("  ", &b->wait, c);
		if (c->out) {
			say("  out: applied %u, error %d", c->applied, c->error);
			if (c->applied < c->ops_readable)
				say_ctl("  failed op: ", &ops_local[c->applied]);
		}
		for (uint32_t i = 0; i < c->ops_readable && i < 4; i++)
			say_ctl("  op: ", &ops_local[i]);
		break;
	default:
		break;
	}
}

/* ---- The run ---- */

#define HIST	256	/* errno values counted one by one; 0 counts successes */
#define MAX_REPORTS	20

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/*
 * Bounds every call: a WAIT whose timeout came from random bytes, or -1, ends within 5 ms
 * with EINTR. No SA_RESTART: a restarted WAIT would sleep again. The signal must reach the
 * waiter even with a sigmask in force: see sigset_fill().
 */
static int setup_alarm(bool on)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_interval = { .tv_usec = 5000 }, .it_value = { .tv_usec = 5000 } };

	if (!on)
		it = (struct itimerval){};
	sigemptyset(&sa.sa_mask);
	if (on && sigaction(SIGALRM, &sa, NULL))
		return -1;
	return setitimer(ITIMER_REAL, &it, NULL);
}

static struct {
	unsigned long kinds[K_NR];
	unsigned long hist[K_NR][HIST];	/* outcomes per kind: [0] successes, [e] errno e */
	unsigned long batch_hist[HIST];	/* a batch's `error` field, negated */
	unsigned long records, nonempty;	/* records reported by WAITs, and by how many */
	unsigned long bad, slow, max_at;
	unsigned long reg;	/* WAITs sent as RUST_EPOLL_WAIT_REG */
	uint64_t max_ns;
} st;

static void say_hist(const char *what, const unsigned long *hist, const char *zero)
{
	char line[1024];
	int len = snprintf(line, sizeof(line), "%s", what);

	for (int e = 0; e < HIST; e++)
		if (hist[e] && len < (int)sizeof(line))
			len += snprintf(line + len, sizeof(line) - len, " %s %lu",
					e ? errname(e) : zero, hist[e]);
	say("fuzz:   %s", line);
}

static void summary(uint64_t seed, unsigned long ncalls, double secs)
{
	char what[64];

	say("fuzz: seed %llu: %lu calls in %.1f s (%.0f calls/s), %ld SIGALRMs, "
	    "slowest call %lu (%.1f ms)", (unsigned long long)seed, ncalls, secs,
	    ncalls / secs, (long)alarms, st.max_at, st.max_ns / 1e6);
	for (int k = 0; k < K_NR; k++) {
		snprintf(what, sizeof(what), "%-9s %6lu calls:", kind_name[k], st.kinds[k]);
		say_hist(what, st.hist[k], "ok");
	}
	say_hist("CTL_BATCH error field:", st.batch_hist, "0");
	say("fuzz:   %lu of the WAITs sent as RUST_EPOLL_WAIT_REG", st.reg);
	say("fuzz: %lu records reported by %lu waits; %lu unexpected results, %lu calls over their bound",
	    st.records, st.nonempty, st.bad, st.slow);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* How long call `c` may take before it counts as stuck: see the loop in fuzz.ioctls. */
static uint64_t slow_ns(const struct call *c)
{
	uint64_t ops = c->kind == K_BATCH && !c->reg ? c->ops_readable : 0;

	return 2000000000ULL + ops * 10000000ULL;
}

static unsigned long long env_num(const char *name, unsigned long long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

FIXTURE(fuzz) {
	int unused;
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

/* 100,000 calls take well under a minute even in an emulated VM; the margin is for more. */
TEST_F_TIMEOUT(fuzz, ioctls, 1200)
{
	uint64_t seed = env_num("FUZZ_SEED", 1);
	unsigned long ncalls = env_num("FUZZ_CALLS", 100000);
	unsigned long trace_from = ULONG_MAX, trace_to = ULONG_MAX;
	const char *trace = getenv("FUZZ_TRACE");
	struct epoll_event ev;
	int probe, fd, p[2];
	struct call c;
	uint64_t start;

	probe = open(RUST_EPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	if (probe < 0)
		SKIP(return, "%s: %s (module not loaded?)", RUST_EPOLL_DEVICE, strerror(errno));
	close(probe);
	if (trace && *trace) {
		char *end;

		trace_from = strtoul(trace, &end, 0);
		trace_to = *end == '-' ? strtoul(end + 1, NULL, 0) : ULONG_MAX;
	}
	say("fuzz: seed %llu, %lu calls (replay: FUZZ_SEED=%llu, or -s %llu)",
	    (unsigned long long)seed, ncalls, (unsigned long long)seed, (unsigned long long)seed);

	rng_seed(seed);
	page = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, region_init(&arg_rg, 2, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, region_init(&ops_rg, (RUST_EPOLL_BATCH_MAX * CTL_SIZE) / page + 1,
				 PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, region_init(&ev_rg, 4, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, region_init(&sig_rg, 1, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, region_init(&none_rg, 8, PROT_NONE));
	sigset_fill();
	for (int i = 0; i < F_NR; i++)
		fds[i] = -1;
	for (int i = 0; i < F_NR; i++)
		if (fds[i] < 0)
			reopen(i);
	for (int i = 0; i < F_NR; i++) {
		ASSERT_LE(0, fds[i]) TH_LOG("setting up %s: %s", fd_name(i), strerror(errno));
	}
	closed_fd = fcntl(fds[F_NULL], F_DUPFD_CLOEXEC, 900);
	ASSERT_LE(0, closed_fd);
	close(closed_fd);

	ASSERT_EQ(0, setup_alarm(true));
	start = now_ns();
	for (unsigned long n = 0; n < ncalls; n++) {
		uint64_t t0, dt;
		const char *why;

		if (one_in(16))
			churn();
		gen_call(&c, n);
		if (c.fd < 0) {
			reopen(F_DEV);
			c.fd = pick_instance(&c.slot);
			ASSERT_LE(0, c.fd) TH_LOG("no instance left: %s", strerror(errno));
		}
		t0 = now_ns();
		c.ret = ioctl(c.fd, c.cmd, (void *)(uintptr_t)c.arg);
		c.err = c.ret < 0 ? errno : 0;
		dt = now_ns() - t0;

		why = check(&c);
		st.kinds[c.kind]++;
		st.reg += c.reg;
		st.hist[c.kind][c.ret >= 0 ? 0 : c.err < HIST ? c.err : HIST - 1]++;
		if (c.ret > 0 && !why) {
			st.records += c.ret;
			st.nonempty++;
		}
		if (c.out && c.error <= 0 && -c.error < HIST)
			st.batch_hist[-c.error]++;
		if (dt > st.max_ns) {
			st.max_ns = dt;
			st.max_at = n;
		}
		/*
		 * Every sleep is cut at 5 ms: a call this slow is stuck, emulation or not. Its
		 * work is bounded too, but a batch's can be long: on the debug kernel (KASAN,
		 * lockdep) a receipt batch whose nr_ops a mutation made 1,024 (every operation
		 * attempted, half the random ADDs with EPOLLWAKEUP: a wakeup source and its sysfs
		 * device each) took 0.8 ms per operation, 830 ms in all (seed 2, call 193,617).
		 * So a batch gets 10 ms more per operation it could read.
		 */
		if (dt > slow_ns(&c) && st.slow++ < MAX_REPORTS)
			describe(&c, "took longer than its bound (2 s, and 10 ms per batched operation)");
		if (why) {
			if (st.bad++ < MAX_REPORTS)
				describe(&c, why);
		} else if (n >= trace_from && n <= trace_to) {
			describe(&c, NULL);
		}
		if ((n + 1) % 25000 == 0)
			say("fuzz: %lu calls, %.1f s", n + 1, (now_ns() - start) / 1e9);
	}
	ASSERT_EQ(0, setup_alarm(false));
	summary(seed, ncalls, (now_ns() - start) / 1e9);
	for (int i = 0; i < F_NR; i++)
		reclose(i);

	/* The device still works after all that: a watch on a fresh pipe reports. */
	fd = ep_create(false);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, ep_ctl(false, fd, EPOLL_CTL_ADD, p[0], EPOLLIN, 42));
	ASSERT_EQ(1, write(p[1], "x", 1));
	ASSERT_EQ(1, ep_wait(false, fd, &ev, 1, 1000));
	ASSERT_EQ(42, ev.data.u64);
	close(fd);
	close(p[0]);
	close(p[1]);

	ASSERT_EQ(0, st.bad) TH_LOG("seed %llu: %lu calls ended as they may not",
				    (unsigned long long)seed, st.bad);
	ASSERT_EQ(0, st.slow);
}

/* -s SEED and -n CALLS are ours (passed on as FUZZ_SEED, FUZZ_CALLS); the rest the harness's. */
int main(int argc, char **argv)
{
	char **rest = calloc(argc + 1, sizeof(*rest));
	int n = 0;

	if (!rest)
		return KSFT_FAIL;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && i + 1 < argc && (!strcmp(argv[i], "-s") || !strcmp(argv[i], "-n"))) {
			setenv(argv[i][1] == 's' ? "FUZZ_SEED" : "FUZZ_CALLS", argv[i + 1], 1);
			i++;
			continue;
		}
		rest[n++] = argv[i];
	}
	return test_harness_run(n, rest);
}
