#!/bin/bash
# Nothing lost, nothing left behind, on the demo configuration: a runner
# killed with SIGKILL mid-run (three times) leaves no QEMU and an iteration
# the report closes as interrupted; a results disk that fills up mid-run ends
# the run with exit 3 and says what was not saved.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
RUN=$(realpath "$BUILD/bartoggle-run")
OUT=${BARTOGGLE_TEST_OUT:-results/check}/loss
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$OUT/run" "$OUT/full"

# The guest image once; every run below boots it (--image), so that a full
# results disk is full of results, not of a kernel.
"$RUN" --config configs/demo.ini --results "$OUT/first" --cycles 2000 --quiet \
	--journal-dir "$OUT/run" >/dev/null 2>"$OUT/first.err"
grep -q 'kernel-fetch: cannot' "$OUT"/first/*/image.log 2>/dev/null &&
	t_skip_all "no guest kernel: $(grep -h 'kernel-fetch: cannot' "$OUT"/first/*/image.log)"
image=$(ls -d "$OUT"/first/*/image)
[ -s "$image/vmlinuz" ] || t_skip_all "no guest image was built (see $OUT/first.err)"

# qemu_state PID: "gone", "zombie" (dead, not yet reaped by init) or "running".
qemu_state() {
	local s
	s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
	case $s in '') echo gone ;; Z|X) echo zombie ;; *) echo running ;; esac
}

t_plan 7
kills=0 dead=0
for k in 1 2 3; do
	"$RUN" --config configs/demo.ini --image "$image" --results "$OUT/kill" --cycles 100000000 \
		--journal-dir "$OUT/run" >"$OUT/kill$k.out" 2>"$OUT/kill$k.err" &
	pid=$!
	wait_running "$OUT/kill$k.err"
	qemu=$(child_qemu "$pid")
	sleep 1
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	kills=$((kills + 1))
	sleep 0.5
	state=$(qemu_state "${qemu:-0}")
	echo "# kill -9 $k: runner $pid, QEMU ${qemu:-none}: $state" 
	[ -n "$qemu" ] && [ "$state" != running ] && dead=$((dead + 1))
done
t_check "kill -9 x3: no QEMU left running ($dead of $kills died with their runner)" \
	[ "$dead" = 3 ]
# Each runner closes what the one before it left; the last is left pending.
t_check "kill -9 x3: the next runner closed each earlier one, the last is pending" bash -c "
	[ \$(cat '$OUT'/kill/*/records.jsonl | wc -l) = 2 ] &&
	cat '$OUT'/kill/*/records.jsonl | jqs -s 'all(.recovered.by == \"runner\")' &&
	[ \$(ls '$OUT'/kill/*/qemu1-run1/pending-record.json | wc -l) = 1 ]"

"$RUN" report --no-plots --out "$OUT/report" "$OUT/kill" >"$OUT/report.ktap" 2>"$OUT/report.err"
t_check "report closes the last; all three interrupted, with their progress counts" bash -c "
	[ \$(cat '$OUT'/kill/*/records.jsonl | wc -l) = 3 ] &&
	cat '$OUT'/kill/*/records.jsonl | jqs -s 'all(.outcome == \"interrupted\" and .verdict == \"ERROR\" and .counts.cycles > 0 and .tool == \"run\") and (map(.recovered.by) | sort) == [\"report\", \"runner\", \"runner\"]' &&
	[ \$(ls '$OUT'/kill/*/qemu1-run1/pending-record.json 2>/dev/null | wc -l) = 0 ]"
t_check "report counts them: one ERROR row, interrupted=3" bash -c "
	grep -q 'verdict: ERROR (1 rows, 3 records' '$OUT/report.err' &&
	jqs '.rows[0].outcomes.interrupted == 3' <'$OUT/report/summary.json'"
grep -h 'closed an iteration' "$OUT/report.err" | sed 's/^/# /'

# A host that rebooted mid-run: the next runner closes it as host-reset.
mkdir -p "$OUT/reset"
cp -a "$(ls -d "$OUT"/kill/*/ | head -n 1)" "$OUT/reset/"
d=$(ls -d "$OUT"/reset/*/)
# its pending record as the runner wrote it, but from an earlier boot
jq -c '.runner = {pid: 999999, boot_id: "a-boot-before-this-one"} | .logs = "'"$d"'qemu1-run1" |
	del(.recovered)' "$d/records.jsonl" >"$d/qemu1-run1/pending-record.json"
rm -f "$d/records.jsonl"
"$RUN" --restore --journal-dir "$OUT/run" --results "$OUT/reset" 2>"$OUT/reset.err"
t_check "after a reboot: --restore closes it as host-reset (FAIL)" bash -c "
	tail -n 1 '$d/records.jsonl' | jqs '.outcome == \"host-reset\" and .verdict == \"FAIL\" and .recovered.by == \"restore\" and .first_failure.cycle > 0'"

# A results disk that fills up mid-run (a tmpfs just over the runner's
# 200 MiB preflight minimum, filled once the agent runs), in a mount
# namespace of its own.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	unshare -m bash -c "
		mount -t tmpfs -o size=210m tmpfs '$OUT/full' &&
		mkdir -p '$OUT/full/results' &&
		'$RUN' --config configs/demo.ini --image '$image' --results '$OUT/full/results' \
			--journal-dir '$OUT/run' --cycles 30000 >'$OUT/full.out' 2>'$OUT/full.err' &
		pid=\$!
		for _ in \$(seq 1 600); do
			grep -q 'run: .* [1-9][0-9]* cycles' '$OUT/full.err' 2>/dev/null && break
			sleep 0.2
		done
		dd if=/dev/zero of='$OUT/full/results/filler' bs=1M 2>/dev/null
		# and the last free pages, one small file each
		i=0
		while [ \$i -lt 4096 ] && printf x >'$OUT/full/results/fill-'\$i 2>/dev/null; do
			i=\$((i + 1))
		done
		wait \$pid
		echo \$? >'$OUT/full.rc'"
	rc=$(cat "$OUT/full.rc" 2>/dev/null)
	t_check "disk full mid-run: exit 3, the last line says what was NOT saved" bash -c "
		[ '$rc' = 3 ] && tail -n 1 '$OUT/full.err' | grep -q '^results NOT saved: .*records.jsonl (run 1) (No space left on device)'"
	t_check "disk full mid-run: ERROR saying why, no PASS, no evidence line for a file that is not there" bash -c "
		grep -q '^verdict: ERROR (results not all saved; ' '$OUT/full.err' &&
		! grep -q '^verdict: PASS' '$OUT/full.err' && ! grep -q '^evidence:' '$OUT/full.err'"
	tail -n 3 "$OUT/full.err" | sed 's/^/# /'
else
	t_skip "disk full mid-run: exit 3" "needs root and unshare for a private tmpfs"
	t_skip "disk full mid-run: no PASS" "needs root and unshare for a private tmpfs"
fi
t_done
