#!/bin/bash
# bartoggle-run report: over the fixture records (every kind of bad line)
# and over what the other integration tests of this run wrote; the plots
# are real PNG and SVG files from gnuplot. Runs last (tests/run.sh).
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
RUN=$BUILD/bartoggle-run
RESULTS=${BARTOGGLE_TEST_OUT:-results/check}
OUT=$RESULTS/report
rm -rf "$OUT"
mkdir -p "$OUT"

# png_size FILE: "WIDTHxHEIGHT" from the IHDR chunk, or nothing.
png_size() {
	[ "$(head -c 8 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || return 1
	od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d\n", $3 * 256 + $4, $7 * 256 + $8 }'
}

plots_ok() {
	local dir=$1 name
	shift
	for name in "$@"; do
		[ "$(png_size "$dir/$name.png")" = 1280x720 ] || { echo "$dir/$name.png: not a 1280x720 PNG" >&2; return 1; }
		grep -q '<svg' "$dir/$name.svg" || { echo "$dir/$name.svg: not SVG" >&2; return 1; }
	done
}

t_plan 12

f=$OUT/fixture
"$RUN" report --out "$f" tests/data/report >"$f.ktap" 2>"$f.err"
rc=$?
t_check "fixture: exit 0, bad lines named with file:line on stderr" bash -c "
	[ $rc = 0 ] &&
	grep -qx 'tests/data/report/bad/records.jsonl:2: not JSON (unexpected character), skipped' '$f.err' &&
	grep -q '^tests/data/report/bad/records.jsonl:7: truncated record (596 bytes, the JSON ends early at the end of the file: the writer was cut off), skipped' '$f.err' &&
	grep -q '^tests/data/report/good/records.jsonl:3: duplicate of tests/data/report/bad/records.jsonl:4, skipped' '$f.err' &&
	[ \$(grep -c ', skipped$' '$f.err') = 6 ]"
t_check "fixture: summary.txt verdict first, then the table" bash -c "
	head -n 1 '$f/summary.txt' | grep -qx 'verdict: FAIL (4 rows: 1 FAIL, 1 ERROR, 1 PASS, 1 SKIP)' &&
	grep -q '^ID  VERDICT  KERNEL' '$f/summary.txt' &&
	grep -q '^R2  FAIL .* 21005 .*vm-stopped=2 survived=2 .*1 in 10,502 (mean)' '$f/summary.txt' &&
	grep -q '^R4  PASS .*< 1 in 33,300' '$f/summary.txt'"
t_check "fixture: KTAP on stdout, one point per row" bash -c "
	grep -qx '1..4' '$f.ktap' && [ \$(grep -cE '^(not )?ok [0-9]+ R[0-9]+ ' '$f.ktap') = 4 ] &&
	cmp -s '$f.ktap' '$f/ktap.txt'"
t_check "fixture: summary.json rows, skipped lines and bounds" bash -c "
	jqs '(.rows | length) == 4 and (.inputs.skipped | length) == 6 and .inputs.duplicates == 1 and
	     (.rows[1] | .cycles == 21005 and .failures == 2 and .ttf_ms.median == 50 and
	      .ci95[0] < .p and .p < .ci95[1]) and
	     (.rows[3].bound | test(\"fewer than 1 in 33,300 cycles\"))' <'$f/summary.json'"
t_check "fixture: survival, time-to-failure and toggle-rate plots" plots_ok "$f" survival ttf rate
t_check "fixture: the toggle rate skips a line cut in half and a clock jump" bash -c "
	[ \"\$(cat '$f/rate.dat')\" = \"\$(printf '\"R2 QEMU 9.2.0 #1 (2026-11-21T09:00:00Z)\"\\n1\\t6000\\n2\\t3000')\" ]"

r=$OUT/all
"$RUN" report --out "$r" "$RESULTS" >"$r.ktap" 2>"$r.err"
rc=$?
t_check "this run's results: exit 0, a row per pair and arm" bash -c "
	[ $rc = 0 ] && head -n 1 '$r/summary.txt' | grep -q '^verdict: ' &&
	n=\$(jq '.rows | length' '$r/summary.json') && [ \"\$n\" -ge 1 ] &&
	grep -qx \"1..\$n\" '$r.ktap' && [ \$(ls '$r'/evidence-*.txt | wc -l) = \$n ]"
t_check "this run's results: every evidence file under 40 lines, plain text" bash -c "
	for e in '$r'/evidence-*.txt; do
		[ \$(wc -l <\"\$e\") -lt 40 ] && ! grep -q \$'\\033' \"\$e\" &&
		grep -q '^Verdict: ' \"\$e\" && grep -q '^Bound: ' \"\$e\" || { echo \"\$e\" >&2; exit 1; }
	done"
if [ -s "$RESULTS/repro/shmem-race/records.jsonl" ]; then
	t_check "this run's results: the stand-in race row has its exact bound" bash -c "
		jqs '.rows[] | select(.vmm == \"bartoggle-repro\" and .arm == \"shmem race\") |
		     (.verdict == \"PASS\" and .failures == 0 and (.bound | test(\"fewer than 1 in [0-9,]+ cycles\")))' \
			<'$r/summary.json'"
else
	t_skip "this run's results: the stand-in race row" "repro_kvm did not run"
fi
if [ -s "$RESULTS/nested/full/records.jsonl" ]; then
	# held and race per kernel the lanes ran (6.1; the matrix's 6.12, its
	# control rebuild and the fix when they could be had; not the collect
	# test's recorded kernel): every unfixed kernel's rows FAIL with efault,
	# the fixed one's PASS.
	ran=$(jq -r '.lane.l1_kernel' "$RESULTS"/nested/full/summary.json \
		"$RESULTS"/nested-matrix/*/lane/summary.json 2>/dev/null | sort -u | jq -Rsc 'split("\n") | map(select(length > 0))')
	t_check "this run's results: the vfio rows of unfixed kernels FAIL with efault, the fix's PASS" bash -c "
		jqs --argjson ran '$ran' '[.rows[] | select(.vmm == \"bartoggle-repro\" and (.arm == \"vfio held\" or .arm == \"vfio race\") and .device != \"-\" and
			(.kernel | sub(\" \\\\[.*\"; \"\")) as \$rel | \$ran | index(\$rel))] |
		     (map(.kernel) | unique) as \$k | (\$k | any(startswith(\"6.1.0-\"))) and
		     length == 2 * (\$k | length) and
		     (map(select(.kernel | test(\"kvm-patched\") | not)) |
			all(.verdict == \"FAIL\" and .outcomes.efault > 0 and .ttf_ms.n > 0)) and
		     (map(select(.kernel | test(\"kvm-patched\"))) |
			all(.verdict == \"PASS\" and .outcomes[\"memory-fault-exit\"] > 0))' <'$r/summary.json'"
else
	t_skip "this run's results: the nested lane's rows" "nested_lane did not run"
fi
t_check "this run's results: plots" plots_ok "$r" survival

t_check "refusals: unknown option 2, missing input 2, unwritable 1, nothing to read 4" bash -c "
	'$RUN' report --bogus 2>/dev/null; [ \$? = 2 ] || exit 1
	'$RUN' report --out /proc/no-such-dir tests/data/report >/dev/null 2>'$OUT/unwritable.err'
	[ \$? = 1 ] && grep -q 'cannot write the report in /proc/no-such-dir' '$OUT/unwritable.err' || exit 1
	'$RUN' report /nonexistent 2>/dev/null; [ \$? = 2 ] || exit 1
	mkdir -p '$OUT/empty' && '$RUN' report --out '$OUT/e' '$OUT/empty' 2>'$OUT/empty.err'
	[ \$? = 4 ] && grep -q 'nothing to report' '$OUT/empty.err'"

t_done
