#!/bin/bash
# The kernel matrix (scripts/nested-matrix.sh) on the 6.12 kernels: stock,
# the control rebuild and the fix. The suite must tell a fixed kernel from a
# broken one. Debian's 6.1 is asserted by nested_lane.sh and nested_full.sh.
#
# Assertions about the kernels' real behaviour:
# - 6.12 stock and the control rebuild (same source and flags, no patch):
#   held, every conclusive race trial, the soak and type1 give a bare
#   -EFAULT (6.12 resets exit_reason to 0 on entry to KVM_RUN: "stale
#   exit_reason 0"), though KVM_CAP_MEMORY_FAULT_INFO=1;
# - 6.12 + fixes/kvm-memory-fault-exit.patch: KVM_EXIT_MEMORY_FAULT on the
#   first disabled access with the gpa inside the BAR, the reproducer answers
#   UR, and the race soak survives SOAK cycles with window hits and 0 UR
#   violations: PASS;
# - the kernel x VMM pairs: nested-full's default arm (bartoggle-run in L1,
#   the agent in L2, edu through L1's vfio-pci) on 6.12 stock and 6.12 + fix,
#   each with Debian's QEMU 7.2, the same source rebuilt unpatched, and QEMU
#   + fixes/qemu/ (scripts/qemu-build.sh): every pair but the fixed one loses
#   its VM ("kvm run failed Bad address": QEMU 7.2 gives up on any -EFAULT;
#   stock QEMU also dies of SIGBUS now and then); the fixed pair survives
#   PAIR_CYCLES cycles with window hits, every read in the window all ones,
#   0 UR violations under ur_check = strict, and the fix's retry counter > 0;
#   the patched QEMU on the stock kernel retries nothing (exit_reason 0 is
#   not 39): the VMM's half alone saves nothing either.
# - the helper module's pfnmap backing (kmod/), next to vfio in each lane:
#   the same outcomes as vfio on every kernel (efault on stock and control,
#   memory-fault-exit with the gpa in the BAR on the fix), unload refused
#   while a VM maps it, and the selftest passes on the fix and fails on
#   stock and control with the exact errno and exit reason;
# A boot the emulator wedged is booted again and listed as a harness fault,
# never judged. Needs the network once (packages, cached after).
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
OUT=${BARTOGGLE_TEST_OUT:-results/check}/nested-matrix
# Shorter than make nested-matrix's defaults (200,000 and 20,000): make
# check must stay within 40 minutes, and the fix's soak alone took ~290 s.
SOAK=${BARTOGGLE_TEST_SOAK:-50000}
TRIALS=20
PAIR_CYCLES=${BARTOGGLE_TEST_PAIR_CYCLES:-10000}

[ -x "$BUILD/static/bartoggle-repro" ] || t_skip_all "no $BUILD/static/bartoggle-repro"
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"

start=$(date +%s)
scripts/nested-matrix.sh --repro "$BUILD/static/bartoggle-repro" --run "$BUILD/bartoggle-run" \
	--agent "$BUILD/bartoggle-agent" --only 6.12,6.12-ctrl,6.12-fix --trials "$TRIALS" \
	--soak "$SOAK" --full-iterations 1 --pair-cycles "$PAIR_CYCLES" --out "$OUT" >"$OUT.out" 2>"$OUT.err"
rc=$?
[ "$rc" = 4 ] && t_skip_all "$(grep -m1 -E 'cannot|SKIP' "$OUT.err")"
m=$OUT/matrix.json
k() { echo ".kernels[] | select(.name == \"$1\")"; }

t_plan 25
grep '^nested-matrix:' "$OUT.err" | sed 's/^/# /'
t_diag "matrix: $(( $(date +%s) - start )) s"
t_check "matrix completed, report written (exit $rc)" [ "$rc" = 0 ]

