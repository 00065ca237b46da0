/*
 * rust-epoll: the ready-list / waiter / release protocol, for the spin model checker.
 * README.md (this directory) says what is modelled and what is not; check.sh runs it.
 *
 * One instance; NI items (epitems) of it, all watching one target file T (NI fds of T,
 * e.g. dup'd: the same file, so its release takes all of them); NW tasks in WAIT. Around
 * them: the target's event (its wake-up of the queue, from a task that holds the queue but
 * not T: a pipe's writer), the last close of T (or none), T's __fput (our release hook,
 * then ->release() frees the queue, then T's slab slot is reused by a new file), a DEL of
 * item 0, the reap work and, with -DPOLLER, a poll of the instance by another task.
 * Each process says which function of eventpoll.rs, epitem.rs, ready.rs, release.rs or
 * waitqueue.rs it stands for.
 *
 * Properties (check.sh builds one verifier per property, -DPROP_A / -DPROP_B / -DPROP_C):
 *  (a) no lost wake-up: once nothing can move, no task is asleep in WAIT while an item is
 *      INDEXED and its target has events (level-triggered: every waiter must get it);
 *      and no task is stuck anywhere else (spin's invalid-end-state check).
 *  (b) no event reported for a released watch: whenever a poll of an item finds events,
 *      the file polled is the item's own target (not a new file in its reused slot) and
 *      the item is INDEXED, i.e. its release has not begun.
 *  (c) no item freed while linked (ready list, transfer list, the target's queue, the
 *      release index or the released list), no freed item touched, no freed queue touched.
 *
 * Mutations (each must make its property fail; check.sh verifies that it does):
 *  MUTATION_1 (a): WAIT checks the ready list BEFORE queueing itself on wq (check moved).
 *  MUTATION_2 (a): the callback reads "a waiter is queued" before its `ready` section
 *                  (check moved out of the lock).
 *  MUTATION_3 (c): unhooking does not take the target queue's lock (lock dropped): it no
 *                  longer waits for a callback running on the item.
 *  MUTATION_4 (c): DEL's forget() does not take the release-index lock (lock dropped).
 *  MUTATION_5 (b): get_file() does not re-check the state after its try-get (check dropped).
 *  MUTATION_6 (a): the end of a transfer does not pass the exclusive wake-up on.
 *  MUTATION_7 (c): an item is taken off the ready list before it is unhooked (drop moved).
 *  MUTATION_8 (a): WAIT sleeps while a transfer is in progress (scanning check dropped);
 *                  caught only with -DPOLLER: that is the code before `scanning`.
 *  MUTATION_9 (c): forget() takes the item out of the release index before it unhooks it
 *                  (step moved): the release, finding the index empty, skips its lock and
 *                  frees the queue under the unhook (the code before 2026-12-02).
 *  MUTATION_10 (c): the release hook stops after its first batch of watches (loop dropped):
 *                  T's queue is freed with a watch still on it.
 *
 * Other options: -DTIMEOUT (task 1's sleep may end by its timer or a signal), -DPOP_ANY
 * (items leave txlist in any order), -DMAXEV=2, -DPOLL_WAKES (the poll does not set
 * `scanning` but passes a wake-up on at its end, as send_events: the other possible fix),
 * -DRELEASED_UNLINKED (asserts that a released item is never put back on the ready list:
 * FALSE, see README.md), -DSCAN_WHEN_EMPTY (send_events starts a transfer, and so sets
 * `scanning`, even when rdllist is empty, as the code did before the model found that two
 * idle waiters can then keep each other awake for ever, a non-progress cycle that `pan -l`
 * finds; see README.md).
 */

#ifndef NI
#define NI 2		/* items (watches of T) */
#endif
#ifndef NW
#define NW 2		/* tasks in WAIT; at most 2 */
#endif
#ifndef MAXEV
#define MAXEV 1		/* WAIT's maxevents */
#endif

