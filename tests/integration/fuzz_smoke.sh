#!/bin/bash
# make fuzz's smoke pass: every libFuzzer target (tests/fuzz/) for a short
# time (BARTOGGLE_FUZZ_SECONDS, default 15), from its cached corpus and
# seeds, after replaying every input that ever crashed it
# (tests/fuzz/regressions/). No crash, leak or UB report may come out.
# The long campaign (>= 10 million executions per target) is make fuzz's.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
OUT=${BARTOGGLE_TEST_OUT:-results/check}/fuzz
SECONDS_EACH=${BARTOGGLE_FUZZ_SECONDS:-15}

command -v clang >/dev/null || t_skip_all "no clang (make deps installs it)"
ls "$BUILD"/fuzz/fuzz_* >/dev/null 2>&1 || t_skip_all "no fuzz targets in $BUILD/fuzz (make fuzz-build)"
mapfile -t targets < <(ls tests/fuzz/fuzz_*.c | sed -n 's|.*/fuzz_\(.*\)\.c$|\1|p' | grep -vx file)
rm -rf "$OUT"
scripts/fuzz.sh --build "$BUILD/fuzz" --seconds "$SECONDS_EACH" --out "$OUT" "${targets[@]}" \
	>"$OUT.out" 2>"$OUT.err"
rc=$?
t_plan $(( ${#targets[@]} + 1 ))
sed 's/^/# /' "$OUT.out"
t_check "fuzz.sh: exit 0, no finding" [ "$rc" = 0 ]
for t in "${targets[@]}"; do
	line=$(grep "^fuzz: $t execs=" "$OUT.out")
	regs=$(ls "tests/fuzz/regressions/$t" 2>/dev/null | wc -l)
	t_check "$t: ran, grew no crash (${regs} regression inputs replayed)" bash -c "
		[ -n '$line' ] && grep -q ' crashes=0 ' <<<'$line' &&
		[ \"\$(sed -n 's/.* execs=\([0-9]*\).*/\1/p' <<<'$line')\" -gt 1000 ]"
done
