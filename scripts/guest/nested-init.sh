#!/bin/busybox sh
# /init of the nested lane's L1: the "host" whose real vfio-pci and real
# KVM are under test. Binds the emulated device to vfio-pci and runs
# bartoggle-repro against it, then the same on the helper module's pfnmap
# backing, the module's load/unload checks and the selftest; every result
# leaves as framed lines on the second serial port (ttyS1) the moment it
# exists, so a guest that dies mid-run still leaves what it had.
#
# Kernel command line: bt.trials=N (race trials), bt.soak=N (cycles of one
# long race after them, 0: none), bt.control=S (seconds),
# bt.vendor=0x1234 bt.device=0x11e8 (the device to use), bt.skip=K (steps
# already done by an earlier boot that froze: resume after them),
# bt.pfnmap=1 (the helper module is in /lib/bartoggle: run its steps too),
# bt.lean=1 (no IOMMU, no device: the pfnmap steps alone, the soak on them).
. /lib/bartoggle/frame.sh

lean=$(arg lean)
pfnmap=$(arg pfnmap)
[ "$lean" = 1 ] && [ "$pfnmap" != 1 ] && { frame error "bt.lean=1 without the helper module: nothing to test"; finish 1; }

# bind_device: the emulated device, bound to vfio-pci; sets $bdf.
bind_device() {
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
}
[ "$lean" = 1 ] || bind_device
[ -c /dev/kvm ] || { frame error "no /dev/kvm in L1 (kvm_amd did not load)"; finish 1; }
l1_under_test


# A step that outlives its limit is stuck inside L1's kernel: frame where
# each of its threads is blocked, dump blocked tasks to the console, kill it.
# A watchdog, not a poll: the step ends the moment its process does (a
# 1 s poll cost every step up to a second, most of a lane of short steps).
watch_step() {
	pid=$1 limit=$2 name=$3
	(
		trap 'kill "$nap" 2>/dev/null; exit 0' TERM
		sleep "$limit" &
		nap=$!
		wait "$nap"
		kill -0 "$pid" 2>/dev/null || exit 0
		for task in /proc/"$pid"/task/*; do
			frame hang "$name" "tid ${task##*/} $(sed -n 's/^State:\t//p' "$task/status") wchan=$(cat "$task/wchan")"
			while IFS= read -r line; do frame hang "$name" "  $line"; done <"$task/stack"
		done
		echo w >/proc/sysrq-trigger
		kill -KILL "$pid"
	) &
	watchdog=$!
}

# begin NAME: a new step, false when an earlier boot already did it.
step=0
skip=$(arg skip)
begin() {
	step=$((step + 1))
	[ "$step" -le "${skip:-0}" ] && return 1
	frame start "$1"
}

# run LIMIT NAME ARGS...: one reproducer run, its KTAP, stderr and record framed.
run() {
	limit=$1
	name=$2
	shift 2
	begin "$name" || return
	bartoggle-repro --json "/tmp/$name.jsonl" "$@" >"/tmp/$name.ktap" 2>"/tmp/$name.err" &
	pid=$!
	watch_step "$pid" "$limit" "$name"
	wait "$pid"
	rc=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	frame_file ktap "$name" "/tmp/$name.ktap"
	frame_file stderr "$name" "/tmp/$name.err"
	[ -s "/tmp/$name.jsonl" ] && frame rec "$name" "$(tail -n 1 "/tmp/$name.jsonl")"
	frame end "$name" "$rc"
}

# races BACKING PREFIX: held, the race trials, the soak, the control.
races() {
	backing=$1 prefix=$2 target=$3 soak_cycles=$4
	run 30 "${prefix}held" --backing "$backing" --mode held $target
	i=1
	while [ "$i" -le "$(arg trials)" ]; do
		# A trial ends at its first disabled-window hit (on an unfixed
		# kernel, its first failure); 60 s bound one that never hits,
		# which is then inconclusive, never a pass.
		run 80 "${prefix}race-$i" --backing "$backing" --mode race --until-hit --duration 60 --quiet $target
		i=$((i + 1))
	done
	# The soak: on a fixed kernel every disabled-window hit is a
	# memory-fault exit the reproducer answers as UR, and the VM must live
	# through it all; an unfixed one ends it at its first failure.
	# Bound: 200 cycles/s at least.
	[ "${soak_cycles:-0}" -gt 0 ] &&
		run $((60 + soak_cycles / 200)) "${prefix}soak" --backing "$backing" --mode race --cycles "$soak_cycles" --quiet $target
	run $(($(arg control) + 20)) "${prefix}control" --backing "$backing" --mode control --duration "$(arg control)" $target
}

soak=$(arg soak)
if [ "$lean" != 1 ]; then
	races vfio "" "$bdf" "$soak"
	# The other IOMMU backends of the mode table (held defaults to type1v2).
	run 30 iommu-type1 --mode held --iommu type1 "$bdf"
	run 30 iommu-iommufd --mode held --iommu iommufd "$bdf"
fi
[ "$pfnmap" = 1 ] || finish 0

# The helper module: the same KVM path as vfio-pci's, no device, no IOMMU.
ko=/lib/bartoggle/bartoggle_pfnmap.ko
mod=/sys/module/bartoggle_pfnmap
mod_state() { echo "refcnt $(cat $mod/refcnt 2>/dev/null) pages_live $(cat $mod/parameters/pages_live 2>/dev/null)"; }
if insmod "$ko" 2>/tmp/kmod.err; then
	frame kmod load "ok version $(cat $mod/version 2>/dev/null)"
else
	frame kmod load "failed: $(cat /tmp/kmod.err)"
fi
# In the lean lane the soak runs here; next to vfio it is vfio's alone.
pfnmap_soak=0
[ "$lean" = 1 ] && pfnmap_soak=$soak
races pfnmap pfnmap- "" "$pfnmap_soak"

# Unload while a VM maps it must be refused; once its user is killed, the
# pages are gone and it unloads.
if begin pfnmap-module; then
	bartoggle-repro --backing pfnmap --mode control --duration 60 --quiet >/dev/null 2>&1 &
	user=$!
	t=0
	while [ "$(cat $mod/refcnt 2>/dev/null || echo 0)" = 0 ] && [ $t -lt 50 ]; do
		sleep 0.2
		t=$((t + 1))
	done
	frame kmod users "$(mod_state)"
	if rmmod bartoggle_pfnmap 2>/tmp/rmmod.err; then
		frame kmod unload-while-mapped "UNLOADED while a VM mapped it"
	else
		frame kmod unload-while-mapped "refused: $(cat /tmp/rmmod.err)"
	fi
	kill -KILL "$user"
	wait "$user"
	frame kmod after-kill "$(mod_state)"
	if rmmod bartoggle_pfnmap 2>/tmp/rmmod.err; then
		frame kmod unload "ok"
	else
		frame kmod unload "failed: $(cat /tmp/rmmod.err)"
	fi
	frame end pfnmap-module 0
fi

# The selftest, as a CI would run it: its wrapper loads and unloads the module.
if begin kselftest; then
	[ -d $mod ] && rmmod bartoggle_pfnmap
	pfnmap_memory_fault.sh "$ko" /bin/pfnmap_memory_fault_test >/tmp/kselftest.ktap 2>&1
	rc=$?
	frame_file kselftest out /tmp/kselftest.ktap
	frame end kselftest "$rc"
fi
finish 0
