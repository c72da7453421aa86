# Helpers for integration tests: KTAP on stdout, details on stderr.
# shellcheck shell=bash

T_N=0
T_FAIL=0
T_SKIP=0

t_plan() { echo "KTAP version 1"; echo "1..$1"; }
t_diag() { echo "# $*"; }
t_ok() { T_N=$((T_N + 1)); echo "ok $T_N $*"; }
t_not_ok() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N $*"; }
t_skip() { T_N=$((T_N + 1)); T_SKIP=$((T_SKIP + 1)); echo "ok $T_N $1 # SKIP $2"; }
# Skip the whole test (kselftest exit 4): one test point skipped, since
# kunit.py rejects a "1..0" document (no test run).
t_skip_all() { echo "KTAP version 1"; echo "1..1"; echo "ok 1 $(basename "$0" .sh) # SKIP $*"; exit 4; }

# t_check NAME CMD...: one test point from a command's status.
t_check() {
	local name=$1
	shift
	if "$@"; then t_ok "$name"; else t_not_ok "$name"; fi
}

# jq_true FILE FILTER: FILTER must yield true on FILE's last record (JSON
# Lines, *.jsonl) or on FILE (one JSON document).
jq_true() {
	local doc out
	case $1 in
	*.jsonl) doc=$(tail -n 1 "$1" 2>/dev/null) ;;
	*) doc=$(cat "$1" 2>/dev/null) ;;
	esac
	if [ -z "$doc" ]; then
		echo "jq: no JSON in $1" >&2
		return 1
	fi
	out=$(jq -e "$2" <<<"$doc" 2>&1) && return 0
	echo "jq: '$2' is not true on $(head -c 600 <<<"$doc"): $out" >&2
	return 1
}

# jqs FILTER [jq options]: like jq -e on stdin, but empty input is a failure
# (jq 1.6 -e says true on no input at all). Exported for bash -c checks.
jqs() {
	local in
	in=$(cat)
	if [ -z "$in" ]; then
		echo "jq: empty input for '$*'" >&2
		return 1
	fi
	jq -e "$@" <<<"$in" >/dev/null
}
export -f jqs

# wait_running ERRFILE: until a runner's stderr shows cycles counted (at most
# 120 s): its agent is running.
wait_running() {
	local _
	for _ in $(seq 1 600); do
		grep -q 'run: .* [1-9][0-9]* cycles' "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# child_qemu PID: the QEMU that process PID started, by its parent PID.
child_qemu() {
	ps -o pid=,comm= --ppid "$1" | awk '$2 ~ /^qemu/ { print $1 }'
}

t_done() {
	echo "# Totals: pass:$((T_N - T_FAIL - T_SKIP)) fail:$T_FAIL xfail:0 xpass:0 skip:$T_SKIP error:0"
	[ "$T_FAIL" -eq 0 ]
}
