#!/bin/bash
# make bench, nested arms: the race's rates on the real vfio-pci and KVM of
# Debian's 6.12 inside the nested lane's L1 (TCG here), stock and with
# fixes/kvm-memory-fault-exit.patch. On the stock kernel every race trial
# ends at its first window hit (-EFAULT): its rate is cycles/s up to it. On
# the fixed kernel every disabled access round-trips through the repro's UR
# emulation (KVM_EXIT_MEMORY_FAULT), and one race of --soak cycles shows it:
# cycles/s and window hits/s. Prints
#   bench: nested-vfio-6.12 cycles/s=<n> (<trials> trials until the first hit)
#   bench: nested-vfio-6.12-fix cycles/s=<n> window-hits/s=<n> (<cycles> cycles, <outcome>)
#
#   bench-nested.sh --repro STATIC_BINARY [--trials N] [--soak N] [--out DIR]
# Exit 0, 1 when a lane did not complete, 2 usage, 4 when no kernel could be had.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
repro="" trials=5 soak=20000 out=""
while [ $# -gt 0 ]; do
	case $1 in
	--repro) repro=$2; shift ;;
	--trials) trials=$2; shift ;;
	--soak) soak=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "bench-nested: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$repro" ] || { echo "bench-nested: --repro wants the static reproducer" >&2; exit 2; }
for n in "$trials" "$soak"; do
	case $n in ''|*[!0-9]*) echo "bench-nested: --trials and --soak want numbers" >&2; exit 2 ;; esac
done
[ -n "$out" ] || out=results/bench/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)-nested
mkdir -p "$out"

rc=0 ran=0
# name, soak cycles, nested-lane.sh arguments
arms=(
	"6.12:0:--kernel debian-6.12"
	"6.12-fix:$soak:--kernel debian-6.12 --kvm-patch $top/fixes/kvm-memory-fault-exit.patch"
)
for arm in "${arms[@]}"; do
	name=${arm%%:*} rest=${arm#*:}
	arm_soak=${rest%%:*} args=${rest#*:}
	# shellcheck disable=SC2086
	"$here/nested-lane.sh" --repro "$repro" $args --no-pfnmap --trials "$trials" \
		--soak "$arm_soak" --control 1 --out "$out/$name" >"$out/$name.out" 2>"$out/$name.err"
	lane_rc=$?
	case $lane_rc in
	4) echo "bench: nested-vfio-$name SKIP: $(tail -n 1 "$out/$name.err")"; continue ;;
	0) ran=$((ran + 1)) ;;
	*) echo "bench: nested-vfio-$name failed (nested-lane exit $lane_rc): $(grep -m1 -E 'PARTIAL|harness|died|timed out' "$out/$name.err")"
	   rc=1; continue ;;
	esac
	recs=$out/$name/records.jsonl
	if [ "$arm_soak" = 0 ]; then
		jq -rs --arg n "$name" '[.[] | select(.mode == "race" and .backing == "vfio")] |
			if length == 0 then "bench: nested-vfio-\($n) failed: no race trial recorded"
			else "bench: nested-vfio-\($n) cycles/s=\((map(.counts.cycles) | add) / (map(.duration_s) | add) | floor) (\(length) trials until the first hit: \(map(.outcome) | unique | join(",")))" end' "$recs"
	else
		jq -rs --arg n "$name" --argjson c "$arm_soak" '[.[] | select(.mode == "race" and .backing == "vfio" and .options.until_hit == false)] |
			if length == 0 then "bench: nested-vfio-\($n) failed: no race of \($c) cycles recorded"
			else .[-1] | "bench: nested-vfio-\($n) cycles/s=\(.counts.cycles / .duration_s | floor) window-hits/s=\(.counts.window_hits / .duration_s | floor) (\(.counts.cycles) cycles, \(.counts.window_hits) window hits, \(.outcome))" end' "$recs"
	fi
done
[ "$ran" = 0 ] && [ "$rc" = 0 ] && exit 4
exit "$rc"
