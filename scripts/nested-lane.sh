#!/bin/bash
# The nested lane: a stock kernel boots under QEMU as L1 with an emulated
# IOMMU and an emulated PCI device (edu); inside it the real vfio-pci and
# the real KVM run bartoggle-repro --backing vfio: held mode, N race trials,
# and a negative control; then the same on --backing pfnmap (the helper
# module kmod/, built for L1's kernel by scripts/kmod-build.sh), the
# module's unload-while-mapped check and the selftest (tests/kselftest/).
# Never touches this machine's own PCI devices, modules or /dev/kvm
# configuration: everything happens inside L1.
#
#   nested-lane.sh --repro STATIC_BINARY
#                  [--kernel debian|debian-SERIES|VMLINUZ --modroot DIR]
#                  [--kdir DIR] [--kvm-patch FILE]... [--kvm-rebuild]
#                  [--soak N] [--lean | --no-pfnmap]
#                  [--out DIR] [--trials N] [--control S] [--timeout S]
#                  [--accel auto|kvm|tcg] [--stall S]
#
# --lean: no intel-iommu, no edu, no vfio: the pfnmap backing alone (held,
# trials, soak, control), the module checks and the selftest, for a kernel
# without the IOMMU or vfio (not faster to boot under TCG: README, "In the
# nested lane, next to vfio"); with no module for the kernel it exits 1 (4
# when the headers cannot be had). --no-pfnmap: vfio alone.
# --kdir DIR: the kernel tree (or headers) the module is built against for
# a --kernel VMLINUZ of your own (default: MODROOT/lib/modules/*/build);
# without one the pfnmap steps are skipped, and lane.json says why.
#
# --kvm-patch FILE: L1 loads kvm/kvm-amd/kvm-intel rebuilt from the Debian
# kernel's own source with FILE applied (scripts/kvm-build.sh, cached);
# --kvm-rebuild: rebuilt with no patch, the control build. --soak N: after
# the race trials, one race of N cycles (default 0: none); on a kernel that
# fails it ends at the first failure, on a fixed one it is the soak.
#
# --stall S: an L1 silent on both serial ports for S seconds (default 20; it
# beats every 2 s from /init on; before its first beat, while the kernel
# loads, 30 s if S is less: scripts/lib/guest.sh) is frozen: it is stopped
# and booted again (3 boots at most), resuming after the last step that
# ended. A step stuck inside L1 is caught by L1 itself (30 s), framed as
# "hang" with where its threads block, and the lane goes on. An L1 the emulator wedged (scripts/lib/guest.sh,
# tcg_harness_fault: its kernel patching its own code, or a vCPU's timer
# interrupts lost) is booted again the same way; summary.json lists it in
# harness_faults, and nothing of that boot is judged.
#
# Results in --out (default results/nested/<UTC>-<host>): records.jsonl,
# ktap.txt, summary.json, console.log (L1), frames.log (raw transport),
# qemu.log. Exit 0 when L1 finished (whatever the outcomes), 1 when it died
# or timed out (partial results kept and marked), 2 usage, 3 when more than
# 1% of the race trials were inconclusive (each trial runs until its first
# disabled-window hit, at most 60 s), 4 skip (no kernel).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/guest.sh"

repro="" stall="" kernel=debian modroot="" out="" trials=20 control=2 timeout=""
kvm_patches=() kvm_rebuild=0 soak=0 lean=0 pfnmap=1 kdir=""
accel=${BARTOGGLE_ACCEL:-auto} cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
qemu=${BARTOGGLE_QEMU:-qemu-system-x86_64}
usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--repro) repro=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--modroot) modroot=$2; shift ;;
	--kvm-patch) kvm_patches+=("$2"); kvm_rebuild=1; shift ;;
	--kvm-rebuild) kvm_rebuild=1 ;;
	--soak) soak=$2; shift ;;
	--lean) lean=1 ;;
	--no-pfnmap) pfnmap=0 ;;
	--kdir) kdir=$2; shift ;;
	--out) out=$2; shift ;;
	--trials) trials=$2; shift ;;
	--control) control=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--accel) accel=$2; shift ;;
	--stall) stall=$2; shift ;;
	-h|--help) usage 0 ;;
	*) echo "nested-lane: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "nested-lane: $*" >&2; }
