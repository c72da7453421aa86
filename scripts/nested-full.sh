#!/bin/bash
# make nested-full: the reporter's exact setup with no hardware. L1 (a stock
# Debian kernel under QEMU with intel-iommu and edu) runs the host's own QEMU
# and our bartoggle-run, shared read-only over 9p; bartoggle-run binds edu
# to L1's real vfio-pci and assigns it to an L2 guest, under L1's real KVM,
# running bartoggle-agent. Arms: the default (mmap'd BAR, a memslot) and
# x-no-mmap (every BAR access trapped by QEMU); then a SIGKILL'd runner and
# --restore.
#
#   nested-full.sh --run BIN --agent BIN [--out DIR] [--iterations N]
#                  [--cycles N] [--default-args A,B,...] [--nommap-cycles N] [--nommap-args A,B,...]
#                  [--emulated-cycles N] [--l1-smp N] [--default-l1-smp N] [--timeout S]
#                  [--kernel debian|debian-SERIES|VMLINUZ --modroot DIR]
#                  [--kvm-patch FILE]... [--kvm-rebuild] [--arms LIST]
#                  [--kvmhold BIN] [--qemu BIN]... [--qemu-firmware DIRS]
#
# --kernel etc.: L1's kernel, the one under test, as in nested-lane.sh (L2
# stays Debian's default kernel). --arms: which of default, no-mmap,
# sigkill to run (default all three; l2-emulated comes with
# --emulated-cycles). --kvmhold: bt-kvmhold for L1 (default: next to --run
# in static/), which holds one VM open all along.
#
# --l1-smp: L1's vCPUs for the x-no-mmap arm's boot (default 1).
# --default-l1-smp: L1's vCPUs for the boot of the other arms (default 2).
# --default-args: extra bartoggle-run options for the default arm, comma-
# separated like --nommap-args (e.g. --dwell-off-us,200).
#
# --qemu: the QEMU under test, the one L1 runs L2 with (default: the host's
# own, /usr/bin/qemu-system-x86_64); repeat it and every arm runs each in
# turn (bartoggle-run's QEMU matrix). Any binary built for this host: the
# directory above its own (a build tree's source directory, or
# scripts/qemu-build.sh's <version>-<kind>-<key>) is shared read-only with
# L1 at the same path, so it finds its firmware and its
# bartoggle-build.json as on the host, and records name the host's path.
# --qemu-firmware: bartoggle-run's [qemu] firmware for it (-L, colon-
# separated), shared likewise where not under /usr.
#
# --emulated-cycles adds an arm with L2's own emulated edu (no vfio) under
# L1's KVM: the same trapped-MMIO exits as x-no-mmap, without vfio.
#
# Results: DIR/work/results/<arm>/<UTC>-<host>/ (bartoggle-run's own),
# DIR/summary.json (scripts/nested-full-collect.sh), DIR/frames.txt,
# DIR/boot-{mmap,nommap}/console.log (L1). Exit 0 when L1
# finished, 1 when it did not, 2 usage, 4 skip (no kernel).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/guest.sh"

# The x-no-mmap arm's documented configuration (README, "The x-no-mmap arm"):
# one L1 CPU, and MEM held off 200 us per cycle so that trapped reads land
# in the window.
run="" agent="" out="" iterations=5 cycles=20000 nommap_cycles=20000
nommap_args="--dwell-off-us,200" default_args="" timeout=1500 emulated_cycles=0 l1_smp=1 default_l1_smp=2
cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle} qemu=${BARTOGGLE_QEMU:-qemu-system-x86_64}
kernel=debian modroot="" kvm_patches=() kvm_rebuild=0 want_arms=default,no-mmap,sigkill kvmhold=""
vmm=() vmm_firmware=""
while [ $# -gt 0 ]; do
	case $1 in
	--run) run=$2; shift ;;
	--agent) agent=$2; shift ;;
	--out) out=$2; shift ;;
	--iterations) iterations=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--nommap-cycles) nommap_cycles=$2; shift ;;
	--nommap-args) nommap_args=$2; shift ;;
	--default-args) default_args=$2; shift ;;
	--emulated-cycles) emulated_cycles=$2; shift ;;
	--l1-smp) l1_smp=$2; shift ;;
	--default-l1-smp) default_l1_smp=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--modroot) modroot=$2; shift ;;
	--kvm-patch) kvm_patches+=("$2"); kvm_rebuild=1; shift ;;
	--kvm-rebuild) kvm_rebuild=1 ;;
	--arms) want_arms=$2; shift ;;
	--kvmhold) kvmhold=$2; shift ;;
	--qemu) vmm+=("$2"); shift ;;
	--qemu-firmware) vmm_firmware=$2; shift ;;
	-h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "nested-full: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "nested-full: $*" >&2; }
