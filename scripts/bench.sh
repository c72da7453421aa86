#!/bin/bash
# make bench, three parts, each against its ceiling:
# - with --repro and --minrace: bartoggle-repro against the minimal KVM loop
#   on this host (scripts/bench-repro.sh): window hits/s and control
#   accesses/s, with ratios;
# - with --nested-repro: the race's rates in the nested lane on stock and
#   fixed 6.12 (scripts/bench-nested.sh);
# - in one TCG guest with -smp 2 -device edu, the same number of MEM off/on
#   cycles three ways: the agent (hammering as it toggles), a raw
#   pread/pwrite loop (the ceiling), and a shell loop of setpci (what people
#   write by hand). One line per arm, then
#   bench: agent=<cycles/s> raw=<cycles/s> setpci=<cycles/s>
#
#   bench.sh --agent BIN --raw BIN [--cycles N] [--out DIR]
#            [--repro BIN --minrace BIN] [--nested-repro STATIC_BINARY]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
agent="" raw="" cycles=2000 out="" repro="" minrace="" nested_repro=""
while [ $# -gt 0 ]; do
	case $1 in
	--agent) agent=$2; shift ;;
	--raw) raw=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--out) out=$2; shift ;;
	--repro) repro=$2; shift ;;
	--minrace) minrace=$2; shift ;;
	--nested-repro) nested_repro=$2; shift ;;
	-h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "bench: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out=results/bench/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
part_rc=0
if [ -n "$repro" ]; then
	"$here/bench-repro.sh" --repro "$repro" --minrace "$minrace" --out "$out/repro"
	r=$?; [ "$r" = 0 ] || [ "$r" = 4 ] || part_rc=1
fi
if [ -n "$nested_repro" ]; then
	"$here/bench-nested.sh" --repro "$nested_repro" --out "$out/nested"
	r=$?; [ "$r" = 0 ] || [ "$r" = 4 ] || part_rc=1
fi
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
[ "$rc" = 0 ] && [ "$part_rc" = 0 ] && [ -n "$agent_rate" ] && [ -n "$raw_rate" ] && [ -n "$setpci_rate" ]
