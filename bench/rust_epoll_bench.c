// SPDX-License-Identifier: GPL-2.0
/*
 * rust_epoll_bench: rust-epoll against the kernel's native epoll and poll(), on the same
 * workloads, in the same boot. Implementations run interleaved (device, native, poll,
 * device, ...) for several repetitions; each figure is the median (and min) over them.
 *
 * Prints one JSON object per workload and size on lines starting with "BENCH ":
 *   {"workload", "size", "rust_epoll", "native", "poll", "unit", "ratio", "min": {...}}
 * `--quick` (or a build with -DSMOKE, which then prints TAP for kselftest) runs tiny sizes
 * once: a smoke test that every workload runs on every implementation, never a measurement.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "../tests/ep.h"

enum impl { DEVICE, NATIVE, POLL, NIMPL };
static bool quick;
static int reps = 5;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One result line: median and min of each implementation's samples. */
static void report(const char *workload, long size, const char *unit, double s[NIMPL][64],
		   int n, bool with_poll)
{
	double med[NIMPL], min[NIMPL];

	for (int i = 0; i < NIMPL; i++) {
		qsort(s[i], n, sizeof(double), cmp_double);
		med[i] = s[i][n / 2];
		min[i] = s[i][0];
	}
	printf("%sBENCH {\"workload\": \"%s\", \"size\": %ld, \"unit\": \"%s\", "
	       "\"rust_epoll\": %.1f, \"native\": %.1f", quick ? "# " : "", workload, size, unit, med[DEVICE], med[NATIVE]);
	if (with_poll)
		printf(", \"poll\": %.1f", med[POLL]);
	printf(", \"ratio\": %.3f, \"min\": {\"rust_epoll\": %.1f, \"native\": %.1f", med[DEVICE] / med[NATIVE],
	       min[DEVICE], min[NATIVE]);
	if (with_poll)
		printf(", \"poll\": %.1f", min[POLL]);
	printf("}, \"reps\": %d}\n", n);
	fflush(stdout);
}

