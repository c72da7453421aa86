#!/bin/bash
# make nested-matrix: the nested lane on every kernel of the matrix, nested-full's
# default arm on the kernels it marks with every QEMU of the VMM axis (the
# kernel x VMM pairs), then the report over all of it.
#
#   nested-matrix.sh --repro STATIC_REPRO --run BIN --agent BIN [--out DIR]
#                    [--trials N] [--soak N] [--full-iterations N]
#                    [--only NAME,...] [--add NAME:FULL:ARGS]... [--list]
#                    [--qemus LIST] [--qemu-patch FILE]... [--pair-cycles N]
#                    [--pair-args A,B,...] [--pair-l1-smp N]
#
# The matrix (NAME, nested-full too?, L1 kernel arguments):
#   6.1         no   --kernel debian (nested-full covers 6.1 already)
#   6.12        yes  --kernel debian-6.12
#   6.12-ctrl   no   --kernel debian-6.12 --kvm-rebuild (same source and flags,
#                    no patch: shows the rebuild alone changes nothing)
#   6.12-fix    yes  --kernel debian-6.12 --kvm-patch fixes/kvm-memory-fault-exit.patch
# --add NAME:FULL:ARGS adds a kernel of your own, e.g.
#   --add mine:yes:"--kernel /src/linux/arch/x86/boot/bzImage --modroot /tmp/mods"
# or a patch of your own against Debian's source:
#   --add mypatch:no:"--kernel debian-6.12 --kvm-patch /tmp/my.patch"
# --only picks some by name. --soak N (default 200000): one race of N cycles
# after the trials (a failing kernel ends it at its first failure). --trials
# N (default 20). --full-iterations N (default 5): nested-full's default arm,
# per QEMU.
#
# The VMM axis, --qemus (default debian,control,patched): debian is the
# host's own QEMU (Debian's package); control and patched are Debian's
# source of it rebuilt unpatched and with fixes/qemu/*.patch (or the
# --qemu-patch files) by scripts/qemu-build.sh, cached; any other entry is
# the path of a QEMU binary of your own (nested-full.sh --qemu). A build
# that cannot be had here (no source, no build dependencies) is left out
# with a SKIP line. Each pair runs --pair-cycles N (default 20000) per run,
# with --pair-args for the runner (default --dwell-off-us,200: MEM stays off
# 200 us a cycle, so that reads land in the window under TCG), on an L1 of
# --pair-l1-smp vCPUs (default 2, the runner pinned to the second: with
# L2's vCPUs on two L1 CPUs at once TCG's emulated nested SVM loses L2's GS
# state in a VM that lives long enough, and a 1-vCPU L1 under an L2 with its
# BAR mapped froze in 1 of 3 boots; README, "Harness faults").
#
# Results: DIR/<name>/lane/ (nested-lane.sh's), DIR/<name>/full/
# (nested-full.sh's), DIR/matrix.json (each kernel's lane and nested-full
# outcome, temp + rename), DIR/matrix.txt (vfio and the helper module's
# pfnmap backing side by side: outcomes, time to first failure, selftest),
# DIR/pairs.txt (kernel x VMM: outcomes, signatures, cycles, window hits,
# UR reads and violations, the fix's retries, verdict), DIR/report/
# (bartoggle-run report over DIR).
# Default DIR: results/matrix/<UTC>-<host>. Exit 0 every lane and nested-full
# completed (the verdicts are in the report), 1 one did not, 2 usage, 4 skip
# (no kernel could be had for any of them).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

