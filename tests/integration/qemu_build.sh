#!/bin/bash
# scripts/qemu-build.sh (make qemu-fixed): Debian's QEMU source, minimal,
# unpatched and with fixes/qemu/*.patch, cached by key; what a build
# records; a patch that does not apply; and bartoggle-run's use of a built
# binary (its build in the record, [qemu] firmware checked). Builds for
# real the first time (about 2.5 + 1 minutes), the cache after.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
OUT=${BARTOGGLE_TEST_OUT:-results/check}/qemu-build
rm -rf "$OUT"
mkdir -p "$OUT"

t0=$(date +%s)
scripts/qemu-build.sh --control >"$OUT/control.out" 2>"$OUT/control.err"
rc=$?
[ "$rc" = 4 ] && t_skip_all "$(tail -n 1 "$OUT/control.err")"
control_s=$(( $(date +%s) - t0 ))
t0=$(date +%s)
scripts/qemu-build.sh >"$OUT/patched.out" 2>"$OUT/patched.err"
prc=$?
patched_s=$(( $(date +%s) - t0 ))
control=$(cat "$OUT/control.out") patched=$(cat "$OUT/patched.out")

t_plan 10
t_diag "control: $control_s s, $(grep -E 'cached|built in' "$OUT/control.err")"
t_diag "patched: $patched_s s, $(grep -E 'cached|built in' "$OUT/patched.err")"
t_check "control and patched built (or cached), one binary path each on stdout" bash -c "
	[ $rc = 0 ] && [ $prc = 0 ] && [ -x '$control' ] && [ -x '$patched' ] && [ '$control' != '$patched' ] &&
	[ \$(wc -l <'$OUT/control.out') = 1 ] && [ \$(wc -l <'$OUT/patched.out') = 1 ]"