static void raise_nofile(long n)
{
	struct rlimit rl = { n + 64, n + 64 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit");
}

/* N eventfds (the limit raised to fit), made readable when `ready`; closed by close_fds(). */
static int *make_eventfds(long n, int flags, bool ready)
{
	int *fds = malloc(n * sizeof(int));
	uint64_t one = 1;

	raise_nofile(n + 16);
	for (long i = 0; i < n; i++)
		if ((fds[i] = eventfd(0, flags)) < 0 || (ready && write(fds[i], &one, 8) != 8))
			die("eventfd");
	return fds;
}

static void close_fds(int *fds, long n)
{
	for (long i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

/*
 * A waiter over one implementation: watches fds[0..n) for EPOLLIN with data = index.
 * For poll(), the pollfd array is rebuilt by the caller's loop as a poll() program would.
 */
struct waiter {
	enum impl impl;
	int epfd;
	int n;
	struct pollfd *pfd;
	struct epoll_event *ev;
};

static void waiter_init(struct waiter *w, enum impl impl, int *fds, int n, int maxev)
{
	w->impl = impl;
	w->n = n;
	w->ev = calloc(maxev, sizeof(*w->ev));
	w->pfd = NULL;
	if (impl == POLL) {
		w->pfd = calloc(n, sizeof(*w->pfd));
		for (int i = 0; i < n; i++)
			w->pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		return;
	}
	w->epfd = ep_create(impl == NATIVE);
	if (w->epfd < 0)
		die("create");
	for (int i = 0; i < n; i++)
		if (ep_ctl(impl == NATIVE, w->epfd, EPOLL_CTL_ADD, fds[i], EPOLLIN, i))
			die("ctl add");
}

/* Ready indices into w->ev[].data; returns how many. */
static int waiter_wait(struct waiter *w, int maxev, int timeout)
{
	if (w->impl != POLL)
		return ep_wait(w->impl == NATIVE, w->epfd, w->ev, maxev, timeout);
	int r = poll(w->pfd, w->n, timeout), k = 0;

	for (int i = 0; i < w->n && k < r && k < maxev; i++)
		if (w->pfd[i].revents)
			w->ev[k++].data.u64 = i;
	return k;
}

static void waiter_fini(struct waiter *w)
{
	if (w->impl != POLL)
		close(w->epfd);
	free(w->pfd);
	free(w->ev);
}

/*
 * 1. libevent's bench.c: N pipes, `active` of them written at the start of a round; each
 * read event reads its byte and writes the next pipe, until `writes` writes are done and
 * every byte has been read. Time per round, in microseconds.
 */
static void bench_libevent(long npipes, int active, int writes, int rounds)
{
	static double s[NIMPL][64];
	int *rd = malloc(npipes * sizeof(int)), *wr = malloc(npipes * sizeof(int));
	int r = 0;

	raise_nofile(2 * npipes + 16);
	for (long i = 0; i < npipes; i++) {
		int p[2];

		if (pipe2(p, O_NONBLOCK))
			die("pipe");
		rd[i] = p[0];
		wr[i] = p[1];
	}
	for (; r < reps; r++) {
		for (int impl = 0; impl < NIMPL; impl++) {
			struct waiter w;
			double t0, total = 0;

			waiter_init(&w, impl, rd, npipes, 1024);
			for (int round = 0; round < rounds; round++) {
				int fired = 0, written = 0, pending = 0;
				long space = npipes / active;

				t0 = now_ns();
				for (int i = 0; i < active; i++, written++, pending++)
					if (write(wr[i * space], "e", 1) != 1)
						die("write");
				while (pending > 0) {
					int n = waiter_wait(&w, 1024, -1);
					char c;

					for (int j = 0; j < n; j++) {
						long idx = w.ev[j].data.u64;

						if (read(rd[idx], &c, 1) != 1)
							continue;
						pending--;
						fired++;
						if (written < writes) {
							long next = (idx + 1) % npipes;

							if (write(wr[next], "e", 1) != 1)
								die("write");
							written++;
							pending++;
						}
					}
				}
				total += now_ns() - t0;
			}
			s[impl][r] = total / rounds / 1e3;
			waiter_fini(&w);
		}
	}
	report("libevent_bench", npipes, "us/round", s, r, true);
	for (long i = 0; i < npipes; i++) {
		close(rd[i]);
		close(wr[i]);
	}
	free(rd);
	free(wr);
}

/* 2. Wake-up latency: two threads ping-pong through two eventfds, each with its instance. */
struct pingpong {
	enum impl impl;
	int in, out;
	int iters;
	double *lat;
};

static void *pong(void *arg)
{
	struct pingpong *p = arg;
	struct waiter w;
	uint64_t v;

	waiter_init(&w, p->impl, &p->in, 1, 1);
	for (int i = 0; i < p->iters; i++) {
		while (waiter_wait(&w, 1, -1) < 1)
			;
		if (read(p->in, &v, 8) != 8 || write(p->out, &v, 8) != 8)
			die("pong");
	}
	waiter_fini(&w);
	return NULL;
}

static double percentile(double *v, int n, double p)
{
	qsort(v, n, sizeof(double), cmp_double);
	return v[(int)(p * (n - 1))];
}

static void bench_latency(int iters)
{
	static double p50[NIMPL][64], p99[NIMPL][64];
	double *lat = malloc(iters * sizeof(double));
	int r = 0;

	/* 100,000 round trips take seconds per implementation under TCG: three repetitions. */
	for (; r < (reps < 3 ? reps : 3); r++) {
		for (int impl = 0; impl < NIMPL; impl++) {
			int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);
			struct pingpong pp = { impl, a, b, iters, lat };
			struct waiter w;
			pthread_t t;
			uint64_t v = 1;

			waiter_init(&w, impl, &b, 1, 1);
			pthread_create(&t, NULL, pong, &pp);
			for (int i = 0; i < iters; i++) {
				double t0 = now_ns();

				if (write(a, &v, 8) != 8)
					die("ping");
				while (waiter_wait(&w, 1, -1) < 1)
					;
				if (read(b, &v, 8) != 8)
					die("ping read");
				lat[i] = (now_ns() - t0) / 1e3;
			}
			pthread_join(t, NULL);
			waiter_fini(&w);
			p50[impl][r] = percentile(lat, iters, 0.50);
			p99[impl][r] = percentile(lat, iters, 0.99);
			close(a);
			close(b);
		}
	}
	report("wakeup_latency_p50", iters, "us/roundtrip", p50, r, true);
	report("wakeup_latency_p99", iters, "us/roundtrip", p99, r, true);
	free(lat);
}

/*
 * The shared ready ring (README, "The ready ring"): an instance with its ring mapped, and the
 * consumer's side of it. `next_events` returns the next batch of events: records from the
 * ring, else what WAIT reports (the ready list, after an overflow), else it blocks in WAIT
 * until the ring or the ready list has something (after spinning on the ring for `spin_ns`).
 */
struct ringw {
	int epfd;
	struct rust_epoll_ring *r;
	size_t size;
	struct epoll_event *ev;
};

static void ringw_init(struct ringw *w, unsigned int entries, int maxev)
{
	struct rust_epoll_ring_setup s = { .entries = entries };

	w->epfd = ep_create(false);
	if (w->epfd < 0 || ioctl(w->epfd, RUST_EPOLL_RING_SETUP, &s))
		die("ring setup");
	w->size = s.mmap_size;
	w->r = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, w->epfd, 0);
	if (w->r == MAP_FAILED)
		die("ring mmap");
	w->ev = calloc(maxev, sizeof(*w->ev));
}

static int ringw_next(struct ringw *w, int maxev, double spin_ns)
{
	double t0 = 0;

	for (;;) {
		int n = rust_epoll_ring_consume(w->r, (struct rust_epoll_event *)w->ev, maxev);

		if (n)
			return n;
		if (rust_epoll_ring_need_wait(w->r) && (n = ep_wait(false, w->epfd, w->ev, maxev, 0)))
			return n;
		if (spin_ns > 0) {
			if (!t0)
				t0 = now_ns();
			if (now_ns() - t0 < spin_ns)
				continue;
		}
		/* Returns 0 as soon as the ring has records, or the events of the ready list. */
		n = ep_wait(false, w->epfd, w->ev, maxev, -1);
		if (n)
			return n;
	}
}

static void ringw_fini(struct ringw *w)
{
	munmap(w->r, w->size);
	close(w->epfd);
	free(w->ev);
}

/*
 * 1b. libevent's round again, edge-triggered (EV_ET): rust-epoll harvesting from its ring
 * against native epoll with EPOLLET watches. Same pipes, same writes, time per round. With
 * 100 active pipes (as workload 1) each epoll_wait returns about 100 events; with 1 (libevent
 * bench.c's default, -a 1) each returns one, so native pays a system call per event that the
 * ring does not.
 */
static void bench_libevent_ring(const char *name, long npipes, int active, int writes, int rounds)
{
	static double s[NIMPL][64];
	int *rd = malloc(npipes * sizeof(int)), *wr = malloc(npipes * sizeof(int));
	int r = 0;

	raise_nofile(2 * npipes + 16);
	for (long i = 0; i < npipes; i++) {
		int p[2];

		if (pipe2(p, O_NONBLOCK))
			die("pipe");
		rd[i] = p[0];
		wr[i] = p[1];
	}
	for (; r < reps; r++) {
		for (int impl = DEVICE; impl <= NATIVE; impl++) {
			bool nat = impl == NATIVE;
			struct ringw w = { 0 };
			double total = 0;

			if (nat) {
				w.epfd = ep_create(true);
				w.ev = calloc(1024, sizeof(*w.ev));
			} else {
				ringw_init(&w, 4096, 1024);
			}
			for (long i = 0; i < npipes; i++)
				if (ep_ctl(nat, w.epfd, EPOLL_CTL_ADD, rd[i], EPOLLIN | EPOLLET, i))
					die("ctl add");
			for (int round = 0; round < rounds; round++) {
				int written = 0, pending = 0;
				long space = npipes / active;
				double t0 = now_ns();

				for (int i = 0; i < active; i++, written++, pending++)
					if (write(wr[i * space], "e", 1) != 1)
						die("write");
				while (pending > 0) {
					int n = nat ? epoll_wait(w.epfd, w.ev, 1024, -1) : ringw_next(&w, 1024, 0);
					char c;

					for (int j = 0; j < n; j++) {
						long idx = w.ev[j].data.u64;

						if (read(rd[idx], &c, 1) != 1)
							continue;
						pending--;
						if (written < writes) {
							long next = (idx + 1) % npipes;

							if (write(wr[next], "e", 1) != 1)
								die("write");
							written++;
							pending++;
						}
					}
				}
				total += now_ns() - t0;
			}
			s[impl][r] = total / rounds / 1e3;
			if (nat) {
				close(w.epfd);
				free(w.ev);
			} else {
				ringw_fini(&w);
			}
		}
	}
	report(name, npipes, "us/round", s, r, false);
	for (long i = 0; i < npipes; i++) {
		close(rd[i]);
		close(wr[i]);
	}
	free(rd);
	free(wr);
}

/*
 * 2b. Ping-pong again, each side spinning briefly before it sleeps: rust-epoll on its ring
 * (no system call while it spins), native epoll with epoll_wait(timeout 0) for the same time.
 */
#define RING_SPIN_NS 50000.0

struct ring_pingpong {
	bool native;
	int in, out;
	int iters;
};

static int spin_wait(bool native, struct ringw *w)
{
	double t0 = now_ns();
	int n;

	if (!native)
		return ringw_next(w, 1, RING_SPIN_NS);
	while ((n = epoll_wait(w->epfd, w->ev, 1, 0)) == 0 && now_ns() - t0 < RING_SPIN_NS)
		;
	return n ? n : epoll_wait(w->epfd, w->ev, 1, -1);
}

static void ring_pp_init(struct ringw *w, bool native, int fd)
{
	if (native) {
		w->epfd = ep_create(true);
		w->ev = calloc(1, sizeof(*w->ev));
	} else {
		ringw_init(&w[0], 16, 1);
	}
	if (ep_ctl(native, w->epfd, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLET, 0))
		die("ctl add");
}

static void ring_pp_fini(struct ringw *w, bool native)
{
	if (native) {
		close(w->epfd);
		free(w->ev);
	} else {
		ringw_fini(w);
	}
}

static void *ring_pong(void *arg)
{
	struct ring_pingpong *p = arg;
	struct ringw w = { 0 };
	uint64_t v;

	ring_pp_init(&w, p->native, p->in);
	for (int i = 0; i < p->iters; i++) {
		while (spin_wait(p->native, &w) < 1)
			;
		if (read(p->in, &v, 8) != 8 || write(p->out, &v, 8) != 8)
			die("pong");
	}
	ring_pp_fini(&w, p->native);
	return NULL;
}

static void bench_latency_ring(int iters)
{
	static double p50[NIMPL][64], p99[NIMPL][64];
	double *lat = malloc(iters * sizeof(double));
	int r = 0;

	for (; r < (reps < 3 ? reps : 3); r++) {
		for (int impl = DEVICE; impl <= NATIVE; impl++) {
			int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);
			struct ring_pingpong pp = { impl == NATIVE, a, b, iters };
			struct ringw w = { 0 };
			pthread_t t;
			uint64_t v = 1;

			ring_pp_init(&w, pp.native, b);
			pthread_create(&t, NULL, ring_pong, &pp);
			for (int i = 0; i < iters; i++) {
				double t0 = now_ns();

				if (write(a, &v, 8) != 8)
					die("ping");
				while (spin_wait(pp.native, &w) < 1)
					;
				if (read(b, &v, 8) != 8)
					die("ping read");
				lat[i] = (now_ns() - t0) / 1e3;
			}
			pthread_join(t, NULL);
			ring_pp_fini(&w, pp.native);
			p50[impl][r] = percentile(lat, iters, 0.50);
			p99[impl][r] = percentile(lat, iters, 0.99);
			close(a);
			close(b);
		}
	}
	report("wakeup_latency_ring_spin_p50", iters, "us/roundtrip", p50, r, false);
	report("wakeup_latency_ring_spin_p99", iters, "us/roundtrip", p99, r, false);
	free(lat);
}

