#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The userspace crate's device tests (userspace/rust-epoll/tests/device.rs, built on the host by
# tests/host-check), run here against the device; libtest's lines become TAP.
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
bin=$build/rust_crate_device_tests
echo "TAP version 13"
if [ ! -x "$bin" ]; then
	echo "1..0 # SKIP $bin not built"
	exit 0
fi
out=$(mktemp)
"$bin" --ignored --test-threads=1 > "$out" 2>&1
echo "1..$(grep -c '^test .* \.\.\. ' "$out")"
grep '^test .* \.\.\. ' "$out" | awk '{ n++; name = $2; st = $NF
	if (st == "ok") print "ok " n " crate " name; else print "not ok " n " crate " name }'
grep -q '^test result: ok' "$out" || sed 's/^/# /' "$out"
rm -f "$out"
