/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust_epoll.h - userspace interface of /dev/rust_epoll.
 *
 * Each open() of /dev/rust_epoll is one private eventpoll: the epoll_create1() of the device.
 * The ioctls below are epoll_ctl() and epoll_wait() on it, with epoll's flags and errno values.
 * Events are returned in the layout of the architecture's `struct epoll_event` (packed on
 * x86-64), so an array of <sys/epoll.h>'s struct epoll_event can be passed as it is, and code
 * written for epoll ports unchanged. The ops and event bits are epoll's own (EPOLL_CTL_ADD,
 * EPOLLIN, ...): take them from <sys/epoll.h> or <linux/eventpoll.h>. This header includes
 * neither, since the two conflict with each other. All structs have explicit sizes and no implicit
 * padding; fields marked "must be 0" are refused with EINVAL when set, and give room to grow.
 */
#ifndef _UAPI_RUST_EPOLL_H
#define _UAPI_RUST_EPOLL_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define RUST_EPOLL_DEVICE "/dev/rust_epoll"

/* The ioctl magic: 0xE9 is unassigned in Documentation/userspace-api/ioctl/ioctl-number.rst. */
#define RUST_EPOLL_IOC_MAGIC 0xE9

#if defined(__x86_64__)
#define RUST_EPOLL_PACKED __attribute__((packed))
#else
#define RUST_EPOLL_PACKED
#endif

/* One returned event: the layout of struct epoll_event. */
struct rust_epoll_event {
	__u32 events;	/* the EPOLL* bits that are ready, filtered by the watch's events */
	__u64 data;	/* the watch's data, as given to RUST_EPOLL_CTL */
} RUST_EPOLL_PACKED;

/* RUST_EPOLL_CTL: epoll_ctl(epfd, op, fd, &{events, data}). Returns 0 or -1 with errno. */
struct rust_epoll_ctl {
	__u32 op;	/* EPOLL_CTL_ADD, EPOLL_CTL_MOD or EPOLL_CTL_DEL */
	__s32 fd;	/* the target file descriptor */
	__u32 events;	/* EPOLLIN, EPOLLOUT, ... as for epoll_ctl(); ignored for DEL */
	__u32 flags;	/* must be 0 */
	__u64 data;	/* returned unchanged with every event of this watch */
};

/*
 * RUST_EPOLL_WAIT: epoll_wait(epfd, events, maxevents, timeout).
 * Returns the number of records written to `events` (0 on timeout) or -1 with errno;
 * a signal gives EINTR and is never restarted, as epoll_wait() is not.
 */
struct rust_epoll_wait {
	__u64 events;		/* user pointer to struct rust_epoll_event[maxevents] */
	__s32 maxevents;	/* 1 .. INT_MAX / sizeof(struct rust_epoll_event) */
	__s32 timeout;		/* milliseconds: -1 forever, 0 poll, > 0 at least this long */
	__u64 sigmask;		/* epoll_pwait: user pointer to a sigset_t in force during the wait,
				 * or 0 for none */
	__u32 sigsetsize;	/* with sigmask: sizeof(sigset_t) as the kernel has it (8 on
				 * x86-64), else EINVAL; without: must be 0 */
	__u32 flags;		/* 0 or RUST_EPOLL_WAIT_NSEC */
	__s64 timeout_ns;	/* with RUST_EPOLL_WAIT_NSEC (epoll_pwait2): nanoseconds, < 0 forever;
				 * `timeout` must then be 0. Without it: must be 0. */
};

/* rust_epoll_wait.flags: the timeout is `timeout_ns` nanoseconds (epoll_pwait2), not `timeout`. */
#define RUST_EPOLL_WAIT_NSEC	(1U << 0)

