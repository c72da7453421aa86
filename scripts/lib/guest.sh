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

# What the emulator, not the kernel under test, did to a guest, from its
# console; prints the cause, or fails when the console shows none of them.
# Both come from QEMU's multi-threaded TCG:
# - code patching: KVM flips static keys as VMs and vCPUs come and go (the
#   preempt-notifier key, apic_sw_disabled), text_poke_bp() rewrites the
#   jumps in finish_task_switch() or vcpu_enter_guest(), and a vCPU thread
#   still running the old translation spins there or takes the int3 it no
#   longer expects. An "Oops: int3" (the kernel has no int3 of its own
#   outside text patching), or a soft lockup with RIP in the scheduler.
#   (Our /inits hold a VM open all along with tools/kvmhold.c, so those
#   keys flip once per boot.)
# - a lost timer: an MMIO write (an APIC EOI) lost while a BAR's MEM bit
#   toggles leaves a vCPU without timer interrupts for good (README,
#   "Harness faults found and removed"); RCU then says its kthread's
#   "timer wakeup didn't happen".
tcg_harness_fault() {
	if grep -aqE 'Oops: int3|int3: 0000' "$1" 2>/dev/null ||
	   grep -aA6 -E 'soft lockup - CPU' "$1" 2>/dev/null |
		grep -aqE 'RIP: 0010:(finish_task_switch|__schedule)'; then
		echo "tcg-code-patching: lockup or int3 oops from text patching (console.log)"
	elif grep -aq "timer wakeup didn't happen" "$1" 2>/dev/null; then
		echo "tcg-lost-timer: a vCPU's timer interrupts stopped (RCU: timer wakeup didn't happen; console.log)"
	else
		return 1
	fi
}

# Silence allowed before a guest's first heartbeat, whatever STALL is: the
# 2 s beat (scripts/guest/frame.sh) starts with /init, and until then
# nothing promises output: under TCG, SeaBIOS's "Probing EDD" to the
# kernel's first line (loading and decompressing it) is 4.3 s of silence
# on an idle 2-core host, so a 5 s STALL applied from QEMU's start froze
# boots that were only loading.
GUEST_BOOT_SILENCE=30

