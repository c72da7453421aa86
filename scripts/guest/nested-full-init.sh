#!/bin/busybox sh
# /init of the nested-full L1: the host's own /usr, read-only over 9p, gives
# it the host's QEMU and bartoggle-run; L1's real vfio-pci and kvm_amd do
# the rest. bartoggle-run assigns edu to an L2 guest running the agent: the
# reporter's setup. Results go to L1's tmpfs during a run (writing logs to
# 9p as they happen has frozen L1) and are copied to the work share after.
#
# bt.arms=default,no-mmap,l2-emulated,sigkill (which to run, in that order),
# bt.iterations=N (default arm), bt.cycles=N, bt.nommap_cycles=N,
# bt.nommap_args=A,B,... (extra bartoggle-run options for the x-no-mmap arm),
# bt.emulated_cycles=N (0: no l2-emulated arm), bt.default_args=A,B,...
# (extra bartoggle-run options for the default arm).
. /lib/bartoggle/frame.sh

mkdir -p /usr /work
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostusr /usr 2>/tmp/mount.err ||
	{ frame error "cannot mount the host's /usr over 9p: $(cat /tmp/mount.err)"; finish 1; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work /work 2>/tmp/mount.err ||
	{ frame error "cannot mount the work share: $(cat /tmp/mount.err)"; finish 1; }
# Merged /usr: the host's libraries and loader through the usual paths.
mv /lib /lib.initramfs
ln -s usr/lib /lib
ln -s usr/lib64 /lib64
ln -s usr/sbin /sbin
mkdir -p /run /var/tmp
mount -t tmpfs tmpfs /run
export PATH=/usr/bin:/usr/sbin:/bin

# The QEMUs under test (nested-full.sh --qemu): their trees at the host's
# paths, then --qemu and --qemu-firmware for every bartoggle-run. None:
# the host's own QEMU, the runner's default.
vmm_args=""
while read -r what a b; do
	case $what in
	mount)
		mkdir -p "$b" &&
			mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro "$a" "$b" 2>/tmp/mount.err ||
			{ frame error "cannot mount the host's $b: $(cat /tmp/mount.err)"; finish 1; } ;;
	qemu) vmm_args="$vmm_args --qemu $a" ;;
	firmware) vmm_args="$vmm_args --qemu-firmware $a" ;;
	esac
done </work/vmm.conf

edu=$(for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x11e8 ] && basename "$d"
done | head -n 1)
frame device "$edu"
[ -c /dev/kvm ] || { frame error "no /dev/kvm in L1"; finish 1; }
l1_under_test

# On a 2-vCPU L1, every runner (and so L2's QEMU, whose threads inherit it)
# keeps to L1's last CPU. With L2's vCPUs running on both of L1's CPUs at
# once, L2's GS state is lost in TCG's emulated nested SVM (README, "The
# x-no-mmap arm": the ENTRY_TRAMPOLINE panic): the fixed pair, whose vCPUs
# sleep on the BQL after a memory fault, hit it in 2 of 3 runs unpinned and
# in 2 of 2 with each L2 vCPU pinned to an L1 CPU of its own; 0 of 2 with
# both on one.
pin=""
ncpus=$(grep -c '^processor' /proc/cpuinfo)
if [ "$ncpus" -gt 1 ]; then
	pin="taskset -c $((ncpus - 1))"
	frame note "runners pinned to L1 CPU $((ncpus - 1)) of $ncpus"
fi

# arm NAME ARGS...: one bartoggle-run, its stderr framed, results copied out.
arm() {
	name=$1
	shift
	frame start "$name"
	# shellcheck disable=SC2086
	$pin /work/bin/bartoggle-run --bdf "$edu" --image /work/l2image --accel kvm $vmm_args \
		--results "/tmp/results/$name" --quiet "$@" 2>"/tmp/$name.err"
	rc=$?
	frame_file err "$name" "/tmp/$name.err"
	for f in /tmp/results/"$name"/*/records.jsonl; do
		[ -f "$f" ] && frame_file rec "$name" "$f"
	done
	mkdir -p /work/results
	cp -r "/tmp/results/$name" /work/results/ 2>/dev/null
	frame end "$name" "$rc"
}

wants() { arg arms | tr ',' '\n' | grep -qx "$1"; }

# shellcheck disable=SC2046
wants default && arm default --iterations "$(arg iterations)" --cycles "$(arg cycles)" $(arg default_args | tr ',' ' ')
# shellcheck disable=SC2046
wants no-mmap && arm no-mmap --no-mmap --iterations 1 --cycles "$(arg nommap_cycles)" $(arg nommap_args | tr ',' ' ')
# The same trapped-MMIO path without vfio: L2's own emulated edu under L1's
# KVM. It tells the nested environment's faults from vfio's.
wants l2-emulated &&
	arm l2-emulated --emulated edu --bdf "" --iterations 1 --cycles "$(arg emulated_cycles)"

wants sigkill || finish 0

# long_run NAME: a run that would go on for ages, in the background; once it
# has bound edu (journal written) and run a while, $pid and $driver are set.
long_run() {
	# shellcheck disable=SC2086
	$pin /work/bin/bartoggle-run --bdf "$edu" --image /work/l2image --accel kvm $vmm_args \
		--results "/tmp/results/$1" --quiet --no-mmap --cycles 100000000 2>"/tmp/$1.err" &
	pid=$!
	i=0
	while [ "$i" -lt 300 ] && [ ! -e /run/bartoggle/$edu.json ]; do sleep 0.1; i=$((i + 1)); done
	sleep 3
	driver=$(basename "$(readlink "/sys/bus/pci/devices/$edu/driver")")
}

# SIGINT mid-run: the runner unwinds, records the run and restores edu itself.
frame start sigint
long_run sigint
kill -INT "$pid"
wait "$pid"
rc=$?
frame_file err sigint /tmp/sigint.err
for f in /tmp/results/sigint/*/records.jsonl; do [ -f "$f" ] && frame_file rec sigint "$f"; done
after=$(readlink "/sys/bus/pci/devices/$edu/driver")
frame out sigint "while running: driver=$driver; after SIGINT: exit=$rc driver=${after:+$(basename "$after")} journal=$([ -e /run/bartoggle/$edu.json ] && echo present || echo absent)"
frame end sigint "$rc"

# SIGKILL mid-run, then --restore: edu must go back to no driver.
frame start sigkill
long_run sigkill
kill -KILL "$pid"
wait "$pid" 2>/dev/null
frame out sigkill "while running: driver=$driver journal=$([ -e /run/bartoggle/$edu.json ] && echo present || echo absent)"
# The killed runner's L2 QEMU died with it (PR_SET_PDEATHSIG); --restore
# would stop one that had not (by the PID the runner recorded), then puts
# the driver back from the device's journal.
/work/bin/bartoggle-run --restore 2>/tmp/restore.err
rc=$?
frame_file err sigkill /tmp/restore.err
driver=$(readlink "/sys/bus/pci/devices/$edu/driver")
frame out sigkill "after restore: exit=$rc driver=${driver:+$(basename "$driver")} override=$(cat "/sys/bus/pci/devices/$edu/driver_override") journal=$([ -e /run/bartoggle/$edu.json ] && echo present || echo absent)"
frame end sigkill "$rc"
finish 0