#if NI < 1 || NI > 2 || NW < 1 || NW > 2
#error "NI and NW are 1 or 2 (PENDING, WQ_ACTIVE, wake_one and POP_ANY list them)"
#endif

/* Which property's checks are compiled in (all by default). */
#if !defined(PROP_A) && !defined(PROP_B) && !defined(PROP_C)
#define PROP_A
#define PROP_B
#define PROP_C
#endif
#ifdef PROP_A
#define CHECK_A(c) assert(c)
#else
#define CHECK_A(c) skip
#endif
#ifdef PROP_B
#define CHECK_B(c) assert(c)
#else
#define CHECK_B(c) skip
#endif
#ifdef PROP_C
#define CHECK_C(c) assert(c)
#else
#define CHECK_C(c) skip
#endif

/* An item's ready link (ready.rs: rdllink): on no list, on rdllist, on txlist. */
#define NONE 0
#define RDL 1
#define TX 2

/* An item's release state (release.rs: state), plus FREED once its memory is gone. */
#define INDEXED 1
#define RELEASED 2
#define REAPED 3
#define FREED 4

/* --- the items --- */
byte st[NI];		/* Epitem::state; FREED after the free */
byte lnk[NI];		/* Epitem::rdllink: NONE, RDL or TX */
bool hooked[NI];	/* its wait entry is on T's wait queue (EppollEntry::whead) */
bool inidx[NI];		/* on T's list, T's head in the release index (release.rs) */
bool onrel[NI];		/* on the instance's released list (EventPoll::released) */
bool inset[NI];		/* in the interest set (the rb-tree under mtx) */

/* --- the instance (eventpoll.rs: EventPoll) --- */
byte nrdl;		/* items on rdllist */
byte ntx;		/* items on txlist */
bool scanning;		/* a transfer is in progress */
byte nrel;		/* items on the released list */
bool reap_queued;	/* reap_work queued */
bool onq[2];		/* task w is queued on wq */
bool running[2];	/* task w's state is TASK_RUNNING */
bool returned[2];	/* task w returned from WAIT */

/* --- locks: 0 free, else the holder's _pid + 1 ---
 * `ready` (EventPoll::ready) has no variable: each of its critical sections is one atomic
 * block (README.md: why that loses no interleaving), and none blocks inside. */
byte mtx;		/* EventPoll::mtx */
byte bucket_lk;		/* release::RELEASE (the index, state, flnext, released lists) */
byte tq_lk;		/* T's wait-queue lock */
/* wq's own lock: its critical sections are atomic blocks too (prepare_to_wait_exclusive,
 * finish_wait, wake_one). */

/* --- the target file T and its slot --- */
byte frefs = 1;		/* f_count of the file in T's slot (1: the fd) */
bool fdying;		/* the last reference is gone, __fput pending */
byte fgen;		/* 0: T; 1: a new file reusing T's slot (SLAB_TYPESAFE_BY_RCU) */
bool t0ready;		/* T has events (level-triggered: stays so) */
byte qrefs = 2;		/* holders of T's wait queue: T itself and the event's task */
bool qalive = 1;	/* T's wait queue exists */

/* WAIT does not sleep while a transfer is in progress (MUTATION_8: it does). */
#ifdef MUTATION_8
#define SCANNING_CHECK	1
#else
#define SCANNING_CHECK	!scanning
#endif

#define LOCK(l)		atomic { l == 0 -> l = _pid + 1 }
#define UNLOCK(l)	assert(l == _pid + 1); l = 0
#define WQ_ACTIVE	(onq[0] || (NW > 1 && onq[1]))	/* waitqueue_active(), lockless */
#define PENDING		(t0ready && (st[0] == INDEXED || (NI > 1 && st[NI - 1] == INDEXED)))