/*
 * RUST_EPOLL_CTL_BATCH: up to RUST_EPOLL_BATCH_MAX epoll_ctl operations in one call, applied
 * in order (kqueue's changelist). Stops at the first that fails: `applied` says how many
 * succeeded (they stay applied) and `error` holds the failed one's -errno (0 if none failed).
 * With RUST_EPOLL_BATCH_WAIT and no failure, it then waits as RUST_EPOLL_WAIT with `wait`
 * and returns the number of events (kevent style); otherwise it returns 0.
 * Errors of the call itself (-1 with errno): EINVAL for nr_ops of 0 or above the maximum or
 * unknown flags, EFAULT if the struct cannot be read or written back; an unreadable `ops`
 * array is reported as EFAULT in `error` at the first unreadable operation.
 */
#define RUST_EPOLL_BATCH_MAX	1024
#define RUST_EPOLL_BATCH_WAIT	(1U << 0)

/*
 * RUST_EPOLL_BATCH_RECEIPT (kqueue's EV_RECEIPT): the batch does not stop at a failed
 * operation. Each operation in turn is attempted, and its result is written over its own
 * `flags` field, as a __s32: 0, or the -errno that RUST_EPOLL_CTL (epoll_ctl()) would give
 * for that operation alone at that point. `flags` must be 0 on input, as for RUST_EPOLL_CTL:
 * an operation whose `flags` is not 0 gets -EINVAL and is not applied.
 * On return `applied` is the number of operations attempted, each with its result in its
 * slot, and `error` is 0 whatever those results are: normally applied == nr_ops.
 * The batch stops early only if slot i cannot be read or written (each slot is written, with
 * 0, before its operation is attempted, so a read-only array is found before any operation
 * runs unrecorded): then applied == i and error == -EFAULT, and operation i and the ones after
 * it were not attempted. (Only another thread unmapping or write-protecting the array during
 * the call can make an attempted operation's result unwritable; that operation is then
 * counted in `applied`, and error == -EFAULT.)
 * With RUST_EPOLL_BATCH_WAIT the wait follows when `error` is 0, whatever the results.
 */
#define RUST_EPOLL_BATCH_RECEIPT	(1U << 1)

struct rust_epoll_ctl_batch {
	__u64 ops;		/* user pointer to struct rust_epoll_ctl[nr_ops] */
	__u32 nr_ops;		/* 1 .. RUST_EPOLL_BATCH_MAX */
	__u32 flags;		/* RUST_EPOLL_BATCH_WAIT, RUST_EPOLL_BATCH_RECEIPT, or 0 */
	__u32 applied;		/* out: operations applied */
	__s32 error;		/* out: -errno of ops[applied], or 0 */
	struct rust_epoll_wait wait;	/* with RUST_EPOLL_BATCH_WAIT: as for RUST_EPOLL_WAIT */
};

/*
 * RUST_EPOLL_WAIT_MIN: RUST_EPOLL_WAIT that harvests in batches ("at least min_events, or
 * min_wait_us, whichever first", the 2022 upstream min-wait proposal). `wait` is exactly
 * RUST_EPOLL_WAIT's argument, with its rules and errors. Until min_wait_us microseconds have
 * passed since the call began, the call returns only once at least `min_events` watches are
 * on the instance's ready list (counted once each, however many events they have); after
 * that, it behaves as RUST_EPOLL_WAIT: it returns what is ready at once, or waits for the
 * first event. So under a steady stream of events a waiter wakes once per min_events events
 * or once per min_wait_us, not once per event. Either way the records returned are the ready
 * watches polled again when reported, so there may be fewer than min_events of them (a watch
 * counted may be quiet again by then), and at most maxevents. The timeout always applies
 * (when it expires first, what is ready is returned, maybe fewer than min_events, maybe
 * none); a timeout of 0 returns at once as RUST_EPOLL_WAIT does; a signal ends the minimum
 * wait: what is ready is returned, or EINTR if nothing is. min_events of 1 or min_wait_us of
 * 0 is RUST_EPOLL_WAIT. EINVAL if min_events is 0 or above maxevents.
 * A new ioctl (a new number, since the struct is larger): RUST_EPOLL_WAIT and its 40-byte
 * struct are unchanged, as is the `wait` of RUST_EPOLL_CTL_BATCH, which has no minimum.
 */