matrix=(
	"6.1:no:--kernel debian"
	"6.12:yes:--kernel debian-6.12"
	"6.12-ctrl:no:--kernel debian-6.12 --kvm-rebuild"
	"6.12-fix:yes:--kernel debian-6.12 --kvm-patch $top/fixes/kvm-memory-fault-exit.patch"
)
repro="" run="" agent="" out="" trials=20 soak=200000 full_iterations=5 only="" list=0
qemus=debian,control,patched qemu_patches=() pair_cycles=20000 pair_args=--dwell-off-us,200 pair_l1_smp=2
usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
log() { echo "nested-matrix: $*" >&2; }
while [ $# -gt 0 ]; do
	case $1 in
	--repro) repro=$2; shift ;;
	--run) run=$2; shift ;;
	--agent) agent=$2; shift ;;
	--out) out=$2; shift ;;
	--trials) trials=$2; shift ;;
	--soak) soak=$2; shift ;;
	--full-iterations) full_iterations=$2; shift ;;
	--only) only=$2; shift ;;
	--add)
		[[ $2 =~ ^[A-Za-z0-9._-]+:(yes|no):.+ ]] ||
			{ log "--add wants NAME:yes|no:ARGS, not '$2'"; exit 2; }
		matrix+=("$2"); shift ;;
	--list) list=1 ;;
	--qemus) qemus=$2; shift ;;
	--qemu-patch) qemu_patches+=("$2"); shift ;;
	--pair-cycles) pair_cycles=$2; shift ;;
	--pair-args) pair_args=$2; shift ;;
	--pair-l1-smp) pair_l1_smp=$2; shift ;;
	-h|--help) usage 0 ;;
	*) log "unknown argument '$1' (try --help)"; exit 2 ;;
	esac
	shift
done
if [ "$list" = 1 ]; then
	printf '%s\n' "${matrix[@]}" | awk -F: '{ n = $1; f = $2; $1 = $2 = ""; sub(/^ +/, ""); printf "%-12s full=%-3s %s\n", n, f, $0 }'
	exit 0
fi
[ -x "$repro" ] || { log "--repro must name the static bartoggle-repro"; exit 2; }
[ -x "$run" ] && [ -x "$agent" ] || { log "--run and --agent must name our binaries"; exit 2; }
for n in "$trials" "$soak" "$full_iterations" "$pair_cycles" "$pair_l1_smp"; do
	case $n in ''|*[!0-9]*) log "--trials, --soak, --full-iterations, --pair-cycles and --pair-l1-smp want numbers"; exit 2 ;; esac
