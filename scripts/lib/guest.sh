# Shared by the scripts that boot our guest images under QEMU.
# shellcheck shell=bash
#
# A guest writes its console to ttyS0 (console.log) and framed results
# ("BT1 <tag> <name> <payload>") to ttyS1 (frames.log), so results survive a
# guest that dies mid-run. Every QEMU is bounded and stopped by its own PID.

# guest_accel ACCEL NEED_NESTED: sets $accel (kvm|tcg) and $machine.
# KVM only where it can run a stock kernel (not on a PVM host, such as this
# project's CI) and, when the guest runs KVM itself, where nesting is on.
guest_accel() {
	accel=$1
	if [ "$accel" = auto ]; then
		accel=tcg
		if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
		   { [ "$2" != nested ] ||
		     grep -qs '^[Y1]' /sys/module/kvm_*/parameters/nested; }; then
			accel=kvm
		fi
	fi
	if [ "$accel" = kvm ]; then
		machine=(-accel kvm -cpu host)
	else
		# TCG's "max" CPU is an AMD model with SVM and NPT: kvm_amd loads.
		# One host thread for all vCPUs ($BARTOGGLE_TCG_THREAD=multi: one
		# each): QEMU 7.2's multi-threaded TCG publishes a new memory map
		# to running vCPUs before their TLBs are flushed (tcg_commit), so
		# while a BAR is toggled their MMIO writes can land in the wrong
		# region: a lost APIC EOI leaves a vCPU without timer interrupts
		# for good, a lost virtio kick leaves lines unsent (README,
		# "Harness faults found and removed").
		machine=(-accel "tcg,thread=${BARTOGGLE_TCG_THREAD:-single}" -cpu max)
	fi
}

# Kernel options for a guest under TCG: a halted vCPU there has been seen to
# miss its timer wakeup for minutes (RCU stall, "timer wakeup didn't happen",
# the pinned hammer never scheduled). idle=poll keeps vCPUs out of HLT.
guest_tcg_cmdline() {
	[ "$accel" = tcg ] && echo idle=poll
}

# guest_boot OUT DEADLINE STALL QEMU ARGS...: one boot, until QEMU exits,
# the epoch-second DEADLINE passes, or the guest is silent on both serial
# ports for STALL seconds. Sets qemu_rc, timed_out, stalled.
guest_boot() {
	local out=$1 deadline=$2 stall=$3 last_size=-1 size last_change pid
	shift 3
	: >"$out/frames.log"
	: >"$out/console.log"
	"$@" -nographic -no-reboot -nodefaults \
		-serial "file:$out/console.log" -serial "file:$out/frames.log" \
		>"$out/qemu.log" 2>&1 &
	pid=$!
	# shellcheck disable=SC2064
	trap "kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null" EXIT INT TERM
	last_change=$(date +%s)
	timed_out=0 stalled=0
	while kill -0 "$pid" 2>/dev/null; do
		size=$(( $(stat -c %s "$out/frames.log") + $(stat -c %s "$out/console.log") ))
		[ "$size" != "$last_size" ] && { last_size=$size; last_change=$(date +%s); }
		if [ "$(date +%s)" -ge "$deadline" ]; then
			timed_out=1
			echo "guest: timeout: stopping QEMU (pid $pid)" >&2
		elif [ $(( $(date +%s) - last_change )) -ge "$stall" ]; then
			stalled=1
			echo "guest: silent for ${stall}s: stopping QEMU (pid $pid)" >&2
		fi
		if [ "$timed_out" = 1 ] || [ "$stalled" = 1 ]; then
			kill -TERM "$pid"; sleep 2; kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.2
	done
	wait "$pid" 2>/dev/null
	qemu_rc=$?
	trap - EXIT INT TERM
}

# guest_frames OUT: every boot's frames, unframed, into OUT/frames.txt. A
# line cut short by a dying guest is not a frame and is dropped.
guest_frames() {
	cat "$1"/attempt-*/frames.log "$1/frames.log" 2>/dev/null | tr -d '\r' |
		grep -a '^BT1 ' >"$1/frames.txt" || true
}