struct rust_epoll_wait_min {
	struct rust_epoll_wait wait;	/* as for RUST_EPOLL_WAIT */
	__u32 min_events;	/* 1 .. wait.maxevents */
	__u32 min_wait_us;	/* microseconds from the start of the call; 0: none */
};

/*
 * Native epoll's busy-poll parameters (Linux 6.9, ioctl_eventpoll(2)), on the device with
 * native's own ioctl numbers, struct and rules: EPIOCSPARAMS (RUST_EPOLL_SPARAMS) refuses a
 * non-zero __pad, busy_poll_usecs above INT32_MAX and prefer_busy_poll above 1 with EINVAL,
 * and busy_poll_budget above NAPI_POLL_WEIGHT (64) without CAP_NET_ADMIN with EPERM;
 * EPIOCGPARAMS (RUST_EPOLL_GPARAMS) returns what was set, all 0 on a new instance. EFAULT for
 * an unreadable or unwritable struct. struct rust_epoll_params is <linux/eventpoll.h>'s
 * struct epoll_params.
 */
struct rust_epoll_params {
	__u32 busy_poll_usecs;
	__u16 busy_poll_budget;
	__u8 prefer_busy_poll;
	__u8 __pad;	/* must be 0 */
};

#define RUST_EPOLL_PARAMS_IOC_MAGIC	0x8A	/* EPOLL_IOC_TYPE */

/*
 * RUST_EPOLL_WAIT_REG(timeout): epoll_wait(epfd, events, maxevents, timeout) with its arguments
 * in registers, as the system call has them, rather than in a struct the kernel must read from
 * memory (for 64-bit programs; 32-bit ones use RUST_EPOLL_WAIT):
 *
 *	ioctl(epfd, RUST_EPOLL_WAIT_REG(timeout), RUST_EPOLL_WAIT_REG_ARG(events, maxevents))
 *
 * The timeout, in milliseconds, is part of the request number (its size field, which a
 * request without an argument struct does not otherwise use): -1 for none, 0 .. 16382
 * (RUST_EPOLL_WAIT_REG_MAX_MS); the argument packs the buffer's address (below 2^48) and
 * maxevents (1 .. 65535). Same rules, errors and results as RUST_EPOLL_WAIT; a request whose
 * arguments do not fit uses RUST_EPOLL_WAIT (rust_epoll_wait_reg() below chooses).
 */
#define RUST_EPOLL_WAIT_REG_NR		5
#define RUST_EPOLL_WAIT_REG_MAX_MS	16382
#define RUST_EPOLL_WAIT_REG(timeout)	_IOC(_IOC_NONE, RUST_EPOLL_IOC_MAGIC, RUST_EPOLL_WAIT_REG_NR, \
					     (timeout) < 0 ? 0 : (timeout) + 1)
#define RUST_EPOLL_WAIT_REG_ARG(events, maxevents) \
	((unsigned long)(events) | ((unsigned long)(maxevents) << 48))	/* LP64 only */

#define RUST_EPOLL_CTL	_IOW(RUST_EPOLL_IOC_MAGIC, 1, struct rust_epoll_ctl)
#define RUST_EPOLL_WAIT	_IOW(RUST_EPOLL_IOC_MAGIC, 2, struct rust_epoll_wait)
#define RUST_EPOLL_CTL_BATCH	_IOWR(RUST_EPOLL_IOC_MAGIC, 3, struct rust_epoll_ctl_batch)
#define RUST_EPOLL_WAIT_MIN	_IOW(RUST_EPOLL_IOC_MAGIC, 4, struct rust_epoll_wait_min)
#define RUST_EPOLL_SPARAMS	_IOW(RUST_EPOLL_PARAMS_IOC_MAGIC, 0x01, struct rust_epoll_params)
#define RUST_EPOLL_GPARAMS	_IOR(RUST_EPOLL_PARAMS_IOC_MAGIC, 0x02, struct rust_epoll_params)