/* 3. Ctl throughput: ADD then DEL of N fds, one per call. Nanoseconds per operation. */
static void bench_ctl(long n)
{
	static double add[NIMPL][64], del[NIMPL][64];
	int *fds = make_eventfds(n, 0, false), r = 0;
	for (; r < reps; r++) {
		for (int impl = DEVICE; impl <= NATIVE; impl++) {
			bool nat = impl == NATIVE;
			int ep = ep_create(nat);
			double t0 = now_ns();

			for (long i = 0; i < n; i++)
				if (ep_ctl(nat, ep, EPOLL_CTL_ADD, fds[i], EPOLLIN, i))
					die("add");
			add[impl][r] = (now_ns() - t0) / n;
			t0 = now_ns();
			for (long i = 0; i < n; i++)
				if (ep_ctl(nat, ep, EPOLL_CTL_DEL, fds[i], 0, 0))
					die("del");
			del[impl][r] = (now_ns() - t0) / n;
			close(ep);
		}
	}
	report("ctl_add", n, "ns/op", add, r, false);
	report("ctl_del", n, "ns/op", del, r, false);
	close_fds(fds, n);
}

/*
 * 3c. An instance opened and closed: open("/dev/rust_epoll") or epoll_create1(), then
 * close(), per round (with the default /sys/kernel/debug/rust_epoll/views, off).
 */
