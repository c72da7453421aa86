#!/bin/bash
# make bench: in one TCG guest with -smp 2 -device edu, the same number of
# MEM off/on cycles three ways: the agent (hammering as it toggles), a raw
# pread/pwrite loop (the ceiling), and a shell loop of setpci (what people
# write by hand). One line per arm, then
#   bench: agent=<cycles/s> raw=<cycles/s> setpci=<cycles/s>
#
#   bench.sh --agent BIN --raw BIN [--cycles N] [--out DIR]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
agent="" raw="" cycles=2000 out=""
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift ;;
	--raw) raw=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "bench: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out=results/bench/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
"$here/agent-guest.sh" --mode bench --agent "$agent" --raw "$raw" --cycles "$cycles" --out "$out"
rc=$?
[ "$rc" = 4 ] && exit 4

# Each arm's cycles/s from its own output; agent and raw: median of 3 rounds.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
agent_rate=$(cat "$out"/agent-*.out 2>/dev/null |
	jq -r 'select(.type == "done") | .rates.cycles_per_s' 2>/dev/null | median)
raw_rate=$(cat "$out"/raw-*.out 2>/dev/null | awk '$1 == "raw" { print $4 }' | median)
setpci_rate=$(awk '$1 == "setpci" { print $4 }' "$out/setpci.out" 2>/dev/null)
rounds() {
	case $1 in
	agent) cat "$out"/agent-*.out | jq -r 'select(.type == "done") | .rates.cycles_per_s | floor' ;;
	raw) cat "$out"/raw-*.out | awk '$1 == "raw" { print $4 }' ;;
	esac 2>/dev/null | paste -sd/ -
}
arm() {
	if [ -n "$2" ]; then
		printf 'bench: %-7s %8d cycles %10.0f cycles/s  %s\n' "$1" "$cycles" "$2" "$3"
	else
		printf 'bench: %-7s failed: %s\n' "$1" "$(cat "$out/$1"*.err 2>/dev/null | head -c 300)"
	fi
}
arm agent "$agent_rate" "(median of $(rounds agent); hammering: $(cat "$out"/agent-1.out 2>/dev/null | jq -r 'select(.type == "done") | "\(.counts.accesses) accesses, \(.counts.window_hits) window hits"' 2>/dev/null))"
arm raw "$raw_rate" "(median of $(rounds raw); pwrite off/on, nothing else)"
arm setpci "$setpci_rate" "(two setpci processes per cycle)"
if [ -n "$agent_rate" ] && [ -n "$raw_rate" ] && [ -n "$setpci_rate" ]; then
	awk -v a="$agent_rate" -v r="$raw_rate" -v s="$setpci_rate" 'BEGIN {
		printf "bench: agent/raw = %.2f, agent/setpci = %.0f\n", a / r, a / s }'
fi
echo "bench: agent=${agent_rate:-failed} raw=${raw_rate:-failed} setpci=${setpci_rate:-failed}"
[ "$rc" = 0 ] && [ -n "$agent_rate" ] && [ -n "$raw_rate" ] && [ -n "$setpci_rate" ]
