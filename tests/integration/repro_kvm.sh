#!/bin/bash
# bartoggle-repro against this machine's /dev/kvm with the stand-in backings.
#
# Asserts what the host really does. With kvm_pvm (this CI host) a declined
# backing fault comes back as KVM_EXIT_MMIO; a stock x86 KVM returns a bare
# -EFAULT. A kernel whose behaviour is meant to differ (a patched one) is
# declared with BARTOGGLE_EXPECT_STANDIN=<outcome>: a change is reported,
# never passed silently.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
REPRO=$BUILD/bartoggle-repro
OUT=${BARTOGGLE_TEST_OUT:-results/check}/repro
CYCLES=${BARTOGGLE_TEST_CYCLES:-100000}

[ -e /dev/kvm ] || t_skip_all "no /dev/kvm on this host"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || t_skip_all "no permission to open /dev/kvm"

if [ -n "${BARTOGGLE_EXPECT_STANDIN:-}" ]; then
	expect=$BARTOGGLE_EXPECT_STANDIN
elif [ -d /sys/module/kvm_pvm ]; then
	expect=mmio-exit
else
	expect=efault
fi
case $expect in
mmio-exit|memory-fault-exit) verdict=PASS rc_want=0 ;;
*) verdict=FAIL rc_want=1 ;;
esac

mkdir -p "$OUT"
t_plan 44
t_diag "host $(uname -r), expecting '$expect' from the stand-in backings"

# run NAME JSON ARGS...: runs the reproducer, keeps its KTAP and stderr.
run() {
	local name=$1 json=$2
	shift 2
	rm -f "$json"
	mkdir -p "$(dirname "$json")"
	"$REPRO" --json "$json" "$@" >"$OUT/$name.ktap" 2>"$OUT/$name.err"
	echo $?
}

for backing in shmem mprotect; do
	j=$OUT/$backing-held/records.jsonl
	rc=$(run "$backing-held" "$j" --backing "$backing" --mode held)
	t_check "$backing held: exit $rc_want" [ "$rc" = "$rc_want" ]
	t_check "$backing held: outcome $expect" jq_true "$j" \
		".outcome == \"$expect\" and .verdict == \"$verdict\" and .mode == \"held\" and .backing == \"$backing\""
	t_check "$backing held: one window hit, UR held" jq_true "$j" \
		'.counts.window_hits == 1 and .counts.ur_violations == 0 and .counts.cycles == 1 and .counts.toggles == 2'
	if [ "$expect" = efault ]; then
		t_check "$backing held: first failure recorded" jq_true "$j" \
			'.first_failure.ms >= 0 and (.signature | test("errno=14"))'
	else
		t_check "$backing held: the guest read all ones" jq_true "$j" \
			'.counts.ur_reads == 1 and .vmm.ur_reads_served == 1 and .first_failure == null'
	fi
	t_check "$backing held: KTAP" grep -q "^ok 4 re-enabled access resumes" "$OUT/$backing-held.ktap"

	j=$OUT/$backing-race/records.jsonl
	rc=$(run "$backing-race" "$j" --backing "$backing" --mode race --cycles "$CYCLES")
	t_check "$backing race: exit $rc_want" [ "$rc" = "$rc_want" ]
	t_check "$backing race: outcome $expect" jq_true "$j" \
		".outcome == \"$expect\" and .verdict == \"$verdict\""
	if [ "$expect" = efault ]; then
		t_check "$backing race: stopped at the first failure" jq_true "$j" \
			'.first_failure != null and .counts.window_hits >= 1'
		t_skip "$backing race: all cycles" "stops at the first efault"
		t_skip "$backing race: UR reads" "stops at the first efault"
	else
		t_check "$backing race: $CYCLES cycles, window hit" jq_true "$j" \
			".counts.cycles == $CYCLES and .counts.toggles == 2 * $CYCLES and .counts.window_hits > 0 and .counts.accesses > 0"
		t_check "$backing race: every UR read served was seen by the guest" jq_true "$j" \
			'.counts.ur_reads == .vmm.ur_reads_served and .counts.window_hits == .vmm.ur_reads_served + .vmm.writes_dropped + .vmm.window_hits_forwarded and .counts.ur_violations == 0'
		t_check "$backing race: rates and exits" jq_true "$j" \
			'.rates.toggles_per_s > 0 and .rates.accesses_per_s > 0 and .kvm_run.mmio > 0 and .kvm_run.efault == 0'
	fi
	t_check "$backing race: record fields" jq_true "$j" \
		'.schema == "bartoggle.record/1" and .tool == "repro" and (.host.kernel | length > 0) and .device.bar_size == 1048576 and .options.cycles > 0 and .duration_s > 0'
done

# Other widths, accesses and vCPU counts: the same outcome, UR per width.
for v in "shmem write 1 1" "mprotect rw 8 1" "mprotect read 2 2" "shmem rw 4 2"; do
	set -- $v
	name=variant-$1-$2-$3-$4
	j=$OUT/$name/records.jsonl
	rc=$(run "$name" "$j" --backing "$1" --mode race --access "$2" --width "$3" \
		--vcpus "$4" --cycles 20000)
	t_check "$name: exit $rc_want, outcome $expect" jq_true "$j" \
		".outcome == \"$expect\" and .options.width == $3 and .options.vcpus == $4 and $rc == $rc_want"
	[ "$expect" = efault ] && { t_skip "$name: UR" "stops at the first efault"; continue; }
	if [ "$2" = write ]; then
		t_check "$name: writes dropped, nothing read" jq_true "$j" \
			'.vmm.writes_dropped > 0 and .vmm.writes_dropped + .vmm.window_hits_forwarded == .counts.window_hits and .counts.ur_reads == 0'
	else
		t_check "$name: all-ones of the width" jq_true "$j" \
			'.counts.ur_reads > 0 and .counts.ur_reads == .vmm.ur_reads_served and .counts.ur_violations == 0'
	fi