static void bench_create_close(long n)
{
	static double s[NIMPL][64];
	int r = 0;

	for (; r < reps; r++) {
		for (int impl = DEVICE; impl <= NATIVE; impl++) {
			double t0 = now_ns();

			for (long i = 0; i < n; i++) {
				int ep = ep_create(impl == NATIVE);

				if (ep < 0)
					die("create");
				close(ep);
			}
			s[impl][r] = (now_ns() - t0) / n;
		}
	}
	report("create_close", n, "ns/op", s, r, false);
}

/*
 * 3b. Batched ctl: ADD then DEL of N fds in batches of `bsz` (RUST_EPOLL_CTL_BATCH), per
 * operation, against native epoll's one-per-call ctl.
 */
static void bench_ctl_batch(long n, int bsz)
{
	static double s[NIMPL][64];
	int *fds = make_eventfds(n, 0, false), r = 0;
	struct rust_epoll_ctl *ops = calloc(n, sizeof(*ops));
	char name[32];
	for (; r < reps; r++) {
		int ep = ep_create(false), nat = ep_create(true);
		struct rust_epoll_ctl_batch b;
		double t0 = now_ns();

		for (int op = EPOLL_CTL_ADD; op <= EPOLL_CTL_DEL; op++) {
			for (long i = 0; i < n; i++)
				ops[i] = (struct rust_epoll_ctl){ .op = op, .fd = fds[i], .events = EPOLLIN, .data = i };
			for (long i = 0; i < n; i += bsz) {
				memset(&b, 0, sizeof(b));
				b.ops = (uintptr_t)&ops[i];
				b.nr_ops = n - i < bsz ? n - i : bsz;
				if (ioctl(ep, RUST_EPOLL_CTL_BATCH, &b) || b.error)
					die("batch");
			}
		}
		s[DEVICE][r] = (now_ns() - t0) / (2 * n);
		t0 = now_ns();
		for (int op = EPOLL_CTL_ADD; op <= EPOLL_CTL_DEL; op++)
			for (long i = 0; i < n; i++)
				if (ep_ctl(true, nat, op, fds[i], EPOLLIN, i))
					die("native ctl");
		s[NATIVE][r] = (now_ns() - t0) / (2 * n);
		close(ep);
		close(nat);
	}
	snprintf(name, sizeof(name), "ctl_batch_%d", bsz);
	report(name, n, "ns/op", s, r, false);
	close_fds(fds, n);
	free(ops);
}

