#!/bin/bash
# The nested lane on a stock Debian kernel: the real vfio-pci and the real
# KVM inside a QEMU guest (L1) with an emulated IOMMU and edu.
#
# These are assertions about the kernel's real behaviour. On Debian's 6.1 a
# disabled-BAR access is a bare -EFAULT: held fails on the first access,
# every race trial fails at its first disabled-window hit (a trial that never
# hits in 60 s is inconclusive: counted, never judged, and more than 1% of
# them fail the lane), the no-toggle control survives. A kernel meant to
# behave otherwise is declared with BARTOGGLE_EXPECT_NESTED=<outcome>; any
# other change fails here with the outcome it saw. The helper module's
# pfnmap backing (kmod/, built for 6.1 from Debian's headers) must give the
# same outcomes as vfio on the same kernel, refuse to unload while a VM maps
# it, and the selftest must fail on 6.1 with the exact errno and exit reason.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
REPRO=$BUILD/static/bartoggle-repro
OUT=${BARTOGGLE_TEST_OUT:-results/check}/nested
TRIALS=20
expect=${BARTOGGLE_EXPECT_NESTED:-efault}

[ -x "$REPRO" ] || t_skip_all "no $REPRO (make $REPRO)"
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$OUT"

scripts/nested-lane.sh --repro "$REPRO" --out "$OUT/full" --trials "$TRIALS" \
	--control 2 --timeout 600 >"$OUT/full.out" 2>"$OUT/full.err"
rc=$?
[ "$rc" = 4 ] && t_skip_all "$(grep -m1 'kernel-fetch: cannot' "$OUT/full.err")"
s=$OUT/full/summary.json
r=$OUT/full/records.jsonl

t_plan 21
sed 's/^/# /' "$OUT/full.err" | grep -v '^# guest-image'
t_check "lane completed (exit $rc)" [ "$rc" = 0 ]
t_check "summary complete, not partial" jq_true "$s" '.partial == false and .timed_out == false and .stalled == false'
t_check "L1 is the Debian 6.1 kernel with kvm_amd and vfio-pci on edu" jq_true "$s" \
	'(.lane.l1_kernel | test("^6\\.1\\.")) and (.lane.device | test("0x1234 0x11e8"))'
t_check "held: $expect on the first disabled access" jq_true "$s" \
	".held.outcome == \"$expect\" and .held.first_failure.cycle == 0 and .held.accesses == 2"
t_check "held: signature says exit_reason untouched" jq_true "$s" \
	'.held.signature | test("errno=14 .*exit_reason untouched")'
t_check "race: $expect in every conclusive trial, <= 1% inconclusive" jq_true "$s" \
	".race.completed == $TRIALS and .race.judged_outcomes == {\"$expect\": .race.conclusive} and .race.inconclusive * 100 <= .race.completed"
jq -r '"# race: \(.race.conclusive) conclusive, \(.race.inconclusive) inconclusive of \(.race.completed)", (.race.inconclusive_trials[] | "# \(.step): \(.cause)")' "$s"
t_check "race: time to first failure measured" jq_true "$s" \
	'.race.first_failure_ms.median > 0 and .race.first_failure_ms.max >= .race.first_failure_ms.median'
t_check "control: survived, no errors, >= 2 s of accesses" jq_true "$s" \
	'.control.outcome == "survived" and .control.errors == 0 and .control.accesses > 0 and .control.duration_s >= 2'
t_check "IOMMU modes: type1 $expect; iommufd skipped, 6.1 has no vfio cdev" jq_true "$s" \
	".iommu_modes.type1.outcome == \"$expect\" and .iommu_modes.iommufd.outcome == \"skipped\" and (.iommu_modes.iommufd.reason | test(\"CONFIG_VFIO_DEVICE_CDEV\"))"