t_check "each records its kind, source, key and configure line; patched lists fixes/qemu/*.patch with their sha256" bash -c "
	src=\"qemu \$(dpkg-query -W -f='\${source:Version}' qemu-system-x86)\"
	jqs --arg src \"\$src\" --arg conf \"\$(scripts/qemu-build.sh --print-configure)\" \
		'.kind == \"control\" and .patches == [] and .source == \$src and .configure == \$conf and
		 (.key | test(\"^[0-9a-f]{12}\$\"))' <\"\$(dirname '$control')/bartoggle-build.json\" &&
	want=\$(for p in fixes/qemu/*.patch; do jq -nc --arg n \"\$(basename \$p)\" --arg s \"\$(sha256sum <\$p | cut -c1-64)\" '{name: \$n, sha256: \$s}'; done | jq -sc .) &&
	jqs --argjson want \"\$want\" --arg src \"\$src\" '.kind == \"patched\" and .patches == \$want and .source == \$src' \
		<\"\$(dirname '$patched')/bartoggle-build.json\" &&
	case '$patched' in *-patched-\$(jq -r .key \"\$(dirname '$patched')/bartoggle-build.json\")/bin/qemu-system-x86_64) ;; *) exit 1 ;; esac"
t_check "both run from the cache with Debian's firmware beside them and the lanes' devices" bash -c "
	for q in '$control' '$patched'; do
		\"\$q\" --version | grep -q '^QEMU emulator version 7\\.2\\.' &&
		[ -e \"\$(dirname \"\$q\")/../share/seabios/bios-256k.bin\" ] &&
		\"\$q\" -device help | grep -q 'name \"vfio-pci\"' && \"\$q\" -device help | grep -q 'name \"edu\"' &&
		timeout 20 \"\$q\" -machine q35 -accel tcg -nodefaults -display none -S -qmp stdio <<<'{\"execute\":\"qmp_capabilities\"}
{\"execute\":\"quit\"}' >/dev/null 2>&1 || exit 1
	done"
t_check "a rerun is the cache: the same path at once, offline" bash -c "
	t=\$(date +%s%N) && p=\$(scripts/qemu-build.sh 2>'$OUT/again.err') && c=\$(scripts/qemu-build.sh --control 2>>'$OUT/again.err') &&
	[ \"\$p\" = '$patched' ] && [ \"\$c\" = '$control' ] && [ \$(( (\$(date +%s%N) - t) / 1000000 )) -lt 5000 ] &&
	[ \$(grep -c '^qemu-build: cached: ' '$OUT/again.err') = 2 ]"
# A hunk that cannot apply: exit 1, patch's own words, nothing cached.
printf '%s\n' '--- a/accel/kvm/kvm-all.c' '+++ b/accel/kvm/kvm-all.c' '@@ -1,3 +1,3 @@' \
	'-no such line in this file' '+nor this one' ' nor the context' >"$OUT/bad.patch"
scripts/qemu-build.sh --patch "$OUT/bad.patch" >"$OUT/bad.out" 2>"$OUT/bad.err"
brc=$?
t_check "a patch that does not apply: exit 1, named with patch's words, no binary" bash -c "
	[ $brc = 1 ] && [ ! -s '$OUT/bad.out' ] && grep -q 'bad.patch does not apply to qemu ' '$OUT/bad.err' &&
	grep -q 'FAILED' '$OUT/bad.err'"
t_check "usage errors: exit 2 with a reason" bash -c "
	scripts/qemu-build.sh --control --patch fixes/qemu/0001-*.patch 2>'$OUT/u1.err'; [ \$? = 2 ] &&
	grep -q 'no --patch with it' '$OUT/u1.err' &&
	scripts/qemu-build.sh --patch /no/such.patch 2>'$OUT/u2.err'; [ \$? = 2 ] && grep -q 'no such readable file' '$OUT/u2.err' &&
	scripts/qemu-build.sh --frobnicate 2>'$OUT/u3.err'; [ \$? = 2 ] &&
	scripts/qemu-build.sh --help | grep -q 'qemu-build.sh \\[--control'"
t_check "make qemu-fixed prints the patched binary" bash -c "
	[ \"\$(make -s --no-print-directory qemu-fixed 2>/dev/null)\" = '$patched' ]"

# The runner with a built QEMU: the emulated demo under TCG, a short run.
"$BUILD/bartoggle-run" --config configs/demo.ini --qemu "$patched" --qemu qemu-system-x86_64 \
	--cycles 300 --results "$OUT/run" --quiet >"$OUT/run.out" 2>"$OUT/run.err"
rrc=$?
r=$(ls "$OUT"/run/*/records.jsonl 2>/dev/null | head -n 1)
t_check "bartoggle-run with the patched build and Debian's: both PASS, each record names its build" bash -c "
	[ $rrc = 0 ] && [ \$(wc -l <'$r') = 2 ] &&
	head -n 1 '$r' | jqs --arg b '$patched' '.qemu.binary == \$b and .qemu.build.kind == \"patched\" and
		.qemu.build.resolved == \$b and (.qemu.build.patches | length) == $(ls fixes/qemu/*.patch | wc -l) and
		.qemu.memory_fault_retries == null and .verdict == \"PASS\"' &&
	tail -n 1 '$r' | jqs '.qemu.build.kind == \"distribution\" and (.qemu.build.package | startswith(\"Debian \")) and
		.qemu.build.resolved == \"/usr/bin/qemu-system-x86_64\" and .verdict == \"PASS\"'"
"$BUILD/bartoggle-run" report --out "$OUT/report" --quiet "$OUT/run" >/dev/null 2>"$OUT/report.err"
t_check "report: a row per build, the patched one's evidence lists its patches" bash -c "
	jqs --arg deb \"QEMU 7.2.22 (\$(qemu-system-x86_64 --version | sed -n '1s/.*(\\(.*\\))\$/\\1/p'))\" \
		--arg fix 'QEMU 7.2.22 [patched $(jq -r .key "$(dirname "$patched")/bartoggle-build.json")]' \
		'[.rows[].vmm] | sort == ([\$deb, \$fix] | sort)' <'$OUT/report/summary.json' &&
	e=\$(ls '$OUT'/report/evidence-*patched*.txt) && grep -q '^QEMU build: *patched ' \"\$e\" &&
	[ \$(grep -c '^QEMU patch: .* sha256 [0-9a-f]\\{64\\}\$' \"\$e\") = $(ls fixes/qemu/*.patch | wc -l) ] &&
	grep -q '^Tested: .* with QEMU 7.2.22 \\[patched ' \"\$e\""
t_check "[qemu] firmware: a directory that is not one fails preflight" bash -c "
	'$BUILD/bartoggle-run' --config configs/demo.ini --qemu-firmware /usr/share/seabios:/no/such/dir --preflight \
		--results '$OUT/fw' 2>'$OUT/fw.err'; rc=\$?
	[ \$rc != 0 ] && grep -q 'FAIL QEMU firmware .*-L /no/such/dir' '$OUT/fw.err' &&
	grep -q 'ok   QEMU firmware .*-L /usr/share/seabios' '$OUT/fw.err'"
t_done