for name in 6.12 6.12-ctrl; do
	t_check "$name: held, race, soak, type1 efault with a stale exit_reason 0" bash -c "
		jqs '$(k "$name") | .kernel | startswith(\"6.12.\")' <'$m' &&
		jqs '.held.outcome == \"efault\" and (.held.signature | test(\"stale exit_reason 0\")) and
			.race.completed == $TRIALS and .race.judged_outcomes == {\"efault\": .race.conclusive} and
			.race.inconclusive * 100 <= .race.completed and
			.soak.outcome == \"efault\" and .iommu_modes.type1.outcome == \"efault\" and
			.control.outcome == \"survived\"' <'$OUT/$name/lane/summary.json' &&
		jqs -s 'all(.host.memory_fault_info == 1)' <'$OUT/$name/lane/records.jsonl'"
done
t_check "6.12 stock runs the shipped modules, the control the rebuilt ones" bash -c "
	jqs '.lane.kvm_build.kind == \"stock\"' <'$OUT/6.12/lane/summary.json' &&
	jqs '.lane.kvm_build.kind == \"rebuilt\" and .lane.kvm_build.patches == [] and
		(.lane.kvm_build.source | startswith(\"linux-source-6.12 \"))' <'$OUT/6.12-ctrl/lane/summary.json' &&
	jqs -s 'all(.host.kernel_variant == \"kvm-rebuilt\")' <'$OUT/6.12-ctrl/lane/records.jsonl'"

f=$OUT/6.12-fix/lane
t_check "6.12 + fix: the patched modules, the patch's hash in every record" bash -c "
	sum=\$(sha256sum <fixes/kvm-memory-fault-exit.patch | cut -c1-64)
	jqs --arg s \"\$sum\" '.lane.kvm_build.kind == \"patched\" and
		.lane.kvm_build.patches == [{name: \"kvm-memory-fault-exit.patch\", sha256: \$s}]' <'$f/summary.json' &&
	jqs -s --arg v \"kvm-patched:kvm-memory-fault-exit.patch@\${sum:0:12}\" \
		'all(.host.kernel_variant == \$v)' <'$f/records.jsonl'"
t_check "6.12 + fix: held: KVM_EXIT_MEMORY_FAULT at the BAR's gpa on the first disabled access" bash -c "
	jqs '.held.outcome == \"memory-fault-exit\" and .held.verdict == \"PASS\" and
		(.held.signature | test(\"KVM_EXIT_MEMORY_FAULT gpa=0x[0-9a-f]+ size=0x1000\"))' <'$f/summary.json' &&
	bar=\$(sed -n 's/^BT1 ktap held # .*BAR at gpa 0x\([0-9a-f]*\), \([0-9]*\) bytes.*/\1 \2/p' '$f/frames.txt') &&
	gpa=\$(jq -r 'select(.lane.step == \"held\") | .signature | capture(\"gpa=0x(?<g>[0-9a-f]+)\").g' '$f/records.jsonl') &&
	set -- \$bar && echo \"# memory fault gpa 0x\$gpa, BAR 0x\$1 + \$2\" >&2 &&
	[ \$((16#\$gpa)) -ge \$((16#\$1)) ] && [ \$((16#\$gpa)) -lt \$((16#\$1 + \$2)) ] &&
	jqs -s 'map(select(.lane.step == \"held\")) | .[0] |
		.kvm_run[\"memory-fault\"] == 1 and .counts.window_hits == 1 and .counts.ur_violations == 0' <'$f/records.jsonl'"
t_check "6.12 + fix: every race trial conclusive and memory-fault-exit" jq_true "$f/summary.json" \
	".race.completed == $TRIALS and .race.judged_outcomes == {\"memory-fault-exit\": $TRIALS}"
t_check "6.12 + fix: soak PASS over $SOAK cycles, window hits > 0, 0 UR violations" jq_true "$f/summary.json" \
	".soak.outcome == \"memory-fault-exit\" and .soak.verdict == \"PASS\" and .soak.cycles == $SOAK and
	 .soak.window_hits > 0 and .soak.ur_violations == 0 and .soak.ur_reads == .soak.window_hits"
jq -r '"# soak: \(.soak.cycles) cycles, \(.soak.window_hits) window hits, \(.soak.duration_s) s, \(.soak.rates.toggles_per_s) toggles/s"' "$f/summary.json"
t_check "6.12 + fix: type1 memory-fault-exit, control survived" jq_true "$f/summary.json" \
	'.iommu_modes.type1.outcome == "memory-fault-exit" and .control.outcome == "survived" and .control.errors == 0'

# The helper module: the vfio path in KVM with no device.
for name in 6.12 6.12-ctrl 6.12-fix; do
	t_check "$name: pfnmap module built for the release, loads, refuses to unload while mapped, frees its pages" jq_true "$OUT/$name/lane/summary.json" \
		'.pfnmap.kmod.release == .lane.l1_kernel and .pfnmap.module.load == "ok version 1" and
		 (.pfnmap.module["unload-while-mapped"] | startswith("refused: ")) and
		 .pfnmap.module["after-kill"] == "refcnt 0 pages_live 0" and .pfnmap.module.unload == "ok"'
done
t_check "6.12 and control: pfnmap held and race efault as vfio; the selftest fails with errno 14 and a stale exit_reason 0" bash -c "
	for n in 6.12 6.12-ctrl; do
		jqs '.pfnmap.held.outcome == \"efault\" and (.pfnmap.held.signature | test(\"stale exit_reason 0\")) and
			.pfnmap.race.completed == $TRIALS and .pfnmap.race.judged_outcomes == {\"efault\": .pfnmap.race.conclusive} and
			.pfnmap.race.inconclusive * 100 <= .pfnmap.race.completed and
			.pfnmap.kselftest.exit == 1 and .pfnmap.kselftest.failed == 1 and .pfnmap.kselftest.passed == 6 and
			(.pfnmap.kselftest.output | any(. == \"not ok 4 disabled_bar_exits_memory_fault\")) and
			(.pfnmap.kselftest.output | any(test(\"^# disabled read: KVM_RUN = -1, errno 14 .*stale exit_reason 0\")))' \
			<'$OUT/'\$n/lane/summary.json || exit 1
	done"
t_check "6.12 + fix: pfnmap held memory-fault-exit with the gpa in the BAR, every race trial memory-fault-exit" bash -c "
	jqs '.pfnmap.held.outcome == \"memory-fault-exit\" and .pfnmap.held.verdict == \"PASS\" and
		.pfnmap.race.completed == $TRIALS and .pfnmap.race.judged_outcomes == {\"memory-fault-exit\": $TRIALS} and
		.pfnmap.control.outcome == \"survived\"' <'$f/summary.json' &&
	bar=\$(sed -n 's/^BT1 ktap pfnmap-held # .*BAR at gpa 0x\([0-9a-f]*\), \([0-9]*\) bytes.*/\1 \2/p' '$f/frames.txt') &&
	gpa=\$(jq -r 'select(.lane.step == \"pfnmap-held\") | .signature | capture(\"gpa=0x(?<g>[0-9a-f]+)\").g' '$f/records.jsonl') &&
	set -- \$bar && [ \$((16#\$gpa)) -ge \$((16#\$1)) ] && [ \$((16#\$gpa)) -lt \$((16#\$1 + \$2)) ]"
t_check "6.12 + fix: the selftest passes, 7 of 7, KVM_EXIT_MEMORY_FAULT inside the slot" jq_true "$f/summary.json" \
	'.pfnmap.kselftest.exit == 0 and .pfnmap.kselftest.passed == 7 and .pfnmap.kselftest.failed == 0 and
	 (.pfnmap.kselftest.output | any(test("^# disabled read: .*KVM_EXIT_MEMORY_FAULT gpa 0xc000")))'
sed 's/^/# /' "$OUT/matrix.txt"

# The pairs. One run each; the fixed pair's is PAIR_CYCLES cycles long.
pairs() { echo "$OUT/$1/full/summary.json"; }
# Without a QEMU build (no source or build dependencies to be had: the
# matrix's SKIP lines) the pairs cannot be judged: skipped with the reason.
qemu_skip=$(jq -r '.qemu_skipped | join("; ")' "$m" 2>/dev/null)
pair_check() {
	if [ -n "$qemu_skip" ]; then t_skip "$1" "no QEMU build: $qemu_skip"; else t_check "$@"; fi
}
sed 's/^/# /' "$OUT/pairs.txt"
pair_check "every pair ran: Debian's QEMU, the unpatched rebuild and QEMU + fixes/qemu on 6.12 and 6.12 + fix" bash -c "
	for n in 6.12 6.12-fix; do
		jqs '.complete and (.default.by_vmm | length == 3) and
			([.default.by_vmm[].build.kind] | sort == [\"control\", \"distribution\", \"patched\"]) and
			all(.default.by_vmm[]; .runs == 1)' <'$OUT'/\$n/full/summary.json || exit 1
	done"
pair_check "every pair but the fixed one loses its VM: vm-stopped with kvm run failed Bad address (or SIGBUS for the unpatched QEMU)" bash -c "
	for n in 6.12 6.12-fix; do
		jqs --arg n \$n '.default.by_vmm | to_entries | map(select(\$n != \"6.12-fix\" or .value.build.kind != \"patched\")) |
			length == (if \$n == \"6.12-fix\" then 2 else 3 end) and
			all(.[]; .value.verdicts == {FAIL: 1} and
				(.value.outcomes | keys - [\"vm-stopped\", \"sigbus\"] == []) and
				(.value.signatures | length == 1 and . - [\"error: kvm run failed Bad address\", \"QEMU killed by SIGBUS\"] == []) and
				(.value.build.kind != \"patched\" or .value.outcomes == {\"vm-stopped\": 1}))' <'$OUT'/\$n/full/summary.json || exit 1
	done"
pair_check "the fixed pair survives $PAIR_CYCLES cycles: window hits, all reads all ones, 0 UR violations (strict), the fix's retries > 0" bash -c "
	jq -r '.default.by_vmm[] | select(.build.kind == \"patched\") | \"# fixed pair: \\(.cycles) cycles, \\(.window_hits) window hits, \\(.ur_reads) UR reads, \\(.memory_fault_retries) retries\"' '$OUT/6.12-fix/full/summary.json' >&2
	jqs '.default.by_vmm[] | select(.build.kind == \"patched\") |
		.outcomes == {survived: 1} and .verdicts == {PASS: 1} and .cycles == $PAIR_CYCLES and
		.window_hits > 0 and .ur_reads == .window_hits and .ur_violations == 0 and .memory_fault_retries > 0' \
		<'$OUT/6.12-fix/full/summary.json' &&
	jqs -s 'map(select(.qemu.build.kind == \"patched\")) | length == 1 and all(.ur_check == \"strict\")' \
		<<<\"\$(cat '$OUT'/6.12-fix/full/work/results/default/*/records.jsonl)\""
pair_check "the patched QEMU on the stock kernel retries nothing: exit_reason 0 is not KVM_EXIT_MEMORY_FAULT" jq_true "$(pairs 6.12)" \
	'.default.by_vmm[] | select(.build.kind == "patched") | .memory_fault_retries == 0 and .outcomes == {"vm-stopped": 1}'
t_check "no boot was judged that the emulator wedged (harness faults listed, not verdicts)" bash -c "
	jq -r '.kernels[] | .harness_faults[]?, .full.harness_faults[]?' '$m' | sed 's/^/# harness fault: /' >&2
	jqs '[.kernels[].lane_exit] | all(. == 0)' <'$m'"

r=$OUT/report/summary.json
t_check "report: the fixed pair's race row PASS, the stock and control rows FAIL" bash -c "
	jqs '[.rows[] | select(.vmm == \"bartoggle-repro\" and .arm == \"vfio race\")] |
		(map(select(.kernel | test(\"kvm-patched\"))) | length == 1 and .[0].verdict == \"PASS\") and
		(map(select(.kernel | test(\"kvm-patched\") | not)) | length == 2 and all(.verdict == \"FAIL\"))' <'$r'"
t_check "report: the pfnmap race rows as the vfio ones: the fix PASS, stock and control FAIL" bash -c "
	jqs '[.rows[] | select(.vmm == \"bartoggle-repro\" and .arm == \"pfnmap race\")] |
		(map(select(.kernel | test(\"kvm-patched\"))) | length == 1 and .[0].verdict == \"PASS\") and
		(map(select(.kernel | test(\"kvm-patched\") | not)) | length == 2 and all(.verdict == \"FAIL\"))' <'$r'"
pair_check "report: a row per pair, the fixed pair PASS, the other five FAIL" bash -c "
	jqs '[.rows[] | select(.vmm | startswith(\"QEMU \"))] | length == 6 and
		(map(select((.kernel | test(\"kvm-patched\")) and (.vmm | test(\"\\\\[patched \"))) | .verdict) == [\"PASS\"]) and
		(map(select(((.kernel | test(\"kvm-patched\")) and (.vmm | test(\"\\\\[patched \"))) | not) | .verdict) | length == 5 and all(. == \"FAIL\"))' <'$r'"
pair_check "report: the fixed pair's evidence reads as a Tested-by note: both patches, the retries, the bound" bash -c "
	e=\$(ls '$OUT'/report/evidence-*kvm-patched*_QEMU-*patched*.txt) && sed 's/^/# /' \"\$e\" >&2 &&
	grep -q '^Tested: .*kvm-patched.* with QEMU 7.2.22 \\[patched .* 0 UR violations), [1-9][0-9]* memory-fault exits retried by the VMM; 0 VM-fatal events in $PAIR_CYCLES cycles' \"\$e\" &&
	grep -q '^Verdict: *PASS' \"\$e\" && grep -q '^KVM modules: *kvm-patched:kvm-memory-fault-exit.patch@' \"\$e\" &&
	[ \$(grep -c '^QEMU patch: ' \"\$e\") = $(ls fixes/qemu/*.patch | wc -l) ]"
t_check "report: evidence of the fixed pair names the patch and the bound" bash -c "
	e=\$(ls '$OUT'/report/evidence-*kvm-patched*bartoggle-repro*vfio-race.txt) &&
	grep -q '^Verdict: *PASS' \"\$e\" && grep -q '^KVM modules: *kvm-patched:kvm-memory-fault-exit.patch@' \"\$e\" &&
	grep -q '^Bound: *0 VM-fatal events in [0-9]* cycles' \"\$e\""
t_done
