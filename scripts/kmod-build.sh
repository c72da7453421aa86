#!/bin/bash
# Build the helper module (kmod/bartoggle_pfnmap.c) for a kernel, cached.
#
#   kmod-build.sh --kernel debian|debian-SERIES|debian:SERIES [--cache DIR]
#   kmod-build.sh --kdir DIR [--cache DIR]
#
# --kernel: a Debian kernel of the nested lane; its headers packages
# (linux-headers-<release>, -common, linux-kbuild) at exactly the image's
# version are unpacked once into CACHE/kheaders/<release> and the module
# is built with the image's own compiler. --kdir: any prepared kernel
# tree or headers directory (a user's build, /lib/modules/<release>/build).
#
# Prints on stdout a directory holding bartoggle_pfnmap.ko and
# kmod-build.json (release, tree, compiler, the sources' and module's
# sha256, build seconds). Cached in CACHE/kmod/<release>-<key>, key = hash
# of the release, the tree's version and the module's sources: a rerun is
# offline and instant. The sources are copied there, so the checkout stays
# clean and two kernels build side by side.
# Exit 0; 1 the build failed (log named); 2 usage; 4 skip: no headers to be
# had, no compiler.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/kbuild.sh"
top=$(dirname "$here")

kernel="" kdir="" cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift ;;
	--kdir) kdir=$2; shift ;;
	--cache) cache=$2; shift ;;
	-h|--help) usage 0 ;;
	*) echo "kmod-build: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "kmod-build: $*" >&2; }
if [ -n "$kernel" ] && [ -n "$kdir" ] || [ -z "$kernel$kdir" ]; then
	log "want exactly one of --kernel debian|debian-SERIES and --kdir DIR"
	exit 2
fi
# Absolute: kbuild runs in the kernel tree and wants M= from anywhere.
mkdir -p "$cache" && cache=$(cd "$cache" && pwd)
for tool in make gcc; do
	command -v "$tool" >/dev/null || { log "no $tool: make deps installs the build tools"; exit 4; }
done
srcs=("$top/kmod/bartoggle_pfnmap.c" "$top/kmod/Kbuild" "$top/include/uapi/bartoggle_pfnmap.h")

if [ -n "$kernel" ]; then
	case $kernel in
	debian|debian-*|debian:*) ;;
	*) log "--kernel $kernel: Debian kernels only; for your own tree use --kdir DIR"; exit 2 ;;
	esac
	debian_kernel "$kernel"
	root=$cache/kheaders/$release
	kdir=$root/usr/src/linux-headers-$release
	if [ ! -e "$root/.complete" ]; then
		hdr=$(deb_fetch "linux-headers-$release" "$version")
		# The arch headers name the common ones and linux-kbuild in Depends.
		depends=$(dpkg-deb -f "$hdr" Depends)
		common=$(grep -o 'linux-headers-[^ ,]*-common' <<<"$depends" | head -n 1 || true)
		kbuild=$(grep -o 'linux-kbuild-[^ ,]*' <<<"$depends" | head -n 1 || true)
		[ -n "$common" ] && [ -n "$kbuild" ] ||
			{ log "$(basename "$hdr") names no -common or linux-kbuild package"; exit 1; }
		# One by one: a failed download exits here with its status (4).
		common_deb=$(deb_fetch "$common" "$version")
		kbuild_deb=$(deb_fetch "$kbuild" "$version")
		rm -rf "$root.tmp"
		mkdir -p "$root.tmp"
		for d in "$hdr" "$common_deb" "$kbuild_deb"; do dpkg -x "$d" "$root.tmp"; done
		# Its Makefile includes the common tree by its installed path.
		sed -i "s|^include /usr/src/|include $root/usr/src/|" \
			"$root.tmp/usr/src/linux-headers-$release/Makefile"
		touch "$root.tmp/.complete"
		rm -rf "$root"
		mv "$root.tmp" "$root"
	fi
	tree="linux-headers-$release $version"
else
	[ -e "$kdir/Makefile" ] || { log "--kdir $kdir: no kernel tree or headers there (no Makefile)"; exit 2; }
	kdir=$(cd "$kdir" && pwd)
	release=$(cat "$kdir/include/config/kernel.release" 2>/dev/null) ||
		{ log "--kdir $kdir is not prepared (no include/config/kernel.release): run make modules_prepare there"; exit 2; }
	tree="$kdir"
fi
[ -e "$kdir/.config" ] || { log "$kdir has no .config"; exit 2; }
cc=$(kernel_cc "$kdir/.config")

key=$( { printf '%s\n' "$release" "$tree"; cat "${srcs[@]}"; } | sha256sum | cut -c1-12)
out=$cache/kmod/$release-$key
if [ -e "$out/.complete" ]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi
mkdir -p "$cache/kmod"
work=$(mktemp -d "$cache/kmod/build.XXXXXX")
trap 'rm -rf "$work" "$out.tmp"' EXIT
cp "${srcs[@]}" "$work/"
t0=$(date +%s)
log "building bartoggle_pfnmap for $release ($tree, $cc)"
if ! make -C "$kdir" M="$work" CC="$cc" modules >"$work/build.log" 2>&1 ||
   [ ! -e "$work/bartoggle_pfnmap.ko" ]; then
	mkdir -p "$cache/kmod/failed"
	cp "$work/build.log" "$cache/kmod/failed/$release-$key.log"
	log "build failed; see $cache/kmod/failed/$release-$key.log:"
	grep -m 5 -E 'error|Error' "$work/build.log" >&2 || tail -n 5 "$work/build.log" >&2
	exit 1
fi
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
strip --strip-debug -o "$out.tmp/bartoggle_pfnmap.ko" "$work/bartoggle_pfnmap.ko"
cp "$work/build.log" "$out.tmp/"
jq -n --arg release "$release" --arg tree "$tree" --arg cc "$cc" --arg key "$key" \
	--arg src "$(cat "${srcs[@]}" | sha256sum | cut -c1-64)" \
	--arg ko "$(sha256sum <"$out.tmp/bartoggle_pfnmap.ko" | cut -c1-64)" \
	--argjson s "$(( $(date +%s) - t0 ))" '
	{module: "bartoggle_pfnmap", release: $release, tree: $tree, compiler: $cc,
	 sources_sha256: $src, ko_sha256: $ko, key: $key, build_s: $s}' >"$out.tmp/kmod-build.json"
touch "$out.tmp/.complete"
mv "$out.tmp" "$out"
log "built in $(( $(date +%s) - t0 )) s: $out"
echo "$out"
