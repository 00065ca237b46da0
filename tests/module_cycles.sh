#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Module life: unload is refused while an instance is open, and while one of the module's
# debugfs files is open (its file_operations' owner); then MODULE_CYCLES (default 20;
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
echo "1..3"
fail=0

# An open instance holds the module: rmmod fails ("in use") and the module stays.
exec 3<>/dev/rust_epoll
if rmmod rust_epoll 2>/dev/null || ! grep -q '^rust_epoll ' /proc/modules; then
	echo "not ok 1 rmmod refused while an instance is open"; fail=1
else
	echo "ok 1 rmmod refused while an instance is open"
fi
exec 3>&-

# An open debugfs file holds the module too: the release hook's, and an instance's picture
# whose instance is closed already (the file is removed, the open one stays). Opened by a
# child, which keeps them open until it is killed: without the module reference rmmod
# succeeds, and the child's close then calls through the freed module's file_operations
# (an oops in full_proxy_release, in the child; the run's kernel-log check reports it).
dbg=/sys/kernel/debug/rust_epoll
if [ -r $dbg/release_hook ]; then
	views=$(cat $dbg/views)
	(
		echo 1 > $dbg/views
		exec 4<>/dev/rust_epoll
		view=$dbg/$(ls $dbg | grep -v '^release_hook$' | head -n 1)
		exec 3<$dbg/release_hook 5<"$view" 4>&-
		exec sleep 600
	) &
	child=$!
	k=0
	while [ $k -lt 100 ] && ! [ -e /proc/$child/fd/5 ]; do sleep 0.1; k=$((k + 1)); done
	if ! [ -e /proc/$child/fd/5 ]; then
		echo "not ok 2 rmmod refused while a debugfs file is open: the child did not open them"; fail=1
	elif rmmod rust_epoll 2>/dev/null || ! grep -q '^rust_epoll ' /proc/modules; then
		echo "not ok 2 rmmod refused while a debugfs file is open: it was unloaded"; fail=1
	else
		echo "ok 2 rmmod refused while a debugfs file is open"
	fi
	kill $child; wait $child 2>/dev/null
	[ "$views" = Y ] || echo 0 > $dbg/views
	grep -q '^rust_epoll ' /proc/modules || insmod "$ko"
else
	echo "ok 2 rmmod refused while a debugfs file is open # SKIP no $dbg/release_hook"
fi

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
	echo "ok 3 $n insmod/rmmod cycles ($(( $(date +%s) - start )) s)"
else
	grep -q '^rust_epoll ' /proc/modules || insmod "$ko"
	echo "not ok 3 insmod/rmmod cycles: stopped after $i of $n"; fail=1
fi
exit $fail
