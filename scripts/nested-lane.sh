#!/bin/bash
# The nested lane: a stock kernel boots under QEMU as L1 with an emulated
# IOMMU and an emulated PCI device (edu); inside it the real vfio-pci and
# the real KVM run bartoggle-repro --backing vfio: held mode, N race trials,
# and a negative control. Never touches this machine's own PCI devices,
# modules or /dev/kvm configuration: everything happens inside L1.
#
#   nested-lane.sh --repro STATIC_BINARY
#                  [--kernel debian|debian-SERIES|VMLINUZ --modroot DIR]
#                  [--kvm-patch FILE]... [--kvm-rebuild] [--soak N]
#                  [--out DIR] [--trials N] [--control S] [--timeout S]
#                  [--accel auto|kvm|tcg] [--stall S]
#
# --kvm-patch FILE: L1 loads kvm/kvm-amd/kvm-intel rebuilt from the Debian
# kernel's own source with FILE applied (scripts/kvm-build.sh, cached);
# --kvm-rebuild: rebuilt with no patch, the control build. --soak N: after
# the race trials, one race of N cycles (default 0: none); on a kernel that
# fails it ends at the first failure, on a fixed one it is the soak.
#
# --stall S: an L1 silent on both serial ports for S seconds (default 20; it
# beats every 2 s) is frozen: it is stopped and booted again (3 boots at
# most), resuming after the last step that ended. A step stuck inside L1 is
# caught by L1 itself (30 s), framed as "hang" with where its threads block,
# and the lane goes on. An L1 the emulator wedged (scripts/lib/guest.sh,
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
kvm_patches=() kvm_rebuild=0 soak=0
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
case $stall in *[!0-9]*) log "--stall wants seconds"; exit 2 ;; esac
case $accel in auto|kvm|tcg) ;; *) log "--accel wants auto, kvm or tcg"; exit 2 ;; esac
command -v "$qemu" >/dev/null || { log "no $qemu (make deps installs qemu-system-x86)"; exit 4; }

guest_accel "$accel" nested

[ -n "$out" ] || out=results/nested/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
mkdir -p "$out"
image=$out/image
start=$(date +%s.%N)
case $control in ''|*[!0-9]*) log "--control wants whole seconds"; exit 2 ;; esac
l1_kernel "$kernel" "$modroot" "$kvm_rebuild" "${kvm_patches[@]}" || exit $?
"$here/guest-image.sh" --kernel "$kernel" ${modroot:+--modroot "$modroot"} \
	--out "$image" --cache "$cache" --init "$here/guest/nested-init.sh" \
	--bin "$repro" ${kvmhold:+--bin "$kvmhold"} --module vfio-pci --module vfio_iommu_type1 --module kvm_amd \
	--module kvm_intel
rc=$?
[ "$rc" = 0 ] || { log "no guest image (exit $rc)"; exit "$rc"; }
release=$(cat "$image/kernel-release")
qemu_version=$("$qemu" --version | head -n 1)

: >"$out/frames.log"
log "booting $release under $qemu_version (${accel}), $trials race trials"
# An L1 that goes silent is frozen: TCG has been seen to freeze L1 in
# about 1 of 40 race trials (both vCPUs, no lockup report), which is the
# emulator, not the kernel under test. Boot again and resume after the last
# step that ended; keep the frozen attempt's logs and count the boots.
[ -n "$stall" ] || stall=20
deadline=$(( $(date +%s) + timeout ))	# for all boots together
attempt=1 skip=0 faults=()
while :; do
	guest_boot "$out" "$deadline" "$stall" "$qemu" "${machine[@]}" \
		-machine q35,kernel-irqchip=split -smp 2 -m 1G \
		-kernel "$image/vmlinuz" -initrd "$image/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 intel_iommu=on bt.trials=$trials bt.control=$control bt.soak=$soak bt.skip=$skip${kvm_variant:+ bt.variant=$kvm_variant} bt.vendor=0x1234 bt.device=0x11e8" \
		-device intel-iommu,intremap=on,caching-mode=on -device edu
	[ "$stalled" = 1 ] && faults+=("boot $attempt: ${harness_fault:-silent for ${stall} s (frozen)}")
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
	--argjson harness "$(json_strings "${faults[@]}")" '
	{l1_kernel: $l1, kvm_build: $kvm_build, qemu: $qemu, accel: $accel,
	 trials: $trials, soak_cycles: $soak,
	 timed_out: ($timed_out == 1), stalled: ($stalled == 1),
	 boot_attempts: $attempts, harness_faults: $harness, qemu_exit: $qemu_rc,
	 elapsed_s: ($elapsed | tonumber)}' >"$out/lane.json"
"$here/nested-collect.sh" "$out"