/* __wake_up(wq, nr_exclusive = 1) with ep_autoremove_wake_function entries (waitqueue.rs,
 * helpers.c), under wq's lock: each entry met is dequeued; a task not already running is
 * woken and ends the wake-up; one running already (its timeout fired, not yet back) is
 * dequeued only (try_to_wake_up fails), and the wake-up goes on. Either queued entry may come
 * first: this includes the LIFO order of the head queueing. */
inline wake_one() {
	atomic {
		if
		:: onq[0] && !running[0] -> running[0] = 1; onq[0] = 0
		:: NW > 1 && onq[1] && !running[1] -> running[1] = 1; onq[1] = 0
		:: onq[0] && running[0] ->
			onq[0] = 0;
			if
			:: NW > 1 && onq[1] && !running[1] -> running[1] = 1; onq[1] = 0
			:: NW > 1 && onq[1] && running[1] -> onq[1] = 0
			:: else
			fi
		:: NW > 1 && onq[1] && running[1] ->
			onq[1] = 0;
			if
			:: onq[0] && !running[0] -> running[0] = 1; onq[0] = 0
			:: onq[0] && running[0] -> onq[0] = 0
			:: else
			fi
		:: else
		fi
	}
}

/* fput(): the put of the last reference schedules __fput (the Fput process). */
inline fput() {
	atomic { frefs--; if :: frefs == 0 -> fdying = 1 :: else fi }
}

/* The last holder of T's wait queue lets it go: it is freed. */
inline queue_put() {
	/* Freed with none of our entries on it (NI <= 2). */
	atomic { qrefs--; if :: qrefs == 0 -> CHECK_C(!hooked[0] && !hooked[NI - 1]); qalive = 0 :: else fi }
}

/* ReadyList::remove under `ready`: off whichever list holds it. */
inline ready_remove(i) {
	atomic {
		CHECK_C(st[i] != FREED);
		if
		:: lnk[i] == RDL -> lnk[i] = NONE; nrdl--
		:: lnk[i] == TX -> lnk[i] = NONE; ntx--
		:: else
		fi
	}
}

/* Epitem::unhook / EppollEntry::unhook: remove_wait_queue() takes the queue's lock, so no
 * callback is running on the entry afterwards. */
inline unhook(i) {
#ifndef MUTATION_3
	LOCK(tq_lk);
#endif
	CHECK_C(qalive);
	hooked[i] = 0;
#ifndef MUTATION_3
	UNLOCK(tq_lk)
#else
	skip
#endif
}

/* The free of the item's memory (the KBox of the interest set). */
inline free_item(i) {
	CHECK_C(lnk[i] == NONE && !hooked[i] && !inidx[i] && !onrel[i]);
	st[i] = FREED
}

/* Epitem's PinnedDrop: release::forget() under RELEASE, then off the ready list, then
 * free. Caller holds mtx and has taken the item out of the interest set. */
inline drop_item(i) {
#ifdef MUTATION_7
	ready_remove(i);
#endif
#ifndef MUTATION_4
	LOCK(bucket_lk);
#endif
	if
	:: st[i] == INDEXED ->
#ifndef MUTATION_9
		unhook(i); inidx[i] = 0
#else
		inidx[i] = 0; unhook(i)
#endif
	:: st[i] == RELEASED -> onrel[i] = 0; nrel--
	:: else
	fi;
	st[i] = REAPED;
#ifndef MUTATION_4
	UNLOCK(bucket_lk);
#endif
#ifndef MUTATION_7
	ready_remove(i);
#endif
	free_item(i)
}

/* EventPoll::lock_tree(): mtx, then the reap (release::take_released, then each released
 * item out of the interest set and dropped). */
inline lock_tree() {
	LOCK(mtx);
	if
	:: nrel > 0 ->		/* take_released's lockless check */
		LOCK(bucket_lk);
		for (i : 0 .. NI - 1) {
			if
			:: onrel[i] -> onrel[i] = 0; nrel--; st[i] = REAPED; take[i] = 1
			:: else
			fi
		}
		UNLOCK(bucket_lk);
		for (i : 0 .. NI - 1) {
			if
			:: take[i] -> take[i] = 0; inset[i] = 0; drop_item(i)
			:: else
			fi
		}
	:: else
	fi
}

