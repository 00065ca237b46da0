#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The core cases (the `ep` fixture of rust_epoll_test.c: create, ctl, wait, every flag and
# errno, on the device and natively) run by a 32-bit x86 build of the same program: its ioctls
# reach the device through compat_ioctl, its records are the 32-bit struct epoll_event.
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
bin=$build/rust_epoll_test32
if [ ! -x "$bin" ]; then
	echo "TAP version 13"
	echo "1..0 # SKIP $bin not built"
	exit 0
fi
if ! od -An -tx1 -j4 -N1 "$bin" | grep -q 01; then
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 $bin is not a 32-bit ELF program"
	exit 1
fi
exec "$bin" -f ep
