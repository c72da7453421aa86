#!/bin/bash
# The lean lane (nested-lane.sh --lean): L1 with no intel-iommu, no edu and
# no vfio, the helper module's pfnmap backing alone. It must reach the same
# verdicts as the full lane on the same kernels (Debian 6.1 stock: efault;
# 6.12 + fixes/kvm-memory-fault-exit.patch: memory-fault-exit and a soak
# that survives), run the module checks and the selftest, on a kernel of
# your own too (--kdir). Its time next to the intel-iommu lane is measured,
# not asserted (README, "In the nested lane, next to vfio").
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
REPRO=$BUILD/static/bartoggle-repro
ROOT=${BARTOGGLE_TEST_OUT:-results/check}
OUT=$ROOT/nested-lean
TRIALS=20
SOAK=${BARTOGGLE_TEST_LEAN_SOAK:-200000}

[ -x "$REPRO" ] || t_skip_all "no $REPRO (make $REPRO)"
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$OUT"

scripts/nested-lane.sh --repro "$REPRO" --lean --out "$OUT/6.1" --trials "$TRIALS" \
	>"$OUT/6.1.out" 2>"$OUT/6.1.err"
rc61=$?
[ "$rc61" = 4 ] && t_skip_all "$(grep -m1 -E 'cannot|no helper' "$OUT/6.1.err")"
scripts/nested-lane.sh --repro "$REPRO" --lean --kernel debian-6.12 \
	--kvm-patch fixes/kvm-memory-fault-exit.patch --soak "$SOAK" --out "$OUT/6.12-fix" \
	--trials "$TRIALS" >"$OUT/6.12-fix.out" 2>"$OUT/6.12-fix.err"
rcfix=$?
# A kernel of your own: Debian's 6.12 image and modules passed as files,
# its headers as the tree the module is built against (--kdir).
CACHE=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
own=$(scripts/kernel-fetch.sh debian-6.12 "$CACHE" 2>/dev/null)
own_rel=$(ls "$own/lib/modules" | head -n 1)
own_kdir=$CACHE/kheaders/$own_rel/usr/src/linux-headers-$own_rel
scripts/kmod-build.sh --kernel debian-6.12 >/dev/null 2>&1	# unpacks those headers
scripts/nested-lane.sh --repro "$REPRO" --lean --kernel "$(ls "$own"/boot/vmlinuz-* | head -n 1)" \
	--modroot "$own" --kdir "$own_kdir" --trials 5 --out "$OUT/own" >"$OUT/own.out" 2>"$OUT/own.err"
rcown=$?
a=$OUT/6.1/summary.json
b=$OUT/6.12-fix/summary.json

t_plan 9
grep -h '^nested-lane:' "$OUT/6.1.err" "$OUT/6.12-fix.err" | sed 's/^/# /'
t_check "both lean lanes completed (exit $rc61, $rcfix)" [ "$rc61$rcfix" = 00 ]
t_check "lean: no IOMMU, no device, no vfio in L1; pfnmap steps only" bash -c "
	for d in '$OUT/6.1' '$OUT/6.12-fix'; do
		jqs '.lane.lean and .lane.backings == [\"pfnmap\"] and .held == null and .race.completed == 0' <\$d/summary.json &&
		jqs -s 'all(.backing == \"pfnmap\")' <\$d/records.jsonl &&
		! grep -q 'intel_iommu=on' \$d/console.log && ! grep -aq 'DMAR: IOMMU enabled' \$d/console.log &&
		! zcat \$d/image/initramfs.cpio.gz | cpio -t --quiet 2>/dev/null | grep -q vfio || exit 1
	done"
t_check "lean 6.1: held and every conclusive race trial efault, control survived" jq_true "$a" \
	".pfnmap.held.outcome == \"efault\" and .pfnmap.race.completed == $TRIALS and
	 .pfnmap.race.judged_outcomes == {\"efault\": .pfnmap.race.conclusive} and
	 .pfnmap.race.inconclusive * 100 <= .pfnmap.race.completed and .pfnmap.control.outcome == \"survived\""
t_check "lean 6.1: the selftest fails on the memory-fault test alone" jq_true "$a" \
	'.pfnmap.kselftest.exit == 1 and .pfnmap.kselftest.failed == 1 and
	 (.pfnmap.kselftest.output | any(. == "not ok 4 disabled_bar_exits_memory_fault"))'
t_check "lean 6.12 + fix: held and every race trial memory-fault-exit" jq_true "$b" \
	".pfnmap.held.outcome == \"memory-fault-exit\" and .pfnmap.race.completed == $TRIALS and
	 .pfnmap.race.judged_outcomes == {\"memory-fault-exit\": $TRIALS}"
t_check "lean 6.12 + fix: soak PASS over $SOAK cycles on pfnmap, window hits > 0, every one a UR read, 0 violations" jq_true "$b" \
	".pfnmap.soak.outcome == \"memory-fault-exit\" and .pfnmap.soak.verdict == \"PASS\" and
	 .pfnmap.soak.cycles == $SOAK and .pfnmap.soak.window_hits > 0 and
	 .pfnmap.soak.ur_reads == .pfnmap.soak.window_hits and .pfnmap.soak.ur_violations == 0"
jq -r '"# lean soak: \(.pfnmap.soak.cycles) cycles, \(.pfnmap.soak.window_hits) window hits, \(.pfnmap.soak.duration_s) s"' "$b"
t_check "lean 6.12 + fix: the selftest passes 7 of 7" jq_true "$b" \
	'.pfnmap.kselftest.exit == 0 and .pfnmap.kselftest.passed == 7'
t_check "lean: the module checks pass on both kernels" bash -c "
	for f in '$a' '$b'; do
		jqs '(.pfnmap.module[\"unload-while-mapped\"] | startswith(\"refused: \")) and
			.pfnmap.module[\"after-kill\"] == \"refcnt 0 pages_live 0\" and .pfnmap.module.unload == \"ok\"' <\$f || exit 1
	done"
t_check "a kernel of your own (--kernel VMLINUZ --modroot --kdir): module built against that tree, efault, selftest fails" bash -c "
	[ $rcown = 0 ] && jqs --arg k '$own_kdir' '.lane.kvm_build.kind == \"local\" and .pfnmap.kmod.tree == \$k and
		.pfnmap.held.outcome == \"efault\" and .pfnmap.race.judged_outcomes == {\"efault\": .pfnmap.race.conclusive} and
		.pfnmap.race.completed == 5 and .pfnmap.kselftest.exit == 1' <'$OUT/own/summary.json'"
# What the lean lane saves, measured, not asserted: next to nested_lane.sh's
# intel-iommu lane on 6.1 (when it ran first), L1's ready time and the lane.
full=$ROOT/nested/full/summary.json
[ -s "$full" ] && jq -r --slurpfile l "$a" '"# L1 ready after QEMU start: lean \($l[0].ready_s) s, intel-iommu lane \(.ready_s) s; lane: lean \($l[0].elapsed_s) s (pfnmap alone), intel-iommu \(.elapsed_s) s (vfio and pfnmap)"' "$full"
t_done
