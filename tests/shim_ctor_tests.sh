#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The shim called from a library's constructor before the shim's own constructor ran, and from
# inside the shim's dlsym() (tests/shim_ctor_test.c, tests/shim_ctor_lib.c), against the device.
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
LD_PRELOAD=$build/librust_epoll_preload.so exec "$build/shim_ctor_test"
