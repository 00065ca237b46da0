/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included (-include) into the kernel's own epoll selftests (epoll_wakeup_test.c,
 * epoll_busy_poll.c), for both sides alike: their harness's per-test hang guard,
 * TEST_TIMEOUT_DEFAULT, 30 s, is sized for hardware, and under QEMU's TCG native epoll itself
 * uses two thirds of it in epoll65 (64 threads making 100,000 epoll_wait(0) calls each on one
 * level-triggered item): 19.8-22.0 s natively, 25.0-29.4 s on the device (five runs each, one
 * boot, test kernel), which then failed one `make check` of five by timeout (a kernel build ran
 * beside it at nice 19), with every wait answered correctly. A guard that native epoll passes by 27 % cannot judge a device that is
 * 1.2-1.3x native's speed there (that gap is the event path's cost, measured by `make bench`).
 * So the guard is three times the harness's: a hang is still a failure, 90 s later.
 *
 * The harness defines TEST_TIMEOUT_DEFAULT unconditionally and uses it where each TEST()
 * expands, so it is redefined here, after the harness, which the test's own #include then
 * skips (include guard). _GNU_SOURCE first, as the tests define it before any header.
 */
#ifndef RUST_EPOLL_SELFTEST_GUARD_H
#define RUST_EPOLL_SELFTEST_GUARD_H
#define _GNU_SOURCE
#include "kselftest_harness.h"
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT (3 * 30)
#endif
