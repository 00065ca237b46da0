#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# tests/selftest_flakes.sh [RUNS]: each of the kernel's own epoll selftests
# (epoll_wakeup_test.c), run alone RUNS times natively and RUNS times on the device (through
# the LD_PRELOAD shim), interleaved, in this boot. Prints one line per test: its failures
# natively and on the device, and the seconds it took; then the totals. Run inside the VM by
# scripts/selftest-flakes (make selftest-flakes).
runs=${1:-200}
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
bin=$build/epoll_wakeup_test
shim=$build/librust_epoll_preload.so
[ -x "$bin" ] && [ -f "$shim" ] || { echo "selftest_flakes: build the tests first (make tests)"; exit 1; }

tests=$("$bin" -l | awk 'NR > 1 { print $NF }')
printf '%-10s %8s %8s %8s\n' test native device seconds
tn=0 td=0 all=$(date +%s)
for t in $tests; do
	nf=0 df=0 i=0 start=$(date +%s)
	while [ "$i" -lt "$runs" ]; do
		"$bin" -t "$t" > /dev/null 2>&1 || nf=$((nf + 1))
		LD_PRELOAD=$shim "$bin" -t "$t" > /dev/null 2>&1 || df=$((df + 1))
		i=$((i + 1))
	done
	printf '%-10s %8d %8d %8d\n' "$t" "$nf" "$df" "$(( $(date +%s) - start ))"
	tn=$((tn + nf)) td=$((td + df))
done
printf '%-10s %8d %8d %8d  (%d runs of each test on each side)\n' total "$tn" "$td" "$(( $(date +%s) - all ))" "$runs"
