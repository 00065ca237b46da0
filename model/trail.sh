#!/usr/bin/env bash
# Shows a counterexample of protocol.pml, condensed to the steps that touch shared state.
#   model/trail.sh [spin macros] [pan options]     e.g.  model/trail.sh -DMUTATION_3 -DPROP_C -E
# Macros (-D...) go to spin, the rest to pan. The search is exhaustive; -i asks pan for the
# shortest counterexample (slower). Prints nothing but "no counterexample" if there is none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
macros=() panopt=()
for a in "$@"; do
	case $a in -D*) macros+=("$a") ;; *) panopt+=("$a") ;; esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/protocol.pml" "$tmp/"
cd "$tmp"
spin "${macros[@]}" -a protocol.pml >/dev/null
mode=-DSAFETY
case " ${panopt[*]} " in *" -l "*) mode=-DNP ;; esac	# a search for livelocks
${CC:-gcc} -O0 -w "$mode" -o pan pan.c
./pan -m300000 -w22 "${panopt[@]}" >pan.out 2>&1 || true
if [ ! -e protocol.pml.trail ]; then
	grep -E 'errors:' pan.out
	echo "no counterexample"
	exit 0
fi
grep -m1 -E 'assertion violated|invalid end state|non-progress cycle \(' pan.out || true
# Shared state: what protocol.pml declares before its first inline, and the locals `wake`
# and `r` (what a callback or a poll decided).
globals='st|lnk|hooked|inidx|onrel|inset|nrdl|ntx|scanning|nrel|reap_queued|onq|running|returned|mtx|bucket_lk|tq_lk|frefs|fdying|fgen|t0ready|qrefs|qalive|wake|r|sleep'
spin -t -p "${macros[@]}" protocol.pml 2>&1 | awk -v g="$globals" '
	/assertion violated|invalid end state|^spin: trail ends|START OF CYCLE/ { print "  => " $0; next }
	!/proc +[0-9]+ \(/ { next }
	{
		match($0, /proc +[0-9]+ \(:?[A-Za-z]+/); who = substr($0, RSTART, RLENGTH); gsub(/:/, "", who)
		sub(/proc +/, "", who); split(who, w, " \\("); who = w[2] "[" w[1] "]"
		match($0, /pml:[0-9]+/); line = substr($0, RSTART + 4, RLENGTH - 4)
		match($0, /\[.*\]$/); s = substr($0, RSTART + 1, RLENGTH - 2)
		if (s ~ /^assert\(\((mtx|bucket_lk|tq_lk)==/) next
		if (s ~ /^\(\((mtx|bucket_lk|tq_lk)==0\)\)$/) next
		if (s ~ /^(mtx|bucket_lk|tq_lk) = \(_pid\+1\)$/) { sub(/ =.*/, "", s); s = "lock " s }
		else if (s ~ /^(mtx|bucket_lk|tq_lk) = 0$/) { sub(/ =.*/, "", s); s = "unlock " s }
		else if (s !~ "(^|[^A-Za-z_])(" g ")([^A-Za-z_0-9]|$)") next
		printf "  %-12s %4s  %s\n", who, line, s
	}'