[ -x "$run" ] && [ -x "$agent" ] || { log "--run and --agent must name our binaries"; exit 2; }
for n in "$cycles" "$nommap_cycles" "$timeout"; do
	case $n in ''|*[!0-9]*|0) log "counts and --timeout want numbers > 0"; exit 2 ;; esac
done
case $iterations in ''|*[!0-9]*) log "--iterations wants a number (0: no default arm)"; exit 2 ;; esac
for a in ${want_arms//,/ }; do
	case $a in default|no-mmap|sigkill) ;; *) log "--arms: unknown arm '$a' (default, no-mmap, sigkill)"; exit 2 ;; esac
done
[ -n "$kvmhold" ] || kvmhold=$(dirname "$run")/static/bt-kvmhold
[ -x "$kvmhold" ] || { log "no $kvmhold: L1 runs without a held VM"; kvmhold=""; }
[ -n "$out" ] || out=results/nested-full/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
mkdir -p "$out/work"

# The QEMUs under test, and what of the host they need, for L1's /init
# (work/vmm.conf: "mount TAG DIR", "qemu BIN", "firmware DIRS").
vmm_shares=()
share_for_l1() {	# DIR: shared at its own path unless L1 sees it already
	local d
	case $1 in /usr|/usr/*) return 0 ;; /) log "$2: its tree would be /: put it in a directory of its own"; exit 2 ;; esac
	for d in "${vmm_shares[@]}"; do
		case $1 in "$d"|"$d"/*) return 0 ;; esac
	done
	vmm_shares+=("$1")
	echo "mount vmm${#vmm_shares[@]} $1" >>"$out/work/vmm.conf"
}
: >"$out/work/vmm.conf"
for b in "${vmm[@]}"; do
	r=$(realpath -e "$b" 2>/dev/null) && [ -x "$r" ] && [ -f "$r" ] ||
		{ log "--qemu $b: not an executable file"; exit 2; }
	case $r in *[[:space:]]*) log "--qemu $b: a path without blanks, please"; exit 2 ;; esac
	"$r" --version >/dev/null 2>&1 || { log "--qemu $b: '$r --version' fails here, so it would in L1"; exit 2; }
	share_for_l1 "$(dirname "$(dirname "$r")")" "--qemu $b"
	echo "qemu $r" >>"$out/work/vmm.conf"
done
if [ -n "$vmm_firmware" ]; then
	for d in ${vmm_firmware//:/ }; do
		[ -d "$d" ] || { log "--qemu-firmware: $d is not a directory"; exit 2; }
		share_for_l1 "$(realpath "$d")" "--qemu-firmware $d"
	done
	echo "firmware $vmm_firmware" >>"$out/work/vmm.conf"
fi
vmm_virtfs=()
for i in "${!vmm_shares[@]}"; do
	vmm_virtfs+=(-virtfs "local,path=${vmm_shares[$i]},mount_tag=vmm$((i + 1)),security_model=none,readonly=on")
done
# Multi-threaded TCG for this L1, unlike the other guests (scripts/lib/guest.sh
# says why they are single-threaded): a whole L2 Debian boots inside it under
# nested SVM, and with one host thread for L1's two vCPUs that boot took more
# than 6 minutes (measured), against about one. The race that makes the other
# guests single-threaded can freeze this L1 too: a silent boot is done again.
BARTOGGLE_TCG_THREAD=${BARTOGGLE_TCG_THREAD:-multi}
guest_accel "${BARTOGGLE_ACCEL:-auto}" nested
mkdir -p "$out/work/bin"
cp "$run" "$agent" "$out/work/bin/"

# L2: Debian's kernel with the agent on its virtio-serial port.
"$here/guest-image.sh" --kernel debian --cache "$cache" --out "$out/work/l2image" \
	--init "$here/guest/agent-init.sh" --bin "$agent" \
	--module virtio_pci --module virtio_console --module pvpanic_pci || exit $?
# L1: the kernel under test with vfio, KVM and 9p.
l1_kernel "$kernel" "$modroot" "$kvm_rebuild" "${kvm_patches[@]}" || exit $?
"$here/guest-image.sh" --kernel "$kernel" ${modroot:+--modroot "$modroot"} --cache "$cache" \
	--out "$out/l1image" ${kvmhold:+--bin "$kvmhold"} \
	--init "$here/guest/nested-full-init.sh" --file /etc/ld.so.cache:/etc/ld.so.cache \
	--module vfio-pci --module vfio_iommu_type1 --module kvm_amd --module kvm_intel \
	--module virtio_pci --module 9p --module 9pnet_virtio || exit $?

# Two L1 boots: the x-no-mmap arm needs one L1 vCPU (README, "The x-no-mmap
# arm"), while an L2 with its BAR mmapped starves a one-vCPU L1 under TCG
# (L1 goes silent from L2's boot on), so the other arms run on two.
# An L1 that goes silent (TCG freezes one in tens of runs; it beats every
# 2 s) is stopped and its boot done once more; the frozen one's logs are
# kept in boot-NAME/attempt-1.
boot() {
	local name=$1 smp=$2 arms=$3 dir=$out/boot-$1 attempt
	for attempt in 1 2; do
		mkdir -p "$dir"
		log "booting L1 ($accel, $smp vCPU): $arms"
		boot_once "$dir" "$smp" "$arms"
		[ "$stalled" = 1 ] && harness_faults+=("boot-$name attempt $attempt: ${harness_fault:-$silence}")
		# QEMU gone with L1 unfinished and nothing on its console (seen once:
		# L1 mid-arm, no panic, no oops): its exit status, for whoever looks.
		if [ "$stalled" = 0 ] && [ "$timed_out" = 0 ] &&
		   ! tr -d '\r' <"$dir/frames.log" | grep -aq '^BT1 done'; then
			early_exits+=("boot-$name attempt $attempt: QEMU exited with status $qemu_rc before L1 finished")
			log "${early_exits[-1]}"
		fi
		[ "$stalled" = 1 ] && [ "$attempt" = 1 ] || break
		mkdir -p "$dir/attempt-1"
		mv "$dir"/{console.log,frames.log,qemu.log} "$dir/attempt-1/"
		log "L1 ${harness_fault:+wedged in the emulator, }froze during $arms; booting it again (frozen logs in $dir/attempt-1)"
		frozen_boots=$(( ${frozen_boots:-0} + 1 ))
	done
	timed_out_any=$(( ${timed_out_any:-0} | timed_out ))
}

# A 1-vCPU L1 under TCG runs idle=poll: halted in its idle loop it was seen
# (4 of 6 x-no-mmap boots here) with its timer's vector 236 pending in IRR,
# interrupts on, and never woken (QEMU's HMP: HLT=1, IRR 236, ISR none, PPR
# 0x10): the halted-vCPU wakeup that guest_tcg_cmdline works around for
# the other guests. With no second vCPU nothing else wakes it: the whole L1
# falls silent. (The 2-vCPU boot keeps HLT: a polling vCPU would take a
# host core from the other under multi-threaded TCG.)
boot_once() {
	local dir=$1 smp=$2 arms=$3 idle=""
	[ "$smp" = 1 ] && idle=" $(guest_tcg_cmdline)"
	guest_boot "$dir" $(( start + timeout )) 60 "$qemu" "${machine[@]}" \
		-machine q35,kernel-irqchip=split -smp "$smp" -m 2G \
		-kernel "$out/l1image/vmlinuz" -initrd "$out/l1image/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 intel_iommu=on$idle${kvm_variant:+ bt.variant=$kvm_variant} bt.arms=$arms bt.iterations=$iterations bt.cycles=$cycles bt.nommap_cycles=$nommap_cycles bt.nommap_args=$nommap_args bt.emulated_cycles=$emulated_cycles${default_args:+ bt.default_args=$default_args}" \
		-device intel-iommu,intremap=on,caching-mode=on -device edu \
		-virtfs local,path=/usr,mount_tag=hostusr,security_model=none,readonly=on \
		-virtfs "local,path=$out/work,mount_tag=work,security_model=none" "${vmm_virtfs[@]}"
}
start=$(date +%s)
harness_faults=() early_exits=()
wants() { [[ ,$want_arms, = *,$1,* ]]; }
arms=""
wants default && [ "$iterations" -gt 0 ] && arms=default
wants sigkill && arms=$arms,sigkill
[ "$emulated_cycles" -gt 0 ] && arms=$arms,l2-emulated
arms=${arms#,}
[ -n "$arms" ] && boot mmap "$default_l1_smp" "$arms"
wants no-mmap && boot nommap "$l1_smp" no-mmap
timed_out=${timed_out_any:-0}
jq -n --arg l1 "$(cat "$out/l1image/kernel-release")" --argjson kvm_build "$kvm_build" \
	--arg variant "$kvm_variant" --arg arms "$want_arms" \
	--argjson qemus "$(json_strings $(sed -n 's/^qemu //p' "$out/work/vmm.conf"))" \
	--argjson harness "$(json_strings "${harness_faults[@]}")" \
	--argjson early "$(json_strings "${early_exits[@]}")" \
	'{l1_kernel: $l1, kvm_build: $kvm_build, kernel_variant: $variant, arms: ($arms | split(",")),
	  qemus: (if $qemus == [] then ["qemu-system-x86_64"] else $qemus end),
	  harness_faults: $harness, early_exits: $early}' >"$out/lane.json"
"$here/nested-full-collect.sh" "$out" "$(( $(date +%s) - start ))" "$timed_out"