t_check "records: one per step, the device and MEMORY_FAULT_INFO of L1" bash -c "
	[ \$(wc -l <'$r') = $((2 * TRIALS + 6)) ] &&
	jqs -s '(map(select(.backing == \"vfio\")) | length == $((TRIALS + 4))) and
		(map(select(.backing == \"pfnmap\")) | length == $((TRIALS + 2))) and
		all(.host.memory_fault_info == 0)' <'$r' &&
	jqs -s 'map(select(.backing == \"vfio\")) | all(.backing == \"vfio\" and .host.memory_fault_info == 0 and .lane.step != null) and all(.[] | select(.outcome != \"skipped\"); .device.vendor == \"1234\" and .device.device == \"11e8\")' <'$r'"
jq -r '"# race first failure: median \(.race.first_failure_ms.median) ms, max \(.race.first_failure_ms.max) ms"' "$s"

# The helper module on the same kernel.
t_check "pfnmap: the module was built for L1's own release and loaded" jq_true "$s" \
	'.pfnmap.kmod.release == .lane.l1_kernel and (.pfnmap.kmod.tree | startswith("linux-headers-")) and .pfnmap.module.load == "ok version 1"'
t_check "pfnmap: held and every conclusive race trial $expect, as vfio; control survived" jq_true "$s" \
	".pfnmap.held.outcome == .held.outcome and (.pfnmap.held.signature | test(\"errno=14 .*exit_reason untouched\")) and
	 .pfnmap.race.completed == $TRIALS and .pfnmap.race.judged_outcomes == {\"$expect\": .pfnmap.race.conclusive} and
	 .pfnmap.race.inconclusive * 100 <= .pfnmap.race.completed and .pfnmap.control.outcome == \"survived\""
jq -r '"# first failure, median/max ms: vfio \(.race.first_failure_ms.median)/\(.race.first_failure_ms.max), pfnmap \(.pfnmap.race.first_failure_ms.median)/\(.pfnmap.race.first_failure_ms.max)"' "$s"
t_check "pfnmap: every failure came from the module declining (its own counters)" bash -c "
	jqs -s 'map(select(.backing == \"pfnmap\" and .outcome == \"efault\")) | length > 0 and
		all(.pfnmap.declined >= 1 and .pfnmap.zaps >= 1)' <'$r'"
t_check "pfnmap module: unload refused while a VM maps it; after its user is killed, 0 pages and unloaded" jq_true "$s" \
	'(.pfnmap.module["unload-while-mapped"] | startswith("refused: ")) and
	 .pfnmap.module["after-kill"] == "refcnt 0 pages_live 0" and .pfnmap.module.unload == "ok"'
t_check "selftest on 6.1: exit 1, only the memory-fault test fails, with errno 14 and the untouched exit reason" jq_true "$s" \
	'.pfnmap.kselftest.exit == 1 and .pfnmap.kselftest.passed == 6 and .pfnmap.kselftest.failed == 1 and
	 (.pfnmap.kselftest.output | any(. == "not ok 4 disabled_bar_exits_memory_fault")) and
	 (.pfnmap.kselftest.output | any(test("^# disabled read: KVM_RUN = -1, errno 14 .*untouched")))'

# Debian's 6.12 (stock, the control rebuild and the fix): nested_matrix.sh.

# A guest cut off mid-run (the lane's timeout stops QEMU during the
# control): what was framed before is kept, the summary says where it was cut.
scripts/nested-lane.sh --repro "$REPRO" --out "$OUT/cut" --trials 2 \
	--control 60 --timeout 25 >"$OUT/cut.out" 2>"$OUT/cut.err"
rc=$?
t_check "cut short: exit 1, marked partial" jq_true "$OUT/cut/summary.json" \
	".partial == true and .timed_out == true and .running_when_cut != null and $rc == 1"
t_check "cut short: every step that ended before the cut kept its record" bash -c "
	[ \$(grep -c '^BT1 end ' '$OUT/cut/frames.txt') = \$(wc -l <'$OUT/cut/records.jsonl') ] &&
	jqs -s 'all(.schema == \"bartoggle.record/1\")' <'$OUT/cut/records.jsonl'"

# A frozen L1 (its QEMU stopped with SIGSTOP once the first race trial
# starts): silent on both ports, stopped, booted again, completed; the frozen
# attempt's logs are kept.
scripts/nested-lane.sh --repro "$REPRO" --out "$OUT/frozen" --trials 2 --no-pfnmap \
	--control 1 --stall 5 --timeout 120 >"$OUT/frozen.out" 2>"$OUT/frozen.err" &
lane=$!
for _ in $(seq 1 600); do
	grep -qs '^BT1 start race-1' "$OUT/frozen/frames.log" && break
	sleep 0.1
done
qemu_pid=$(child_qemu "$lane")
[ -n "$qemu_pid" ] && kill -STOP "$qemu_pid"
wait "$lane"
rc=$?
t_check "frozen L1: detected, booted again, completed" jq_true "$OUT/frozen/summary.json" \
	".boot_attempts == 2 and .partial == false and .race.completed == 2 and $rc == 0"
t_check "frozen L1: the silent attempt's logs kept" \
	grep -qs '^BT1 start race-1' "$OUT/frozen/attempt-1/frames.log"

# A boot silent for longer than --stall before its first heartbeat is
# loading, not frozen (QEMU held stopped 8 s from its start, --stall 4):
# one boot, completed. Before GUEST_BOOT_SILENCE, the kernel's own 4 s of
# silent loading under TCG could be called a freeze (a CI check failed on
# it: the frozen-L1 test's second boot, stopped as frozen while loading).
scripts/nested-lane.sh --repro "$REPRO" --out "$OUT/slowboot" --trials 1 --no-pfnmap \
	--control 1 --stall 4 --timeout 120 >"$OUT/slowboot.out" 2>"$OUT/slowboot.err" &
lane=$!
qemu_pid=""
for _ in $(seq 1 600); do
	qemu_pid=$(child_qemu "$lane")
	[ -n "$qemu_pid" ] && break
	sleep 0.05
done
held=false
[ -n "$qemu_pid" ] && kill -STOP "$qemu_pid" && sleep 8 && kill -CONT "$qemu_pid" && held=true
wait "$lane"
rc=$?
t_check "slow boot: silent longer than --stall before the first beat, not called frozen" \
	jq_true "$OUT/slowboot/summary.json" \
	"$held and .boot_attempts == 1 and .harness_faults == [] and .partial == false and $rc == 0"

# No network and nothing cached: a clear message and a skip, not a hang.
if command -v unshare >/dev/null && [ "$(id -u)" = 0 ]; then
	unshare -n timeout 300 scripts/guest-image.sh --kernel debian --cache "$OUT/empty-cache" \
		--out "$OUT/offline" --init scripts/guest/nested-init.sh >/dev/null 2>"$OUT/offline.err"
	rc=$?
	t_check "no network, empty cache: exit 4 with a reason" \
		bash -c "[ $rc = 4 ] && grep -q 'cannot download .* nothing is cached' '$OUT/offline.err'"
else
	t_skip "no network, empty cache" "needs root and unshare"
fi
t_done
