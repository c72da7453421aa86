#!/bin/bash
# The fleet, for real on this machine: contrib/ansible's playbooks against
# three hosts (local connection, each its own prefix, config dir and results
# root, no systemd here: the unit's command line, detached), each soaking the
# emulated edu (host-c two at once: a runner, journal, results directory
# and QEMU each); host-a's runner is stopped mid-soak by SIGTERM, started,
# killed by SIGKILL, started again: its soak resumes in the same directory;
# stop.yml stops host-c's two mid-soak, start.yml resumes them.
# Then collect and the fleet report: one row, three hosts, the summed cycles,
# host-a's two cut-short runs named. Also: --syntax-check on every playbook,
# systemd-analyze verify on the installed unit.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
SRC=$(pwd)
OUT=${BARTOGGLE_TEST_OUT:-results/check}/fleet
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
PB=contrib/ansible
command -v ansible-playbook >/dev/null || t_skip_all "no ansible-playbook (make deps installs ansible-core)"
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$OUT"
export ANSIBLE_HOME=$OUT/ansible-home ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
CACHE=${BARTOGGLE_CACHE:-$HOME/.cache/bartoggle}

host_vars() {	# NAME TOTAL_DURATION [SECOND_DEVICE [SETTING...]]
	local name=$1 total=$2 second=${3:-}
	shift 3 2>/dev/null || shift $#
	cat <<-EOV
	        $name:
	          bartoggle_prefix: $OUT/$name/prefix
	          bartoggle_sysconfdir: $OUT/$name/etc
	          bartoggle_results_root: $OUT/$name/results
	          bartoggle_runtime_dir: $OUT/$name/run
	          bartoggle_devices:
	            - name: demo-$name
	              emulated: edu
	              settings:
	                stress.total_duration: $total
	EOV
	for setting in "$@"; do echo "                $setting"; done
	[ -z "$second" ] || cat <<-EOV
	            - name: $second
	              emulated: edu
	              settings:
	                stress.total_duration: $total
	EOV
}
{
	cat <<-EOI
	all:
	  vars:
	    ansible_connection: local
	    ansible_python_interpreter: /usr/bin/python3
	    bartoggle_src: $SRC
	    bartoggle_build: false
	    bartoggle_install_packages: false
	    bartoggle_service_manager: direct
	    bartoggle_cache: $CACHE
	    bartoggle_fleet_results: $OUT/fleet-results
	    bartoggle_poll_delay: 5
	    bartoggle_poll_retries: 120
	    bartoggle_soak_settings:
	      stress.cycles: 3000
	      stress.iterations: 0
	      stress.dwell_off_us: 20
	      results.keep_runs: 1
	      results.archive_chunk: 2
	  children:
	    soak_hosts:
	      hosts:
	EOI
	# host-a's iterations toggle for 15 s, so that its kills land in one
	host_vars host-a 100s "" "stress.cycles: 1000000000" "stress.duration: 15s"
	host_vars host-b 60s
	host_vars host-c 90s demo-host-c-2	# two devices soak at once on one host
} >"$OUT/inventory.yml"

play() {	# LOG PLAYBOOK [ARGS]: ansible-playbook, its output in LOG
	local log=$1
	shift
	ansible-playbook -i "$OUT/inventory.yml" "$PB/$@" >>"$OUT/$log" 2>&1
}

status_of() {	# HOST: host-a's soak status.json
	echo "$OUT/$1/results/demo-$1/status.json"
}

# kill_mid_run SIGNAL SESSION: host-a's runner, once it is in session
# SESSION and its iteration in flight has progress lines (its pending record
# is there): the kill lands in an iteration, not between two.
kill_mid_run() {
	local _ n dir
	for _ in $(seq 1 480); do
		n=$(jq -r "select(.sessions == $2 and .state == \"running\") | .current.iteration // empty" "$a" 2>/dev/null)
		dir=$OUT/host-a/results/demo-host-a/qemu1-run$n
		if [ -n "$n" ] && [ -e "$dir/pending-record.json" ] && [ -s "$dir/progress.jsonl" ]; then
			pid=$(jq -r .pid "$a")
			kill "-$1" "$pid"
			return 0
		fi
		sleep 0.5
	done
	echo "kill_mid_run: host-a never ran an iteration in session $2" >&2
	return 1
}

# until_jq FILE FILTER SECONDS
until_jq() {
	local _
	for _ in $(seq 1 $(($3 * 2))); do
		jq -e "$2" "$1" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "until_jq: '$2' not true on $1 within $3 s" >&2
	return 1
}

t_plan 14
ok=1
for p in deploy start poll stop collect fleet; do
	ansible-playbook -i "$PB/inventory.example.yml" --syntax-check "$PB/$p.yml" >>"$OUT/syntax.log" 2>&1 || ok=0
