#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A real network server and its load generator on /dev/rust_epoll through the LD_PRELOAD shim:
# Debian's redis-server (unmodified; it links jemalloc, whose initialisation calls syscall()
# before the shim's constructor runs) and redis-benchmark, both event loops on epoll, over TCP
# loopback. TAP. Checks that both processes' epoll fds are /dev/rust_epoll and none is native
# epoll, and that every benchmark request reached the server and succeeded: the server's own
# per-command counts, an INCR counter and a list's length equal the number of requests sent.
# redis-tools (scripts/setup installs it) ships the server binary as redis-check-rdb; redis
# picks its mode from argv[0], so a link named redis-server runs it as the server, with no
# service installed or started. REDIS_REQUESTS (default 40000, a multiple of the pipeline
# depth 16) requests per command, for SET, GET, INCR and LPUSH.
build=${RUST_EPOLL_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/build/tests}
shim=$build/librust_epoll_preload.so
n=${REDIS_REQUESTS:-40000}
port=${REDIS_PORT:-$((20000 + $$ % 20000))}
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
i=0
result() { # result OK|FAIL DESCRIPTION [DETAIL-FILE]
	i=$((i + 1))
	if [ "$1" = OK ]; then echo "ok $i $2"; else echo "not ok $i $2"; fi
	[ "$1" = OK ] || [ -z "${3:-}" ] || sed 's/^/# /' "$3" | head -n 30
}
cli() { redis-cli -p "$port" "$@" 2>&1; }
# epoll_fds PID: the targets of PID's fds that are an epoll, one per line
epoll_fds() { readlink /proc/"$1"/fd/* 2>/dev/null | grep -E 'rust_epoll|eventpoll'; }

echo "TAP version 13"
echo "1..6"
for f in "$shim" /usr/bin/redis-check-rdb /usr/bin/redis-benchmark /usr/bin/redis-cli; do
	[ -e "$f" ] && continue
	echo "Bail out! $f missing (redis-tools is installed by scripts/setup; the shim by make tests)"
	exit 1
done

ln -s /usr/bin/redis-check-rdb "$tmp/redis-server"
LD_PRELOAD=$shim "$tmp/redis-server" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
	--dir "$tmp" --logfile "$tmp/server.log" --daemonize no > "$tmp/server.out" 2>&1 &
pid=$!
for _ in $(seq 300); do
	[ "$(cli ping)" = PONG ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ "$(cli ping)" = PONG ]; then
	result OK "redis-server (jemalloc) starts under the shim and answers PING on 127.0.0.1:$port"
else
	cat "$tmp/server.out" "$tmp/server.log" > "$tmp/why" 2>/dev/null
	result FAIL "redis-server (jemalloc) starts under the shim and answers PING" "$tmp/why"
	echo "Bail out! no server"
	exit 1
fi

epoll_fds "$pid" > "$tmp/server.fds"
dev=$(grep -c '^/dev/rust_epoll$' "$tmp/server.fds")
native=$(grep -c 'eventpoll' "$tmp/server.fds")
[ "$dev" -ge 1 ] && [ "$native" = 0 ] && ok=OK || ok=FAIL
result $ok "redis-server's epoll fds: $dev on /dev/rust_epoll, $native native (anon_inode:[eventpoll])" "$tmp/server.fds"

# The benchmark, its epoll fds sampled while it runs.
start=$(date +%s.%N)
LD_PRELOAD=$shim redis-benchmark -p "$port" -c 50 -n "$n" -P 16 -t set,get,incr,lpush --csv \
	> "$tmp/bench" 2> "$tmp/bench.err" &
bpid=$!
: > "$tmp/bench.fds"
samples=0
while kill -0 "$bpid" 2>/dev/null; do
	epoll_fds "$bpid" >> "$tmp/bench.fds"
	samples=$((samples + 1))
	sleep 0.05
done
wait "$bpid"
brc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
rows=$(grep -cE '^"(SET|GET|INCR|LPUSH)",' "$tmp/bench")
rps=$(awk -F'"' '/^"(SET|GET|INCR|LPUSH)",/ { printf "%s%s %.0f/s", sep, $2, $4; sep = ", " }' "$tmp/bench")
cat "$tmp/bench" "$tmp/bench.err" > "$tmp/why"
[ "$brc" = 0 ] && [ "$rows" = 4 ] && ok=OK || ok=FAIL
result $ok "redis-benchmark under the shim: $((4 * n)) requests (50 clients, pipeline 16) in $secs s: $rps" "$tmp/why"

dev=$(grep -c '^/dev/rust_epoll$' "$tmp/bench.fds")
native=$(grep -c 'eventpoll' "$tmp/bench.fds")
[ "$dev" -ge 1 ] && [ "$native" = 0 ] && ok=OK || ok=FAIL
result $ok "redis-benchmark's epoll fds, sampled $samples times while it ran: $dev on /dev/rust_epoll, $native native" "$tmp/bench.fds"

# Every request reached the server once and succeeded.
{
	cli info commandstats
	cli info stats
	echo "counter=$(cli get counter:__rand_int__) llen=$(cli llen mylist)"
} > "$tmp/stats"
ok=OK
for c in set get incr lpush; do
	calls=$(sed -n "s/^cmdstat_$c:calls=\([0-9]*\),.*failed_calls=\([0-9]*\).*/\1 \2/p" "$tmp/stats" | tr -d '\r')
	[ "$calls" = "$n 0" ] || { ok=FAIL; echo "$c: calls and failed_calls: '$calls', want '$n 0'" >> "$tmp/stats"; }
done
grep -q "^counter=$n llen=$n\$" "$tmp/stats" || ok=FAIL
grep -q '^total_error_replies:0' "$tmp/stats" || ok=FAIL
grep -q '^rejected_connections:0' "$tmp/stats" || ok=FAIL
result $ok "the server executed every request once: SET, GET, INCR, LPUSH $n calls each, 0 failed, 0 error replies; INCR counter = LLEN = $n" "$tmp/stats"

cli shutdown nosave > /dev/null
wait "$pid"
src=$?
pid=
cat "$tmp/server.out" "$tmp/server.log" > "$tmp/why" 2>/dev/null
[ "$src" = 0 ] && ! grep -q rust_epoll_preload "$tmp/why" && ok=OK || ok=FAIL
result $ok "redis-server exits 0 on SHUTDOWN, no message from the shim in its output" "$tmp/why"