/* 4. Scaling: one ready fd among N watched; time per WAIT (timeout 0), in nanoseconds. */
static void bench_scaling(long n, int iters)
{
	static double s[NIMPL][64];
	int *fds = make_eventfds(n, EFD_NONBLOCK, false), r = 0;
	uint64_t one = 1;

	if (write(fds[n / 2], &one, 8) != 8)
		die("write");
	for (; r < reps; r++) {
		for (int impl = 0; impl < NIMPL; impl++) {
			struct waiter w;
			int it = impl == POLL && n >= 10000 ? iters / 100 + 1 : iters;
			double t0;

			waiter_init(&w, impl, fds, n, 8);
			t0 = now_ns();
			for (int i = 0; i < it; i++)
				if (waiter_wait(&w, 8, 0) != 1)
					die("scaling wait");
			s[impl][r] = (now_ns() - t0) / it;
			waiter_fini(&w);
		}
	}
	report("scaling_wait_1_ready", n, "ns/wait", s, r, true);
	close_fds(fds, n);
}

/* 5. Memory: slab growth for N watches, from /proc/meminfo. Bytes per watch. */
static long slab_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static void bench_memory(long n)
{
	static double s[NIMPL][64];
	int *fds = make_eventfds(n, 0, false), r = 0;
	for (; r < (reps < 3 ? reps : 3); r++) {
		for (int impl = DEVICE; impl <= NATIVE; impl++) {
			bool nat = impl == NATIVE;
			int ep = ep_create(nat);
			long before = slab_kb();

			for (long i = 0; i < n; i++)
				if (ep_ctl(nat, ep, EPOLL_CTL_ADD, fds[i], EPOLLIN, i))
					die("add");
			s[impl][r] = (slab_kb() - before) * 1024.0 / n;
			close(ep);
			usleep(100 * 1000);
		}
	}
	report("memory_per_watch", n, "bytes/watch", s, r, false);
	close_fds(fds, n);
}