done
t_check "ansible-playbook --syntax-check: all six playbooks" [ $ok = 1 ]

# The unit as make install writes it, where its binary really is.
make --no-print-directory install PREFIX="$OUT/install" SYSCONFDIR="$OUT/install/etc" \
	UNITDIR="$OUT/install/units" >"$OUT/install.log" 2>&1
ln -sf bartoggle-soak@.service "$OUT/install/units/bartoggle-soak@demo.service"
sed 's/^Restart=on-abnormal/Restart=sometimes/' "$OUT/install/units/bartoggle-soak@.service" \
	>"$OUT/install/units/broken@demo.service"
t_check "systemd-analyze verify: the installed unit is clean, a broken one is not" bash -c "
	out=\$(systemd-analyze verify '$OUT/install/units/bartoggle-soak@demo.service' 2>&1) &&
	[ -z \"\$out\" ] && grep -q '^Type=notify' '$OUT/install/units/bartoggle-soak@.service' &&
	grep -q '^ExecStart=$OUT/install/bin/bartoggle-run ' '$OUT/install/units/bartoggle-soak@.service' &&
	[ -n \"\$(systemd-analyze verify '$OUT/install/units/broken@demo.service' 2>&1)\" ]"

play deploy.log deploy.yml
rc=$?
t_check "deploy.yml: binaries, scripts and a config per device on all three hosts" bash -c "
	[ $rc = 0 ] && for h in host-a host-b host-c; do
		'$OUT'/\$h/prefix/bin/bartoggle-run --help >/dev/null &&
		[ -x '$OUT'/\$h/prefix/lib/bartoggle/scripts/guest-image.sh ] &&
		grep -qx \"host = \$h\" '$OUT'/\$h/etc/bartoggle/demo-\$h.ini &&
		grep -qx 'emulated = edu' '$OUT'/\$h/etc/bartoggle/demo-\$h.ini || exit 1
	done"

play start.log start.yml
rc=$?
a=$(status_of host-a)
t_check "start.yml: four soaks beating, two of them on host-c" bash -c "
	[ $rc = 0 ] && for s in host-a/demo-host-a host-b/demo-host-b host-c/demo-host-c host-c/demo-host-c-2; do
		h=\${s%%/*} &&
		jqs '.state == \"running\" and .soak == \"'\${s#*/}'\" and .host == \"'\$h'\"' <'$OUT'/\$h/results/\${s#*/}/status.json || exit 1
	done && [ \$(jq -r .pid '$OUT'/host-c/results/demo-host-c/status.json) != \$(jq -r .pid '$OUT'/host-c/results/demo-host-c-2/status.json) ]"

# Nothing to wait for when the soaks did not start: the rest fails at once
# (stop.yml first: no runner is left behind).
if [ "$T_FAIL" != 0 ]; then
	play stop.log stop.yml
	for _ in $(seq "$((T_N + 1))" 14); do t_not_ok "(not run: the soaks did not start)"; done
	t_done
	exit 1
fi

# host-a, mid-iteration: SIGTERM, then start again.
kill_mid_run TERM 1
until_jq "$a" '.state == "stopped"' 60
for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
t_check "SIGTERM: host-a's runner records the cut and stops" bash -c "
	! kill -0 $pid 2>/dev/null && [ -z \"\$(pgrep -f -- '-name bartoggle-run-$pid( |\$)')\" ] &&
	tail -n 1 '$OUT/host-a/results/demo-host-a/records.jsonl' |
	jqs '.outcome == \"interrupted\" and .verdict == \"ERROR\" and .signature == \"the runner was stopped by SIGTERM during the run\"'"
play start-a.log start.yml --limit host-a
kill_mid_run KILL 2
sleep 2
t_check "SIGKILL: host-a's runner and its QEMU are gone, nothing recorded yet" bash -c "
	! kill -0 $pid 2>/dev/null && [ -z \"\$(pgrep -f -- '-name bartoggle-run-$pid( |\$)')\" ] &&
	jqs '.state == \"running\"' <'$a' &&
	build/bartoggle-run status --json --quiet '$OUT/host-a/results' | jqs '.dead == 1'"
play start-a.log start.yml --limit host-a
until_jq "$a" '.sessions == 3 and .state == "running"' 240

# stop.yml on host-c mid-soak: both its runners by PID, then --restore;
# start.yml resumes them.
c1=$OUT/host-c/results/demo-host-c/status.json c2=$OUT/host-c/results/demo-host-c-2/status.json
pids="$(jq -r .pid "$c1") $(jq -r .pid "$c2")"
play stop-c.log stop.yml --limit host-c
rc=$?
stop_c_ok() {	# each condition said when it fails
	local p
	[ "$rc" = 0 ] || { echo "stop.yml exit $rc" >&2; return 1; }
	for p in $pids; do
		! kill -0 "$p" 2>/dev/null || { echo "runner $p still alive" >&2; return 1; }
	done
	jq -e '.state == "stopped"' "$c1" >/dev/null && jq -e '.state == "stopped"' "$c2" >/dev/null ||
		{ echo "host-c states: $(jq -c .state "$c1" "$c2" | tr '\n' ' ')" >&2; return 1; }
	grep -q '^TASK \[What ExecStopPost does' "$OUT/stop-c.log" &&
		grep -q 'changed: \[host-c\] => (item=demo-host-c-2 (pid ' "$OUT/stop-c.log" ||
		{ echo "stop-c.log lacks the SIGTERM or --restore task" >&2; return 1; }
	jq -e '.state != "stopped" and .sessions == 3' "$a" >/dev/null ||
		{ echo "host-a touched: $(jq -c '{state, sessions}' "$a")" >&2; return 1; }
}
t_check "stop.yml: host-c's two runners stopped by their PIDs, the others untouched" stop_c_ok
play start-c.log start.yml --limit host-c
until_jq "$c2" '.sessions == 2' 60

play poll.log poll.yml
rc=$?
t_check "poll.yml: polls status --json until no soak runs" bash -c "
	[ $rc = 0 ] && grep -q 'demo-host-b: finished' '$OUT/poll.log' &&
	for h in host-a host-b host-c; do
		jqs '.state == \"finished\" and .current == null and .runs >= 1' <'$OUT'/\$h/results/demo-\$h/status.json || exit 1
	done"

ra=$OUT/host-a/results/demo-host-a/records.jsonl
t_check "resume: host-a's one directory holds every session, iterations numbered on" bash -c "
	jqs '.sessions == 3' <'$a' && [ \$(ls -d '$OUT'/host-a/results/*/ | wc -l) = 1 ] &&
	jqs -s 'map(.iteration) == [range(1; length + 1)]' <'$ra'"
t_check "resume: the SIGTERM'd and the SIGKILL'd iterations are both recorded as interrupted" bash -c "
	jqs -s '[.[] | select(.outcome == \"interrupted\")] | length == 2 and (.[0].signature | test(\"SIGTERM\")) and (.[1].recovered.by == \"runner\") and all(.verdict == \"ERROR\" and .counts.cycles > 0)' <'$ra'"
t_check "bounded disk: host-a's older iterations packed into archive/*.tar.xz, the newest kept" bash -c "
	ls '$OUT'/host-a/results/demo-host-a/archive/*.tar.xz >/dev/null &&
	for f in '$OUT'/host-a/results/demo-host-a/archive/*.tar.xz; do tar -tJf \"\$f\" | grep -q '/console.log\$' || exit 1; done &&
	d=\$(tail -n 1 '$ra' | jq -r .logs) && [ -d \"\$d\" ]"

play collect.log collect.yml
rc=$?
s=$OUT/fleet-results/report/summary.json
want=$(cat "$OUT"/host-*/results/*/records.jsonl | jq -s '[.[] | select(.verdict == "PASS" or .verdict == "FAIL") | .counts.cycles] | add')
t_check "collect.yml: each host's results in fleet-results/<host>/, without guest images" bash -c "
	[ $rc = 0 ] && for h in host-a host-b host-c; do
		[ -s '$OUT'/fleet-results/\$h/demo-\$h/records.jsonl ] && [ ! -e '$OUT'/fleet-results/\$h/demo-\$h/image ] || exit 1
	done"
t_check "fleet report: one row, 3 hosts, 4 devices, the summed cycles ($want), PASS" jq_true "$s" \
	".rows | length == 1 and .[0].hosts == 3 and .[0].devices == 4 and (.[0].by_host[] | select(.host == \"host-c\") | .devices == 2) and .[0].cycles == $want and .[0].verdict == \"PASS\" and (.[0].by_host | map(.host) | sort) == [\"host-a\", \"host-b\", \"host-c\"] and .[0].device_hours > 0"
t_check "fleet report: host-a's two cut-short runs named with host and device" bash -c "
	jqs '[.rows[0].stops[] | select(.host == \"host-a\" and .device == \"host-a emulated demo-host-a\" and .outcome == \"interrupted\")] | length == 2' <'$s' &&
	grep -q '^  R1  4 devices on 3 hosts, .* device-hours, 0 VM-fatal events in $want cycles' '$OUT/fleet-results/report/summary.txt' &&
	[ \$(grep -c 'interrupted on host-a emulated demo-host-a' '$OUT/fleet-results/report/summary.txt') = 2 ] &&
	grep -q '^Tested: .* on 4 devices on 3 hosts over ' '$OUT'/fleet-results/report/evidence-*.txt"

t_diag "$(grep -A3 '^Fleet:' "$OUT/fleet-results/report/summary.txt" | head -n 3 | tr '\n' ' ')"
t_done
