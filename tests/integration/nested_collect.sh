#!/bin/bash
# scripts/nested-collect.sh on a recorded data channel (tests/data/nested-hang):
# a held record, a step stuck in L1's kernel, a step that crashed, a record
# frame cut in half, and a boot cut off mid-step. No QEMU needed.
set -u
. "$(dirname "$0")/lib.sh"
OUT=${BARTOGGLE_TEST_OUT:-results/check}/nested-collect
rm -rf "$OUT"
mkdir -p "$OUT"
cp tests/data/nested-hang/{frames.log,lane.json} "$OUT/"

t_plan 12
scripts/nested-collect.sh "$OUT" 2>"$OUT/collect.err"
rc=$?
r=$OUT/records.jsonl
s=$OUT/summary.json
rec() { jq -c --arg n "$1" 'select(.lane.step == $n)' "$r"; }

t_check "partial run: exit 1" [ "$rc" = 1 ]
t_check "one record per ended step, all valid" bash -c "
	[ \$(wc -l <'$r') = 4 ] && jqs -s 'all(.schema == \"bartoggle.record/1\")' <'$r'"
t_check "held: the framed record, with the lane" bash -c "
	rec() { jq -c --arg n \"\$1\" 'select(.lane.step == \$n)' '$r'; }
	rec held | jqs '.outcome == \"efault\" and .lane.l1_kernel == \"6.1.0-56-amd64\" and (.lane.device | test(\"0x11e8\"))'"
t_check "stuck in L1: host-error with where its threads block" bash -c "
	jq -c 'select(.lane.step == \"race-1\")' '$r' |
	jqs '.outcome == \"host-error\" and .verdict == \"FAIL\" and (.signature | startswith(\"stuck in L1: tid 231 D\")) and (.evidence.blocked | length) == 4 and .evidence.exit == 137' >/dev/null"
t_check "crashed without a record: setup-error with its stderr" bash -c "
	jq -c 'select(.lane.step == \"race-2\")' '$r' |
	jqs '.outcome == \"setup-error\" and .verdict == \"ERROR\" and .signature == \"bartoggle-repro exited 139 without a record\" and .evidence.stderr == [\"bartoggle-repro: something went wrong\"]' >/dev/null"
t_check "record frame cut in half: dropped, said, replaced" bash -c "
	grep -q 'dropped a corrupt record frame for race-3' '$OUT/collect.err' &&
	jq -c 'select(.lane.step == \"race-3\")' '$r' | jqs '.outcome == \"setup-error\"'"
t_check "summary: partial, cut during race-4, outcomes counted" jq_true "$s" \
	'.partial == true and .running_when_cut == "race-4" and .timed_out == true and .race.completed == 3 and .race.outcomes == {"host-error": 1, "setup-error": 2} and .held.outcome == "efault"'
t_check "ktap.txt: one document, a result per record, each step's KTAP nested under it" bash -c "
	[ \"\$(grep -c '^KTAP version 1' '$OUT/ktap.txt')\" = 1 ] && grep -qx '1..4' '$OUT/ktap.txt' &&
	grep -qx '    not ok 3 disabled access: efault' '$OUT/ktap.txt' &&
	grep -qx 'not ok 1 held' '$OUT/ktap.txt' &&
	grep -qx '# race-1: stuck in L1: tid 231 D (disk sleep) wchan=rwsem_down_write_slowpath' '$OUT/ktap.txt'"

# An L1 that multi-threaded TCG wedged (its kernel patching its own code, or
# a vCPU whose timer interrupts stopped) is a harness fault: booted again,
# never judged. Told from its console.
t_check "harness fault: soft lockup spinning in finish_task_switch (6.1, nested-full)" bash -c "
	. scripts/lib/guest.sh
	[ \"\$(tcg_harness_fault tests/data/console/tcg-lockup-finish-task-switch.log)\" = 'tcg-code-patching: lockup or int3 oops from text patching (console.log)' ]"
t_check "harness fault: Oops: int3 in kvm_arch_vcpu_ioctl_run (6.12, an L2 QEMU)" bash -c "
	. scripts/lib/guest.sh
	tcg_harness_fault tests/data/console/tcg-int3-oops.log | grep -q '^tcg-code-patching: '"
t_check "harness fault: RCU's timer wakeup that never happened (6.12 nested-full L1)" bash -c "
	. scripts/lib/guest.sh
	tcg_harness_fault tests/data/console/tcg-lost-timer.log | grep -q '^tcg-lost-timer: '"
t_check "not a harness fault: a guest panic, a lockup elsewhere, a clean boot" bash -c "
	. scripts/lib/guest.sh
	for f in panic.txt lockup-alive.txt hung.txt stalled.txt; do
		tcg_harness_fault tests/data/console/\$f && { echo \"# \$f taken for a harness fault\" >&2; exit 1; }
	done
	exit 0"
t_done