[ -x "$repro" ] || { log "--repro must name the static bartoggle-repro"; exit 2; }
# Built next to the static reproducer (make build/static/bt-kvmhold).
kvmhold=$(dirname "$repro")/bt-kvmhold
[ -x "$kvmhold" ] || { log "no $kvmhold: L1 runs without a held VM"; kvmhold=""; }
case $trials in ''|*[!0-9]*) log "--trials wants a number"; exit 2 ;; esac
case $soak in ''|*[!0-9]*) log "--soak wants a number of cycles"; exit 2 ;; esac
# Default: 600 s, and the soak's bound on top (200 cycles/s at least).
[ -n "$timeout" ] || timeout=$((600 + soak / 200))
case $timeout in *[!0-9]*|0) log "--timeout wants seconds > 0"; exit 2 ;; esac
case $stall in *[!0-9]* | 0) log "--stall wants seconds, at least 1"; exit 2 ;; esac
case $accel in auto|kvm|tcg) ;; *) log "--accel wants auto, kvm or tcg"; exit 2 ;; esac
[ "$lean$pfnmap" = 10 ] && { log "--lean runs the pfnmap backing alone: it cannot go with --no-pfnmap"; exit 2; }
command -v "$qemu" >/dev/null || { log "no $qemu (make deps installs qemu-system-x86)"; exit 4; }

guest_accel "$accel" nested

