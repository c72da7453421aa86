#!/bin/bash
# bartoggle-run end to end on the demo configuration (emulated edu, TCG
# here), a SIGINT in the middle of a run, and its refusals and usage errors.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
RUN=$BUILD/bartoggle-run
OUT=${BARTOGGLE_TEST_OUT:-results/check}/run
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$OUT"

"$RUN" --config configs/demo.ini --results "$OUT/demo" --quiet >"$OUT/demo.out" 2>"$OUT/demo.err"
rc=$?
grep -q 'kernel-fetch: cannot' "$OUT"/demo/*/image.log 2>/dev/null &&
	t_skip_all "no guest kernel: $(grep -h 'kernel-fetch: cannot' "$OUT"/demo/*/image.log)"
d=$(ls -d "$OUT"/demo/*/ | head -n 1)
r=$d/records.jsonl

t_plan 15
t_check "demo: exit 0, verdict PASS printed with the evidence path" bash -c "
	[ $rc = 0 ] && grep -q '^verdict: PASS' '$OUT/demo.err' && grep -q '^evidence: .*evidence.txt' '$OUT/demo.err'"
t_check "demo: survived 20000 cycles, the window was hit" jq_true "$r" \
	'.tool == "run" and .outcome == "survived" and .verdict == "PASS" and .counts.cycles == 20000 and .counts.toggles == 40000 and .counts.window_hits > 0 and .agent_finished'
t_check "demo: edu's zeros recorded as UR violations, not judged" jq_true "$r" \
	'.ur_check == "record" and .counts.ur_violations == .counts.window_hits and .counts.ur_reads == 0'
t_check "demo: record carries the effective config, QEMU (Debian's build) and device" jq_true "$r" \
	'.options.stress.cycles == 20000 and .options.device.emulated == "edu" and .qemu.version != "" and .device.vendor == "1234" and .device.device == "11e8" and .guest_kernel != null and .qemu.build.kind == "distribution" and (.qemu.build.package | startswith("Debian ")) and .qemu.build.resolved == "/usr/bin/qemu-system-x86_64" and .qemu.memory_fault_retries == null'
t_check "demo: record has the command and kernel build; progress kept per run" bash -c "
	jqs '(.command | test(\"^[^ ]*bartoggle-run --config configs/demo.ini\")) and
	     (.host.kernel_build | length > 0) and (.logs | endswith(\"/qemu1-run1\"))' <'$r' &&
	grep -q '\"type\":\"progress\"' '$d/qemu1-run1/progress.jsonl' &&
	grep -q '\"type\":\"done\"' '$d/qemu1-run1/progress.jsonl'"
t_check "demo: summary, KTAP and evidence" bash -c "
	jqs '.runs == 1 and .pass == 1 and .verdict == \"PASS\"' <'$d/summary.json' &&
	grep -q '^ok 1 .*survived, 20000 cycles' '$d/ktap.txt' &&
	grep -q '^Bound: .*fewer than 1 in 6,670 cycles' '$d/evidence.txt' &&
	[ \$(wc -l <'$d/evidence.txt') -lt 40 ]"
t_check "demo: QEMU stopped by the runner" jq_true "$r" '.qemu_exit | test("after quit")'

# SIGINT once the agent is running: the run unwinds, its record is kept.
"$RUN" --config configs/demo.ini --results "$OUT/sigint" --cycles 10000000 \
	>"$OUT/sigint.out" 2>"$OUT/sigint.err" &
pid=$!
wait_running "$OUT/sigint.err"
kill -INT "$pid"
wait "$pid"
rc=$?
r=$(ls "$OUT"/sigint/*/records.jsonl 2>/dev/null | head -n 1)
t_check "SIGINT: exit 1, the interrupted run recorded as ERROR" bash -c "
	[ $rc = 1 ] && [ -n '$r' ] && tail -n 1 '$r' | jqs '.verdict == \"ERROR\" and .error == \"interrupted by a signal\" and .counts.cycles > 0'"
# ([q]: the pattern must not match this check's own command line)
t_check "SIGINT: no QEMU left behind" bash -c "! pgrep -f -- '[q]emu-system-x86_64 .*$OUT/sigint' >/dev/null"

# Refusals on a fake host: nothing changed, one reason each, exit 4.
refuse() {
	local bdf=$1 reason=$2
	BARTOGGLE_SYSFS_ROOT=tests/data/sysfs-host/sys BARTOGGLE_PROC_ROOT=tests/data/sysfs-host/proc \
		"$RUN" --bdf "$bdf" --preflight --results "$OUT" >/dev/null 2>"$OUT/refuse.err"
	local rc=$?
	if [ "$rc" = 4 ] && grep -q "FAIL safe to take .*$reason" "$OUT/refuse.err" &&
	   grep -q 'nothing was changed' "$OUT/refuse.err"; then
		t_ok "refuses $bdf: $reason"
	else
		t_not_ok "refuses $bdf: $reason (exit $rc)"
		sed 's/^/# /' "$OUT/refuse.err"
	fi
}
refuse 0000:00:02.0 "boot VGA"
refuse 0000:00:17.0 "backs /dev/sda, which is mounted"
refuse 0000:00:1f.6 "network interface eno1, which is up"

bad() {
	local name=$1 want=$2 pattern=$3
	shift 3
	"$RUN" "$@" >/dev/null 2>"$OUT/bad.err"
	local rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$pattern" "$OUT/bad.err"; then
		t_ok "$name: exit $want"
	else
		t_not_ok "$name: exit $rc, want $want"
		sed 's/^/# /' "$OUT/bad.err"
	fi
}
bad "unknown key in the config" 2 "unknown-key.ini:3: unknown key \[stress\] colour" \
	--config tests/data/configs/unknown-key.ini --emulated edu
bad "no device" 2 "no device: give" --cycles 5
bad "a QEMU that does not exist: preflight says the fix" 4 "fix: apt-get install qemu-system-x86" \
	--emulated edu --qemu /nonexistent/qemu --preflight
t_done
