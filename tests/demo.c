// SPDX-License-Identifier: GPL-2.0
/*
 * demo: watch a pipe and an eventfd through /dev/rust_epoll and print the events that come.
 * Run by `make demo` inside the VM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "ep.h"

static void show(const char *what, int n, struct epoll_event *ev)
{
	printf("%-34s -> %d event(s)", what, n);
	for (int i = 0; i < n; i++)
		printf("  [%s%s%s data=%s]", ev[i].events & EPOLLIN ? "IN" : "",
		       ev[i].events & EPOLLOUT ? "OUT" : "", ev[i].events & EPOLLHUP ? " HUP" : "",
		       ev[i].data.u64 == 1 ? "pipe" : "eventfd");
	printf("\n");
}

int main(void)
{
	struct epoll_event ev[4];
	uint64_t v = 42;
	int ep, p[2], efd, n;
	char buf[8];

	ep = ep_create(false);
	if (ep < 0) {
		perror("open " RUST_EPOLL_DEVICE);
		return 1;
	}
	if (pipe(p) || (efd = eventfd(0, EFD_NONBLOCK)) < 0)
		return 1;
	printf("opened %s: one private eventpoll (fd %d)\n", RUST_EPOLL_DEVICE, ep);
	if (ep_ctl(false, ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1) ||
	    ep_ctl(false, ep, EPOLL_CTL_ADD, efd, EPOLLIN, 2)) {
		perror("RUST_EPOLL_CTL");
		return 1;
	}
	printf("watching a pipe (data=1) and an eventfd (data=2) for EPOLLIN\n");

	n = ep_wait(false, ep, ev, 4, 100);
	show("nothing written, 100 ms timeout", n, ev);
	if (n != 0)
		return 1;
	if (write(p[1], "hi", 2) != 2)
		return 1;
	n = ep_wait(false, ep, ev, 4, -1);
	show("wrote \"hi\" to the pipe", n, ev);
	if (n != 1 || ev[0].data.u64 != 1)
		return 1;
	if (write(efd, &v, 8) != 8)
		return 1;
	n = ep_wait(false, ep, ev, 4, -1);
	show("wrote 42 to the eventfd too", n, ev);
	if (n != 2)
		return 1;
	if (read(p[0], buf, 2) != 2 || read(efd, &v, 8) != 8)
		return 1;
	n = ep_wait(false, ep, ev, 4, 0);
	show("read both (level-triggered: quiet)", n, ev);
	if (n != 0)
		return 1;
	close(p[1]);
	n = ep_wait(false, ep, ev, 4, 0);
	show("closed the pipe's write end", n, ev);
	if (n != 1 || !(ev[0].events & EPOLLHUP))
		return 1;
	close(ep);
	printf("demo: all events as expected\n");
	return 0;
}
