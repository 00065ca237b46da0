/*
 * rust-epoll: the shared ready ring (ring.rs), for the spin model checker; check.sh runs it,
 * README.md ("The ready ring") says what it shows.
 *
 * NI edge-triggered watches (items) of one instance with a ring of E records; one writer per
 * target, each making NEV events (IN or OUT, chosen freely) and running the wake-up callback
 * after each; NC consumers, each looping: pop a record from the ring (copy it, move the head by
 * compare-and-swap, then act on it), else WAIT if the ready list has items (its harvest:
 * take an item off the list, poll it, act on what the poll finds), else sleep in WAIT until
 * woken (it sleeps only if the ring and the ready list are empty, checked under `ready`).
 *
 * The callback is `EventPoll::item_ready` with `RingSlot::offer`, one step under `ready`:
 * an item on the ready list stays there; an item whose last record is unconsumed (its number
 * is at least the head) has the wake-up merged into it if the record carries the event, else
 * goes on the ready list; otherwise a record is appended if there is room, else the item goes
 * on the ready list (overflow). It wakes one sleeping consumer unless it merged.
 *
 * Memory order: spin's interleavings are sequentially consistent. The code makes them so for
 * what matters here: the waker's change of its target and the callback's load of the head,
 * and the consumer's move of the head and its action on the target, are each separated by a
 * full barrier (ring.rs, the helpers), and record/tail and head/slot are release/acquire
 * pairs. The model trusts those; KCSAN and the racing tests check the code.
 *
 * A target's readiness is a set of bits (1: IN, 2: OUT) that its writer sets; acting on a
 * record or a reported event clears the bits it names (reading or writing until EAGAIN).
 *
 * Properties:
 *  (a) nothing is lost: once nothing can move, no target has a pending event (every event
 *      was acted on: by a record, or by WAIT) and so no consumer sleeps while one is due;
 *      spin's invalid-end-state check finds any other process stuck.
 *  (b) at most once, in bounds: an append finds no unconsumed record of its item and a free
 *      slot (the record it writes is never one a consumer has yet to read).
 *
 * Mutations (each must be caught; check.sh verifies that it is):
 *  RING_M1 (a): a consumer acts on a record before it moves the head past it.
 *  RING_M2 (a): a wake-up is merged into an unconsumed record whatever its events.
 *  RING_M3 (a): WAIT sleeps when the ready list is empty, without looking at the ring.
 *  RING_M4 (a): an overflow drops the event instead of putting the item on the ready list.
 *  RING_M5 (a): an append wakes no one.
 *  RING_M6 (a): a watch with any record ever is merged into (the mark never expires).
 *  RING_M7 (b): an append does not check for room.
 */

#ifndef NI
#define NI 2		/* watches (items), one target each */
#endif
#ifndef E
#define E 2		/* ring entries */
#endif
#ifndef NEV
#define NEV 2		/* events per target */
#endif
#ifndef NC
#define NC 1		/* consumers; at most 2 */
#endif

byte head;		/* userspace: records before it are consumed */
byte seq;		/* kernel: records appended (the tail); at most NI * NEV, no wrap */
byte slot_item[E];	/* item + 1 of the record in each slot */
byte slot_ev[E];	/* its events */
byte last[NI];		/* the item's mark: its last record's number + 1, 0 for none */
byte rec_ev[NI];	/* that record's events */
bool linked[NI];	/* on the ready list */
byte pending[NI];	/* the target's events not yet acted on */
bool asleep[NC];	/* in WAIT, asleep (woken by clearing it) */
byte writers_done;

/* The item i's record is unconsumed: at most once, so it is the one at number last[i] - 1. */
#define UNCONSUMED(i) (last[i] > head)

inline wake_one()
{
	if
	:: asleep[0] -> asleep[0] = false
#if NC > 1
	:: asleep[1] -> asleep[1] = false
#endif
	:: else -> skip
	fi
}

