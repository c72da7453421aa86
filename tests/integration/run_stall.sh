#!/bin/bash
# A silent agent, provoked three ways on the demo configuration, and what the
# runner makes of each: the agent frozen inside a living guest (bt.stall_after:
# SIGSTOP from the guest's /init) is agent-stalled, with the forensics bundle;
# the same in a guest with no keyboard gets its dumps by NMI instead of sysrq;
# the whole QEMU frozen (SIGSTOP from here) is guest-hang, QMP unanswered.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
RUN=$BUILD/bartoggle-run
OUT=${BARTOGGLE_TEST_OUT:-results/check}/stall
command -v qemu-system-x86_64 >/dev/null || t_skip_all "no qemu-system-x86_64"
rm -rf "$OUT"
mkdir -p "$OUT"

"$RUN" --config configs/demo.ini --results "$OUT/stalled" --cycles 100000000 \
	--guest-cmdline bt.stall_after=4 --heartbeat 6 >"$OUT/stalled.out" 2>"$OUT/stalled.err"
rc=$?
grep -q 'kernel-fetch: cannot' "$OUT"/stalled/*/image.log 2>/dev/null &&
	t_skip_all "no guest kernel: $(grep -h 'kernel-fetch: cannot' "$OUT"/stalled/*/image.log)"
d=$(ls -d "$OUT"/stalled/*/ | head -n 1)
r=$d/records.jsonl
f=$d/qemu1-run1/forensics

t_plan 13
sed 's/^/# /' "$OUT/stalled.err" | grep -v '^# preflight\|run: 7' | tail -n 5
t_check "frozen agent: exit 1, FAIL agent-stalled, the guest kept beating" jq_true "$r" \
	"$rc == 1 and .outcome == \"agent-stalled\" and .verdict == \"FAIL\" and .forensics.beats_while_silent >= 2 and .forensics.vm_status == \"running\" and (.signature | test(\"kept beating\"))"
t_check "frozen agent: the record names the forensics files" jq_true "$r" \
	'.forensics.dir == "forensics" and (.forensics.files | sort) == ["chardev.txt", "lapic.txt", "pic.txt", "qmp-cpus.json", "qmp-status.json", "registers.txt", "sysrq.txt", "virtio.json"]'
t_check "forensics: QMP status running, both vCPUs listed" bash -c "
	jqs '.return.status == \"running\"' <'$f/qmp-status.json' &&
	jqs '.return | length == 2 and all(.[]; .\"thread-id\" > 0)' <'$f/qmp-cpus.json'"
t_check "forensics: every vCPU's registers and local APIC" bash -c "
	grep -q '^CPU#0' '$f/registers.txt' && grep -q '^CPU#1' '$f/registers.txt' &&
	[ \$(grep -c '^RIP=' '$f/registers.txt') = 2 ] &&
	[ \$(grep -c '^dumping local APIC state for CPU' '$f/lapic.txt') = 2 ]"
t_check "forensics: the agent's channel: chardev connected, every line QEMU took reached the runner" bash -c "
	grep -q '^agent: filename=unix:' '$f/chardev.txt' &&
	jqs --argjson n \$(jq .forensics.agent_channel.lines '$r') \
		'.[0].queues[5] | .\"last-avail-idx\" == .\"used-idx\" and .\"used-idx\" == \$n' <'$f/virtio.json'"
t_check "forensics: sysrq t/w/l dumps, the agent's threads stopped (T)" bash -c "
	grep -q 'sysrq: Show State' '$f/sysrq.txt' && grep -q 'sysrq: Show Blocked State' '$f/sysrq.txt' &&
	grep -q 'sysrq: Show backtrace of all active CPUs' '$f/sysrq.txt' &&
	[ \$(grep -c 'task:bartoggle-agent state:T' '$f/sysrq.txt') = 3 ]"
t_check "frozen agent: the console says who froze it" grep -q 'BT1 note agent frozen by bt.stall_after=4' \
	"$d/qemu1-run1/console.log"
t_check "frozen agent: the record carries the console's beats" jq_true "$r" \
	'.guest_console.beats >= 3 and .guest_console.trouble == []'
grep -h 'task:bartoggle-agent' "$f/sysrq.txt" | sed 's/^/# /'

# No keyboard in the guest (i8042.nokbd): sysrq gets no answer, so an NMI
# makes the guest dump its tasks, timers and CPUs as it panics.
"$RUN" --config configs/demo.ini --results "$OUT/nmi" --cycles 100000000 \
	--guest-cmdline "bt.stall_after=4 i8042.nokbd" --heartbeat 6 >"$OUT/nmi.out" 2>"$OUT/nmi.err"
rc=$?
r=$(ls "$OUT"/nmi/*/records.jsonl 2>/dev/null | head -n 1)
f=$(dirname "$r")/qemu1-run1/forensics
t_check "deaf guest: still agent-stalled (the NMI's own panic does not count)" bash -c "
	[ $rc = 1 ] && tail -n 1 '$r' | jqs '.outcome == \"agent-stalled\" and .forensics.sysrq_answered == false and .forensics.nmi_bytes > 0 and .guest_console.trouble == []'"
t_check "deaf guest: the NMI dump has every task, the timers and the CPUs" bash -c "
	grep -q 'Uhhuh. NMI received' '$f/nmi-panic.txt' && grep -q 'Timer List Version' '$f/nmi-panic.txt' &&
	grep -q 'NMI backtrace for cpu 0' '$f/nmi-panic.txt' &&
	[ \$(grep -c 'task:bartoggle-agent state:T' '$f/nmi-panic.txt') = 3 ]"

# The whole QEMU frozen once the agent runs: nothing beats, QMP is silent.
"$RUN" --config configs/demo.ini --results "$OUT/frozen" --cycles 100000000 --heartbeat 5 \
	>"$OUT/frozen.out" 2>"$OUT/frozen.err" &
pid=$!
wait_running "$OUT/frozen.err"
qemu=$(child_qemu "$pid")
[ -n "$qemu" ] && kill -STOP "$qemu"
wait "$pid"
rc=$?
r=$(ls "$OUT"/frozen/*/records.jsonl 2>/dev/null | head -n 1)
t_check "frozen QEMU: exit 1, FAIL guest-hang, QMP unanswered" bash -c "
	[ -n '$qemu' ] && [ $rc = 1 ] && tail -n 1 '$r' | jqs '.outcome == \"guest-hang\" and .verdict == \"FAIL\" and .forensics.vm_status == null and (.signature | test(\"QEMU did not answer QMP\"))'"
t_check "frozen QEMU: stopped by its PID, none left" bash -c "! kill -0 '${qemu:-0}' 2>/dev/null"
t_check "frozen QEMU: the runner took < 40 s from the silence to its verdict" bash -c "
	tail -n 1 '$r' | jqs '.duration_s < 45'"
t_done
