// SPDX-License-Identifier: GPL-2.0
/*
 * Closing a watched file (epoll(7) Q6), on /dev/rust_epoll ("device") and native epoll
 * ("native") with the same assertions: closing the last descriptor of a file removes its
 * watches, at once and visibly (no event, no fdinfo line, the peer sees EOF); a dup keeps
 * the file, and so the watch, alive. Races between close, wait, ctl and writers run in loops,
 * with the kernel's own checks (vm-run's dmesg check, KASAN and lockdep in the debug kernel)
 * watching for what userspace cannot see.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "ep.h"

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

#define CTL(op, fd, ev, data) ep_ctl(variant->native, self->epfd, op, fd, ev, data)
#define WAIT(evs, max, to) ep_wait(variant->native, self->epfd, evs, max, to)
#define ADD(fd, ev, data) CTL(EPOLL_CTL_ADD, fd, ev, data)

/* Writers into pipes whose reader is closed get EPIPE, not a fatal SIGPIPE. */
static void __attribute__((constructor)) ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static void put(int fd)
{
	if (write(fd, "x", 1) != 1)
		abort();
}

/* A ready watch whose only descriptor is closed is gone: no event, no fdinfo line. */
TEST_F(ep, close_removes_ready_watch)
{
	struct epoll_event ev[2];

	for (int round = 0; round < 100; round++) {
		int p[2];

		ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
		put(p[1]);
		ASSERT_EQ(0, ADD(p[0], EPOLLIN, 1));
		if (round & 1)	/* reported once: level-triggered, so back on the ready list */
			ASSERT_EQ(1, WAIT(ev, 2, 0));
		ASSERT_EQ(1, fdinfo_count(self->epfd));
		close(p[0]);
		EXPECT_EQ(0, WAIT(ev, 2, 0));
		EXPECT_EQ(0, fdinfo_count(self->epfd));
		close(p[1]);
	}
}

/*
 * A new file at the closed one's fd number (often at its address too, as files are reused
 * from their slab) is a new watch: ADD succeeds, DEL of the old one is ENOENT.
 */
TEST_F(ep, fd_reused_after_close_is_new)
{
	struct epoll_event ev;

	for (int round = 0; round < 1000; round++) {
		int efd = eventfd(1, EFD_NONBLOCK);

		ASSERT_GE(efd, 0);
		ASSERT_EQ(0, ADD(efd, EPOLLIN, round)) TH_LOG("round %d: %s", round, strerror(errno));
		ASSERT_EQ(1, WAIT(&ev, 1, 0));
		ASSERT_EQ(round, ev.data.u64);
		close(efd);
	}
	EXPECT_EQ(0, fdinfo_count(self->epfd));
}

/* The watch follows the open file description: it lives until the last dup is closed. */
TEST_F(ep, dup_keeps_watch_until_last_close)
{
	struct epoll_event ev;
	int p[2], d;

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	ASSERT_EQ(0, ADD(p[0], EPOLLIN, 7));
	d = dup(p[0]);
	ASSERT_GE(d, 0);
	close(p[0]);
	put(p[1]);
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(7, ev.data.u64);
	EXPECT_EQ(1, fdinfo_count(self->epfd));
	/* It is keyed by the closed fd: the dup names another (non-existent) watch. */
	EXPECT_EQ(-1, CTL(EPOLL_CTL_DEL, d, 0, 0));
	EXPECT_EQ(ENOENT, errno);
	close(d);
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	EXPECT_EQ(0, fdinfo_count(self->epfd));
	close(p[1]);
}

/* fork: the child's copies keep the file open; the watch goes with the last of them. */
TEST_F(ep, fork_keeps_watch_until_child_closes)
{
	struct epoll_event ev;
	int p[2], go[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, ADD(p[0], EPOLLIN, 3));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		close(go[1]);
		_exit(read(go[0], &c, 1) == 0 ? 0 : 1);	/* holds p[0] until told */
	}
	close(go[0]);
	close(p[0]);
	put(p[1]);
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(3, ev.data.u64);
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	EXPECT_EQ(0, fdinfo_count(self->epfd));
	close(p[1]);
}

/*
 * The peer sees the close at once: a watched pipe writer gives EOF, a watched socket sends
 * its FIN (a module that kept a reference on the file would delay both until DEL).
 */
