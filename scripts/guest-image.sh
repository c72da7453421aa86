#!/bin/bash
# Build a guest image: a kernel plus a busybox initramfs holding the module
# closure asked for, our static binaries and an /init.
#
#   guest-image.sh --kernel debian|VMLINUZ --out DIR --init FILE
#                  [--modroot DIR] [--module NAME]... [--bin FILE]...
#                  [--bin-dyn FILE]... [--file SRC:DST]... [--cache DIR]
#
# --kernel debian   the kernel Debian's linux-image-amd64 depends on now
#                   (scripts/kernel-fetch.sh, cached, offline on rerun);
#                   debian-6.12: the newest 6.12 of the security archive
# --kernel VMLINUZ  with --modroot DIR holding lib/modules/<release>
#
# --bin-dyn copies a dynamically linked program with its shared libraries.
# Writes DIR/vmlinuz, DIR/initramfs.cpio.gz and DIR/kernel-release.
# The /init finds its modules, in load order, in /etc/modules.order.
# Exit 4 (skip) when the kernel cannot be had.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

kernel="" out="" init="" modroot="" cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
modules=() bins=() dyns=() files=()
usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift ;;
	--out) out=$2; shift ;;
	--init) init=$2; shift ;;
	--modroot) modroot=$2; shift ;;
	--module) modules+=("$2"); shift ;;
	--bin) bins+=("$2"); shift ;;
	--bin-dyn) dyns+=("$2"); shift ;;
	--file) files+=("$2"); shift ;;
	--cache) cache=$2; shift ;;
	-h|--help) usage 0 ;;
	*) echo "guest-image: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$kernel" ] && [ -n "$out" ] && [ -n "$init" ] ||
	{ echo "guest-image: --kernel, --out and --init are required" >&2; exit 2; }

if [ "$kernel" = debian ] || [[ $kernel = debian[-:]* ]]; then
	modroot=$("$here/kernel-fetch.sh" "$kernel" "$cache") || exit $?
	vmlinuz=$(ls "$modroot"/boot/vmlinuz-* | head -n 1)
else
	vmlinuz=$kernel
	[ -f "$vmlinuz" ] || { echo "guest-image: no kernel at $vmlinuz" >&2; exit 2; }
	[ -n "$modroot" ] || { echo "guest-image: --kernel PATH needs --modroot" >&2; exit 2; }
fi
release=$(ls "$modroot/lib/modules" | head -n 1)
[ -n "$release" ] || { echo "guest-image: no lib/modules/<release> under $modroot" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,etc,lib/modules}
cp /bin/busybox "$stage/bin/busybox"
: >"$stage/etc/modules.order"

# modprobe lists the insmod lines of the closure in dependency order.
for m in "${modules[@]}"; do
	modprobe -d "$modroot" -S "$release" --show-depends "$m" |
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		# busybox insmod wants a plain .ko: newer Debian kernels ship .ko.xz
		name=$(basename "$path")
		name=${name%.xz}
		grep -qx "/lib/modules/$name" "$stage/etc/modules.order" && continue
		case $path in
		*.xz) xz -dc "$path" >"$stage/lib/modules/$name" ;;
		*) cp "$path" "$stage/lib/modules/$name" ;;
		esac
		echo "/lib/modules/$name" >>"$stage/etc/modules.order"
	done
done

for b in "${bins[@]}"; do
	cp "$b" "$stage/bin/"
done
for b in "${dyns[@]}"; do
	cp "$b" "$stage/bin/"
	# Each library where the loader looks for it: the path ldd resolved.
	ldd "$b" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
done
for f in "${files[@]}"; do
	mkdir -p "$stage$(dirname "${f#*:}")"
	cp "${f%%:*}" "$stage${f#*:}"
done
cp "$init" "$stage/init"
chmod 755 "$stage/init"
mkdir -p "$stage/lib/bartoggle"
cp "$here/guest/frame.sh" "$stage/lib/bartoggle/"

mkdir -p "$out"
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
cp "$vmlinuz" "$out/vmlinuz"
echo "$release" >"$out/kernel-release"
echo "guest-image: $release, $(wc -l <"$stage/etc/modules.order") modules," \
	"$(du -h "$out/initramfs.cpio.gz" | cut -f1) initramfs in $out" >&2