/* ep_poll_callback -> item_ready -> RingSlot::offer, under `ready` (one atomic step). */
inline callback(i, b)
{
	atomic {
		if
		:: linked[i] -> wake_one()
#ifdef RING_M6
		:: !linked[i] && last[i] != 0 ->
#else
		:: !linked[i] && UNCONSUMED(i) ->
#endif
			if
#ifdef RING_M2
			:: true -> skip		/* merged, no wake-up */
#else
			:: (b & ~rec_ev[i]) == 0 -> skip	/* merged, no wake-up */
			:: else -> linked[i] = true; wake_one()
#endif
			fi
#ifdef RING_M6
		:: !linked[i] && last[i] == 0 ->
#else
		:: !linked[i] && !UNCONSUMED(i) ->
#endif
			if
#ifndef RING_M7
			:: seq - head >= E ->
#ifdef RING_M4
				skip		/* dropped */
#else
				linked[i] = true; wake_one()
#endif
#endif
			:: else ->
				/* (b): no unconsumed record of i (at most once), and a free slot. */
				j = head;
				do
				:: j < seq -> assert(slot_item[j % E] != i + 1); j++
				:: else -> break
				od;
				assert(seq - head < E);
				slot_item[seq % E] = i + 1;
				slot_ev[seq % E] = b;
				last[i] = seq + 1;
				rec_ev[i] = b;
				seq++;
#ifndef RING_M5
				wake_one()
#endif
			fi
		fi
	}
}

proctype Writer(byte i)
{
	byte k = 0, b, j;
	do
	:: k < NEV ->
		if
		:: b = 1
		:: b = 2
		fi;
		/* The target's state changes, then its wake-up runs the callback. */
		pending[i] = pending[i] | b;
		callback(i, b);
		k++
	:: else -> break
	od;
	atomic { writers_done++ }
}

/* Acting on events `ev` of item i: reading (or writing) the target until EAGAIN. */
inline act(i, ev)
{
	pending[i] = pending[i] & ~ev
}

proctype Consumer(byte c)
{
	byte h, it, ev, i;
	bool got;
	do
	:: /* rust_epoll_ring_consume: the tail, then the record, then the head by CAS. */
		h = head;
		if
		:: h != seq ->
			it = slot_item[h % E];
			ev = slot_ev[h % E];
#ifdef RING_M1
			if
			:: it != 0 -> act(it - 1, ev)
			:: else -> skip
			fi;
			atomic { if :: head == h -> head = h + 1 :: else -> skip fi }
#else
			atomic {
				if
				:: head == h -> head = h + 1; got = true
				:: else -> got = false
				fi
			}
			if
			:: got && it != 0 -> act(it - 1, ev)
			:: else -> skip
			fi
#endif
		:: else ->
			/* The ring is empty: WAIT. Its harvest takes an item off the ready list under
			 * `ready`, polls it and reports what is pending (edge-triggered: not re-queued);
			 * with nothing to report, it sleeps if the ring is empty too, under `ready`. */
			atomic {
				i = 0;
				do
				:: i < NI && !linked[i] -> i++
				:: else -> break
				od;
				if
				:: i < NI -> linked[i] = false
#ifdef RING_M3
				:: i == NI -> asleep[c] = true
#else
				:: i == NI && head == seq -> asleep[c] = true
				:: i == NI && head != seq -> skip	/* returns 0: records wait */
#endif
				fi
			}
			if
			:: i < NI -> ev = pending[i]; act(i, ev)
			:: else -> skip
			fi;
end_sleep:
			!asleep[c]
		fi
	od
}

/* (a): once nothing can move, every event has been acted on. */
active proctype Quiescence()
{
	byte i;
	timeout ->
	assert(writers_done == NI);
	for (i : 0 .. NI - 1) {
		assert(pending[i] == 0)
	}
}

init {
	byte i;
	atomic {
		for (i : 0 .. NI - 1) {
			run Writer(i)
		}
		for (i : 0 .. NC - 1) {
			run Consumer(i)
		}
	}
}