/* Epitem::poll -> release::get_file (epi_fget), then the target's poll. r: events found.
 * Under RCU: T's slot stays a struct file (maybe a new one) from the check to the try-get. */
inline poll_item(i, r) {
	CHECK_C(st[i] != FREED);
	r = 0;
	got = 0;
	if
	:: st[i] == INDEXED ->				/* acquire load */
		atomic {				/* rust_epoll_file_try_get */
			if
			:: frefs > 0 -> frefs++; got = 1; gen = fgen
			:: else
			fi
		};
		if
		:: got ->
#ifndef MUTATION_5
			if
			:: st[i] == INDEXED ->		/* the re-check */
#endif
				/* vfs_poll of the file we hold; a new file in the slot is ready */
				if :: gen == 0 -> r = t0ready :: else -> r = 1 fi;
				CHECK_B(!r || (gen == 0 && st[i] == INDEXED));
#ifndef MUTATION_5
			:: else
			fi;
#endif
			fput()
		:: else
		fi
	:: else
	fi;
	got = 0;
	gen = 0
}

/* EventPoll::send_events (ep_send_events), with its caller's lock_tree. n: reported. */
inline send_events(n) {
	lock_tree();
	n = 0;
	atomic {				/* start_transfer */
#ifndef SCAN_WHEN_EMPTY
		if
		:: nrdl == 0 -> i = NI		/* nothing to transfer: no transfer */
		:: else ->
#endif
		for (i : 0 .. NI - 1) {
			if :: lnk[i] == RDL -> lnk[i] = TX :: else fi
		}
		ntx = ntx + nrdl;
		nrdl = 0;
		scanning = 1;
		i = 0
#ifndef SCAN_WHEN_EMPTY
		fi
#endif
	};
#ifndef SCAN_WHEN_EMPTY
	if :: i == NI -> goto no_transfer :: else fi;
#endif
	do
	:: atomic {
		if
		:: n < MAXEV && ntx > 0 ->	/* pop_transfer: the head of txlist */
#ifndef POP_ANY
			i = 0;
			do
			:: lnk[i] == TX -> break
			:: else -> i++
			od;
#else
			if			/* any order (NI <= 2) */
			:: lnk[0] == TX -> i = 0
			:: lnk[NI - 1] == TX -> i = NI - 1
			fi;
#endif
			lnk[i] = NONE;
			ntx--
		:: else ->			/* end_transfer: the rest back to the front */
			for (i : 0 .. NI - 1) {
				if :: lnk[i] == TX -> lnk[i] = RDL :: else fi
			}
			nrdl = nrdl + ntx;
			ntx = 0;
			scanning = 0;
			wake = (nrdl > 0 && WQ_ACTIVE);
			i = NI
		fi
	   };
		if :: i == NI -> break :: else fi;
		poll_item(i, r);		/* without `ready` */
		if
		:: r ->				/* reported; level-triggered: back on the tail */
			atomic {
				n++;
#ifdef RELEASED_UNLINKED
				assert(lnk[i] != NONE || st[i] != RELEASED);
#endif
				if :: lnk[i] == NONE -> lnk[i] = RDL; nrdl++ :: else fi
			}
		:: else
		fi;
		r = 0
	od;
#ifndef MUTATION_6
	if :: wake -> wake_one() :: else fi;	/* pass the exclusive wake-up on */
#endif
#ifndef SCAN_WHEN_EMPTY
no_transfer:
#endif
	i = 0;
	wake = 0;
	UNLOCK(mtx)
}

