/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ep.h - one interface over /dev/rust_epoll and the kernel's native epoll, so that each test
 * runs against both and asserts the same behaviour of each.
 */
#ifndef RUST_EPOLL_TESTS_EP_H
#define RUST_EPOLL_TESTS_EP_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/time_types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../include/uapi/rust_epoll.h"

_Static_assert(sizeof(struct epoll_event) == sizeof(struct rust_epoll_event),
	       "struct epoll_event and struct rust_epoll_event differ");

/* Creates an instance: the device's, or native epoll's when `native`. */
static inline int ep_create(bool native)
{
	if (native)
		return epoll_create1(EPOLL_CLOEXEC);
	return open(RUST_EPOLL_DEVICE, O_RDWR | O_CLOEXEC);
}

static inline int ep_ctl(bool native, int epfd, int op, int fd, uint32_t events, uint64_t data)
{
	if (native) {
		struct epoll_event ev = { .events = events, .data.u64 = data };

		return epoll_ctl(epfd, op, fd, &ev);
	}
	struct rust_epoll_ctl c = { .op = (uint32_t)op, .fd = fd, .events = events, .data = data };

	return ioctl(epfd, RUST_EPOLL_CTL, &c);
}

static inline int ep_wait(bool native, int epfd, struct epoll_event *evs, int max, int timeout)
{
	if (native)
		return epoll_wait(epfd, evs, max, timeout);
#if defined(__x86_64__) && !defined(__ILP32__)
	/* The register form when the arguments fit (as the shim does), else the struct. */
	return rust_epoll_wait_reg(epfd, evs, max, timeout);
#else
	struct rust_epoll_wait w = {
		.events = (uint64_t)(uintptr_t)evs, .maxevents = max, .timeout = timeout,
	};

	return ioctl(epfd, RUST_EPOLL_WAIT, &w);
#endif
}

/* epoll_pwait2 without a signal mask: a nanosecond timeout, < 0 for none. */
static inline int ep_wait_ns(bool native, int epfd, struct epoll_event *evs, int max, int64_t ns)
{
	if (native) {
		/* The system call takes the kernel's 64-bit timespec, also from 32-bit programs. */
		struct __kernel_timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

		return syscall(SYS_epoll_pwait2, epfd, evs, max, ns < 0 ? NULL : &ts, NULL, 8);
	}
	struct rust_epoll_wait w = {
		.events = (uint64_t)(uintptr_t)evs, .maxevents = max,
		.flags = RUST_EPOLL_WAIT_NSEC, .timeout_ns = ns,
	};

	return ioctl(epfd, RUST_EPOLL_WAIT, &w);
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How many watches /proc/self/fdinfo/<epfd> lists ("tfd:" lines); -1 if unreadable. */
static inline int fdinfo_count(int epfd)
{
	char path[64], line[256];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "tfd:", 4);
	fclose(f);
	return n;
}

/*
 * Turns the debugfs pictures of instances opened from now on on or off
 * (/sys/kernel/debug/rust_epoll/views); returns whether they were on, or -1 if there is no
 * such file.
 */
static inline int debugfs_views(bool on)
{
	int fd = open("/sys/kernel/debug/rust_epoll/views", O_RDWR);
	char was = 0;

	if (fd < 0)
		return -1;
	if (read(fd, &was, 1) != 1 || pwrite(fd, on ? "1" : "0", 1, 0) != 1)
		was = 0;
	close(fd);
	return was == 'Y';
}

/* The path of this process's last instance's debugfs picture, or "" if there is none. */
static inline void find_debugfs_view(char *path, size_t size)
{
	char prefix[32];
	struct dirent *d;
	DIR *dir = opendir("/sys/kernel/debug/rust_epoll");

	path[0] = 0;
	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	while (dir && (d = readdir(dir)))
		if (!strncmp(d->d_name, prefix, strlen(prefix)))
			snprintf(path, size, "/sys/kernel/debug/rust_epoll/%.200s", d->d_name);
	if (dir)
		closedir(dir);
}

static inline void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

#endif
