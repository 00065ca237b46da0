#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# tests/selftest_flakes.sh [RUNS] [SLOW_RUNS]: each of the kernel's own epoll selftests
# (epoll_wakeup_test.c), run alone RUNS times natively and RUNS times on the device (through
# the LD_PRELOAD shim), interleaved, in this boot. A slow test
# (a few of them loop 100,000 times: its first pair of runs takes more than 6 s) runs SLOW_RUNS
# times instead (default: RUNS / 10). Prints
# one line per test: runs, failures natively and on the device, seconds taken; then the
# totals. FLAKE_TESTS="epoll45 epoll47" limits it to those tests. Run inside the VM by
# scripts/selftest-flakes (make selftest-flakes).
runs=${1:-200}
slow_runs=${2:-$((runs / 10))}
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
bin=$build/epoll_wakeup_test
shim=$build/librust_epoll_preload.so
[ -x "$bin" ] && [ -f "$shim" ] || { echo "selftest_flakes: build the tests first (make tests)"; exit 1; }

tests=${FLAKE_TESTS:-$("$bin" -l 2>&1 | awk 'NR > 1 { print $NF }')}
printf '%-10s %6s %8s %8s %8s\n' test runs native device seconds
tn=0 td=0 all=$(date +%s)
for t in $tests; do
	nf=0 df=0 i=0 n=$runs start=$(date +%s)
	while [ "$i" -lt "$n" ]; do
		"$bin" -t "$t" > /dev/null 2>&1 || nf=$((nf + 1))
		LD_PRELOAD=$shim "$bin" -t "$t" > /dev/null 2>&1 || df=$((df + 1))
		i=$((i + 1))
		if [ "$i" = 1 ] && [ $(( $(date +%s) - start )) -gt 6 ] && [ "$slow_runs" -lt "$n" ]; then
			n=$slow_runs
		fi
	done
	printf '%-10s %6d %8d %8d %8d\n' "$t" "$n" "$nf" "$df" "$(( $(date +%s) - start ))"
	tn=$((tn + nf)) td=$((td + df))
done
printf '%-10s %6s %8d %8d %8d\n' total - "$tn" "$td" "$(( $(date +%s) - all ))"