TEST_F(ep, peer_sees_close_at_once)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int p[2], sv[2], lfd, cfd, sfd;
	struct pollfd pfd;
	char c;

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	ASSERT_EQ(0, ADD(p[1], EPOLLOUT, 1));
	close(p[1]);
	EXPECT_EQ(0, read(p[0], &c, 1)) TH_LOG("pipe: no EOF (%s)", strerror(errno));
	close(p[0]);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	ASSERT_EQ(0, ADD(sv[0], EPOLLIN | EPOLLRDHUP, 2));
	close(sv[0]);
	EXPECT_EQ(0, read(sv[1], &c, 1)) TH_LOG("socketpair: no EOF (%s)", strerror(errno));
	close(sv[1]);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(lfd, 0);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&addr, sizeof(addr)));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&addr, &len));
	ASSERT_EQ(0, listen(lfd, 1));
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(cfd, 0);
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&addr, sizeof(addr)));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_GE(sfd, 0);
	ASSERT_EQ(0, ADD(cfd, EPOLLIN | EPOLLOUT, 3));
	close(cfd);
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	EXPECT_EQ(1, poll(&pfd, 1, 1000)) TH_LOG("TCP: no FIN within 1 s");
	EXPECT_EQ(0, read(sfd, &c, 1));
	close(sfd);
	close(lfd);
	EXPECT_EQ(0, fdinfo_count(self->epfd));
}

/*
 * A signalfd watched then closed; and one whose queue is torn down with POLLFREE (its owner
 * exits while the instance, inherited, outlives it).
 */
TEST_F(ep, signalfd_closed_and_pollfree)
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
	close(sfd);
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	EXPECT_EQ(0, WAIT(&ev, 1, 0));
	EXPECT_EQ(0, fdinfo_count(self->epfd));
	ASSERT_EQ(SIGUSR2, sigtimedwait(&set, NULL, &(struct timespec){ 0 }));

	/*
	 * A signalfd polls the poller's own signal queue: added by a child, the watch hangs on
	 * the child's queue, which the child's exit frees with POLLFREE while the file (ours)
	 * stays open. Then the file is closed.
	 */
	for (int round = 0; round < 50; round++) {
		int status;
		pid_t pid;

		sfd = signalfd(-1, &set, SFD_NONBLOCK);
		ASSERT_GE(sfd, 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			if (ep_ctl(variant->native, self->epfd, EPOLL_CTL_ADD, sfd, EPOLLIN, 9))
				_exit(1);
			kill(getpid(), SIGUSR2);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_EQ(0, status);
		/* Whatever the child's signal made ready is reported at most once more. */
		while (WAIT(&ev, 1, 0) == 1)
			EXPECT_EQ(9, ev.data.u64);
		EXPECT_EQ(1, fdinfo_count(self->epfd));
		close(sfd);
		EXPECT_EQ(0, WAIT(&ev, 1, 0));
		EXPECT_EQ(0, fdinfo_count(self->epfd));
	}
}

