#!/bin/bash
# Turn a nested-lane run's raw logs into results; re-runnable.
#   nested-collect.sh DIR
# Reads DIR/lane.json (what the host knows: L1 kernel, QEMU, accel, trials,
# timed_out, stalled, boot_attempts, qemu_exit, elapsed_s) and the framed
# data channel of every boot (DIR/attempt-*/frames.log, DIR/frames.log).
# Writes frames.txt, ktap.txt, records.jsonl and summary.json (temp +
# rename), prints a summary on stderr. Exit 0 when the lane completed, 3
# when more than 1% of its race trials were inconclusive (never hit the
# disabled window), 1 when it was cut short.
#
# Every step that ended gets a record: the one it framed, or, when it ended
# without one, a record made here (outcome host-error when L1 framed the
# step as stuck in its kernel, setup-error otherwise) with the evidence.
set -uo pipefail
. "$(dirname "$0")/lib/guest.sh"
. "$(dirname "$0")/lib/ktap.sh"
out=${1:?usage: nested-collect.sh DIR}
log() { echo "nested-lane: $*" >&2; }
[ -s "$out/lane.json" ] || { log "no $out/lane.json"; exit 2; }

guest_frames "$out"
lane=$(jq -c --arg dev "$(sed -n 's/^BT1 device //p' "$out/frames.txt" | head -n 1)" \
	'{l1_kernel, kvm_build: (.kvm_build // {kind: "stock"}), qemu, accel, device: $dev}' "$out/lane.json")

: >"$out/records.jsonl.tmp"
sed -n 's/^BT1 rec \([^ ]*\) \(.*\)$/\1 \2/p' "$out/frames.txt" |
while read -r name json; do
	jq -c --arg name "$name" --argjson lane "$lane" '. + {lane: ($lane + {step: $name})}' \
		<<<"$json" >>"$out/records.jsonl.tmp" 2>/dev/null ||
		log "dropped a corrupt record frame for $name"
done

