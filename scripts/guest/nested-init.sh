#!/bin/busybox sh
# /init of the nested lane's L1: the "host" whose real vfio-pci and real
# KVM are under test. Binds the emulated device to vfio-pci and runs
# bartoggle-repro against it; every result leaves as framed lines on the
# second serial port (ttyS1) the moment it exists, so a guest that dies
# mid-run still leaves what it had.
#
# Kernel command line: bt.trials=N (race trials), bt.soak=N (cycles of one
# long race after them, 0: none), bt.control=S (seconds),
# bt.vendor=0x1234 bt.device=0x11e8 (the device to use), bt.skip=K (steps
# already done by an earlier boot that froze: resume after them).
. /lib/bartoggle/frame.sh

vendor=$(arg vendor)
device=$(arg device)
bdf=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = "$vendor" ] && [ "$(cat "$d/device")" = "$device" ]; then
		bdf=$(basename "$d")
		break
	fi
done
[ -n "$bdf" ] || { frame error "no PCI device $vendor:$device"; finish 1; }
dev=/sys/bus/pci/devices/$bdf
group=$(basename "$(readlink "$dev/iommu_group")")
frame device "$bdf $vendor $device group=$group"

echo vfio-pci >"$dev/driver_override"
[ -e "$dev/driver" ] && echo "$bdf" >"$dev/driver/unbind"
echo "$bdf" >/sys/bus/pci/drivers_probe
[ -c "/dev/vfio/$group" ] || { frame error "$bdf did not bind to vfio-pci (no /dev/vfio/$group)"; finish 1; }
[ -c /dev/kvm ] || { frame error "no /dev/kvm in L1 (kvm_amd did not load)"; finish 1; }
l1_under_test


# A step that outlives its limit is stuck inside L1's kernel: frame where
# each of its threads is blocked, dump blocked tasks to the console, kill it.
watch_step() {
	pid=$1 limit=$2 name=$3 t=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$t" -ge "$limit" ]; then
			for task in /proc/"$pid"/task/*; do
				frame hang "$name" "tid ${task##*/} $(sed -n 's/^State:\t//p' "$task/status") wchan=$(cat "$task/wchan")"
				while IFS= read -r line; do frame hang "$name" "  $line"; done <"$task/stack"
			done
			echo w >/proc/sysrq-trigger
			kill -KILL "$pid"
			return 1
		fi
		sleep 1
		t=$((t + 1))
	done
}

# run LIMIT NAME ARGS...: one reproducer run, its KTAP, stderr and record framed.
step=0
skip=$(arg skip)
run() {
	limit=$1
	name=$2
	shift 2
	step=$((step + 1))
	[ "$step" -le "${skip:-0}" ] && return
	frame start "$name"
	bartoggle-repro --json "/tmp/$name.jsonl" "$@" "$bdf" >"/tmp/$name.ktap" 2>"/tmp/$name.err" &
	pid=$!
	watch_step "$pid" "$limit" "$name"
	wait "$pid"
	rc=$?
	frame_file ktap "$name" "/tmp/$name.ktap"
	frame_file stderr "$name" "/tmp/$name.err"
	[ -s "/tmp/$name.jsonl" ] && frame rec "$name" "$(tail -n 1 "/tmp/$name.jsonl")"
	frame end "$name" "$rc"
}

run 30 held --mode held
i=1
while [ "$i" -le "$(arg trials)" ]; do
	# A trial ends at its first disabled-window hit (on an unfixed
	# kernel, its first failure); 60 s bound one that never hits, which
	# is then inconclusive, never a pass.
	run 80 "race-$i" --mode race --until-hit --duration 60 --quiet
	i=$((i + 1))
done
# The soak: on a fixed kernel every disabled-window hit is a memory-fault
# exit the reproducer answers as UR, and the VM must live through it all;
# an unfixed one ends it at its first failure. Bound: 200 cycles/s at least.
soak=$(arg soak)
[ "${soak:-0}" -gt 0 ] && run $((60 + soak / 200)) soak --mode race --cycles "$soak" --quiet
run $(($(arg control) + 20)) control --mode control --duration "$(arg control)"
# The other IOMMU backends of the mode table (held defaults to type1v2).
run 30 iommu-type1 --mode held --iommu type1
run 30 iommu-iommufd --mode held --iommu iommufd
finish 0
