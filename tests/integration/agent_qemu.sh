#!/bin/bash
# bartoggle-agent in a QEMU guest (TCG here) with -device edu, no vfio: a
# 20,000-cycle standalone run, then hostile input on its protocol.
#
# QEMU's emulated edu reads 0, not all ones, while memory decoding is off:
# every window hit is a UR violation. That is what the device does, and what
# this test expects; a QEMU that changes it fails here, saying so.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
OUT=${BARTOGGLE_TEST_OUT:-results/check}/agent
CYCLES=20000
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$OUT"

scripts/agent-guest.sh --mode test --agent "$BUILD/bartoggle-agent" --out "$OUT" \
	--cycles "$CYCLES" --timeout 300 >/dev/null 2>"$OUT/guest.err"
rc=$?
[ "$rc" = 4 ] && t_skip_all "$(grep -m1 'kernel-fetch: cannot' "$OUT/guest.err")"

t_plan 9
t_check "guest finished (exit $rc)" [ "$rc" = 0 ]
done=$OUT/standalone.done.json
grep '"type":"done"' "$OUT/standalone.out" >"$done"
t_check "every line the agent wrote is JSON" bash -c "jqs . <'$OUT/standalone.out' && jqs . <'$OUT/hostile.out'"
t_check "hello names edu and the guest" bash -c "
	head -n 1 '$OUT/standalone.out' | jqs '.type == \"hello\" and .device.vendor == \"1234\" and .device.device == \"11e8\" and .device.bar_size == 1048576 and .cpus == 2'"
t_check "done: $CYCLES cycles, toggles = 2 x cycles, window hit" jq_true "$done" \
	".reason == \"cycles\" and .counts.cycles == $CYCLES and .counts.toggles == 2 * .counts.cycles and .counts.window_hits > 0 and .counts.accesses > .counts.window_hits"
t_check "done: edu reads 0 while disabled, so every window hit is a UR violation" jq_true "$done" \
	'.counts.ur_violations == .counts.window_hits and .counts.ur_reads == 0 and .counts.faults == 0'
t_check "progress every 500 ms" bash -c "
	grep '\"type\":\"progress\"' '$OUT/standalone.out' | jq -s -e 'length >= 2 and (map(.elapsed_ms) | . == sort) and (.[0].elapsed_ms >= 450)' >/dev/null"
t_check "summary on stderr" grep -q "^bartoggle-agent: 0000:.* cycles: $CYCLES cycles in" "$OUT/standalone.err"
jq -r 'select(.type == "done") | "# standalone: \(.counts.cycles) cycles, \(.rates.cycles_per_s | floor) cycles/s, \(.counts.accesses) accesses, \(.counts.window_hits) window hits, \(.counts.ur_reads) UR reads, \(.counts.ur_violations) UR violations"' "$done"

# Hostile input, one answer each, then a valid start (unknown members
# ignored) and stop; the agent must neither crash nor stop answering.
expected='hello
error:cycles=lots: not a number
error:line longer than 4096 bytes: ignored
error:malformed line: truncated
error:malformed line: unexpected character
error:malformed line: NUL byte in the line
error:unknown message type "reboot"
error:device cannot change after hello
done:cycles'
got=$(jq -r 'if .type == "error" then "error:\(.reason)" elif .type == "done" then "done:\(.reason)" else .type end' "$OUT/hostile.out" | grep -v '^progress$')
t_check "hostile input: answered in order, then a clean run" [ "$got" = "$expected" ]
[ "$got" = "$expected" ] || diff <(echo "$expected") <(echo "$got") | sed 's/^/# /'
t_check "hostile input: exit 0, the valid start ran 50 cycles" bash -c "
	grep -q '^BT1 end hostile 0$' '$OUT/frames.txt' &&
	grep '\"type\":\"done\"' '$OUT/hostile.out' | jqs '.counts.cycles == 50'"
t_done