done

# Duration bound.
j=$OUT/duration/records.jsonl
rc=$(run duration "$j" --mode race --duration 1 --quiet)
t_check "--duration 1 stops after about a second" jq_true "$j" \
	".duration_s >= 1 and .duration_s < 3 and .options.cycles == 0 and $rc == $rc_want"
t_check "--quiet prints nothing on stderr" [ ! -s "$OUT/duration.err" ]

# Bad input: one line on stderr, the right exit code, no record.
bad() {
	local name=$1 want=$2 pattern=$3
	shift 3
	j=$OUT/bad.jsonl
	rm -f "$j"
	"$REPRO" --json "$j" "$@" >"$OUT/bad.out" 2>"$OUT/bad.err"
	rc=$?
	if [ "$rc" = "$want" ] && [ "$(wc -l <"$OUT/bad.err")" = 1 ] &&
	   grep -q -- "$pattern" "$OUT/bad.err"; then
		t_ok "bad input: $name -> exit $want"
	else
		t_not_ok "bad input: $name -> exit $rc, want $want"
		sed 's/^/# /' "$OUT/bad.err"
	fi
}
bad "malformed BDF" 2 "not a PCI address" 0000:00:1g.0
bad "zero cycles" 2 "between 1 and" --mode race --cycles 0
bad "negative duration" 2 "want seconds" --mode race --duration -3
bad "conflicting flags" 2 "do not apply to --mode=held" --mode held --cycles 10
t_check "usage errors write no record" [ ! -e "$OUT/bad.jsonl" ]

skip_case() {
	local name=$1 pattern=$2
	shift 2
	j=$OUT/skip.jsonl
	rm -f "$j"
	"$@" >"$OUT/skip.out" 2>"$OUT/skip.err"
	rc=$?
	if [ "$rc" = 4 ] && grep -q "^ok 1 setup # SKIP" "$OUT/skip.out" &&
	   grep -q -- "$pattern" "$OUT/skip.err" &&
	   jq_true "$j" '.outcome == "skipped" and .verdict == "SKIP"'; then
		t_ok "skip: $name"
	else
		t_not_ok "skip: $name (exit $rc)"
		sed 's/^/# /' "$OUT/skip.err"
	fi
}
skip_case "absent device" "no PCI device" "$REPRO" --json "$OUT/skip.jsonl" 0000:7f:1f.7
skip_case "I/O BAR0 (fake sysfs)" "not a memory BAR" \
	env BARTOGGLE_SYSFS_ROOT=tests/data/sysfs "$REPRO" --json "$OUT/skip.jsonl" 0000:00:02.0
skip_case "not bound to vfio-pci (fake sysfs)" "bound to ata_piix" \
	env BARTOGGLE_SYSFS_ROOT=tests/data/sysfs "$REPRO" --json "$OUT/skip.jsonl" --bar 1 0000:00:02.0
# As nobody, from a directory of its own: a clone inside a 0700 directory
# (mktemp -d) is out of nobody's reach, and so would be the record.
as_nobody_repro() {
	local tmp rc
	tmp=$(mktemp -d /tmp/bt-nobody-XXXXXX)
	chmod 755 "$tmp"
	cp "$REPRO" "$tmp/"
	install -d -m 777 "$tmp/out"
	(cd "$tmp" && setpriv --reuid=65534 --regid=65534 --clear-groups \
		./bartoggle-repro --json out/skip.jsonl)
	rc=$?
	cat "$tmp/out/skip.jsonl" >>"$OUT/skip.jsonl" 2>/dev/null
	rm -rf "$tmp"
	return $rc
}
# The helper module is never loaded on this host (its kernel is not ours):
# the pfnmap backing and the selftest say so and skip.
if [ ! -e /dev/bartoggle_pfnmap ]; then
	skip_case "pfnmap without the helper module" "load the helper module (make kmod; insmod" \
		"$REPRO" --json "$OUT/skip.jsonl" --backing pfnmap
	"$BUILD/static/pfnmap_memory_fault_test" >"$OUT/kselftest.out" 2>&1
	rc=$?
	t_check "selftest without the helper module: exit 4, one KTAP document, one test skipped with the reason" bash -c "
		[ $rc = 4 ] && [ \"\$(head -n 1 '$OUT/kselftest.out')\" = 'KTAP version 1' ] &&
		grep -qx 'ok 1 pfnmap_memory_fault # SKIP /dev/bartoggle_pfnmap: No such file or directory (load bartoggle_pfnmap.ko)' '$OUT/kselftest.out' &&
		[ \$(wc -l <'$OUT/kselftest.out') = 3 ]"
else
	t_skip "skip: pfnmap without the helper module" "/dev/bartoggle_pfnmap exists here"
	t_skip "selftest without the helper module" "/dev/bartoggle_pfnmap exists here"
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	skip_case "no permission for /dev/kvm" "no permission" as_nobody_repro
else
	t_skip "skip: no permission for /dev/kvm" "needs root and setpriv"
fi
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	skip_case "no /dev/kvm" "/dev/kvm does not exist" \
		unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" "$@"' \
		"$REPRO" --json "$OUT/skip.jsonl"
else
	t_skip "skip: no /dev/kvm" "needs root and unshare"
fi

t_done
