#!/bin/bash
# The nested lane: a stock kernel boots under QEMU as L1 with an emulated
# IOMMU and an emulated PCI device (edu); inside it the real vfio-pci and
# the real KVM run bartoggle-repro --backing vfio: held mode, N race trials,
# and a negative control. Never touches this machine's own PCI devices,
# modules or /dev/kvm configuration: everything happens inside L1.
#
#   nested-lane.sh --repro STATIC_BINARY [--kernel debian|VMLINUZ --modroot DIR]
#                  [--out DIR] [--trials N] [--control S] [--timeout S]
#                  [--accel auto|kvm|tcg]
#
# Results in --out (default results/nested/<UTC>-<host>): records.jsonl,
# ktap.txt, summary.json, console.log (L1), frames.log (raw transport),
# qemu.log. Exit 0 when L1 finished (whatever the outcomes), 1 when it died
# or timed out (partial results kept and marked), 2 usage, 4 skip (no kernel).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

repro="" kernel=debian modroot="" out="" trials=20 control=2 timeout=600
accel=${BARTOGGLE_ACCEL:-auto} cache=${BARTOGGLE_CACHE:-cache}
qemu=${BARTOGGLE_QEMU:-qemu-system-x86_64}
usage() { sed -n '2,17s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--repro) repro=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--modroot) modroot=$2; shift ;;
	--out) out=$2; shift ;;
	--trials) trials=$2; shift ;;
	--control) control=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--accel) accel=$2; shift ;;
	-h|--help) usage 0 ;;
	*) echo "nested-lane: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "nested-lane: $*" >&2; }
[ -x "$repro" ] || { log "--repro must name the static bartoggle-repro"; exit 2; }
case $trials in ''|*[!0-9]*) log "--trials wants a number"; exit 2 ;; esac
case $timeout in ''|*[!0-9]*|0) log "--timeout wants seconds > 0"; exit 2 ;; esac
case $accel in auto|kvm|tcg) ;; *) log "--accel wants auto, kvm or tcg"; exit 2 ;; esac
command -v "$qemu" >/dev/null || { log "no $qemu (make deps installs qemu-system-x86)"; exit 4; }

# TCG's "max" CPU is an AMD model with SVM and NPT, so kvm_amd loads in L1.
# KVM runs L1 only where it can run stock kernels and nests (not on a PVM
# host such as this project's CI).
if [ "$accel" = auto ]; then
	accel=tcg
	if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
	   grep -qs '^[Y1]' /sys/module/kvm_*/parameters/nested; then
		accel=kvm
	fi
fi
if [ "$accel" = kvm ]; then
	machine=(-accel kvm -cpu host)
else
	machine=(-accel tcg,thread=multi -cpu max)
fi

[ -n "$out" ] || out=results/nested/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)
mkdir -p "$out"
image=$out/image
start=$(date +%s.%N)
"$here/guest-image.sh" --kernel "$kernel" ${modroot:+--modroot "$modroot"} \
	--out "$image" --cache "$cache" --init "$here/guest/nested-init.sh" \
	--bin "$repro" --module vfio-pci --module vfio_iommu_type1 --module kvm_amd
rc=$?
[ "$rc" = 0 ] || { log "no guest image (exit $rc)"; exit "$rc"; }
release=$(cat "$image/kernel-release")
qemu_version=$("$qemu" --version | head -n 1)

: >"$out/frames.log"
log "booting $release under $qemu_version (${accel}), $trials race trials"
# -serial #1 is L1's console, #2 the framed data channel.
"$qemu" "${machine[@]}" -machine q35,kernel-irqchip=split -smp 2 -m 1G \
	-nographic -no-reboot -nodefaults \
	-serial "file:$out/console.log" -serial "file:$out/frames.log" \
	-kernel "$image/vmlinuz" -initrd "$image/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 intel_iommu=on bt.trials=$trials bt.control=$control bt.vendor=0x1234 bt.device=0x11e8" \
	-device intel-iommu,intremap=on,caching-mode=on -device edu \
	>"$out/qemu.log" 2>&1 &
pid=$!
# Bounded, and stopped by its own PID, pass or fail.
trap 'kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null' EXIT INT TERM
deadline=$(( $(date +%s) + timeout ))
timed_out=0
while kill -0 "$pid" 2>/dev/null; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		timed_out=1
		log "timeout after ${timeout}s: stopping QEMU (pid $pid)"
		kill -TERM "$pid"; sleep 2; kill -KILL "$pid" 2>/dev/null
		break
	fi
	sleep 0.2
