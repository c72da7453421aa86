#!/bin/bash
# make fuzz: every libFuzzer target of tests/fuzz for a bounded time, one
# after the other. Each starts from its corpus in $BARTOGGLE_CACHE/fuzz/<t>
# (kept between runs, outside the checkout), its seeds (tests/fuzz/seeds/<t>
# and the matching files of tests/data, split into lines where the parser
# takes lines), and first replays tests/fuzz/regressions/<t>/, every input
# that ever crashed it. A crash, leak or UB report stops that target: the
# input is kept in OUT/<t>-crash-*, to be added to tests/fuzz/regressions/
# with its fix. One line per target:
#   fuzz: <t> execs=<n> exec/s=<n> cov=<edges> ft=<features> corpus=<n> crashes=<n> (<s> s)
#
#   fuzz.sh --build DIR [--seconds S] [--runs N] [--workers N] [--out DIR] [TARGET...]
# --runs N: stop a target after N executions (--seconds still bounds it).
# --workers N: N processes per target on its one corpus (libFuzzer merges
# what each finds through the directory), the runs split between them;
# execs and exec/s are their sums, cov and ft the best of them.
# Exit 0 no findings, 1 a finding (or a target that did not run), 2 usage,
# 4 no clang/libFuzzer build (DIR has no targets).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build="" seconds=60 runs="" workers=1 out="" targets=()
cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift ;;
	--seconds) seconds=$2; shift ;;
	--runs) runs=$2; shift ;;
	--workers) workers=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	-*) echo "fuzz: unknown option '$1' (try --help)" >&2; exit 2 ;;
	*) targets+=("$1") ;;
	esac
	shift
done
[ -d "$build" ] || { echo "fuzz: --build DIR (the fuzz targets' directory) is missing" >&2; exit 2; }
case $seconds in ''|*[!0-9]*|0) echo "fuzz: --seconds wants a positive number" >&2; exit 2 ;; esac
case $runs in ''|[1-9]*) ;; *) echo "fuzz: --runs wants a positive number" >&2; exit 2 ;; esac
case $runs in *[!0-9]*) echo "fuzz: --runs wants a positive number" >&2; exit 2 ;; esac
case $workers in [1-9]|[1-9][0-9]) ;; *) echo "fuzz: --workers wants 1 to 99" >&2; exit 2 ;; esac
if [ "${#targets[@]}" = 0 ]; then
	for b in "$build"/fuzz_*; do [ -x "$b" ] && targets+=("${b##*/fuzz_}"); done
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: SKIP: no fuzz target in $build (make fuzz-build needs clang)" >&2; exit 4; }
[ -n "$out" ] || out=results/fuzz/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
mkdir -p "$out"

# seeds TARGET DIR: the target's seeds from the tree, into DIR.
split_lines() { # FILE DIR PREFIX: each non-empty line its own file
	awk -v d="$2" -v p="$3" 'length { f = sprintf("%s/%s-%d", d, p, NR); printf "%s", $0 > f; close(f) }' "$1"
}
seeds() {
	local t=$1 dir=$2 f
	mkdir -p "$dir"
	[ -d "$top/tests/fuzz/seeds/$t" ] && cp "$top/tests/fuzz/seeds/$t"/* "$dir/" 2>/dev/null
	case $t in
	config) for f in "$top"/tests/data/configs/*.ini "$top"/configs/*.ini; do cp "$f" "$dir/$(basename "$(dirname "$f")")-${f##*/}"; done ;;
	records) for f in "$top"/tests/data/report/*/records.jsonl; do cp "$f" "$dir/$(basename "$(dirname "$f")").jsonl"; done ;;
	qmp_line) for f in "$top"/tests/data/qmp/*; do split_lines "$f" "$dir" "${f##*/}"; done ;;
	kmsg) split_lines "$top/tests/data/kmsg.txt" "$dir" kmsg ;;
	agent_line) split_lines "$top/tests/data/report/bad/qemu1-run1/progress.jsonl" "$dir" progress ;;
	esac
}

# Inputs of up to 4 KiB (an INI file or a QMP line is far less), a little
# more for the agent, whose lines stop at 4 KiB: a longer one must be
# refused; 2 KiB for records (the seeds' lines are 0.4-0.8 KiB: three fit),
# whose run time grows with the input. Bigger inputs only made runs slower.
max_len() {
	case $1 in
	agent_cmd) echo 4608 ;;
	records) echo 2048 ;;
	*) echo 4096 ;;
	esac
}

rc=0
for t in "${targets[@]}"; do
	bin=$build/fuzz_$t
	[ -x "$bin" ] || { echo "fuzz: $t: no $bin"; rc=1; continue; }
	corpus=$cache/fuzz/$t seeddir=$out/seeds/$t reg=$top/tests/fuzz/regressions/$t
	mkdir -p "$corpus"
	seeds "$t" "$seeddir"
	# Inputs that crashed it once must not crash it again.
	if [ -d "$reg" ] && ls "$reg"/* >/dev/null 2>&1; then
		if ! "$bin" -runs=1 "$reg"/* >"$out/$t.regressions.log" 2>&1; then
			echo "fuzz: $t: a regression input crashes again: $(grep -m1 -E 'ERROR|SUMMARY' "$out/$t.regressions.log")"
			rc=1
			continue
		fi
	fi
	start=$(date +%s)
	each=${runs:+$(( (runs + workers - 1) / workers ))}
	for w in $(seq "$workers"); do
		"$bin" -max_total_time="$seconds" ${each:+-runs="$each"} -timeout=10 -rss_limit_mb=2048 \
			-max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$out/$t-" \
			"$corpus" "$seeddir" >"$out/$t.$w.log" 2>&1 &
	done
	frc=0
	for w in $(seq "$workers"); do wait -n || frc=1; done
	took=$(( $(date +%s) - start ))
	execs=$(cat "$out/$t".*.log | sed -n 's/^stat::number_of_executed_units: *//p' | awk '{ s += $1 } END { print s + 0 }')
	speed=$(cat "$out/$t".*.log | sed -n 's/^stat::average_exec_per_sec: *//p' | awk '{ s += $1 } END { print s + 0 }')
	cov=$(cat "$out/$t".*.log | sed -n 's/^#[0-9].* cov: \([0-9]*\).*/\1/p' | sort -n | tail -n 1)
	ft=$(cat "$out/$t".*.log | sed -n 's/^#[0-9].* ft: \([0-9]*\).*/\1/p' | sort -n | tail -n 1)
	crashes=$(ls "$out/$t"-crash-* "$out/$t"-leak-* "$out/$t"-timeout-* "$out/$t"-oom-* 2>/dev/null | wc -l)
	echo "fuzz: $t execs=${execs:-0} exec/s=${speed:-0} cov=${cov:-?} ft=${ft:-?} corpus=$(ls "$corpus" | wc -l) crashes=$crashes ($took s)"
	if [ "$frc" != 0 ] || [ "$crashes" != 0 ]; then
		cat "$out/$t".*.log | grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' | sed "s/^/fuzz: $t: /"
		ls "$out/$t"-crash-* "$out/$t"-leak-* "$out/$t"-timeout-* "$out/$t"-oom-* 2>/dev/null | sed "s/^/fuzz: $t: kept /"
		rc=1
	fi
done
exit "$rc"