/* A watched instance closed: its watch goes; nesting chains can be rebuilt at once. */
TEST_F(ep, closing_a_watched_instance)
{
	struct epoll_event ev;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	put(p[1]);
	for (int round = 0; round < 200; round++) {
		int c[4];

		/* epfd -> c[0] -> c[1] -> c[2] -> c[3] -> pipe: depth 4, the most epoll allows. */
		for (int i = 0; i < 4; i++) {
			c[i] = ep_create(variant->native);
			ASSERT_GE(c[i], 0);
		}
		ASSERT_EQ(0, ep_ctl(variant->native, c[3], EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
		for (int i = 2; i >= 0; i--) {
			int err = ep_ctl(variant->native, c[i], EPOLL_CTL_ADD, c[i + 1], EPOLLIN, 0);

			ASSERT_EQ(0, err) TH_LOG("round %d, level %d: %s", round, i, strerror(errno));
		}
		ASSERT_EQ(0, ADD(c[0], EPOLLIN, round)) TH_LOG("round %d: %s", round, strerror(errno));
		ASSERT_EQ(1, WAIT(&ev, 1, 0));
		EXPECT_EQ(round, ev.data.u64);
		/* Close from the top or from the bottom. */
		for (int i = 0; i < 4; i++)
			close(c[round & 1 ? i : 3 - i]);
		EXPECT_EQ(0, WAIT(&ev, 1, 0));
		EXPECT_EQ(0, fdinfo_count(self->epfd));
	}
	close(p[0]);
	close(p[1]);
}

/*
 * Open-watch-close, 10,000 times (or as many as 60 s allow, at least 1,000), while a writer
 * thread writes into (and closes) the write ends: wake-ups race with the release of the read
 * ends and of the write ends themselves. Every record names the current round's pipe;
 * nothing is left watched at the end.
 */
struct churn {
	int slot;	/* a write end handed to the writer, or -1 */
	int closed;	/* how many write ends the writer has closed */
	bool stop;
};

static void *churn_writer(void *arg)
{
	struct churn *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		int w = __atomic_exchange_n(&c->slot, -1, __ATOMIC_ACQ_REL);

		if (w < 0)
			continue;
		for (int i = 0; i < 3; i++)
			(void)!write(w, "x", 1);
		close(w);
		__atomic_add_fetch(&c->closed, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

TEST_F_TIMEOUT(ep, open_watch_close_10000_with_writer, 120)
{
	struct churn c = { .slot = -1 };
	struct epoll_event ev[4];
	pthread_t t;
	int bad = 0;

	ASSERT_EQ(0, pthread_create(&t, NULL, churn_writer, &c));
	/*
	 * Two threads spin against each other here: on the debug kernel under TCG 10,000 rounds
	 * took more than the 120 s guard on both sides on a slow day, so after the first 1,000
	 * the rounds stop at 60 s.
	 */
	int64_t end = now_ms() + 60 * 1000;
	int round;

	for (round = 0; round < 10000 && (round < 1000 || now_ms() < end); round++) {
		int p[2], n;

		ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
		ASSERT_EQ(0, ADD(p[0], EPOLLIN, round));
		ASSERT_EQ(0, ADD(p[1], EPOLLOUT | EPOLLET, round));
		__atomic_store_n(&c.slot, p[1], __ATOMIC_RELEASE);	/* the writer closes it */
		n = WAIT(ev, 4, 0);
		for (int i = 0; i < n; i++)
			bad += ev[i].data.u64 != (uint64_t)round;
		close(p[0]);
		n = WAIT(ev, 4, 0);	/* maybe the write end's EPOLLERR: no reader */
		for (int i = 0; i < n; i++)
			bad += ev[i].data.u64 != (uint64_t)round;
		while (__atomic_load_n(&c.closed, __ATOMIC_ACQUIRE) != round + 1)
			;
		/* Both ends are closed: nothing of this round is left. */
		n = WAIT(ev, 4, 0);
		if (n != 0 && bad++ < 5)
			TH_LOG("round %d: %d events after both ends were closed", round, n);
	}
	__atomic_store_n(&c.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	TH_LOG("%d rounds", round);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, WAIT(ev, 4, 0));
	EXPECT_EQ(0, fdinfo_count(self->epfd));
}

/*
 * Close in one thread while another WAITs and a third writes: for 2 seconds, 16 pipes are
 * closed and recreated (and re-added) while their writer and the waiter run. Records only
 * ever carry data of a pipe that existed.
 */
enum { RACE_PIPES = 16, RACE_MS = 2000 };

struct race {
	bool native;
	int epfd;
	int w[RACE_PIPES];	/* current write ends: owned by the closer, read racily */
	int64_t end;
	int bad;
	long events, cycles;
};

static void *race_wait(void *arg)
{
	struct race *r = arg;
	struct epoll_event ev[RACE_PIPES];

	while (now_ms() < r->end) {
		int n = ep_wait(r->native, r->epfd, ev, RACE_PIPES, 5);

		if (n < 0 && errno != EINTR)
			__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
		for (int i = 0; i < n; i++) {
			char buf[64];
			uint64_t d = ev[i].data.u64;

			if (d >> 32 >= RACE_PIPES)
				__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
			else	/* the low half is the read end's fd; it may be closed or reused */
				(void)!read((int)(uint32_t)d, buf, sizeof(buf));
		}
		__atomic_add_fetch(&r->events, n > 0 ? n : 0, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *race_write(void *arg)
{
	struct race *r = arg;
	unsigned int seed = 3;

	while (now_ms() < r->end) {
		int w = __atomic_load_n(&r->w[rand_r(&seed) % RACE_PIPES], __ATOMIC_RELAXED);

		/* May hit a closed or reused fd: at worst EBADF, or a byte into another pipe. */
		(void)!write(w, "x", 1);
	}
	return NULL;
}

TEST_F_TIMEOUT(ep, close_while_waiting_and_writing, 60)
{
	struct race r = { .native = variant->native, .epfd = self->epfd, .end = now_ms() + RACE_MS };
	int rd[RACE_PIPES];
	unsigned int seed = 4;
	pthread_t t[2];

	for (int i = 0; i < RACE_PIPES; i++) {
		int p[2];

		ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
		rd[i] = p[0];
		r.w[i] = p[1];
		ASSERT_EQ(0, ADD(p[0], EPOLLIN, (uint64_t)i << 32 | (uint32_t)p[0]));
	}
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_wait, &r));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_write, &r));
	while (now_ms() < r.end) {
		int i = rand_r(&seed) % RACE_PIPES, p[2];

		close(rd[i]);
		close(__atomic_load_n(&r.w[i], __ATOMIC_RELAXED));
		ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
		rd[i] = p[0];
		__atomic_store_n(&r.w[i], p[1], __ATOMIC_RELAXED);
		ASSERT_EQ(0, ADD(p[0], EPOLLIN, (uint64_t)i << 32 | (uint32_t)p[0]));
		r.cycles++;
	}
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	TH_LOG("%ld close/reopen cycles, %ld events", r.cycles, r.events);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(RACE_PIPES, fdinfo_count(self->epfd));
	for (int i = 0; i < RACE_PIPES; i++) {
		close(rd[i]);
		close(r.w[i]);
	}
	EXPECT_EQ(0, fdinfo_count(self->epfd));
}

/*
 * Closing the instance while another thread sleeps in WAIT on it: the sleeper's call holds
 * the instance, so it sleeps on to its timeout (as with epoll_wait), and nothing breaks.
 */
struct sleeper {
	bool native;
	int epfd;
	int n;
	int64_t ms;
	volatile bool started;
};

static void *sleeper(void *arg)
{
	struct sleeper *s = arg;
	struct epoll_event ev;
	int64_t start = now_ms();

	s->started = true;
	s->n = ep_wait(s->native, s->epfd, &ev, 1, 300);
	s->ms = now_ms() - start;
	return NULL;
}

TEST(close_instance_while_waiting)
{
	for (int native = 0; native < 2; native++) {
		for (int round = 0; round < 5; round++) {
			struct sleeper s = { .native = native, .epfd = ep_create(native) };
			int p[2];
			pthread_t t;

			ASSERT_GE(s.epfd, 0);
			ASSERT_EQ(0, pipe(p));
			ASSERT_EQ(0, ep_ctl(native, s.epfd, EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
			ASSERT_EQ(0, pthread_create(&t, NULL, sleeper, &s));
			/* Closed 50 ms after the sleeper is about to wait, however late it started. */
			while (!s.started)
				usleep(1000);
			usleep(50000);
			close(s.epfd);
			close(p[0]);	/* and the watched file */
			EXPECT_EQ(-1, write(p[1], "x", 1));	/* no reader left: EPIPE */
			pthread_join(t, NULL);
			EXPECT_EQ(0, s.n) TH_LOG("%s: %d", native ? "native" : "device", s.n);
			EXPECT_GE(s.ms, 250);
			EXPECT_LT(s.ms, 3000);
			close(p[1]);
		}
	}
}

/*
 * The instance's last close and its target's last close at the same moment, in two threads:
 * the instance's close takes its watch off the target's wait queue while the target's
 * release frees that queue (an eventfd frees it at once, with kfree). The watch must be off
 * the queue before the release may go on: native epoll unhooks before it unlinks the watch
 * from the file (`ep_remove`), so `eventpoll_release()` waits for it. The target's close
 * starts at a delay swept across the time the instance's close takes (measured first), so
 * that the two meet at every point of it. What goes wrong is seen by the kernel (KASAN's
 * use-after-free report in the debug kernel, vm-run's dmesg check): from userspace, each
 * close succeeds.
 */
struct closer {
	int fd;			/* the target to close once `go` is set */
	int64_t delay_ns;	/* after `go`, busy-wait this long first */
	int go, done, stop;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *closer(void *arg)
{
	struct closer *c = arg;

	for (;;) {
		while (!__atomic_load_n(&c->go, __ATOMIC_ACQUIRE))
			if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
				return NULL;
		int64_t until = mono_ns() + c->delay_ns;

		__atomic_store_n(&c->go, 0, __ATOMIC_RELAXED);
		while (mono_ns() < until)
			;
		if (close(c->fd))
			abort();
		__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	}
}

/* One round: a new instance watching a new eventfd; both closed, `delay_ns` apart. */
static int64_t close_both(bool native, struct closer *c, int64_t delay_ns, bool race)
{
	int ep = ep_create(native), e = eventfd(0, EFD_CLOEXEC);
	int64_t t;

	if (ep < 0 || e < 0 || ep_ctl(native, ep, EPOLL_CTL_ADD, e, EPOLLIN, 1))
		return -1;
	if (!race) {	/* calibration: the instance's close alone */
		t = mono_ns();
		close(ep);
		t = mono_ns() - t;
		close(e);
		return t;
	}
	c->fd = e;
	c->delay_ns = delay_ns;
	__atomic_store_n(&c->done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->go, 1, __ATOMIC_RELEASE);
	t = mono_ns();
	if (close(ep))
		return -1;
	t = mono_ns() - t;
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
		;
	return t;
}

TEST(close_instance_and_target_at_once)
{
	for (int native = 0; native < 2; native++) {
		struct closer c = { .fd = -1 };
		int64_t end, span = 0, t;
		int rounds = 0;
		pthread_t t1;

		/* How long the instance's close takes: the sweep's span. */
		for (int i = 0; i < 64; i++) {
			t = close_both(native, &c, 0, false);
			ASSERT_LE(0, t);
			span += t;
		}
		span /= 64;
		ASSERT_EQ(0, pthread_create(&t1, NULL, closer, &c));
		end = now_ms() + 1500;
		for (; rounds < 100000 && (rounds < 500 || now_ms() < end); rounds++) {
			t = close_both(native, &c, span * (rounds % 32) / 24, true);
			ASSERT_LE(0, t);
		}
		__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
		pthread_join(t1, NULL);
		TH_LOG("%s: %d rounds, the instance's close alone %lld ns", native ? "native" : "device",
		       rounds, (long long)span);
	}
}

/* Sends `fd` over the unix socket `sock`. */
static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "f", .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * An instance passed over SCM_RIGHTS is the same instance; a watched fd passed and closed
 * here stays watched while in flight; an instance left in flight on a closed socket is
 * released by the socket garbage collector.
 */
TEST_F(ep, scm_rights)
{
	struct epoll_event ev;
	int sv[2], p[2], got;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	ASSERT_EQ(0, ADD(p[0], EPOLLIN, 5));
	/* The watched read end in flight keeps the file, so the watch. */
	ASSERT_EQ(0, send_fd(sv[0], p[0]));
	close(p[0]);
	put(p[1]);
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(5, ev.data.u64);
	got = recv_fd(sv[1]);
	ASSERT_GE(got, 0);
	close(got);
	EXPECT_EQ(0, WAIT(&ev, 1, 0));

	/* The instance itself, passed and used through the received fd. */
	ASSERT_EQ(0, send_fd(sv[0], self->epfd));
	got = recv_fd(sv[1]);
	ASSERT_GE(got, 0);
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK));
	ASSERT_EQ(0, ep_ctl(variant->native, got, EPOLL_CTL_ADD, p[0], EPOLLIN, 6));
	put(p[1]);
	ASSERT_EQ(1, WAIT(&ev, 1, 0));
	EXPECT_EQ(6, ev.data.u64);
	close(got);

	/* An instance with watches, left in flight on sockets that are then closed. */
	for (int round = 0; round < 20; round++) {
		int s2[2], e = ep_create(variant->native);

		ASSERT_GE(e, 0);
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, s2));
		ASSERT_EQ(0, ep_ctl(variant->native, e, EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
		ASSERT_EQ(0, ep_ctl(variant->native, e, EPOLL_CTL_ADD, s2[0], EPOLLIN, 2));
		ASSERT_EQ(0, send_fd(s2[0], e));
		ASSERT_EQ(0, send_fd(s2[1], s2[0]));	/* a cycle only the collector frees */
		close(e);
		close(s2[0]);
		close(s2[1]);
	}
	put(p[1]);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A process exits with everything open: instances with watches, instances nested in
 * instances, watched sockets and pipes, a WAIT in another thread. The kernel tidies up.
 */
static void *forever(void *arg)
{
	struct epoll_event ev;
	int *e = arg;

	ep_wait(e[1], e[0], &ev, 1, -1);
	return NULL;
}

TEST(exit_with_everything_open)
{
	for (int round = 0; round < 20; round++) {
		int status;
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			bool native = round & 1;
			int a = ep_create(native), b = ep_create(false), p[2], sv[2], efd;
			static int arg[2];
			pthread_t t;

			if (a < 0 || b < 0 || pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
				_exit(1);
			efd = eventfd(0, 0);
			if (ep_ctl(native, a, EPOLL_CTL_ADD, p[0], EPOLLIN, 1) ||
			    ep_ctl(native, a, EPOLL_CTL_ADD, sv[0], EPOLLIN, 2) ||
			    ep_ctl(false, b, EPOLL_CTL_ADD, a, EPOLLIN, 3) ||
			    ep_ctl(false, b, EPOLL_CTL_ADD, efd, EPOLLIN, 4) ||
			    ep_ctl(false, b, EPOLL_CTL_ADD, p[1], EPOLLOUT, 5))
				_exit(2);
			arg[0] = b;
			arg[1] = 0;
			if (pthread_create(&t, NULL, forever, arg))
				_exit(3);
			usleep(10000);
			if (round & 2)
				_exit(0);
			exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, status) TH_LOG("round %d", round);
	}
}

TEST_HARNESS_MAIN
