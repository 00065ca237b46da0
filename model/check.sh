#!/usr/bin/env bash
# Model-checks protocol.pml (and ring.pml, the ready ring; modify.pml, a MOD on x86-TSO) with
# spin, as TAP: each property holds in each configuration, and each mutation of the model
# makes the checker fail on the property it breaks.
#
# Every run is `spin -a` with the run's macros, `gcc -O0` (an optimised pan searches these
# few million states faster, but takes longer to compile), then `pan` (exhaustive search,
# safety only, partial-order reduction on). A property run compiles in only that property's checks; runs for (b) and (c) skip
# spin's invalid-end-state check (-E), which belongs to (a): a task stuck anywhere is a lost
# wake-up too. So a mutation run fails only by the property it is expected to break.
#
# Usage: model/check.sh [--all]    --all adds larger configurations and the variants of
#                                   README.md (about a minute more)
# Needs: spin (Debian package `spin`), gcc.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=$here/protocol.pml
CC=${CC:-gcc}

# name | expect (hold/fail) | macros | pan options (-l: a search for non-progress cycles,
# i.e. livelocks: pan is built with -DNP; any cycle is one, since everything but WAIT's loop
# is finite) | model file (default protocol.pml)
A="-DNW=2 -DNI=2 -DMAXEV=1"		# two exclusive waiters, two items, release, DEL
B="-DNW=1 -DNI=2 -DPOLLER"		# one waiter, two items, the instance polled meanwhile
E="-DNW=2 -DNI=1 -DMAXEV=1"		# one item: its DEL empties the release index
runs=(
	"(a) no lost wake-up; 2 waiters, 2 items|hold|$A -DPROP_A|"
	"(b) no event reported for a released watch; 2 waiters, 2 items|hold|$A -DPROP_B|-E"
	"(c) no item freed while linked; 2 waiters, 2 items|hold|$A -DPROP_C|-E"
	"(c) no item freed while linked, no freed queue touched; 2 waiters, 1 item|hold|$E -DPROP_C|-E"
	"(a) no lost wake-up; 1 waiter, 2 items, instance polled|hold|$B -DPROP_A|"
	"(b) no event reported for a released watch; 1 waiter, 2 items, instance polled|hold|$B -DPROP_B|-E"
	"(c) no item freed while linked; 1 waiter, 2 items, instance polled|hold|$B -DPROP_C|-E"
	"MUTATION_1 (WAIT checks before queueing) breaks (a)|fail|$A -DPROP_A -DMUTATION_1|"
	"MUTATION_2 (callback reads the waiters outside ready) breaks (a)|fail|$A -DPROP_A -DMUTATION_2|"
	"MUTATION_3 (unhook without the queue lock) breaks (c)|fail|$A -DPROP_C -DMUTATION_3|-E"
	"MUTATION_4 (DEL without the release-index lock) breaks (c)|fail|$A -DPROP_C -DMUTATION_4|-E"
	"MUTATION_5 (get_file without its re-check) breaks (b)|fail|$A -DPROP_B -DMUTATION_5|-E"
	"MUTATION_6 (no pass-on wake-up at the end of a transfer) breaks (a)|fail|$A -DPROP_A -DMUTATION_6|"
	"MUTATION_7 (off the ready list before unhooking) breaks (c)|fail|$A -DPROP_C -DMUTATION_7|-E"
	"MUTATION_8 (WAIT sleeps during a transfer) breaks (a)|fail|$B -DPROP_A -DMUTATION_8|"
	"MUTATION_9 (forget unindexes before it unhooks) breaks (c)|fail|$E -DPROP_C -DMUTATION_9|-E"
	"MUTATION_10 (the release stops after its first batch) breaks (c)|fail|$A -DPROP_C -DMUTATION_10|-E"
	# A wake-up racing a MOD on x86-TSO (modify.pml): the event is queued by one of them.
	"MOD on x86-TSO: a wake-up racing a re-arming MOD is not lost|hold|||modify.pml"
	"MOD_M1 (the callback reads the mask before ready) loses the event|fail|-DMOD_M1||modify.pml"
	"MOD_M2 (MOD re-polls without smp_mb) loses the event|fail|-DMOD_M2||modify.pml"
	# The shared ready ring (ring.pml): (a) nothing lost, (b) at most once and in bounds.
	"ring (a)(b); 2 watches, ring of 2, 1 consumer, 2 events each|hold|-DNI=2 -DE=2||ring.pml"
	"ring (a)(b); 2 watches, ring of 1 (overflow)|hold|-DNI=2 -DE=1||ring.pml"
	"ring (a)(b); 3 watches, ring of 1, 1 event each|hold|-DNI=3 -DE=1 -DNEV=1||ring.pml"
	"ring (a)(b); 2 consumers sharing the ring, 1 event each|hold|-DNC=2 -DNEV=1||ring.pml"
	"ring (a)(b); 2 consumers, ring of 1|hold|-DNC=2 -DNEV=1 -DE=1||ring.pml"
	"RING_M1 (acts on a record before moving the head) breaks (a)|fail|-DRING_M1||ring.pml"
	"RING_M2 (merges whatever the events) breaks (a)|fail|-DRING_M2||ring.pml"
	"RING_M3 (WAIT sleeps without looking at the ring) breaks (a)|fail|-DRING_M3||ring.pml"
	"RING_M4 (overflow drops the event) breaks (a)|fail|-DRING_M4 -DE=1||ring.pml"
	"RING_M5 (an append wakes no one) breaks (a)|fail|-DRING_M5||ring.pml"
	"RING_M6 (the mark never expires) breaks (a)|fail|-DRING_M6||ring.pml"
	"RING_M7 (appends without checking for room) breaks (b)|fail|-DRING_M7 -DE=1||ring.pml"
)
if [ "${1:-}" = --all ]; then
	C="-DNW=2 -DNI=2 -DMAXEV=2 -DTIMEOUT -DPOP_ANY"
	D="-DNW=2 -DNI=2 -DMAXEV=1 -DPOLLER"
	runs+=(
		"(a)(b)(c); 2 waiters (one with a timeout/signal), maxevents 2, any list order|hold|$C|"
		"(a)(b)(c); 2 waiters, 2 items, instance polled|hold|$D|"
		"(a)(b)(c); the poll passes the wake-up on instead of setting scanning|hold|$B -DPOLL_WAKES -DMUTATION_8|"
		"a released item is never put back on the ready list: false (harmless)|fail|$A -DPROP_B -DRELEASED_UNLINKED|-E"
		"livelock: with empty transfers, two idle waiters keep each other awake|fail|$A -DSCAN_WHEN_EMPTY|-l"
		"no livelock: an empty ready list starts no transfer|hold|$A|-l"
	)
