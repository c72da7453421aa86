# Sourced by our guests' /init: the framed data channel on ttyS1 and a
# console heartbeat (the host tells a frozen guest from a busy one by it).
# shellcheck shell=sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
frame() { echo "BT1 $*" >&3; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^bt\.$1=//p"; }
finish() { frame done "$1"; sync; poweroff -f; }
# frame_file TAG NAME FILE: each line of FILE as one frame.
frame_file() { while IFS= read -r line; do frame "$1" "$2" "$line"; done <"$3"; }
# l1_under_test: what an L1 /init does before its first test VM. Every
# record says which build of KVM this is, when not the one the kernel
# shipped with (host.kernel_variant, from bt.variant=), and one VM is held
# open all along, so that KVM's static keys flip once per boot, not per test
# VM (tools/kvmhold.c says why).
l1_under_test() {
	BARTOGGLE_KERNEL_VARIANT=$(arg variant)
	export BARTOGGLE_KERNEL_VARIANT
	if command -v bt-kvmhold >/dev/null; then
		bt-kvmhold 2>/tmp/kvmhold.err &
	else
		frame note "no bt-kvmhold: every test VM flips KVM's static keys"
	fi
}

while :; do echo "BT1 beat $(cut -d' ' -f1 /proc/uptime)" >/dev/console; sleep 2; done &

frame hello "$(uname -r)"
while read -r ko; do
	insmod "$ko" 2>/tmp/insmod.err || frame note "insmod $ko: $(cat /tmp/insmod.err)"
done </etc/modules.order
# L1's seconds from power-on to ready: what a leaner image saves.
frame up "$(cut -d' ' -f1 /proc/uptime)"
