#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# python3's asyncio, unmodified, on /dev/rust_epoll through the LD_PRELOAD shim: an echo server
# and client exchanging 10,000 messages (tests/asyncio_echo.py prints the TAP).
here=$(cd "$(dirname "$0")" && pwd)
build=${RUST_EPOLL_TESTS:-$here/../build/tests}
LD_PRELOAD=$build/librust_epoll_preload.so exec python3 "$here/asyncio_echo.py" --device