/* Not on x32 (or arm64 ILP32): a 32-bit long cannot carry maxevents above bit 48. */
#if !defined(__KERNEL__) && (defined(__x86_64__) || defined(__aarch64__)) && !defined(__ILP32__)
#include <string.h>
#include <sys/ioctl.h>
/*
 * epoll_wait() on the device: RUST_EPOLL_WAIT_REG when the arguments fit, else RUST_EPOLL_WAIT.
 * Returns what ioctl() returns: the number of events, or -1 with errno.
 */
static inline int rust_epoll_wait_reg(int epfd, void *events, int maxevents, int timeout)
{
	unsigned long addr = (unsigned long)events;

	if (addr >> 48 == 0 && maxevents > 0 && maxevents <= 0xffff &&
	    timeout >= -1 && timeout <= RUST_EPOLL_WAIT_REG_MAX_MS)
		return ioctl(epfd, RUST_EPOLL_WAIT_REG(timeout),
			     RUST_EPOLL_WAIT_REG_ARG(addr, maxevents));
	struct rust_epoll_wait w;

	memset(&w, 0, sizeof(w));
	w.events = addr;
	w.maxevents = maxevents;
	w.timeout = timeout;
	return ioctl(epfd, RUST_EPOLL_WAIT, &w);
}
#endif

/*
 * RUST_EPOLL_RING_SETUP: gives the instance a shared ready ring of `entries` records (a power
 * of two, 1 .. RUST_EPOLL_RING_MAX_ENTRIES), once (EBUSY after); the instance's fd can then be
 * mapped: mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, epfd, 0). EINVAL for a bad
 * size or flags, ENOMEM, EFAULT; mmap gives ENODEV before setup, EINVAL for a private mapping,
 * an offset or a length past mmap_size.
 *
 * Watches in ring mode (EPOLLET, without EPOLLONESHOT or EPOLLWAKEUP) have their events
 * appended as records by the kernel, in the waker's context, instead of being reported by
 * RUST_EPOLL_WAIT; userspace consumes them with rust_epoll_ring_consume() below, without a
 * system call. A watch has at most one unconsumed record; a record whose watch was modified,
 * deleted or closed before it was consumed has events 0 (the helper skips it). Whatever does not
 * go to the ring (other watches, a full ring) is reported by RUST_EPOLL_WAIT as usual, and
 * `flags & RUST_EPOLL_RING_NEED_WAIT` says there is some. RUST_EPOLL_WAIT returns 0 at once
 * while the ring holds records, and sleeps only when both are empty. See README, "The ready
 * ring".
 */
struct rust_epoll_ring_setup {
	__u32 entries;		/* a power of two, 1 .. RUST_EPOLL_RING_MAX_ENTRIES */
	__u32 flags;		/* must be 0 */
	__u64 mmap_size;	/* out: the length to map */
};

#define RUST_EPOLL_RING_MAX_ENTRIES	(1U << 20)
/* rust_epoll_ring.flags: RUST_EPOLL_WAIT has events the ring does not (call it). */
#define RUST_EPOLL_RING_NEED_WAIT	(1U << 0)
/* Where the records start in the mapping: record i is records[i & (entries - 1)]. */
#define RUST_EPOLL_RING_RECORDS_OFF	256

/* The head of the mapping. Each word is written by one side only. */
struct rust_epoll_ring {
	__u32 head;		/* userspace: the records before it are consumed */
	__u32 __pad0[15];
	__u32 tail;		/* kernel: the records before it are complete */
	__u32 __pad1[15];
	__u32 flags;		/* kernel: RUST_EPOLL_RING_NEED_WAIT */
	__u32 overflow;		/* kernel: wake-ups that found the ring full (a wrapping count) */
	__u32 __pad2[14];
	__u32 entries;		/* kernel, at setup: the number of records */
	__u32 __pad3[15];
};