done
wait "$pid" 2>/dev/null
qemu_rc=$?
trap - EXIT INT TERM
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

# Unframe. A line cut short by a dying guest is not a frame and is dropped.
tr -d '\r' <"$out/frames.log" | grep '^BT1 ' >"$out/frames.txt" || true
sed -n 's/^BT1 ktap \([^ ]*\) \(.*\)$/\1: \2/p' "$out/frames.txt" >"$out/ktap.txt"
lane=$(jq -nc --arg l1 "$release" --arg qemu "$qemu_version" --arg accel "$accel" \
	--arg dev "$(sed -n 's/^BT1 device //p' "$out/frames.txt" | head -n 1)" \
	'{l1_kernel: $l1, qemu: $qemu, accel: $accel, device: $dev}')
: >"$out/records.jsonl.tmp"
sed -n 's/^BT1 rec \([^ ]*\) \(.*\)$/\1 \2/p' "$out/frames.txt" |
while read -r name json; do
	jq -c --arg name "$name" --argjson lane "$lane" '. + {lane: ($lane + {step: $name})}' \
		<<<"$json" >>"$out/records.jsonl.tmp" 2>/dev/null ||
		log "dropped a corrupt record frame for $name"
done
mv "$out/records.jsonl.tmp" "$out/records.jsonl"

done_frame=$(grep -c '^BT1 done' "$out/frames.txt")
running=$(awk '$2 == "start" { s = $3 } $2 == "end" { s = "" } END { print s }' "$out/frames.txt")
jq -s --argjson lane "$lane" --argjson trials "$trials" \
	--arg partial "$([ "$done_frame" = 1 ] && echo false || echo true)" \
	--arg running "$running" --arg elapsed "$elapsed" \
	--argjson timed_out "$timed_out" --argjson qemu_rc "$qemu_rc" \
	--arg error "$(sed -n 's/^BT1 error //p' "$out/frames.txt" | head -n 1)" '
	def step(p): map(select(.lane.step | test(p)));
	def ms: map(.first_failure.ms // empty) | sort;
	def median: if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	(step("^race-")) as $race |
	{
		schema: "bartoggle.nested-summary/1",
		lane: $lane,
		partial: ($partial == "true"),
		running_when_cut: (if $running == "" then null else $running end),
		timed_out: ($timed_out == 1),
		qemu_exit: $qemu_rc,
		error: (if $error == "" then null else $error end),
		elapsed_s: ($elapsed | tonumber),
		held: (step("^held$") | first | if . then {outcome, verdict,
			first_failure, signature, accesses: .counts.accesses} else null end),
		race: {
			trials: $trials,
			completed: ($race | length),
			outcomes: ($race | group_by(.outcome) | map({key: .[0].outcome, value: length}) | from_entries),
			first_failure_ms: ($race | ms | {median: median, max: (max // null), min: (min // null)}),
			cycles_to_failure: ($race | map(.first_failure.cycle // empty) | {median: (sort | median), max: (max // null)})
		},
		control: (step("^control$") | first | if . then {outcome, verdict,
			accesses: .counts.accesses, duration_s, errors:
			(.counts.ur_violations + .counts.ur_reads + .vmm.fatal_results)} else null end)
	}' "$out/records.jsonl" >"$out/summary.json.tmp" && mv "$out/summary.json.tmp" "$out/summary.json"

jq -r '"nested-lane: L1 \(.lane.l1_kernel), \(.lane.qemu), accel \(.lane.accel), device \(.lane.device)",
	"nested-lane: held: \(.held.outcome // "none") (\(.held.signature // "-"))",
	"nested-lane: race: \(.race.completed)/\(.race.trials) trials, outcomes \(.race.outcomes | tojson), first failure median \(.race.first_failure_ms.median) ms, max \(.race.first_failure_ms.max) ms",
	"nested-lane: control: \(.control.outcome // "none"), \(.control.accesses // 0) accesses, \(.control.errors // "-") errors",
	"nested-lane: \(if .partial then "PARTIAL (cut during \(.running_when_cut // "boot"))" else "complete" end) in \(.elapsed_s) s; results in '"$out"'"' \
	"$out/summary.json" >&2
[ -n "$(jq -r '.error // empty' "$out/summary.json")" ] && log "L1 error: $(jq -r .error "$out/summary.json")"

[ "$done_frame" = 1 ] && [ "$timed_out" = 0 ]
