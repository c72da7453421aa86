#!/bin/bash
# The runner under systemd's notify protocol, without systemd: a socket of
# our own as $NOTIFY_SOCKET with a watchdog asked for. READY=1 before any
# WATCHDOG=1, pings often enough for the period, STATUS lines, STOPPING=1.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
RUN=$BUILD/bartoggle-run
OUT=${BARTOGGLE_TEST_OUT:-results/check}/service
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
command -v python3 >/dev/null || t_skip_all "no python3 for the notify socket"
rm -rf "$OUT"
mkdir -p "$OUT"
# $NOTIFY_SOCKET must be absolute (or abstract): sd_notify ignores others.
OUT=$(cd "$OUT" && pwd)
sock=$OUT/notify.sock

# Each datagram on one line, with the time it came: what systemd would read.
python3 - "$sock" >"$OUT/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(300)
t0 = time.monotonic()
while True:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        break
    print("%.2f %s" % (time.monotonic() - t0, msg.replace("\n", "|")), flush=True)
    if "STOPPING=1" in msg:
        break
PY
listener=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET=$sock WATCHDOG_USEC=8000000 timeout 600 "$RUN" --config configs/demo.ini \
	--cycles 6000 --results "$OUT/results" --quiet >"$OUT/run.out" 2>"$OUT/run.err"
rc=$?
# The listener ends at STOPPING=1; one that never got it is not waited for.
for _ in $(seq 1 20); do kill -0 "$listener" 2>/dev/null || break; sleep 0.1; done
kill "$listener" 2>/dev/null
wait "$listener"
log=$OUT/notify.log

t_plan 4
t_check "the run passes under the notify socket" [ "$rc" = 0 ]
t_check "READY=1 first, with a STATUS naming the results" bash -c "
	head -n 1 '$log' | grep -q ' READY=1|STATUS=soaking edu: results in $OUT/results/'"
t_check "WATCHDOG=1 while the VM runs, never 2 s (a quarter of the period) apart" bash -c "
	n=\$(grep -c 'WATCHDOG=1' '$log') && [ \"\$n\" -ge 3 ] &&
	grep 'WATCHDOG=1' '$log' | awk '{ if (NR > 1 && \$1 - last > 2.5) bad = 1; last = \$1 } END { exit bad }' &&
	grep -q 'WATCHDOG=1|STATUS=7.2.[0-9]* run1: [0-9]* cycles in' '$log'"
t_check "STOPPING=1 last, with the verdict" bash -c "tail -n 1 '$log' | grep -q ' STOPPING=1|STATUS=PASS'"
t_done