# guest_ms: the wall clock in milliseconds (bash's EPOCHREALTIME, whatever
# the locale's decimal point).
guest_ms() {
	local us=${EPOCHREALTIME//[!0-9]/}
	echo $((us / 1000))
}

# guest_boot OUT DEADLINE STALL QEMU ARGS...: one boot, until QEMU exits,
# the epoch-second DEADLINE passes, the guest is silent on both serial
# ports for STALL seconds once it beats (GUEST_BOOT_SILENCE, if longer,
# before its first beat), or it wedged itself in the emulator
# (tcg_harness_fault). Sets qemu_rc, timed_out, stalled, silence (which
# silence stopped it, when one did), harness_fault (empty, or what the
# emulator did) and ready_s (seconds from QEMU's start to the guest's "up"
# frame, to 0.2 s; empty if it never came); a stall or a harness fault
# means: this boot tested nothing, boot again. SIGINT/SIGTERM stop QEMU
# and exit.
guest_boot() {
	local out=$1 deadline=$2 stall=$3 last_size=-1 size last_change pid ticks=0
	local beating=0 limit now
	shift 3
	: >"$out/frames.log"
	: >"$out/console.log"
	"$@" -nographic -no-reboot -nodefaults \
		-serial "file:$out/console.log" -serial "file:$out/frames.log" \
		>"$out/qemu.log" 2>&1 &
	pid=$!
	# shellcheck disable=SC2064
	trap "kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null" EXIT
	# shellcheck disable=SC2064
	trap "kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null; exit 130" INT
	# shellcheck disable=SC2064
	trap "kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null; exit 143" TERM
	local t0
	t0=$(guest_ms)
	last_change=$t0
	timed_out=0 stalled=0 silence="" harness_fault="" ready_s=""
	while kill -0 "$pid" 2>/dev/null; do
		now=$(guest_ms)
		[ -z "$ready_s" ] && grep -aqs '^BT1 up ' "$out/frames.log" &&
			ready_s=$(awk -v ms=$((now - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
		size=$(( $(stat -c %s "$out/frames.log") + $(stat -c %s "$out/console.log") ))
		[ "$size" != "$last_size" ] && { last_size=$size; last_change=$now; }
		[ "$beating" = 0 ] && grep -aqs '^BT1 beat ' "$out/console.log" && beating=1
		limit=$stall
		[ "$beating" = 0 ] && [ "$limit" -lt "$GUEST_BOOT_SILENCE" ] && limit=$GUEST_BOOT_SILENCE
		ticks=$((ticks + 1))
		if [ "$now" -ge $((deadline * 1000)) ]; then
			timed_out=1
			echo "guest: timeout: stopping QEMU (pid $pid)" >&2
		elif [ $((now - last_change)) -ge $((limit * 1000)) ]; then
			stalled=1
			silence="silent for $limit s$([ "$beating" = 0 ] && echo " before its first heartbeat") (frozen)"
			echo "guest: $silence: stopping QEMU (pid $pid)" >&2
		elif [ $((ticks % 10)) = 0 ] && harness_fault=$(tcg_harness_fault "$out/console.log"); then
			stalled=1
			echo "guest: wedged in the emulator ($harness_fault): stopping QEMU (pid $pid)" >&2
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
	# It may have panicked on it before the loop looked.
	if [ "$timed_out" = 0 ] && [ -z "$harness_fault" ] &&
	   harness_fault=$(tcg_harness_fault "$out/console.log"); then
		stalled=1
		echo "guest: $harness_fault" >&2
	fi
}

# guest_frames OUT: every boot's frames, unframed, into OUT/frames.txt. A
# line cut short by a dying guest is not a frame and is dropped.
guest_frames() {
	cat "$1"/attempt-*/frames.log "$1/frames.log" 2>/dev/null | tr -d '\r' |
		grep -a '^BT1 ' >"$1/frames.txt" || true
}

# l1_kernel KERNEL MODROOT REBUILD [PATCH...]: the kernel under test. Sets
# $kernel and $modroot for guest-image.sh and $kvm_build (JSON for the
# records): {kind: stock} for a Debian kernel as shipped, the rebuilt
# modules' kvm-build.json (kind rebuilt: the control, or patched) when
# REBUILD is 1, {kind: local, vmlinuz, sha256} for a kernel of your own;
# and $kvm_variant, the label L1 puts in its records (host.kernel_variant,
# passed as bt.variant=): empty for a stock kernel, local@SHA12 (of the
# vmlinuz) for your own, kvm-rebuilt, or kvm-patched:NAME@SHA12[+...].
# Needs $here and $cache. Returns kvm-build.sh's exit status on failure.
l1_kernel() {
	kernel=$1 modroot=$2
	local rebuild=$3 args=() p
	shift 3
	kvm_variant=""
	for p in "$@"; do args+=(--patch "$p"); done
	if [ "$rebuild" = 1 ]; then
		modroot=$("$here/kvm-build.sh" --kernel "$kernel" --cache "$cache" "${args[@]}") || return $?
		kernel=$(ls "$modroot"/boot/vmlinuz-* | head -n 1)
		kvm_build=$(jq -c . "$modroot/kvm-build.json")
		kvm_variant=$(jq -r 'if .kind == "rebuilt" then "kvm-rebuilt" else "kvm-patched:" +
			(.patches | map("\(.name)@\(.sha256[:12])") | join("+")) end' <<<"$kvm_build" |
			tr -c 'A-Za-z0-9._@:+\n-' '_')
	elif [ "$kernel" = debian ] || [[ $kernel = debian[-:]* ]]; then
		kvm_build='{"kind":"stock"}'
	else
		kvm_build=$(jq -nc --arg v "$kernel" --arg s "$(sha256sum <"$kernel" 2>/dev/null | cut -c1-64)" \
			'{kind: "local", vmlinuz: $v, sha256: $s}')
		# Its own release may equal a stock one: the image's hash tells them apart.
		kvm_variant=local@$(jq -r '.sha256[:12]' <<<"$kvm_build")
	fi
}

# json_strings STRING...: a JSON array of the non-empty arguments.
json_strings() {
	printf '%s\n' "$@" | jq -Rsc 'split("\n") | map(select(length > 0))'
}
