#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The shim's own tests (tests/shim_test.c), with the shim preloaded, against the device.
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
LD_PRELOAD=$build/librust_epoll_preload.so exec "$build/shim_test"
