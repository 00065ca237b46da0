/* SPDX-License-Identifier: GPL-2.0 */
/* What libshim_ctor.so's constructor saw, for shim_ctor_test. */
#ifndef SHIM_CTOR_H
#define SHIM_CTOR_H

#define SHIM_CTOR_FD 200		/* dup2/dup3 targets: 200 and 201 */
#define SHIM_CTOR_DATA 0x5eed5eedULL	/* the watch's epoll_data */

struct shim_ctor_results {
	int ran;
	_Atomic int thread_errors;
	long pid, ppid, getpid;	/* getpid() and getppid() natively, syscall(SYS_getpid) */
	int dup_ok, dup2_ok, dup3_ok, close_ok, syscall_close_ok;
	int close_bad, close_bad_errno;
	int ep, ep_errno, ep_dup, ctl, write, wait, syscall_wait;
	unsigned long long wait_data;
	int stale_dup2, stale_ctl, stale_ctl_errno;
	int pipe[2];
	/* The IFUNC dup3's resolver, run by the shim's dlsym(). */
	_Atomic int ifunc_resolver_calls, ifunc_resolver_nested, ifunc_impl_calls;
	int resolver_dup3, resolver_dup3_errno, resolver_close, resolver_close_errno;
	long resolver_getppid;
};

extern struct shim_ctor_results shim_ctor;

#endif
