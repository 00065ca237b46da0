#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Module life: unload is refused while an instance is open; then MODULE_CYCLES (default 20;
# `make check-debug`: 1000) insmod/rmmod cycles, each with an instance opened, used and
# closed in between, and the module left loaded as it was found. TAP. Needs RUST_EPOLL_KO
# (set by vm-init); the kernel's own checks (dmesg, kmemleak) judge what happened inside.
ko=${RUST_EPOLL_KO:-}
n=${MODULE_CYCLES:-20}
echo "TAP version 13"
if [ -z "$ko" ] || ! grep -q '^rust_epoll ' /proc/modules; then
	echo "1..0 # SKIP the module is not loaded from RUST_EPOLL_KO"
	exit 0
fi
echo "1..2"
fail=0

# An open instance holds the module: rmmod fails ("in use") and the module stays.
exec 3<>/dev/rust_epoll
if rmmod rust_epoll 2>/dev/null || ! grep -q '^rust_epoll ' /proc/modules; then
	echo "not ok 1 rmmod refused while an instance is open"; fail=1
else
	echo "ok 1 rmmod refused while an instance is open"
fi
exec 3>&-

i=0
start=$(date +%s)
while [ $i -lt "$n" ]; do
	rmmod rust_epoll || break
	insmod "$ko" || break
	# Use it between load and unload: an instance opened and closed again.
	exec 3<>/dev/rust_epoll 4</proc/self/stat || break
	exec 3>&- 4<&-
	i=$((i + 1))
done
if [ $i -eq "$n" ] && grep -q '^rust_epoll ' /proc/modules; then
	echo "ok 2 $n insmod/rmmod cycles ($(( $(date +%s) - start )) s)"
else
	grep -q '^rust_epoll ' /proc/modules || insmod "$ko"
	echo "not ok 2 insmod/rmmod cycles: stopped after $i of $n"; fail=1
fi
exit $fail
