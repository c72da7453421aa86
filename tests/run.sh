#!/bin/bash
# Runs the Check unit suites and the integration tests; prints one summary
# line "N passed, N failed, N skipped". Exit 0 only when nothing failed.
#   tests/run.sh [--unit-only|--integration-only] [BUILD_DIR]
set -u
unit=1 integration=1
case ${1:-} in
--unit-only) integration=0; shift ;;
--integration-only) unit=0; shift ;;
esac
BUILD=${1:-build}
export BARTOGGLE_TEST_OUT=${BARTOGGLE_TEST_OUT:-results/check}
mkdir -p "$BARTOGGLE_TEST_OUT"
passed=0 failed=0 skipped=0 broken=""

if [ "$unit" = 1 ]; then
	for t in "$BUILD"/tests/check_*; do
		log=$BARTOGGLE_TEST_OUT/$(basename "$t").log
		"$t" >"$log" 2>&1
		rc=$?
		line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
		echo "unit $(basename "$t"): ${line:-no summary (exit $rc)}" >&2
		n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/' <<<"$line")
		if [ -z "$line" ] || [ "$rc" != 0 ]; then
			grep -vE '^(Running suite|[0-9]+%: )' "$log" >&2
			broken="$broken $(basename "$t")"
		fi
		[ -n "$line" ] || { failed=$((failed + 1)); continue; }
		f=$((f))
		passed=$((passed + n - f))
		failed=$((failed + f))
	done
fi

if [ "$integration" = 1 ]; then
	# report.sh reads what the others wrote, ktap_conformance.sh every
	# KTAP file of them all: they go last.
	for t in $(ls tests/integration/*.sh | grep -v -e /lib.sh -e /report.sh -e /ktap_conformance.sh) \
		 tests/integration/report.sh tests/integration/ktap_conformance.sh; do
		name=$(basename "$t" .sh)
		log=$BARTOGGLE_TEST_OUT/$name.ktap
		start=$(date +%s)
		bash "$t" "$BUILD" >"$log" 2>"$BARTOGGLE_TEST_OUT/$name.stderr"
		rc=$?
		p=$(grep -cE '^ok [0-9]+ ' "$log" | tr -d ' ')
		s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log" | tr -d ' ')
		f=$(grep -cE '^not ok [0-9]+ ' "$log" | tr -d ' ')
		echo "integration $name: exit $rc, $((p - s)) ok, $f not ok, $s skipped, $(( $(date +%s) - start )) s" >&2
		if [ "$rc" = 4 ]; then
			grep -m1 '# SKIP' "$log" >&2
			skipped=$((skipped + 1))
			continue
		fi
		if [ "$rc" != 0 ] || [ "$f" != 0 ] || [ "$p" = 0 ]; then
			grep -E '^not ok|^# ' "$log" >&2
			tail -n 20 "$BARTOGGLE_TEST_OUT/$name.stderr" >&2
			broken="$broken $name"
			[ "$f" = 0 ] && f=1
		fi
		passed=$((passed + p - s))
		skipped=$((skipped + s))
		failed=$((failed + f))
	done
fi

[ -n "$broken" ] && echo "failing:$broken" >&2
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ -z "$broken" ]
