#!/bin/bash
# The flake meter: runs a command N times, one after the other, and counts.
#
#   repeat.sh [--out DIR] [--records DIR] [--stop-on-fail] N CMD [ARG...]
#
# A run passes when CMD exits 0. Each run's outcomes are the "outcome" of
# every record (records.jsonl, JSON Lines) that the run wrote under the
# --records roots (default results/; repeatable): files it created and lines
# it appended to existing ones. A run's output goes to DIR/run-K.log.
#
# stderr: one line per run, then the pass count and two histograms (runs by
# exit status and outcome set; records by outcome). stdout: one JSON object,
# the same numbers for scripts ({"runs", "passed", "failed", "exits",
# "run_outcomes", "outcomes", "runs_detail"}). DIR (default
# results/repeat/<UTC>) keeps the logs and summary.json.
# Exit: 0 every run passed, 1 any failed, 2 usage.
set -uo pipefail

out="" roots=() stop_on_fail=0
usage() { sed -n '2,17s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=${2:-}; shift ;;
	--records) roots+=("${2:-}"); shift ;;
	--stop-on-fail) stop_on_fail=1 ;;
	-h|--help) usage 0 ;;
	--) shift; break ;;
	-*) echo "repeat: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
n=${1:-}
case $n in ''|*[!0-9]*|0) echo "repeat: N must be a whole number > 0 (try --help)" >&2; exit 2 ;; esac
shift
[ $# -gt 0 ] || { echo "repeat: no command to repeat (try --help)" >&2; exit 2; }
command -v jq >/dev/null || { echo "repeat: needs jq (make deps)" >&2; exit 2; }
[ ${#roots[@]} -gt 0 ] || roots=(results)
[ -n "$out" ] || out=results/repeat/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out" || { echo "repeat: cannot create $out" >&2; exit 2; }
detail=$out/runs.jsonl
: >"$detail" || { echo "repeat: cannot write $detail" >&2; exit 2; }

# records: "inode size mtime path" of every records.jsonl under the roots.
records() {
	find "${roots[@]}" -name records.jsonl -type f -printf '%i %s %T@ %p\n' 2>/dev/null
}

# new_outcomes BEFORE: the outcomes of every record line written since BEFORE:
# the tail of a file that grew, all of a file that is new or was made anew
# (a test that removes its results dir and writes it again).
new_outcomes() {
	local inode size mtime path old
	records | while read -r inode size mtime path; do
		old=$(awk -v p="$path" -v i="$inode" -v s="$size" -v m="$mtime" '
			$4 == p { print ($1 == i && ($2 < s || $3 == m)) ? $2 : 0 }' "$1")
		[ "${old:-0}" -lt "$size" ] || continue
		tail -c +"$(( ${old:-0} + 1 ))" "$path"
	done | jq -R -r 'fromjson? | .outcome // empty' 2>/dev/null
}

trap 'echo "repeat: interrupted after $((k - 1)) of $n runs" >&2; exit 130' INT TERM
passed=0
for k in $(seq 1 "$n"); do
	records >"$out/.before"
	t0=$(date +%s.%N)
	"$@" >"$out/run-$k.log" 2>&1 </dev/null
	rc=$?
	secs=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	outcomes=$(new_outcomes "$out/.before" | sort | uniq -c | awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }')
	[ "$rc" = 0 ] && passed=$((passed + 1))
	echo "repeat: run $k/$n: exit $rc, ${secs} s, outcomes: ${outcomes:-none}" >&2
	jq -cn --argjson run "$k" --argjson exit "$rc" --arg outcomes "$outcomes" \
		--argjson seconds "$secs" --arg log "$out/run-$k.log" \
		'{run: $run, exit: $exit, seconds: $seconds, log: $log,
		  outcomes: ($outcomes | split(" ") | map(select(. != "") | split("=") |
			     {key: .[0], value: (.[1] | tonumber)}) | from_entries)}' >>"$detail"
	[ "$rc" != 0 ] && [ "$stop_on_fail" = 1 ] && break
done
rm -f "$out/.before"
trap - INT TERM

jq -s '{runs: length, passed: map(select(.exit == 0)) | length,
	failed: map(select(.exit != 0)) | length,
	exits: (group_by(.exit) | map({key: "\(.[0].exit)", value: length}) | from_entries),
	run_outcomes: (map("exit \(.exit): " + (.outcomes | to_entries |
			  map("\(.key)=\(.value)") | join(" ") | if . == "" then "none" else . end))
		       | group_by(.) | map({key: .[0], value: length}) | from_entries),
	outcomes: (map(.outcomes | to_entries[]) | group_by(.key) |
		   map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
	seconds: (map(.seconds) | add),
	runs_detail: .}' "$detail" >"$out/summary.json.tmp" &&
	mv "$out/summary.json.tmp" "$out/summary.json" ||
	{ echo "repeat: could not write $out/summary.json" >&2; exit 1; }

jq -r '"repeat: \(.passed) of \(.runs) passed in \(.seconds | floor) s",
	"repeat: runs by exit and outcomes:",
	(.run_outcomes | to_entries[] | "  \(.value)\t\(.key)"),
	"repeat: records by outcome:",
	(.outcomes | to_entries[] | "  \(.value)\t\(.key)")' "$out/summary.json" >&2
echo "repeat: logs in $out" >&2
jq -c . "$out/summary.json"
[ "$(jq .failed "$out/summary.json")" = 0 ]
