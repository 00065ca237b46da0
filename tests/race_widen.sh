#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The path-limit race (exactness_test.c, both.path_limits_hold_under_a_race) with its windows
# widened (tests/race_widen.py; the copies are built on the host by tests/host-check): with
# ep_ctl_lock's two loads in C's order the widened race must break the limits (the test can
# see the bug it guards against), and in ctl.rs's order it must not. Each copy is loaded in
# turn in place of the module, which is loaded again as it was found. TAP. Needs RUST_EPOLL_KO
# (set by vm-init). Then the same for the callback's window before its wake-up (an
# EPOLLEXCLUSIVE wake-up counted by an instance whose waiter has left: exactness_test.c,
# exact.an_exclusive_wake_up_counted_reaches_a_waiter), and for its window before it takes
# `ready` (a MOD in it: ring_test.c, rg.a_wake_up_racing_a_mod_reports_the_new_mask).
ko=${RUST_EPOLL_KO:-}
root=$(cd "$(dirname "$0")/.." && pwd)
copies=$root/build/race_widen
bin=${RUST_EPOLL_TESTS:-$root/build/tests}/exactness_test
echo "TAP version 13"
if [ -z "$ko" ] || ! grep -q '^rust_epoll ' /proc/modules; then
	echo "1..0 # SKIP the module is not loaded from RUST_EPOLL_KO"
	exit 0
fi
if [ ! -f "$copies/c_order/rust-epoll.ko" ] || [ ! -f "$copies/ours/rust-epoll.ko" ] ||
	[ ! -f "$copies/wake_gap_old/rust-epoll.ko" ] || [ ! -f "$copies/wake_gap/rust-epoll.ko" ] ||
	[ ! -f "$copies/mod_gap_old/rust-epoll.ko" ] || [ ! -f "$copies/mod_gap/rust-epoll.ko" ]; then
	echo "1..0 # SKIP $copies not built (tests/host-check builds it)"
	exit 0
fi
echo "1..6"
fail=0 n=0
# run VARIANT: loads that copy, runs the race, prints the device's count of violations
run() {
	rmmod rust_epoll && insmod "$copies/$1/rust-epoll.ko" || { echo "load-failed"; return; }
	out=$("$bin" -t path_limits_hold_under_a_race 2>&1)
	echo "$out" | grep violations | sed 's/^/#   | /' >&2
	echo "$out" | sed -n 's/.*device: \([0-9]*\) violations in \([0-9]*\) races.*/\1 \2/p'
}
for variant in c_order ours; do
	n=$((n + 1))
	set -- $(run $variant)
	v=${1:-none} races=${2:-0}
	case $variant in
	c_order) name="widened race, C's order of the two loads: the limits break (the test sees the bug)"
		ok=$([ "$v" != none ] && [ "$v" != load-failed ] && [ "$v" -gt 0 ] && echo y) ;;
	ours) name="widened race, ctl.rs's order: the limits hold"
		ok=$([ "$v" = 0 ] && [ "$races" -gt 0 ] && echo y) ;;
	esac
	if [ -n "$ok" ]; then
		echo "ok $n $name ($v violations in $races races)"
	else
		echo "not ok $n $name ($v violations in $races races)"; fail=1
	fi
done

# The callback's window between its check for a waiter (under `ready`) and its wake-up, held
# open 400 ms: the waiter on A times out in it. wake_gap_old answers ewake from the check, so
# the exclusive wake-up stops at A and B's waiter sleeps on: the test must fail there (it sees
# the bug); wake_gap, the code as it is, answers from the wake-up: it must pass.
# wake VARIANT: loads that copy, runs the test, prints "delivered" or "lost" (device side)
wake() {
	rmmod rust_epoll && insmod "$copies/$1/rust-epoll.ko" || { echo "load-failed"; return; }
	out=$("$bin" -r exact.device.an_exclusive_wake_up_counted_reaches_a_waiter 2>&1)
	echo "$out" | grep 'got' | sed 's/^/#   | /' >&2
	echo "$out" | sed -n 's/.*delivered within 2 s: \([a-z]*\).*/\1/p' | head -n 1
}
for variant in wake_gap_old wake_gap; do
	n=$((n + 1))
	v=$(wake $variant)
	case $variant in
	wake_gap_old) name="widened callback window, ewake from the check: the wake-up is lost (the test sees the bug)"
		ok=$([ "$v" = no ] && echo y) ;;
	wake_gap) name="widened callback window, ewake from the wake-up: a waiter gets the event"
		ok=$([ "$v" = yes ] && echo y) ;;
	esac
	if [ -n "$ok" ]; then
		echo "ok $n $name (delivered: ${v:-none})"
	else
		echo "not ok $n $name (delivered: ${v:-none})"; fail=1
	fi
done
# The callback's window before it takes `ready`, held open 100 ms on a ring instance, with a
# MOD from EPOLLIN (data 1) to EPOLLOUT (data 2) in it: mod_gap_old read the mask before the
# window, so its record pairs EPOLLIN with data 2 (the test must fail there); mod_gap reads it
# under `ready`, after the MOD: no record (it must pass).
ringbin=${RUST_EPOLL_TESTS:-$root/build/tests}/ring_test
# modgap VARIANT: loads that copy, runs the test, prints "yes" or "no" (such a record seen)
modgap() {
	rmmod rust_epoll && insmod "$copies/$1/rust-epoll.ko" || { echo "load-failed"; return; }
	out=$("$ringbin" -r rg.a_wake_up_racing_a_mod_reports_the_new_mask 2>&1)
	echo "$out" | grep 'record' | sed 's/^/#   | /' >&2
	echo "$out" | sed -n 's/.*the new data after MOD: \([a-z]*\).*/\1/p' | head -n 1
}
for variant in mod_gap_old mod_gap; do
	n=$((n + 1))
	v=$(modgap $variant)
	case $variant in
	mod_gap_old) name="widened callback window, mask read before ready: a record pairs the old mask with MOD's data (the test sees the bug)"
		ok=$([ "$v" = yes ] && echo y) ;;
	mod_gap) name="widened callback window, mask read under ready: no such record"
		ok=$([ "$v" = no ] && echo y) ;;
	esac
	if [ -n "$ok" ]; then
		echo "ok $n $name (seen: ${v:-none})"
	else
		echo "not ok $n $name (seen: ${v:-none})"; fail=1
	fi
done
grep -q '^rust_epoll ' /proc/modules && rmmod rust_epoll
insmod "$ko" || { echo "# could not load $ko again"; fail=1; }
exit $fail
