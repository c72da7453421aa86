#!/bin/bash
# Boot a Debian kernel under QEMU with -smp 2 -device edu and run the agent in
# it: its integration test or its benchmark.
#
#   agent-guest.sh --mode test|bench --agent STATIC_AGENT --out DIR
#                  [--raw STATIC_RAWTOGGLE] [--cycles N] [--kernel debian|VMLINUZ
#                  --modroot DIR] [--timeout S] [--accel auto|kvm|tcg]
#
# Writes DIR/frames.txt (everything the guest framed), DIR/<step>.out and
# DIR/<step>.err per step, console.log, qemu.log. Exit 0 when the guest
# finished, 1 when it died or timed out, 2 usage, 4 skip (no kernel).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/guest.sh"

mode="" agent="" raw="" out="" cycles=20000 kernel=debian modroot="" timeout=600
accel=${BARTOGGLE_ACCEL:-auto} cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
qemu=${BARTOGGLE_QEMU:-qemu-system-x86_64}
usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--mode) mode=$2; shift ;;
	--agent) agent=$2; shift ;;
	--raw) raw=$2; shift ;;
	--out) out=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--modroot) modroot=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--accel) accel=$2; shift ;;
	-h|--help) usage 0 ;;
	*) echo "agent-guest: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "agent-guest: $*" >&2; }
case $mode in test|bench) ;; *) log "--mode wants test or bench"; exit 2 ;; esac
[ -x "$agent" ] && [ -n "$out" ] || { log "--agent and --out are required"; exit 2; }
[ "$mode" = test ] || [ -x "$raw" ] || { log "--mode bench needs --raw"; exit 2; }
case $cycles in ''|*[!0-9]*|0) log "--cycles wants a number > 0"; exit 2 ;; esac
command -v "$qemu" >/dev/null || { log "no $qemu (make deps installs qemu-system-x86)"; exit 4; }
guest_accel "$accel" plain

mkdir -p "$out"
extra=()
[ "$mode" = bench ] && extra=(--bin "$raw" --bin-dyn "$(command -v setpci)")
"$here/guest-image.sh" --kernel "$kernel" ${modroot:+--modroot "$modroot"} \
	--out "$out/image" --cache "$cache" --init "$here/guest/agent-init.sh" \
	--bin "$agent" "${extra[@]}"
rc=$?
[ "$rc" = 0 ] || { log "no guest image (exit $rc)"; exit "$rc"; }

log "booting $(cat "$out/image/kernel-release") ($accel), mode $mode, $cycles cycles"
guest_boot "$out" $(( $(date +%s) + timeout )) 60 "$qemu" "${machine[@]}" \
	-machine q35 -smp 2 -m 512M -device edu \
	-kernel "$out/image/vmlinuz" -initrd "$out/image/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 bt.mode=$mode bt.cycles=$cycles $(guest_tcg_cmdline)"
guest_frames "$out"
for step in $(awk '$2 == "start" { print $3 }' "$out/frames.txt"); do
	sed -n "s/^BT1 out $step //p" "$out/frames.txt" >"$out/$step.out"
	sed -n "s/^BT1 err $step //p" "$out/frames.txt" >"$out/$step.err"
done
grep -q '^BT1 done' "$out/frames.txt" && [ "$timed_out" = 0 ] && [ "$stalled" = 0 ]