#define RUST_EPOLL_CTL	_IOW(RUST_EPOLL_IOC_MAGIC, 1, struct rust_epoll_ctl)
#define RUST_EPOLL_WAIT	_IOW(RUST_EPOLL_IOC_MAGIC, 2, struct rust_epoll_wait)
#define RUST_EPOLL_CTL_BATCH	_IOWR(RUST_EPOLL_IOC_MAGIC, 3, struct rust_epoll_ctl_batch)
#define RUST_EPOLL_RING_SETUP	_IOWR(RUST_EPOLL_IOC_MAGIC, 0x10, struct rust_epoll_ring_setup)

/* The ring's records. */
static inline struct rust_epoll_event *rust_epoll_ring_records(struct rust_epoll_ring *r)
{
	return (struct rust_epoll_event *)((char *)r + RUST_EPOLL_RING_RECORDS_OFF);
}

/* How many records wait in the ring (a snapshot; tombstones included). */
static inline __u32 rust_epoll_ring_count(const struct rust_epoll_ring *r)
{
	return __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
}

/* Whether RUST_EPOLL_WAIT has events that are not in the ring (overflow, other watches). */
static inline int rust_epoll_ring_need_wait(const struct rust_epoll_ring *r)
{
	return (__atomic_load_n(&r->flags, __ATOMIC_RELAXED) & RUST_EPOLL_RING_NEED_WAIT) != 0;
}

/*
 * Consumes up to `n` records into `out` and returns how many (0: the ring is empty). Safe for
 * several consumer threads at once. Tombstones (events 0) are consumed and not returned.
 *
 * The tail is read with acquire (the kernel stores it with release after the records), the
 * records copied, and the head moved past them with a compare-and-swap (another consumer that
 * got there first makes it fail, and the copies are dropped). Then a full fence, before the
 * caller acts on the records: a new event of a watch whose record is unconsumed is merged into
 * that record, so the kernel, which reads the head after the event, must see the head moved,
 * or the caller's read of the target after the fence must see the event (each side has a full
 * barrier between its store and its load).
 */
static inline unsigned int rust_epoll_ring_consume(struct rust_epoll_ring *r,
						   struct rust_epoll_event *out, unsigned int n)
{
	const struct rust_epoll_event *rec = rust_epoll_ring_records(r);
	__u32 mask = __atomic_load_n(&r->entries, __ATOMIC_RELAXED) - 1;
	__u32 head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);

	while (n) {
		__u32 tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		__u32 avail = tail - head, i;
		unsigned int k = 0;

		if (avail == 0)
			return 0;
		if (avail > n)
			avail = n;
		/* Plain copies: the kernel writes a slot again only after the head has passed it
		 * (then the exchange below fails), except to turn it into a tombstone. */
		for (i = 0; i < avail; i++) {
			__builtin_memcpy(&out[k], &rec[(head + i) & mask], sizeof(out[k]));
			if (out[k].events)
				k++;
		}
		if (__atomic_compare_exchange_n(&r->head, &head, head + avail, 0,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (k)
				return k;
			head += avail;	/* only tombstones: go on */
		}
		/* else `head` now holds the current head: again */
	}
	return 0;
}

#if defined(__cplusplus)
#define RUST_EPOLL_ASSERT(e, m) static_assert(e, m)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define RUST_EPOLL_ASSERT(e, m) _Static_assert(e, m)
#endif
#ifdef RUST_EPOLL_ASSERT
#if defined(__x86_64__)
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_event) == 12, "rust_epoll_event layout");
#endif
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_ctl) == 24, "rust_epoll_ctl layout");
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_wait) == 40, "rust_epoll_wait layout");
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_ctl_batch) == 64, "rust_epoll_ctl_batch layout");
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_wait_min) == 48, "rust_epoll_wait_min layout");
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_params) == 8, "rust_epoll_params layout");
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_ring_setup) == 16, "rust_epoll_ring_setup layout");
RUST_EPOLL_ASSERT(sizeof(struct rust_epoll_ring) == RUST_EPOLL_RING_RECORDS_OFF,
		  "rust_epoll_ring layout");
#undef RUST_EPOLL_ASSERT
#endif

#endif /* _UAPI_RUST_EPOLL_H */
