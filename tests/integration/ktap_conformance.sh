#!/bin/bash
# Every KTAP file the suite wrote, read by the kernel's own parser
# (tools/testing/kunit/kunit.py parse, from Debian's linux-source-6.12 as
# the nested lane's module builds unpack it into $BARTOGGLE_CACHE/kbuild, or
# $BARTOGGLE_KUNIT): each must parse with no "[ERROR]" and no CRASHED test,
# and where a records.jsonl lies beside a ktap.txt, it must hold one
# top-level test per record (a nested lane's kselftest is one more). Runs
# after every other test (tests/run.sh). With DIR arguments it reads those
# instead: tests/integration/ktap_conformance.sh build results/demo ...
#   ktap_conformance.sh BUILD [DIR...]
set -u
. "$(dirname "$0")/lib.sh"
shift
cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
self=${BARTOGGLE_TEST_OUT:-results/check}/ktap_conformance.ktap
if [ $# -gt 0 ]; then dirs=("$@"); else dirs=("${BARTOGGLE_TEST_OUT:-results/check}"); fi

kunit=${BARTOGGLE_KUNIT:-}
if [ -z "$kunit" ]; then
	for k in "$cache"/kbuild/*/tree/tools/testing/kunit/kunit.py /usr/src/linux-source-*/tools/testing/kunit/kunit.py; do
		[ -f "$k" ] && { kunit=$k; break; }
	done
fi
[ -n "$kunit" ] && [ -f "$kunit" ] ||
	t_skip_all "no kunit.py: neither \$BARTOGGLE_KUNIT nor a linux-source tree in $cache/kbuild (make nested-matrix or make kmod unpacks one)"
command -v python3 >/dev/null || t_skip_all "no python3 for kunit.py"

# KTAP files: *.ktap, ktap.txt and *.out files under 8 MiB with a "KTAP
# version 1" line (kunit.py skips what comes before it, as in a kernel log),
# not this test's own log.
mapfile -t files < <(find "${dirs[@]}" -type f -size -8M \( -name '*.ktap' -o -name 'ktap.txt' -o -name '*.out' \) 2>/dev/null |
	while read -r f; do
		[ "$f" -ef "$self" ] && continue
		grep -q '^KTAP version 1$' "$f" 2>/dev/null && echo "$f"
	done | sort)
[ "${#files[@]}" -gt 0 ] || t_skip_all "no KTAP file under ${dirs[*]}"
t_plan "${#files[@]}"
t_diag "kunit.py: $kunit"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in "${files[@]}"; do
	out=$work/out json=$work/json
	# kunit.py changes into its kernel tree: absolute paths.
	python3 "$kunit" parse --json="$json" "$(realpath "$f")" >"$out" 2>&1
	why=""
	if grep -q '\[ERROR\]' "$out"; then
		why="parser: $(grep -m1 '\[ERROR\]' "$out" | sed 's/^\[[0-9:]*\] //')"
	elif grep -q 'CRASHED' "$out"; then
		why="a test CRASHED: $(grep -m1 'CRASHED' "$out" | sed 's/^\[[0-9:]*\] //')"
	elif ! grep -q 'Testing complete' "$out" || ! jq -e . "$json" >/dev/null 2>&1; then
		why="no result from kunit.py: $(tail -n 1 "$out")"
	fi
	top=$(jq '(.sub_groups | length) + (.test_cases | length)' "$json" 2>/dev/null)
	recs=$(dirname "$f")/records.jsonl
	if [ -z "$why" ] && [ "$(basename "$f")" = ktap.txt ] && [ -f "$recs" ]; then
		want=$(grep -c . "$recs")
		grep -q '^    # Subtest: kselftest$' "$f" && want=$((want + 1))
		[ "$top" = "$want" ] || why="$top top-level tests, $want records"
	fi
	ran=$(sed -n 's/.*Testing complete. Ran \([0-9]*\) tests.*/\1/p' "$out")
	if [ -z "$why" ]; then
		t_ok "$f: $top top-level, ${ran:-0} leaf tests"
	else
		t_not_ok "$f: $why"
		sed 's/^/    /' "$out" | tail -n 15 >&2
	fi
done
