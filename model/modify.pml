/*
 * rust-epoll: a wake-up racing a MOD that re-arms a one-shot watch, on x86-TSO, for spin.
 * README.md (this directory) says why this is a model of its own; check.sh runs it.
 *
 * The race (fs/eventpoll.c: ep_modify()'s smp_mb(), ep_poll_callback()'s checks under
 * ep->lock; ours: ctl.rs `modify`, eventpoll.rs `EventPoll::item_ready`): a one-shot watch of
 * an eventfd has fired and is disarmed (mask 0). One task writes the eventfd: under the
 * eventfd's queue lock it stores the count and calls our callback, which decides from the
 * watch's mask whether to queue the item. Another task re-arms the watch with MOD: it stores
 * the new mask, issues smp_mb(), then polls the eventfd (reads the count) and queues the item
 * if it is ready. Whatever the interleaving, the event must end up queued by one of them.
 *
 * x86-TSO, as far as this race needs it: a store may sit in its CPU's store buffer while
 * that CPU's later loads (of other addresses) read memory; a locked instruction (the lock of
 * `ready`, the spin_lock_irqsave of C's ep->lock) or a full barrier (smp_mb) drains the
 * buffer first. The writer's count store is buffered (`wbuf`) and drained at any moment by
 * init, or at once by the callback's lock; MOD's mask store likewise (`mbuf`), drained by its
 * smp_mb. Everything else is sequentially consistent.
 *
 * Property: once all is done (buffers drained), the eventfd has a count and the watch is
 * armed, so the item is on the ready list.
 *
 * Mutations (each must make the property fail; check.sh verifies that it does):
 *  MOD_M1: the callback reads the mask before taking `ready` (the code before 3e21682): its
 *          load passes the writer's buffered count store, MOD's poll reads the old count.
 *  MOD_M2: MOD re-polls without its smp_mb(): its mask store passes its count load.
 */

bit count;	/* the eventfd's count, in memory: 0, then 1 once the writer's store drains */
bit wbuf;	/* the writer's CPU has the count store buffered */
bit mask;	/* the watch's mask, in memory: 0 (disarmed one-shot), 1 once MOD's store drains */
bit mbuf;	/* MOD's CPU has the mask store buffered */
bit locked;	/* `ready` (C: ep->lock) */
bit queued;	/* the item is on the ready list */

/* Taking `ready`: a locked instruction, so this CPU's store buffer drains first. */
inline lock_ready(buf, addr) {
	atomic { locked == 0 -> locked = 1; if :: buf -> addr = 1; buf = 0 :: else fi }
}

/* eventfd_write: the count stored under the queue lock, then ep_poll_callback. */
proctype Writer()
{
	wbuf = 1;
#ifdef MOD_M1
	/* The mask read before `ready`: it may pass the buffered count store. */
	if
	:: mask == 1 ->
		lock_ready(wbuf, count);
		queued = 1;
		locked = 0
	:: else
	fi
#else
	/* EventPoll::item_ready: `ready` first, the mask read under it. */
	lock_ready(wbuf, count);
	if
	:: mask == 1 -> queued = 1
	:: else
	fi;
	locked = 0
#endif
}

/* ep_modify / ctl.rs `modify`: the new mask (set_event), smp_mb(), the re-poll. */
proctype Mod()
{
	mbuf = 1;
#ifndef MOD_M2
	/* smp_mb(): the mask store reaches memory before the count is read. */
	atomic { if :: mbuf -> mask = 1; mbuf = 0 :: else fi }
#endif
	if
	:: count == 1 ->
		/* item_ready_polled: queued under `ready`. */
		lock_ready(mbuf, mask);
		queued = 1;
		locked = 0
	:: else
	fi
}

init
{
	run Writer();
	run Mod();
	/* Either store buffer drains whenever it likes, until both tasks are done. */
	do
	:: atomic { wbuf -> count = 1; wbuf = 0 }
	:: atomic { mbuf -> mask = 1; mbuf = 0 }
	:: _nr_pr == 1 -> break
	od;
	atomic {
		if :: wbuf -> count = 1; wbuf = 0 :: else fi;
		if :: mbuf -> mask = 1; mbuf = 0 :: else fi
	};
	assert(!(count == 1 && mask == 1) || queued == 1)
}