# Steps that are not reproducer runs frame their results otherwise.
awk '$2 == "end" && $3 != "pfnmap-module" && $3 != "kselftest" { print $3, $4 }' "$out/frames.txt" |
while read -r name rc; do
	jq -se --arg n "$name" 'any(.[]; .lane.step == $n)' "$out/records.jsonl.tmp" >/dev/null && continue
	hang=$(sed -n "s/^BT1 hang $name //p" "$out/frames.txt")
	stderr=$(sed -n "s/^BT1 stderr $name //p" "$out/frames.txt")
	log "$name ended (exit $rc) without a record$([ -n "$hang" ] && echo ': stuck in L1')"
	jq -nc --arg name "$name" --argjson lane "$lane" --arg rc "$rc" \
		--arg hang "$hang" --arg stderr "$stderr" \
		--arg now "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
		($hang | split("\n") | map(select(length > 0))) as $h |
		{schema: "bartoggle.record/1", tool: "repro", version: null, time: $now,
		 host: {hostname: null, kernel: $lane.l1_kernel, memory_fault_info: null},
		 device: null,
		 backing: (if ($name | startswith("pfnmap-")) then "pfnmap" else "vfio" end),
		 mode: ($name | ltrimstr("pfnmap-") | sub("-[0-9]+$"; "")),
		 options: null,
		 outcome: (if ($h | length) > 0 then "host-error" else "setup-error" end),
		 verdict: (if ($h | length) > 0 then "FAIL" else "ERROR" end),
		 counts: {cycles: 0, toggles: 0, accesses: 0, window_hits: 0,
			  ur_reads: 0, ur_violations: 0},
		 rates: {toggles_per_s: 0, accesses_per_s: 0}, first_failure: null,
		 duration_s: null,
		 signature: (if ($h | length) > 0 then "stuck in L1: \($h[0])"
			     else "bartoggle-repro exited \($rc) without a record" end),
		 evidence: {exit: ($rc | tonumber? // $rc), blocked: $h,
			    stderr: ($stderr | split("\n") | map(select(length > 0)))},
		 lane: ($lane + {step: $name})}' >>"$out/records.jsonl.tmp"
done
mv "$out/records.jsonl.tmp" "$out/records.jsonl"
sed -n 's/^BT1 kselftest out //p' "$out/frames.txt" >"$out/kselftest.ktap.tmp"
ktap_lane "$out/frames.txt" "$out/records.jsonl" \
	"nested lane: $(jq -r '"L1 \(.l1_kernel // "?"), KVM \(.kvm_build.kind // "stock"), \(.qemu // "QEMU ?") (\(.accel // "?"))"' <<<"$lane")" \
	"$out/kselftest.ktap.tmp" >"$out/ktap.txt.tmp" && mv "$out/ktap.txt.tmp" "$out/ktap.txt"
rm -f "$out/kselftest.ktap.tmp"

done_frame=$(grep -c '^BT1 done' "$out/frames.txt")
running=$(awk '$2 == "start" { s = $3 } $2 == "end" { s = "" } END { print s }' "$out/frames.txt")
jq -s --argjson lane "$lane" --slurpfile run "$out/lane.json" \
	--arg partial "$([ "$done_frame" = 1 ] && echo false || echo true)" \
	--arg running "$running" \
	--arg error "$(sed -n 's/^BT1 error //p' "$out/frames.txt" | head -n 1)" \
	--arg boot "$(sed -n 's/^BT1 up //p' "$out/frames.txt" | tail -n 1)" \
	--argjson kmod_frames "$(sed -n 's/^BT1 kmod //p' "$out/frames.txt" | jq -Rsc '
		split("\n") | map(select(length > 0) | capture("^(?<k>[^ ]+) (?<v>.*)$")) |
		map({key: .k, value: .v}) | from_entries')" \
	--argjson kselftest "$(sed -n 's/^BT1 kselftest out //p' "$out/frames.txt" | jq -Rsc \
		--arg rc "$(awk '$2 == "end" && $3 == "kselftest" { print $4 }' "$out/frames.txt")" '
		split("\n") | map(select(length > 0)) as $l |
		if ($l | length) == 0 then null else
		{exit: ($rc | tonumber? // null),
		 passed: ($l | map(select(test("^ok [0-9]+ ") and (test("# SKIP") | not))) | length),
		 failed: ($l | map(select(test("^not ok "))) | length),
		 skipped: ($l | map(select(test("^ok [0-9]+ .*# SKIP"))) | length),
		 output: $l} end')" '
	def step(p): map(select(.lane.step | test(p)));
	def median: if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	# The steps of one backing, named PREFIX + held, race-N, soak, control.
	def part($prefix; $trials):
		(step("^\($prefix)race-")) as $race | {
		held: (step("^\($prefix)held$") | first | if . then {outcome, verdict,
			first_failure, signature, accesses: .counts.accesses} else null end),
		race: {
			trials: $trials,
			completed: ($race | length),
			outcomes: ($race | group_by(.outcome) | map({key: .[0].outcome, value: length}) | from_entries),
			# A trial that never hit the disabled window tested
			# nothing: it is counted, not judged.
			conclusive: ($race | map(select(.verdict != "ERROR")) | length),
			inconclusive: ($race | map(select(.verdict == "ERROR")) | length),
			judged_outcomes: ($race | map(select(.verdict != "ERROR")) |
				group_by(.outcome) | map({key: .[0].outcome, value: length}) | from_entries),
			inconclusive_trials: ($race | map(select(.verdict == "ERROR")) | map({
				step: .lane.step, outcome, cycles: .counts.cycles,
				accesses: .counts.accesses, window_hits: .counts.window_hits,
				duration_s, reason,
				cause: (if .outcome != "survived" then "the trial could not run: \(.reason // .signature // .outcome)"
					elif .counts.accesses == 0 then "the vCPU never accessed the BAR in \(.duration_s) s: L1 did not run it"
					else "\(.counts.accesses) accesses in \(.counts.cycles) cycles, none inside the disabled window" end)})),
			first_failure_ms: ($race | map(.first_failure.ms // empty) | sort |
				{median: median, max: (max // null), min: (min // null)}),
			cycles_to_failure: ($race | map(.first_failure.cycle // empty) | sort |
				{median: median, max: (max // null)})
		},
		soak: (step("^\($prefix)soak$") | first | if . then {outcome, verdict,
			cycles: .counts.cycles, window_hits: .counts.window_hits,
			ur_reads: .counts.ur_reads, ur_violations: .counts.ur_violations,
			first_failure, duration_s, rates, signature} else null end),
		control: (step("^\($prefix)control$") | first | if . then {outcome, verdict,
			accesses: .counts.accesses, duration_s, errors:
			(.counts.ur_violations + .counts.ur_reads + (.vmm.fatal_results // 0))} else null end)
	};
	$run[0] as $r | ($r.backings // ["vfio"]) as $backings |
	{
		schema: "bartoggle.nested-summary/1",
		lane: ($lane + {lean: ($r.lean // false), backings: $backings}),
		partial: ($partial == "true"),
		running_when_cut: (if $running == "" then null else $running end),
		timed_out: $r.timed_out,
		stalled: $r.stalled,
		boot_attempts: $r.boot_attempts,
		harness_faults: ($r.harness_faults // []),
		qemu_exit: $r.qemu_exit,
		error: (if $error == "" then null else $error end),
		elapsed_s: $r.elapsed_s,
		boot_s: ($boot | tonumber? // null),
		ready_s: $r.ready_s
	} + part(""; if $backings | index("vfio") then $r.trials else 0 end) + {
		iommu_modes: (step("^iommu-") | map({key: (.lane.step | ltrimstr("iommu-")),
			value: {outcome, reason}}) | from_entries),
		pfnmap: (if $backings | index("pfnmap") then
			part("pfnmap-"; $r.trials) + {kmod: $r.kmod, "module": $kmod_frames, kselftest: $kselftest}
			else ($r.kmod // null) end)
	}' "$out/records.jsonl" >"$out/summary.json.tmp" && mv "$out/summary.json.tmp" "$out/summary.json"

jq -r '
	def part($b): select(.race.trials > 0 or .held) |
	"nested-lane: \($b) held: \(.held.outcome // "none") (\(.held.signature // "-"))",
	"nested-lane: \($b) race: \(.race.completed)/\(.race.trials) trials, \(.race.conclusive) conclusive: \(.race.judged_outcomes | tojson), \(.race.inconclusive) inconclusive; first failure median \(.race.first_failure_ms.median) ms, max \(.race.first_failure_ms.max) ms",
	(.race.inconclusive_trials[] | "nested-lane: \($b) race: \(.step) INCONCLUSIVE: \(.cause)"),
	(.soak // empty | "nested-lane: \($b) soak: \(.outcome) \(.verdict), \(.cycles) cycles, \(.window_hits) window hits, \(.ur_violations) UR violations, \(.duration_s) s"),
	"nested-lane: \($b) control: \(.control.outcome // "none"), \(.control.accesses // 0) accesses, \(.control.errors // "-") errors";
	"nested-lane: L1 \(.lane.l1_kernel) (KVM \(.lane.kvm_build.kind)\(.lane.kvm_build.patches // [] | map(" + " + .name) | join(""))), \(.lane.qemu), accel \(.lane.accel), \(if .lane.lean then "lean (no IOMMU, no device)" else "device \(.lane.device)" end)",
	part("vfio"),
	(select(.lane.lean | not) | "nested-lane: IOMMU modes: \(.iommu_modes | to_entries | map("\(.key) \(.value.outcome)") | join(", "))"),
	(.pfnmap // empty | select(.skipped) | "nested-lane: pfnmap: skipped: \(.skipped)"),
	(.pfnmap // empty | select(.race) | part("pfnmap"),
	 "nested-lane: pfnmap module: load \(.module.load // "-"); unload while mapped: \(.module["unload-while-mapped"] // "-"); after kill: \(.module["after-kill"] // "-"); unload: \(.module.unload // "-")",
	 "nested-lane: selftest: \(.kselftest // {} | "exit \(.exit), \(.passed) passed, \(.failed) failed, \(.skipped) skipped")"),
	"nested-lane: \(if .partial then "PARTIAL (cut during \(.running_when_cut // "boot"))" else "complete" end) in \(.elapsed_s) s (L1 ready \(.ready_s // "?") s after QEMU started, \(.boot_s // "?") s of its uptime), \(.boot_attempts) boot(s)",
	(.harness_faults[] | "nested-lane: harness fault (the boot was done again, nothing judged): \(.)")' \
	"$out/summary.json" >&2
log "results in $out"
[ -n "$(jq -r '.error // empty' "$out/summary.json")" ] && log "L1 error: $(jq -r .error "$out/summary.json")"
jq -e '.partial == false and .timed_out == false and .stalled == false' "$out/summary.json" \
	>/dev/null || exit 1
# More than 1% of the race trials inconclusive: the lane measured too little
# to judge the kernel, and says so (exit 3), with each trial's cause above.
if ! jq -e '[., .pfnmap // empty | .race // empty] | all(.inconclusive * 100 <= .completed)' "$out/summary.json" >/dev/null; then
	log "INCONCLUSIVE: $(jq -r '[., .pfnmap // empty | .race // empty] | map("\(.inconclusive) of \(.completed)") | join(" and ") | "\(.) race trials never hit the disabled window (more than 1%)"' "$out/summary.json")"
	exit 3
fi
