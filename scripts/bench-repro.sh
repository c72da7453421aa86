#!/bin/bash
# make bench, host arms: bartoggle-repro against bt-minrace (tools/minrace.c,
# the smallest KVM program doing the same job) on this host's /dev/kvm, shmem
# backing, one vCPU, the same guest accesses (--access rw: write the BAR,
# read it back, as the minimal loop does). Race: window hits/s (accesses
# that found the backing gone); control: accesses/s, never toggled. Each
# arm: median of --rounds runs of --seconds. Prints
#   bench: repro-window-hits/s=<n> minimal=<n> ratio=<r>
#   bench: repro-control-accesses/s=<n> minimal=<n> ratio=<r>
# and leaves each run's record/JSON in --out.
#
#   bench-repro.sh --repro BIN --minrace BIN [--seconds S] [--rounds N] [--out DIR]
# Exit 0, 1 when an arm failed, 2 usage, 4 without /dev/kvm.
set -uo pipefail
repro="" minrace="" seconds=3 rounds=3 out=""
while [ $# -gt 0 ]; do
	case $1 in
	--repro) repro=$2; shift ;;
	--minrace) minrace=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "bench-repro: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$repro" ] && [ -x "$minrace" ] || { echo "bench-repro: --repro and --minrace want executables" >&2; exit 2; }
case $rounds in ''|*[!0-9]*|0) echo "bench-repro: --rounds wants a positive number" >&2; exit 2 ;; esac
[ -e /dev/kvm ] || { echo "bench-repro: SKIP: no /dev/kvm on this host" >&2; exit 4; }
[ -n "$out" ] || out=results/bench/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)-repro
mkdir -p "$out"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
rc=0
for mode in race control; do
	for i in $(seq "$rounds"); do
		"$repro" --backing shmem --mode "$mode" --access rw --duration "$seconds" \
			--quiet --json "$out/repro-$mode.jsonl" >"$out/repro-$mode-$i.ktap" 2>"$out/repro-$mode-$i.err" ||
			{ echo "bench-repro: repro $mode round $i failed: $(head -c 300 "$out/repro-$mode-$i.err")" >&2; rc=1; }
		"$minrace" --mode "$mode" --seconds "$seconds" >>"$out/minrace-$mode.jsonl" 2>"$out/minrace-$mode-$i.err" ||
			{ echo "bench-repro: bt-minrace $mode round $i failed: $(head -c 300 "$out/minrace-$mode-$i.err")" >&2; rc=1; }
	done
done
# Window hits per second of device time; accesses per second.
r_hits=$(jq -r '.counts.window_hits / .duration_s' "$out/repro-race.jsonl" 2>/dev/null | median)
m_hits=$(jq -r '.window_hits_per_s' "$out/minrace-race.jsonl" 2>/dev/null | median)
r_acc=$(jq -r '.rates.accesses_per_s' "$out/repro-control.jsonl" 2>/dev/null | median)
m_acc=$(jq -r '.accesses_per_s' "$out/minrace-control.jsonl" 2>/dev/null | median)
line() {
	if [ -n "$2" ] && [ -n "$3" ]; then
		awk -v n="$1" -v r="$2" -v m="$3" 'BEGIN { printf "bench: %s=%.0f minimal=%.0f ratio=%.2f\n", n, r, m, (m > 0 ? r / m : 0) }'
	else
		echo "bench: $1=${2:-failed} minimal=${3:-failed} ratio=failed"; rc=1
	fi
}
line repro-window-hits/s "$r_hits" "$m_hits"
line repro-control-accesses/s "$r_acc" "$m_acc"
exit "$rc"