[ -n "$out" ] || out=results/nested/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
mkdir -p "$out"
image=$out/image
start=$(date +%s.%N)
case $control in ''|*[!0-9]*) log "--control wants whole seconds"; exit 2 ;; esac
kernel_spec=$kernel
l1_kernel "$kernel" "$modroot" "$kvm_rebuild" "${kvm_patches[@]}" || exit $?
# The helper module for L1's kernel: from Debian's headers for a Debian one
# (a patched KVM keeps the release), else against --kdir or the modroot's
# build link. The selftest is built next to the reproducer.
kmod_json=null kmod_files=() kmod_args=()
if [ "$pfnmap" = 1 ]; then
	selftest=$(dirname "$repro")/pfnmap_memory_fault_test
	[ -x "$selftest" ] || { log "no $selftest (make $selftest)"; exit 2; }
	if [ "$(jq -r .kind <<<"$kvm_build")" != local ]; then
		kmod_args=(--kernel "$kernel_spec")
	else
		[ -n "$kdir" ] || kdir=$(ls -d "$modroot"/lib/modules/*/build 2>/dev/null | head -n 1)
		[ -n "$kdir" ] && kmod_args=(--kdir "$kdir")
	fi
	rc=none
	if [ ${#kmod_args[@]} -gt 0 ]; then
		kmod_dir=$("$here/kmod-build.sh" "${kmod_args[@]}" --cache "$cache")
		rc=$?
	fi
	if [ "$rc" = 0 ]; then
		kmod_json=$(jq -c . "$kmod_dir/kmod-build.json")
		kmod_files=(--file "$kmod_dir/bartoggle_pfnmap.ko:/lib/bartoggle/bartoggle_pfnmap.ko"
			--bin "$selftest" --bin "$(dirname "$here")/tests/kselftest/pfnmap_memory_fault.sh")
	elif [ "$lean" = 1 ]; then
		log "no helper module for this kernel (kmod-build exit $rc): the lean lane has nothing to run"
		exit "$([ "$rc" = 4 ] && echo 4 || echo 1)"
	else
		why="no helper module: kmod-build.sh exit $rc"
		[ "$rc" = none ] && why="no kernel tree for the helper module (--kdir DIR)"
		log "$why: the pfnmap steps are skipped"
		kmod_json=$(jq -nc --arg why "$why" '{skipped: $why}')
		pfnmap=0
	fi
fi
vfio_modules=(--module vfio-pci --module vfio_iommu_type1)
[ "$lean" = 1 ] && vfio_modules=()
"$here/guest-image.sh" --kernel "$kernel" ${modroot:+--modroot "$modroot"} \
	--out "$image" --cache "$cache" --init "$here/guest/nested-init.sh" \
	--bin "$repro" ${kvmhold:+--bin "$kvmhold"} "${kmod_files[@]}" "${vfio_modules[@]}" \
	--module kvm_amd --module kvm_intel
rc=$?
[ "$rc" = 0 ] || { log "no guest image (exit $rc)"; exit "$rc"; }
release=$(cat "$image/kernel-release")
qemu_version=$("$qemu" --version | head -n 1)

: >"$out/frames.log"
# The lean lane's L1 has no IOMMU and no device to assign.
if [ "$lean" = 1 ]; then
	l1_machine=(-machine q35) l1_devices=() l1_cmdline="bt.lean=1 bt.pfnmap=1"
else
	l1_machine=(-machine q35,kernel-irqchip=split)
	l1_devices=(-device intel-iommu,intremap=on,caching-mode=on -device edu)
	l1_cmdline="intel_iommu=on bt.pfnmap=$pfnmap bt.vendor=0x1234 bt.device=0x11e8"
fi
log "booting $release under $qemu_version (${accel}), $trials race trials$([ "$lean" = 1 ] && echo ", lean: pfnmap alone")"
# An L1 that goes silent is frozen: TCG has been seen to freeze L1 in
# about 1 of 40 race trials (both vCPUs, no lockup report), which is the
# emulator, not the kernel under test. Boot again and resume after the last
# step that ended; keep the frozen attempt's logs and count the boots.
[ -n "$stall" ] || stall=20
deadline=$(( $(date +%s) + timeout ))	# for all boots together
attempt=1 skip=0 faults=()
while :; do
	guest_boot "$out" "$deadline" "$stall" "$qemu" "${machine[@]}" \
		"${l1_machine[@]}" -smp 2 -m 1G \
		-kernel "$image/vmlinuz" -initrd "$image/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 $l1_cmdline bt.trials=$trials bt.control=$control bt.soak=$soak bt.skip=$skip${kvm_variant:+ bt.variant=$kvm_variant}" \
		"${l1_devices[@]}"
	[ "$stalled" = 1 ] && faults+=("boot $attempt: ${harness_fault:-$silence}")
	[ "$stalled" = 1 ] && [ "$attempt" -lt 3 ] || break
	mkdir -p "$out/attempt-$attempt"
	mv "$out"/{console.log,frames.log,qemu.log} "$out/attempt-$attempt/"
	skip=$(cat "$out"/attempt-*/frames.log | tr -d '\r' | grep -ac '^BT1 end ')
	attempt=$((attempt + 1))
	log "L1 ${harness_fault:+wedged in the emulator, }froze; boot $attempt resumes after $skip finished steps (logs of the frozen boot in $out/attempt-$((attempt - 1)))"
done
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

jq -n --arg l1 "$release" --arg qemu "$qemu_version" --arg accel "$accel" \
	--argjson trials "$trials" --argjson timed_out "$timed_out" \
	--argjson stalled "$stalled" --argjson attempts "$attempt" \
	--argjson qemu_rc "$qemu_rc" --arg elapsed "$elapsed" \
	--argjson kvm_build "$kvm_build" --argjson soak "$soak" \
	--argjson kmod "$kmod_json" --argjson lean "$lean" --argjson pfnmap "$pfnmap" \
	--arg ready "$ready_s" \
	--argjson harness "$(json_strings "${faults[@]}")" '
	{l1_kernel: $l1, kvm_build: $kvm_build, qemu: $qemu, accel: $accel,
	 trials: $trials, soak_cycles: $soak, lean: ($lean == 1),
	 backings: (if $lean == 1 then ["pfnmap"] elif $pfnmap == 1 then ["vfio", "pfnmap"] else ["vfio"] end),
	 kmod: $kmod, ready_s: ($ready | tonumber? // null),
	 timed_out: ($timed_out == 1), stalled: ($stalled == 1),
	 boot_attempts: $attempts, harness_faults: $harness, qemu_exit: $qemu_rc,
	 elapsed_s: ($elapsed | tonumber)}' >"$out/lane.json"
"$here/nested-collect.sh" "$out"