done
for q in ${qemus//,/ }; do
	case $q in debian|control|patched) ;; */*) [ -x "$q" ] || { log "--qemus: $q is not an executable"; exit 2; } ;;
	*) log "--qemus: '$q' is none of debian, control, patched, or a path"; exit 2 ;; esac
done
names=$(printf '%s\n' "${matrix[@]}" | cut -d: -f1)
for n in ${only//,/ }; do
	grep -qx "$n" <<<"$names" || { log "--only: no kernel '$n' in the matrix (--list)"; exit 2; }
done
[ -n "$out" ] || out=results/matrix/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
# Tab-separated rows as aligned columns (no column(1) on a fresh Debian).
columns() {
	awk -F'\t' '
	{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n[NR] = NF }
	END { for (r = 1; r <= NR; r++) { line = ""
		for (i = 1; i <= n[r]; i++) line = line sprintf(i < n[r] ? "%-" w[i] + 2 "s" : "%s", cell[r, i])
		print line } }'
}
mkdir -p "$out"
start=$(date +%s)

# The VMM axis: a binary per entry, built (or found in the cache) first.
vmm_args=() vmm_skips=()
wants_full=$(printf '%s\n' "${matrix[@]}" | while IFS=: read -r n f _; do
	[ "$f" = yes ] && { [ -z "$only" ] || [[ ,$only, = *,$n,* ]]; } && echo "$n"; done)
for q in ${qemus//,/ }; do
	[ -n "$wants_full" ] || break
	case $q in
	debian) bin=$(command -v qemu-system-x86_64) || { log "--qemus debian: no qemu-system-x86_64"; exit 2; } ;;
	control) bin=$("$here/qemu-build.sh" --control 2>"$out/qemu-build-control.err") ;;
	patched)
		pargs=()
		for p in "${qemu_patches[@]}"; do pargs+=(--patch "$p"); done
		bin=$("$here/qemu-build.sh" "${pargs[@]}" 2>"$out/qemu-build-patched.err") ;;
	*) bin=$q ;;
	esac
	rc=$?
	case $rc in
	0) log "QEMU $q: $bin"; vmm_args+=(--qemu "$bin") ;;
	4) vmm_skips+=("$q: $(tail -n 1 "$out/qemu-build-$q.err")"); log "QEMU $q: SKIP: ${vmm_skips[-1]#*: }" ;;
	*) log "QEMU $q: the build failed (exit $rc):"; sed 's/^/nested-matrix:   /' "$out/qemu-build-$q.err" >&2; exit 1 ;;
	esac
done

: >"$out/matrix.jsonl.tmp"
ran=0 skipped=0 incomplete=0
for entry in "${matrix[@]}"; do
	name=${entry%%:*} rest=${entry#*:}
	full=${rest%%:*} args=${rest#*:}
	[ -z "$only" ] || [[ ,$only, = *,$name,* ]] || continue
	# shellcheck disable=SC2206
	kargs=($args)
	dir=$out/$name
	mkdir -p "$dir"
	log "[$name] nested lane: ${kargs[*]}"
	t0=$(date +%s)
	"$here/nested-lane.sh" --repro "$repro" "${kargs[@]}" --trials "$trials" \
		--soak "$soak" --out "$dir/lane" >"$dir/lane.out" 2>"$dir/lane.err"
	lane_rc=$?
	grep -E '^nested-lane: (vfio|pfnmap|selftest|L1|complete|PARTIAL|harness|INCONCL)' "$dir/lane.err" |
		sed "s/^/nested-matrix: [$name] /" >&2
	lane_s=$(( $(date +%s) - t0 ))
	full_rc=null full_s=null
	if [ "$full" = yes ] && [ "$lane_rc" != 4 ]; then
		log "[$name] nested-full, default arm: ${kargs[*]}"
		t0=$(date +%s)
		"$here/nested-full.sh" --run "$run" --agent "$agent" "${kargs[@]}" --arms default \
			--iterations "$full_iterations" --cycles "$pair_cycles" --default-args "$pair_args" \
			--default-l1-smp "$pair_l1_smp" \
			"${vmm_args[@]}" --out "$dir/full" >"$dir/full.out" 2>"$dir/full.err"
		full_rc=$?
		full_s=$(( $(date +%s) - t0 ))
		grep -E '^nested-full: (default|L1|harness|complete|INCOMPLETE)' "$dir/full.err" |
			sed "s/^/nested-matrix: [$name] /" >&2
	fi
	case $lane_rc in
	4) skipped=$((skipped + 1)); log "[$name] SKIP: $(grep -m1 -E 'cannot|no ' "$dir/lane.err")" ;;
	0) ran=$((ran + 1)) ;;
	*) ran=$((ran + 1)); incomplete=$((incomplete + 1)) ;;
	esac
	[ "$full_rc" = null ] || [ "$full_rc" = 0 ] || incomplete=$((incomplete + 1))
	jq -nc --arg name "$name" --arg args "$args" --argjson lane_rc "$lane_rc" \
		--argjson full_rc "$full_rc" --argjson lane_s "$lane_s" --argjson full_s "$full_s" \
		--slurpfile ls <(cat "$dir/lane/summary.json" 2>/dev/null) \
		--slurpfile fs <(cat "$dir/full/summary.json" 2>/dev/null) '
		($ls | first) as $l | ($fs | first) as $f |
		{name: $name, args: $args, lane_exit: $lane_rc, lane_s: $lane_s,
		 kernel: $l.lane.l1_kernel, kvm_build: $l.lane.kvm_build,
		 held: $l.held.outcome, race: $l.race.judged_outcomes,
		 race_inconclusive: $l.race.inconclusive, soak: $l.soak,
		 control: $l.control.outcome, harness_faults: $l.harness_faults,
		 first_failure_ms: $l.race.first_failure_ms,
		 boot_s: $l.boot_s,
		 pfnmap: (if $l.pfnmap.race then {held: $l.pfnmap.held.outcome,
			race: $l.pfnmap.race.judged_outcomes, race_inconclusive: $l.pfnmap.race.inconclusive,
			first_failure_ms: $l.pfnmap.race.first_failure_ms, control: $l.pfnmap.control.outcome,
			module: $l.pfnmap.module, kmod: $l.pfnmap.kmod,
			selftest: ($l.pfnmap.kselftest | if . then {exit, passed, failed, skipped} else null end)}
			else $l.pfnmap end),
		 full_exit: $full_rc, full_s: $full_s,
		 full: (if $f then {outcomes: $f.default.outcomes, signatures: $f.default.signatures,
			harness_faults: $f.lane.harness_faults,
			pairs: ($f.default.by_vmm | to_entries | map({vmm: .key, build: .value.build.kind,
				runs: .value.runs, outcomes: .value.outcomes, verdicts: .value.verdicts,
				signatures: .value.signatures, cycles: .value.cycles, window_hits: .value.window_hits,
				ur_reads: .value.ur_reads, ur_violations: .value.ur_violations,
				memory_fault_retries: .value.memory_fault_retries}))}
			else null end)}' >>"$out/matrix.jsonl.tmp"
done
jq -s --argjson s "$(( $(date +%s) - start ))" --argjson skips "$(printf '%s\n' "${vmm_skips[@]}" | jq -Rsc 'split("\n") | map(select(length > 0))')" \
	'{schema: "bartoggle.nested-matrix/1", elapsed_s: $s, qemu_skipped: $skips, kernels: .}' \
	"$out/matrix.jsonl.tmp" >"$out/matrix.json.tmp" &&
	mv "$out/matrix.json.tmp" "$out/matrix.json"
rm -f "$out/matrix.jsonl.tmp"
[ "$ran" = 0 ] && { log "no kernel of the matrix could be had: SKIP"; exit 4; }

jq -r '.kernels[] | "nested-matrix: \(.name): held \(.held // "-"), race \(.race // {} | tojson), soak \(.soak.outcome // "-") \(.soak.cycles // "")/\(.soak.window_hits // "") hits, control \(.control // "-")\(if .full then ", nested-full \(.full.outcomes | tojson)" else "" end) (\(.lane_s + (.full_s // 0)) s)"' \
	"$out/matrix.json" >&2
# vfio and the helper module side by side, per kernel (matrix.txt too).
jq -r '
	def oc: if . == null then "-" else to_entries | map("\(.key) \(.value)") | join(", ") end;
	def ms: if .median == null then "-" else "\(.median * 10 | round / 10)/\(.max * 10 | round / 10)" end;
	"kernel\tbacking\theld\trace trials\tfirst failure ms (median/max)\tselftest",
	(.kernels[] | select(.held != null) |
	 "\(.name)\tvfio\t\(.held)\t\(.race | oc)\t\(.first_failure_ms | ms)\t",
	 (select(.pfnmap.held) | "\(.name)\tpfnmap\t\(.pfnmap.held)\t\(.pfnmap.race | oc)\t\(.pfnmap.first_failure_ms | ms)\t\(.pfnmap.selftest // {} | "exit \(.exit): \(.passed) ok, \(.failed) not ok")"))' \
	"$out/matrix.json" | columns >"$out/matrix.txt"
sed 's/^/nested-matrix: /' "$out/matrix.txt" >&2
# The kernel x VMM pairs (pairs.txt too): only the fixed pair should live.
jq -r '
	def oc: if . == null then "-" else to_entries | map("\(.key) \(.value)") | join(", ") end;
	def verdict: .verdicts as $v | if $v.FAIL then "FAIL" elif ($v | keys) == ["PASS"] then "PASS"
		else ($v | keys | join("/")) end;
	"kernel\tVMM\truns\toutcomes\tcycles\twindow hits\tUR reads\tUR violations\tretries\tverdict\tsignature",
	(.kernels[] | .name as $k | .full.pairs[]? |
	 "\($k)\t\(.vmm)\t\(.runs)\t\(.outcomes | oc)\t\(.cycles)\t\(.window_hits)\t\(.ur_reads)\t\(.ur_violations)\t\(.memory_fault_retries // "-")\t\(verdict)\t\(.signatures | if length == 0 then "-" else join("; ") end)"),
	(.qemu_skipped[] | "(skipped: \(.))")' "$out/matrix.json" | columns >"$out/pairs.txt"
sed 's/^/nested-matrix: /' "$out/pairs.txt" >&2
"$run" report --out "$out/report" --quiet "$out" >"$out/report.ktap" 2>"$out/report.err"
report_rc=$?
grep -m1 '^verdict' "$out/report/summary.txt" 2>/dev/null | sed 's/^/nested-matrix: report: /' >&2
log "results in $out (report: $out/report/summary.txt)"
[ "$report_rc" = 0 ] || { log "report failed (exit $report_rc): $(tail -n 1 "$out/report.err")"; exit 1; }
[ "$incomplete" = 0 ] || { log "$incomplete lane(s) or nested-full run(s) did not complete"; exit 1; }
exit 0
