#!/bin/bash
# One summary over nested-full's arms, from bartoggle-run's own records as
# L1 framed them; re-runnable.
#   nested-full-collect.sh DIR [ELAPSED_S] [TIMED_OUT]
# Writes DIR/<arm>.jsonl and DIR/summary.json (temp + rename); prints the
# summary on stderr. Exit 0 when L1 finished.
set -uo pipefail
. "$(dirname "$0")/lib/guest.sh"
out=${1:?usage: nested-full-collect.sh DIR [ELAPSED_S] [TIMED_OUT]}
elapsed=${2:-null}
timed_out=${3:-0}
cat "$out"/boot-*/frames.log 2>/dev/null | tr -d '\r' | grep -a '^BT1 ' >"$out/frames.txt"
for a in default no-mmap l2-emulated sigint sigkill; do
	sed -n "s/^BT1 rec $a //p" "$out/frames.txt" >"$out/$a.jsonl"
done
jq -n --slurpfile d "$out/default.jsonl" --slurpfile n "$out/no-mmap.jsonl" \
	--slurpfile e "$out/l2-emulated.jsonl" \
	--arg sigkill "$(sed -n 's/^BT1 out sigkill //p' "$out/frames.txt" | paste -sd'|' -)" \
	--arg sigint "$(sed -n 's/^BT1 out sigint //p' "$out/frames.txt")" \
	--slurpfile si "$out/sigint.jsonl" \
	--argjson elapsed "$elapsed" --argjson timed_out "$timed_out" \
	--arg done "$(grep -c '^BT1 done' "$out/frames.txt" | grep -qx "$(ls -d "$out"/boot-* 2>/dev/null | wc -l)" && echo 1)" \
	--argjson lane "$(jq -c . "$out/lane.json" 2>/dev/null || echo null)" '
	def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	# The VMM column of bartoggle-run report (lib/rowkey.c, lib/qemubuild.c).
	def vmm: "QEMU \(.qemu.version // "?")" + (.qemu.build as $b | ($b.kind // "unknown") as $k |
		if $k == "unknown" then "" elif $k == "distribution" then " (\($b.package))"
		elif $b.key then " [\($k) \($b.key)]" else " [\($k)]" end);
	def arm0: {runs: length,
		outcomes: (group_by(.outcome) | map({key: .[0].outcome, value: length}) | from_entries),
		verdicts: (group_by(.verdict) | map({key: .[0].verdict, value: length}) | from_entries),
		signatures: (map(.signature // empty) | unique),
		time_to_death_ms: (map(.first_failure.ms // empty) | {median: median, max: max, min: min}),
		cycles: (map(.counts.cycles) | add), window_hits: (map(.counts.window_hits) | add),
		ur_reads: (map(.counts.ur_reads) | add), ur_violations: (map(.counts.ur_violations) | add),
		memory_fault_retries: (map(.qemu.memory_fault_retries // empty) | add),
		qemu: (first | .qemu.version), vmms: (map(vmm) | unique), guest_kernel: (first | .guest_kernel)};
	# One row per QEMU under test (nested-full.sh --qemu, repeated).
	def arm: arm0 + {by_vmm: (group_by(vmm) | map({key: (.[0] | vmm), value: (arm0 + {build: .[0].qemu.build})}) | from_entries)};
	{schema: "bartoggle.nested-full/1", lane: $lane, complete: ($done == "1"), timed_out: ($timed_out == 1),
	 elapsed_s: $elapsed, default: ($d | arm), no_mmap: ($n | arm),
	 l2_emulated: (if ($e | length) > 0 then ($e | arm) else null end),
	 sigint: {state: $sigint, record: ($si | first | if . then {verdict, error, cycles: .counts.cycles} else null end)},
	 sigkill_restore: ($sigkill | split("|"))}' >"$out/summary.json.tmp" &&
	mv "$out/summary.json.tmp" "$out/summary.json"
jq -r '"nested-full: default: \(.default.runs) runs, \(.default.outcomes | tojson), time to VM death median \(.default.time_to_death_ms.median) ms (min \(.default.time_to_death_ms.min), max \(.default.time_to_death_ms.max))",
	(.default.by_vmm | select(length > 1) | to_entries[] | "nested-full: default on \(.key): \(.value.outcomes | tojson), \(.value.cycles) cycles, \(.value.window_hits) window hits, \(.value.ur_reads) UR reads, \(.value.ur_violations) UR violations, \(.value.memory_fault_retries // "no") memory-fault retries"),
	"nested-full: default signature: \(.default.signatures | join("; "))",
	"nested-full: x-no-mmap: \(.no_mmap.runs) runs, \(.no_mmap.outcomes | tojson), \(.no_mmap.cycles) cycles, \(.no_mmap.window_hits) window hits, \(.no_mmap.ur_reads) UR reads, \(.no_mmap.ur_violations) UR violations",
	"nested-full: l2-emulated: \(if .l2_emulated then "\(.l2_emulated.outcomes | tojson), \(.l2_emulated.cycles) cycles" else "not run" end)",
	"nested-full: sigint: \(.sigint.state); record \(.sigint.record | tojson)",
	"nested-full: sigkill/restore: \(.sigkill_restore | join("; "))",
	"nested-full: L1 \(.lane.l1_kernel // "?") (KVM \(.lane.kvm_build.kind // "stock")\(.lane.kvm_build.patches // [] | map(" + " + .name) | join("")))",
	(.lane.harness_faults // [] | .[] | "nested-full: harness fault (the boot was done again, nothing judged): \(.)"),
	"nested-full: \(if .complete then "complete" else "INCOMPLETE" end) in \(.elapsed_s) s; results in '"$out"'"' "$out/summary.json" >&2
grep '^BT1 error' "$out/frames.txt" >&2
jq -e '.complete' "$out/summary.json" >/dev/null
