#!/bin/bash
# Nothing unsafe, on fake sysfs trees (a copy of tests/data/sysfs-host; never
# this machine's devices): the agent refuses a device its machine uses and a
# machine that does not look like a bartoggle guest; a second runner on a
# device another one holds is refused; --restore replays only the journals no
# live runner holds.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
AGENT=$BUILD/bartoggle-agent
RUN=$BUILD/bartoggle-run
OUT=${BARTOGGLE_TEST_OUT:-results/check}/safety
[ -x "$AGENT" ] && [ -x "$RUN" ] || t_skip_all "no $AGENT or $RUN (make all)"
command -v flock >/dev/null || t_skip_all "no flock (util-linux)"
rm -rf "$OUT"
mkdir -p "$OUT/run"
tree=$OUT/host
cp -a tests/data/sysfs-host/. "$tree/"
export BARTOGGLE_SYSFS_ROOT=$tree/sys BARTOGGLE_PROC_ROOT=$tree/proc

# agent NAME WANT_RC PATTERN ARGS...: one agent run, its stderr matched.
agent() {
	local name=$1 want=$2 pattern=$3
	shift 3
	"$@" >"$OUT/agent.out" 2>"$OUT/agent.err"
	local rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$pattern" "$OUT/agent.err"; then
		t_ok "$name"
		sed 's/^/# /' "$OUT/agent.err"
	else
		t_not_ok "$name (exit $rc)"
		sed 's/^/# /' "$OUT/agent.err"
	fi
}

snapshot() {
	find "$tree" -type f -newer "$OUT/mark" | sort
}

t_plan 9
touch "$OUT/mark"
sleep 1
agent "agent refuses the device of a mounted disk" 1 \
	"refused: 0000:00:17.0 backs /dev/sda, which is mounted; nothing was changed" \
	"$AGENT" --device 0000:00:17.0 --cycles 10
agent "agent refuses the device of a network interface that is up" 1 \
	"refused: 0000:00:1f.6 carries network interface eno1, which is up" \
	"$AGENT" --device 0000:00:1f.6 --cycles 10
agent "--allow-host does not lift that" 1 "carries network interface eno1, which is up" \
	"$AGENT" --device 0000:00:1f.6 --allow-host --cycles 10
agent "agent refuses a machine without the hypervisor bit" 1 \
	"refused: no hypervisor CPUID bit, this looks like a host" \
	env BARTOGGLE_HYPERVISOR=0 "$AGENT" --device 0000:04:00.0 --cycles 10
agent "agent refuses to guess a device with no agent port" 1 \
	"refused: no org.bartoggle.agent port and no --device/--id" \
	"$AGENT" --cycles 10
t_check "the agents changed nothing in the tree" bash -c "[ -z \"\$(find '$tree' -type f -newer '$OUT/mark')\" ]"

# Another runner (a flock holding the device's lock, its PID in the file).
# (-o: the sleep does not hold the lock, so stopping flock frees the device)
echo 4242 >"$OUT/run/0000:04:00.0.lock"
flock -n -o "$OUT/run/0000:04:00.0.lock" sleep 30 &
holder=$!
sleep 0.5
"$RUN" --bdf 0000:04:00.0 --journal-dir "$OUT/run" --results "$OUT/results" --cycles 10 \
	>/dev/null 2>"$OUT/second.err"
rc=$?
t_check "second runner on a held device: exit 4, who holds it, nothing changed" bash -c "
	[ $rc = 4 ] && grep -q '0000:04:00.0 is in use by another bartoggle-run, PID 4242 .*refused, nothing was changed' '$OUT/second.err' &&
	[ \"\$(cat '$tree/sys/bus/pci/devices/0000:04:00.0/driver_override')\" = '(null)' ] &&
	[ ! -e '$OUT/run/0000:04:00.0.json' ]"
grep 'in use by' "$OUT/second.err" | sed 's/^/# /'

# Two journals, as two killed runners would leave them; one device still held.
for dev in 0000:04:00.0 0000:01:00.0; do
	printf '{"schema":"bartoggle.journal/1","devices":[{"bdf":"%s","driver":null,"driver_override":""}]}\n' \
		"$dev" >"$OUT/run/$dev.json"
done
"$RUN" --restore --journal-dir "$OUT/run" --results "$OUT/results" 2>"$OUT/restore.err"
rc=$?
t_check "--restore: replays the free journal, leaves the held one" bash -c "
	[ $rc = 0 ] && [ ! -e '$OUT/run/0000:01:00.0.json' ] && [ -e '$OUT/run/0000:04:00.0.json' ] &&
	grep -q 'in use by another bartoggle-run, PID 4242.*left alone' '$OUT/restore.err'"
pkill -P "$holder" 2>/dev/null
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
"$RUN" --restore --bdf 0000:04:00.0 --journal-dir "$OUT/run" --results "$OUT/results" \
	2>"$OUT/restore2.err"
rc=$?
t_check "--restore --bdf once the holder is gone: replayed" bash -c "
	[ $rc = 0 ] && [ ! -e '$OUT/run/0000:04:00.0.json' ] &&
	grep -q 'restored the drivers recorded in .*0000:04:00.0.json' '$OUT/restore2.err'"
sed 's/^/# /' "$OUT/restore.err" "$OUT/restore2.err" | grep -v '^# + echo'
t_done
