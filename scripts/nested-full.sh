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
#                  [--cycles N] [--nommap-cycles N] [--nommap-args A,B,...]
#                  [--timeout S]
#
# Results: DIR/work/results/<arm>/<UTC>-<host>/ (bartoggle-run's own),
# DIR/summary.json, DIR/frames.txt, DIR/console.log (L1). Exit 0 when L1
# finished, 1 when it did not, 2 usage, 4 skip (no kernel).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/guest.sh"

run="" agent="" out="" iterations=5 cycles=20000 nommap_cycles=20000 nommap_args="" timeout=1200
cache=${BARTOGGLE_CACHE:-cache} qemu=${BARTOGGLE_QEMU:-qemu-system-x86_64}
while [ $# -gt 0 ]; do
	case $1 in
	--run) run=$2; shift ;;
	--agent) agent=$2; shift ;;
	--out) out=$2; shift ;;
	--iterations) iterations=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--nommap-cycles) nommap_cycles=$2; shift ;;
	--nommap-args) nommap_args=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	-h|--help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
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
[ -n "$out" ] || out=results/nested-full/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
guest_accel "${BARTOGGLE_ACCEL:-auto}" nested
mkdir -p "$out/work/bin"
cp "$run" "$agent" "$out/work/bin/"

# L2: Debian's kernel with the agent on its virtio-serial port.
"$here/guest-image.sh" --kernel debian --cache "$cache" --out "$out/work/l2image" \
	--init "$here/guest/agent-init.sh" --bin "$agent" \
	--module virtio_pci --module virtio_console --module pvpanic_pci || exit $?
# L1: the same kernel with vfio, KVM and 9p.
"$here/guest-image.sh" --kernel debian --cache "$cache" --out "$out/l1image" \
	--init "$here/guest/nested-full-init.sh" --file /etc/ld.so.cache:/etc/ld.so.cache \
	--module vfio-pci --module vfio_iommu_type1 --module kvm_amd --module kvm_intel \
	--module virtio_pci --module 9p --module 9pnet_virtio || exit $?

log "booting L1 ($accel): default arm x$iterations, x-no-mmap arm, SIGKILL + restore"
start=$(date +%s)
guest_boot "$out" $(( start + timeout )) 120 "$qemu" "${machine[@]}" \
	-machine q35,kernel-irqchip=split -smp 2 -m 2G \
	-kernel "$out/l1image/vmlinuz" -initrd "$out/l1image/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 intel_iommu=on bt.iterations=$iterations bt.cycles=$cycles bt.nommap_cycles=$nommap_cycles bt.nommap_args=$nommap_args" \
	-device intel-iommu,intremap=on,caching-mode=on -device edu \
	-virtfs local,path=/usr,mount_tag=hostusr,security_model=none,readonly=on \
	-virtfs "local,path=$out/work,mount_tag=work,security_model=none"
guest_frames "$out"

# One summary over the arms, from bartoggle-run's own records.
for a in default no-mmap sigkill; do
	sed -n "s/^BT1 rec $a //p" "$out/frames.txt" >"$out/$a.jsonl"
done
jq -n --slurpfile d "$out/default.jsonl" --slurpfile n "$out/no-mmap.jsonl" \
	--arg sigkill "$(sed -n 's/^BT1 out sigkill //p' "$out/frames.txt" | paste -sd'|' -)" \
	--argjson elapsed "$(( $(date +%s) - start ))" --argjson timed_out "$timed_out" \
	--arg done "$(grep -c '^BT1 done' "$out/frames.txt")" '
	def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def arm: {runs: length,
		outcomes: (group_by(.outcome) | map({key: .[0].outcome, value: length}) | from_entries),
		signatures: (map(.signature // empty) | unique),
		time_to_death_ms: (map(.first_failure.ms // empty) | {median: median, max: max, min: min}),
		cycles: (map(.counts.cycles) | add), window_hits: (map(.counts.window_hits) | add),
		ur_reads: (map(.counts.ur_reads) | add), ur_violations: (map(.counts.ur_violations) | add),
		qemu: (first | .qemu.version), guest_kernel: (first | .guest_kernel)};
	{schema: "bartoggle.nested-full/1", complete: ($done == "1"), timed_out: ($timed_out == 1),
	 elapsed_s: $elapsed, default: ($d | arm), no_mmap: ($n | arm),
	 sigkill_restore: ($sigkill | split("|"))}' >"$out/summary.json.tmp" &&
	mv "$out/summary.json.tmp" "$out/summary.json"
jq -r '"nested-full: default: \(.default.runs) runs, \(.default.outcomes | tojson), time to VM death median \(.default.time_to_death_ms.median) ms (min \(.default.time_to_death_ms.min), max \(.default.time_to_death_ms.max))",
	"nested-full: default signature: \(.default.signatures | join("; "))",
	"nested-full: x-no-mmap: \(.no_mmap.runs) runs, \(.no_mmap.outcomes | tojson), \(.no_mmap.cycles) cycles, \(.no_mmap.window_hits) window hits, \(.no_mmap.ur_reads) UR reads, \(.no_mmap.ur_violations) UR violations",
	"nested-full: sigkill/restore: \(.sigkill_restore | join("; "))",
	"nested-full: \(if .complete then "complete" else "INCOMPLETE" end) in \(.elapsed_s) s; results in '"$out"'"' "$out/summary.json" >&2
grep '^BT1 error' "$out/frames.txt" >&2
jq -e '.complete' "$out/summary.json" >/dev/null
