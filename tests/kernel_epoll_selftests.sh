#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's own epoll selftests (tools/testing/selftests/filesystems/epoll/
# epoll_wakeup_test.c), run natively and then on /dev/rust_epoll through the LD_PRELOAD shim,
# in the same boot. TAP, one line per kernel test: "not ok" when it passes natively and fails
# on the device; a test that fails natively too is skipped. Several of these tests race
# threads against fixed sleeps: a device failure is rerun alone up to twice, and a pass on a
# rerun says so on its line ("passed on rerun N"), so that flakiness stays visible.
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
bin=$build/epoll_wakeup_test
shim=$build/librust_epoll_preload.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"
if [ ! -x "$bin" ] || [ ! -f "$shim" ]; then
	echo "1..0 # SKIP $bin or $shim not built"
	exit 0
fi
"$bin" > "$tmp/native" 2>&1
LD_PRELOAD=$shim "$bin" > "$tmp/device" 2>&1
# rerun_passes TEST: runs TEST alone on the device up to twice; sets $rerun to the passing try.
rerun_passes() {
	for rerun in 1 2; do
		LD_PRELOAD=$shim "$bin" -t "$1" > "$tmp/rerun" 2>&1 && return 0
	done
	return 1
}
n=$(grep -cE '^(not )?ok [0-9]+ ' "$tmp/native")
echo "1..$n"
i=0
grep -E '^(not )?ok [0-9]+ ' "$tmp/native" | while read -r status rest; do
	[ "$status" = not ] && rest=${rest#ok }
	name=$(echo "$rest" | awk '{print $2}')
	i=$((i + 1))
	dev=$(grep -E "^(not )?ok [0-9]+ $name\$" "$tmp/device" | head -n1)
	if [ "$status" = not ]; then
		echo "ok $i kernel $name # SKIP fails natively too"
	elif [ "${dev#ok }" != "$dev" ]; then
		echo "ok $i kernel $name: native ok, device ok"
	elif rerun_passes "${name#global.}"; then
		echo "ok $i kernel $name: native ok, device passed on rerun $rerun (failed first)"
	else
		echo "not ok $i kernel $name: native ok, device ${dev:-did not run}"
		sed -n "/RUN           $name /,/ok [0-9]* $name\$/p" "$tmp/device" | sed 's/^/# /' | head -n 20
	fi
done