fi

echo "TAP version 13"
if ! command -v spin >/dev/null; then
	echo "1..0 # SKIP spin is not installed (scripts/setup installs it)"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# one N RUN: the TAP line of run N (without its number) in $tmp/N/tap, and "fail" in
# $tmp/N/bad if it is a failure.
one() {
	local n=$1 name expect macros panopt file dir=$tmp/$1 mode t0 ms out errors states why info
	IFS='|' read -r name expect macros panopt file <<<"$2"
	local m=$model
	[ -z "$file" ] || m=$here/$file
	mkdir "$dir"
	t0=$(date +%s%N)
	mode=-DSAFETY
	case " $panopt " in *" -l "*) mode="-O1 -DNP" ;; esac
	# shellcheck disable=SC2086 # macros and options are word lists
	(cd "$dir" && spin $macros -a "$m" >spin.out 2>&1 &&
		$CC -O0 -w $mode -o pan pan.c >cc.out 2>&1 &&
		./pan -m300000 -w22 $panopt >pan.out 2>&1)
	ms=$((($(date +%s%N) - t0) / 1000000))
	out=$dir/pan.out
	if [ ! -s "$out" ]; then
		{ echo "$name: did not build"
		  cat "$dir"/spin.out "$dir"/cc.out 2>/dev/null | head -n 20 | sed 's/^/# /'; } >"$dir/tap"
		echo fail >"$dir/bad"
		return
	fi
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out")
	states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' "$out")
	why=$(grep -m1 -E 'assertion violated|invalid end state|non-progress cycle \(' "$out" | sed 's/^pan:[0-9]*: *//')
	info=$(printf '%s states, %d.%d s' "${states:-?}" $((ms / 1000)) $((ms % 1000 / 100)))
	if grep -q 'depth too small' "$out" || [ -z "$errors" ]; then
		{ echo "$name: incomplete search ($info)"; sed 's/^/# /' "$out" | head -n 20; } >"$dir/tap"
		echo fail >"$dir/bad"
	elif [ "$expect" = hold ] && [ "$errors" = 0 ]; then
		echo "$name ($info)" >"$dir/tap"
	elif [ "$expect" = fail ] && [ "$errors" != 0 ]; then
		printf '%s (%s): caught\n#   %s\n' "$name" "$info" "$why" >"$dir/tap"
	else
		{ echo "$name ($info): expected the property to $expect"
		  [ -z "$why" ] || echo "#   $why"
		  [ "$expect" = fail ] || echo "#   counterexample: model/trail.sh $macros $panopt"; } >"$dir/tap"
		echo fail >"$dir/bad"
	fi
}

# Two searches at a time by default (each is single-threaded).
jobs_max=${MODEL_JOBS:-2}
start=$SECONDS
n=0
for run in "${runs[@]}"; do
	n=$((n + 1))
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
	one "$n" "$run" &
done
wait
echo "1..$n"
failed=0
for i in $(seq "$n"); do
	if [ -e "$tmp/$i/bad" ]; then
		failed=$((failed + 1))
		sed "1s/^/not ok $i /" "$tmp/$i/tap"
	else
		sed "1s/^/ok $i /" "$tmp/$i/tap"
	fi
done
echo "# model check: $n runs, $failed failed, $((SECONDS - start)) s"
[ "$failed" = 0 ]
