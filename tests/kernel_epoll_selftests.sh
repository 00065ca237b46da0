#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's own epoll selftests (tools/testing/selftests/filesystems/epoll/
# epoll_wakeup_test.c), run natively and then on /dev/rust_epoll through the LD_PRELOAD shim,
# in the same boot. TAP, one line per kernel test: "not ok" when it passes natively and fails
# on the device; a test that fails natively too is skipped. Nothing is run twice: several of
# these tests race threads against fixed sleeps, and a device that loses such a race where
# native epoll wins is a difference to find (tests/selftest_flakes.sh measures each test
# alone, many times, on both sides).
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
	else
		echo "not ok $i kernel $name: native ok, device ${dev:-did not run}"
		sed -n "/RUN           $name /,/ok [0-9]* $name\$/p" "$tmp/device" | sed 's/^/# /' | head -n 20
	fi
done