/* EventPoll::wait_unmasked (ep_poll) with WaitQueueHead::wait_exclusive. Task 0 has no
 * timeout and no signal: it must be woken. With -DTIMEOUT task 1's sleep may also end by
 * its timer or a signal (the task is set running, its entry stays queued until a wake-up
 * takes it off or finish_wait does); then, if a wake-up took it off (`Slept::woken`), it
 * transfers once more, else it returns 0 (or EINTR) at once, as ep_poll does. */
proctype Waiter(byte w) {
	bool eavail, sleep, got, wake, timed_out, woken;
	byte n, i, r, gen;
	bool take[NI];

	if :: eavail = 1 :: eavail = 0 fi;	/* the lockless ready_hint: any value */
loop:
	if
	:: eavail ->
		send_events(n);
		if :: n > 0 -> goto out :: else -> n = 0 fi
	:: else
	fi;
	if :: timed_out -> goto out :: else fi;
#ifdef MUTATION_1
	sleep = (nrdl == 0 && SCANNING_CHECK);	/* under `ready` */
	atomic { onq[w] = 1; running[w] = 0 };	/* prepare_to_wait_exclusive */
#else
	atomic { onq[w] = 1; running[w] = 0 };	/* prepare_to_wait_exclusive */
	sleep = (nrdl == 0 && SCANNING_CHECK);	/* wait_exclusive's closure, under `ready` */
#endif
	if
	:: sleep ->
		sleep = 0;
end_sleep:	if
		:: running[w]			/* schedule() until woken */
#ifdef TIMEOUT
		:: w == 1 && !timed_out ->	/* the timer, or a signal */
			atomic { running[w] = 1; timed_out = 1 }
#endif
		fi
	:: else
	fi;
	atomic { woken = !onq[w]; running[w] = 1; onq[w] = 0 };	/* finish_wait_woken */
	eavail = !timed_out || woken;
	woken = 0;
	goto loop;
out:
	returned[w] = 1
}

/* T's event: T's state becomes ready, then its wait queue is woken: __wake_up under the
 * queue's lock calls ep_poll_callback for each hooked item (epitem.rs) whose part on the
 * instance is EventPoll::item_ready. The waker holds the queue, not T (a pipe's writer),
 * so this may run while T is being released. */
proctype Event() {
	byte i;
	bool wake;

	t0ready = 1;
	LOCK(tq_lk);
	CHECK_C(qalive);
	for (i : 0 .. NI - 1) {
		if
		:: hooked[i] ->			/* ep_poll_callback(i) */
			CHECK_C(st[i] != FREED);
#ifdef MUTATION_2
			wake = WQ_ACTIVE;
#endif
			atomic {		/* item_ready, under `ready` */
				CHECK_C(st[i] != FREED);
				if :: lnk[i] == NONE -> lnk[i] = RDL; nrdl++ :: else fi;
#ifndef MUTATION_2
				wake = WQ_ACTIVE
#else
				skip
#endif
			};
			if :: wake -> wake_one() :: else fi;
			wake = 0
		:: else
		fi
	}
	UNLOCK(tq_lk);
	queue_put()
}

/* EventPoll::poll (ep_eventpoll_poll) of the instance by another task (select, or an
 * instance watching this one), the part under mtx: a transfer like send_events', that stops
 * at the first item whose poll finds events and puts it back. No wake-up at its end. */