/* 6. Concurrency: two threads WAIT on one instance over N always-ready fds. Events/s. */
struct conc {
	enum impl impl;
	int epfd;
	double end;
	long events;
};

static void *conc_wait(void *arg)
{
	struct conc *c = arg;
	struct epoll_event ev[64];

	while (now_ns() < c->end) {
		int n = ep_wait(c->impl == NATIVE, c->epfd, ev, 64, 0);

		if (n > 0)
			__atomic_add_fetch(&c->events, n, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void bench_concurrency(long n, double seconds)
{
	static double s[NIMPL][64];
	int *fds = make_eventfds(n, EFD_NONBLOCK, true), r = 0;
	for (; r < reps; r++) {
		for (int impl = DEVICE; impl <= NATIVE; impl++) {
			struct waiter w;
			struct conc c;
			pthread_t t[2];

			waiter_init(&w, impl, fds, n, 1);
			c = (struct conc){ impl, w.epfd, now_ns() + seconds * 1e9, 0 };
			for (int i = 0; i < 2; i++)
				pthread_create(&t[i], NULL, conc_wait, &c);
			for (int i = 0; i < 2; i++)
				pthread_join(t[i], NULL);
			/* Reported as time per event, so that lower is better like the rest. */
			s[impl][r] = seconds * 1e9 / (c.events ? c.events : 1);
			waiter_fini(&w);
		}
	}
	report("two_waiters_1000_ready", n, "ns/event", s, r, false);
	close_fds(fds, n);
}

/*
 * 6b. Two CPUs, nothing shared: two threads, each with its own instance and its own 64
 * eventfds, each doing ADD, a write, WAIT (timeout 0), a read and DEL of one fd after another
 * for `seconds`. Reported as time per cycle of the two together (lower is better): a global
 * lock or a shared cache line on the ctl or wait path shows here and nowhere else.
 */
#define DISJOINT_FDS 64

struct disjoint {
	enum impl impl;
	int ep, *fds;
	double end;
	long cycles;
};

static void *disjoint_run(void *arg)
{
	struct disjoint *d = arg;
	bool native = d->impl == NATIVE;
	int *fds = d->fds, ep = d->ep;
	struct epoll_event ev;
	uint64_t v = 1;
	long c = 0;

	while (now_ns() < d->end) {
		for (int i = 0; i < DISJOINT_FDS; i++, c++) {
			if (ep_ctl(native, ep, EPOLL_CTL_ADD, fds[i], EPOLLIN, i) ||
			    write(fds[i], &v, 8) != 8 || ep_wait(native, ep, &ev, 1, 0) != 1 ||
			    read(fds[i], &v, 8) != 8 || ep_ctl(native, ep, EPOLL_CTL_DEL, fds[i], 0, 0))
				die("disjoint cycle");
		}
	}
	d->cycles = c;
	return NULL;
}

static void bench_two_cpus(double seconds)
{
	static double s[NIMPL][64];
	int *fds = make_eventfds(2 * DISJOINT_FDS, EFD_NONBLOCK, false), r = 0;

	for (; r < reps; r++) {
		for (int impl = DEVICE; impl <= NATIVE; impl++) {
			struct disjoint d[2];
			pthread_t t[2];
			double end = now_ns() + seconds * 1e9;

			for (int i = 0; i < 2; i++) {
				d[i] = (struct disjoint){ impl, ep_create(impl == NATIVE),
							  fds + i * DISJOINT_FDS, end, 0 };
				if (d[i].ep < 0)
					die("create");
				pthread_create(&t[i], NULL, disjoint_run, &d[i]);
			}
			for (int i = 0; i < 2; i++) {
				pthread_join(t[i], NULL);
				close(d[i].ep);
			}
			s[impl][r] = seconds * 1e9 / (d[0].cycles + d[1].cycles ? d[0].cycles + d[1].cycles : 1);
		}
	}
	report("two_cpus_disjoint_add_wait_del", 2 * DISJOINT_FDS, "ns/cycle", s, r, false);
	close_fds(fds, 2 * DISJOINT_FDS);
}

/*
 * 7. Wake-ups per event under a steady stream: a producer thread writes one byte every
 * `gap_us` (sleeping to the next time; late, it resumes the pace without a burst) to 64 pipes
 * in turn; the consumer WAITs
 * (level-triggered, 64 records) and reads what each record names. Reported: WAIT returns per
 * 1,000 events delivered. Device with RUST_EPOLL_WAIT (and native epoll) against the device with
 * RUST_EPOLL_WAIT_MIN at 16 events or 1 ms: the first row compares the device's plain WAIT with
 * native's, the second the min-wait with native's plain WAIT (its ratio is the fall).
 */
#define STREAM_PIPES 64
#define STREAM_MIN_EVENTS 16
#define STREAM_MIN_WAIT_US 1000

struct stream {
	int *wr;
	long events;
	double gap_ns;
};

static void *stream_produce(void *arg)
{
	struct stream *st = arg;
	double next = now_ns();

	for (long i = 0; i < st->events; i++) {
		struct timespec ts = { (time_t)(next / 1e9), (long)fmod(next, 1e9) };
		double now;

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (write(st->wr[i % STREAM_PIPES], "e", 1) != 1)
			die("write");
		/* Steady: after a late wake-up (the VM's vCPU preempted), no burst to catch up. */
		now = now_ns();
		next = (next + st->gap_ns < now ? now : next) + st->gap_ns;
	}
	return NULL;
}

/* One run: WAIT returns per event; `min` uses RUST_EPOLL_WAIT_MIN on the device. */
static double stream_run(bool native, bool min, int *rd, int *wr, long events, double gap_us)
{
	struct epoll_event ev[64];
	struct stream st = { wr, events, gap_us * 1000 };
	long got = 0, wakeups = 0;
	pthread_t t;
	int ep = ep_create(native);
	double t0 = now_ns();

	if (ep < 0)
		die("create");
	for (int i = 0; i < STREAM_PIPES; i++)
		if (ep_ctl(native, ep, EPOLL_CTL_ADD, rd[i], EPOLLIN, i))
			die("ctl add");
	pthread_create(&t, NULL, stream_produce, &st);
	while (got < events) {
		int n;

		if (min) {
			struct rust_epoll_wait_min w = {
				.wait = { .events = (uintptr_t)ev, .maxevents = 64, .timeout = 1000 },
				.min_events = STREAM_MIN_EVENTS, .min_wait_us = STREAM_MIN_WAIT_US,
			};

			n = ioctl(ep, RUST_EPOLL_WAIT_MIN, &w);
		} else {
			n = ep_wait(native, ep, ev, 64, 1000);
		}
		if (n < 0)
			die("wait");
		if (n == 0)
			break;	/* the producer stalled for a second: give up on this run */
		wakeups++;
		for (int j = 0; j < n; j++) {
			char buf[64];
			ssize_t r = read(rd[ev[j].data.u64], buf, sizeof(buf));

			got += r > 0 ? r : 0;
		}
	}
	pthread_join(t, NULL);
	close(ep);
	if (!quick)
		printf("# stream: %s%s, %ld events at %.0f/s, %ld WAITs\n", native ? "native" : "device",
		       min ? " min-wait" : "", got, got / ((now_ns() - t0) / 1e9), wakeups);
	return got ? 1000.0 * wakeups / got : 0;
}

static void bench_stream(long events, double gap_us)
{
	static double plain[NIMPL][64], min[NIMPL][64];
	int rd[STREAM_PIPES], wr[STREAM_PIPES], r = 0;

	for (int i = 0; i < STREAM_PIPES; i++) {
		int p[2];

		if (pipe2(p, O_NONBLOCK))
			die("pipe");
		rd[i] = p[0];
		wr[i] = p[1];
	}
	for (; r < reps; r++) {
		plain[DEVICE][r] = stream_run(false, false, rd, wr, events, gap_us);
		plain[NATIVE][r] = min[NATIVE][r] = stream_run(true, false, rd, wr, events, gap_us);
		min[DEVICE][r] = stream_run(false, true, rd, wr, events, gap_us);
	}
	report("stream_waits_per_1000_events", events, "WAITs/1000 ev", plain, r, false);
	report("stream_waits_per_1000_events_min16_1ms", events, "WAITs/1000 ev", min, r, false);
	for (int i = 0; i < STREAM_PIPES; i++) {
		close(rd[i]);
		close(wr[i]);
	}
}

static bool want(int argc, char **argv, const char *name)
{
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
#ifdef SMOKE
	(void)argc;
	(void)argv;
	quick = true;
	printf("TAP version 13\n1..1\n");
#else
	quick = argc > 1 && !strcmp(argv[1], "--quick");
#endif
	if (quick)
		reps = 1;
	if (quick) {
		bench_libevent(100, 10, 100, 2);
		bench_libevent_ring("libevent_ring_et", 100, 10, 100, 2);
		bench_libevent_ring("libevent_ring_et_1_active", 100, 1, 100, 2);
		bench_latency(100);
		bench_latency_ring(100);
		bench_ctl(100);
		bench_create_close(100);
		bench_ctl_batch(100, 16);
		bench_scaling(100, 100);
		bench_memory(1000);
		bench_concurrency(100, 0.05);
		bench_two_cpus(0.05);
		bench_stream(200, 50);
		printf("ok 1 bench_smoke: every workload ran on the device, native epoll and poll\n");
		return 0;
	}
	/* `--only WORKLOAD...`: just those (libevent, ring, latency, ring_latency, ctl, create, batch,
	 * scaling, memory, concurrency, two_cpus, stream), for quick measurements while working on one path. */
#define RUN(name) (argc < 3 || strcmp(argv[1], "--only") || want(argc, argv, name))
	if (RUN("libevent")) {
		bench_libevent(1000, 100, 1000, 20);
		bench_libevent(10000, 100, 1000, 20);
		bench_libevent(100000, 100, 1000, 5);
	}
	if (RUN("ring")) {
		bench_libevent_ring("libevent_ring_et", 10000, 100, 1000, 20);
		bench_libevent_ring("libevent_ring_et", 100000, 100, 1000, 5);
		bench_libevent_ring("libevent_ring_et_1_active", 10000, 1, 1000, 20);
		bench_libevent_ring("libevent_ring_et_1_active", 100000, 1, 1000, 5);
	}
	if (RUN("latency"))
		bench_latency(100000);
	if (RUN("ring_latency"))
		bench_latency_ring(100000);
	if (RUN("ctl"))
		bench_ctl(10000);
	if (RUN("create"))
		bench_create_close(10000);
	if (RUN("batch")) {
		bench_ctl_batch(10000, 1);
		bench_ctl_batch(10000, 16);
		bench_ctl_batch(10000, 256);
	}
	if (RUN("scaling"))
		for (long n = 10; n <= 100000; n *= 10)
			bench_scaling(n, 20000);
	if (RUN("memory"))
		bench_memory(100000);
	if (RUN("concurrency"))
		bench_concurrency(1000, 1.0);
	if (RUN("two_cpus"))
		bench_two_cpus(1.0);
	if (RUN("stream"))
		bench_stream(5000, 100);
	return 0;
}
