#!/bin/busybox sh
# /init of the agent's guests.
# bt.mode=serve: the agent on its virtio-serial port for bartoggle-run, on
#                the device bt.id=VENDOR:DEVICE (bt.stall_after=S: frozen
#                after S s, a test hook);
# bt.mode=test:  a standalone run of bt.cycles cycles, then hostile protocol
#                input on stdio (QEMU with -device edu, no vfio);
# bt.mode=bench: agent, raw loop and setpci for bt.cycles cycles each.
# Results of test and bench leave framed on ttyS1.
. /lib/bartoggle/frame.sh

id=1234:11e8
cycles=$(arg cycles)
bdf=$(for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x11e8 ] && basename "$d"
done | head -n 1)
frame device "$bdf"

# step NAME CMD...: run, frame stdout ("out") and stderr ("err"), then "end".
step() {
	name=$1
	shift
	frame start "$name"
	"$@" >"/tmp/$name.out" 2>"/tmp/$name.err"
	rc=$?
	frame_file out "$name" "/tmp/$name.out"
	frame_file err "$name" "/tmp/$name.err"
	frame end "$name" "$rc"
}

hostile() {
	printf '%s\n' '{"type":"start","cycles":"lots"}'
	head -c 5000 /dev/zero | tr '\0' 'x'
	printf '\n'
	printf '%s\n' '{"type":"start","cyc'
	printf '%s\n' 'hello agent'
	printf '{"type":"st\000\001\377art"}\n'
	printf '%s\n' '{"type":"reboot"}'
	printf '%s\n' '{"type":"start","device":"0000:00:02.0"}'
	printf '%s\n' '{"type":"start","cycles":50,"colour":"blue","nested":{"a":[1,{"b":null}]}}'
	sleep 3
	printf '%s\n' '{"type":"stop"}'
}

run_hostile() {
	hostile | bartoggle-agent --serve --stdio --id "$id" --interval-ms 100
}

bench_setpci() {
	t0=$(cut -d' ' -f1 /proc/uptime)
	i=0
	while [ "$i" -lt "$cycles" ]; do
		setpci -s "$bdf" COMMAND=0:2 && setpci -s "$bdf" COMMAND=2:2 || return 1
		i=$((i + 1))
	done
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "$cycles $t0 $t1" | awk '{ s = $3 - $2; printf "setpci %d %.3f %.0f\n", $1, s, $1 / s }'
}

case $(arg mode) in
serve)
	# The port appears once virtio_console has probed it.
	i=0
	while [ "$i" -lt 50 ] && ! grep -qs org.bartoggle.agent /sys/class/virtio-ports/*/name; do
		sleep 0.1
		i=$((i + 1))
	done
	# bt.stall_after=S, a test of the runner's hang forensics: S s after
	# it starts, the agent is frozen (SIGSTOP, every thread) while the
	# kernel and its console beat go on: what a vCPU stuck in the host
	# looks like from outside.
	stall=$(arg stall_after)
	if [ -n "$stall" ]; then
		(sleep "$stall"; kill -STOP $(pidof bartoggle-agent) &&
			echo "BT1 note agent frozen by bt.stall_after=$stall" >/dev/console) &
	fi
	step agent bartoggle-agent --serve --id "$(arg id)"
	;;
test)
	step standalone bartoggle-agent --id "$id" --cycles "$cycles"
	step hostile run_hostile
	;;
bench)
	# Agent and raw interleaved, three rounds each: the host takes the
	# median, so a burst of host noise does not decide the ratio.
	for round in 1 2 3; do
		step "agent-$round" bartoggle-agent --id "$id" --cycles "$cycles" --quiet
		step "raw-$round" bt-rawtoggle "$bdf" "$cycles"
	done
	step setpci bench_setpci
	;;
esac
finish 0