proctype Poll() {
	byte i, r, gen;
	bool got, wake, take[NI];

	lock_tree();
	atomic {				/* start_transfer */
		for (i : 0 .. NI - 1) {
			if :: lnk[i] == RDL -> lnk[i] = TX :: else fi
		}
		ntx = ntx + nrdl;
		nrdl = 0;
#ifndef POLL_WAKES
		scanning = 1
#else
		skip
#endif
	};
	do
	:: atomic {
		if
		:: ntx > 0 ->			/* pop_transfer */
			i = 0;
			do
			:: lnk[i] == TX -> break
			:: else -> i++
			od;
			lnk[i] = NONE;
			ntx--
		:: else -> i = NI
		fi
	   };
		if :: i == NI -> break :: else fi;
		poll_item(i, r);
		if
		:: r ->				/* unpop_transfer; EPOLLIN */
			atomic { if :: lnk[i] == NONE -> lnk[i] = TX; ntx++ :: else fi };
			break
		:: else
		fi
	od;
	atomic {				/* end_transfer */
		for (i : 0 .. NI - 1) {
			if :: lnk[i] == TX -> lnk[i] = RDL :: else fi
		}
		nrdl = nrdl + ntx;
		ntx = 0;
#ifndef POLL_WAKES
		scanning = 0
#else
		wake = (nrdl > 0 && WQ_ACTIVE)
#endif
	};
#ifdef POLL_WAKES
	if :: wake -> wake_one() :: else fi;
#endif
	UNLOCK(mtx)
}

/* The last close of T, or none (then T stays open and its events must be reported). */
proctype Close() {
	if :: fput() :: skip fi
}

/* __fput(T): our ftrace hook first (release::rust_epoll_file_release), then T's
 * ->release(), which frees its wait queue, then T's memory, whose slot a new file reuses.
 * The hook skips the lock when T has no head in the index (its lockless lookup under RCU, a
 * read barrier after a miss; T's head leaves the index with its last watch): then nothing
 * of ours may be left on T's queue. */
proctype Fput() {
	byte i;

end_open:
	fdying;
	if
	:: inidx[0] || inidx[NI - 1] ->
		/* A batch of watches per hold of the lock (RELEASE_BATCH), here one, the most
		 * interleaved: between holds, watches may leave on their own (Del) and take T's
		 * head off the index; each hold finds the head again, or none. */
		do
		::	LOCK(bucket_lk);
			i = 0;
			do
			:: i < NI && !inidx[i] -> i++
			:: else -> break
			od;
			if
			:: i == NI -> UNLOCK(bucket_lk); break
			:: else
			fi;
			inidx[i] = 0;
			unhook(i);
			ready_remove(i);
			st[i] = RELEASED;	/* release store */
			onrel[i] = 1;
			nrel++;
			reap_queued = 1;	/* EventPoll::queue_reap */
			UNLOCK(bucket_lk)
#ifdef MUTATION_10
			; break			/* one batch only: the rest stay hooked */
#endif
		od
	:: else					/* no head in the index: the lock is skipped */
	fi;
	queue_put();
	atomic { fgen = 1; frefs = 1; fdying = 0 }
}

/* EPOLL_CTL_DEL of item 0 (EventPoll::ctl): lock_tree, out of the interest set, drop. */
proctype Del() {
	byte i;
	bool take[NI];

	lock_tree();
	if
	:: inset[0] -> inset[0] = 0; drop_item(0)
	:: else
	fi;
	UNLOCK(mtx)
}

/* reap_work_fn: lock_tree and nothing else. */
proctype Reaper() {
	byte i;
	bool take[NI];

end_idle:
	reap_queued;
	reap_queued = 0;
	lock_tree();
	UNLOCK(mtx)
}

/* Property (a): when nothing can move, a task still in WAIT must have nothing to get. */
active proctype Quiescence() {
	timeout;
	CHECK_A(returned[0] || !PENDING);
	CHECK_A(NW < 2 || returned[1] || !PENDING)
}

init {
	byte i;

	atomic {
		for (i : 0 .. NI - 1) {
			st[i] = INDEXED; hooked[i] = 1; inidx[i] = 1; inset[i] = 1
		}
		running[0] = 1;
		running[1] = 1;
		run Waiter(0);
		if :: NW > 1 -> run Waiter(1) :: else fi;
		run Event();
		run Close();
		run Fput();
		run Del();
		run Reaper();
#ifdef POLLER
		run Poll()
#endif
	}
}
