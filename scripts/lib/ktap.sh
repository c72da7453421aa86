# shellcheck shell=bash
# One KTAP document for a lane: each step's own KTAP (framed by L1 as
# "BT1 ktap STEP LINE") becomes a subtest, indented, under one top-level
# result per record, in the records' order: a CI system reading only
# ktap.txt sees every trial, and kunit.py parse reads the whole file (the
# prefixed concatenation it replaces stopped the parser after the first).
#   ktap_lane FRAMES RECORDS TITLE [KSELFTEST_FILE] >ktap.txt
# A step that ended without KTAP of its own (stuck in L1, no output) still
# has its result line, with the record's signature as a diagnostic. The
# kselftest's KTAP, when given, is the last subtest.

# KTAP_LINES on stdin -> the same, indented, "# Subtest: NAME" after the
# version line (kunit's own layout).
ktap_indent() {
	awk -v name="$1" '
		{ print "    " $0 }
		!said && /^KTAP version / { print "    # Subtest: " name; said = 1 }'
}

ktap_lane() {
	local frames=$1 records=$2 title=$3 kselftest=${4:-} n=0 plan steps
	local step verdict signature status lines
	steps=$(jq -r '[.lane.step // "step", .verdict // "ERROR",
		(.signature // "" | gsub("[\n\t]"; " "))] | @tsv' "$records" 2>/dev/null)
	plan=$(grep -c . <<<"$steps")
	[ -n "$steps" ] || plan=0
	[ -n "$kselftest" ] && [ -s "$kselftest" ] && plan=$((plan + 1))
	echo "KTAP version 1"
	echo "# $title"
	echo "1..$plan"
	while IFS=$'\t' read -r step verdict signature; do
		[ -n "$step" ] || continue
		n=$((n + 1))
		lines=$(sed -n "s/^BT1 ktap $step //p" "$frames")
		[ -n "$lines" ] && ktap_indent "$step" <<<"$lines"
		case $verdict in
		PASS) echo "ok $n $step" ;;
		SKIP) echo "ok $n $step # SKIP ${signature:-skipped}" ;;
		FAIL) echo "not ok $n $step" ;;
		*) echo "not ok $n $step"; echo "# ERROR $n: no verdict, the step itself went wrong" ;;
		esac
		[ -n "$signature" ] && [ "$verdict" != SKIP ] && echo "# $step: $signature"
	done <<<"$steps"
	if [ -n "$kselftest" ] && [ -s "$kselftest" ]; then
		n=$((n + 1))
		sed -n '/^KTAP version /,$p' "$kselftest" | ktap_indent kselftest
		status=$(sed -n '/^KTAP version /,$p' "$kselftest" | awk '
			/^1\.\.0 # SKIP/ { skip = substr($0, index($0, "# SKIP") + 7) }
			/^not ok / { bad = 1 } /^ok / { good = 1 }
			END { if (bad) print "not ok"; else if (skip != "" || !good) print "skip " (skip == "" ? "no results" : skip); else print "ok" }')
		case $status in
		ok) echo "ok $n kselftest" ;;
		skip*) echo "ok $n kselftest # SKIP ${status#skip }" ;;
		*) echo "not ok $n kselftest" ;;
		esac
	fi
}
