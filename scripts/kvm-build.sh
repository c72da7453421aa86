#!/bin/bash
# Rebuild a Debian kernel's KVM modules (kvm, kvm-amd, kvm-intel) from the
# matching Debian source, with patches applied, for a guest image.
#
#   kvm-build.sh --kernel debian|debian-SERIES [--patch FILE]... [--cache DIR]
#
# With no --patch it is the control build: same source, same flags, no
# change, which shows the rebuild itself changes nothing. The source
# (linux-source-SERIES) and the headers package (its .config and
# Module.symvers) are fetched at exactly the kernel image's Debian version,
# the tree is prepared once (olddefconfig, modules_prepare) and kept in
# CACHE/kbuild/<release>/tree; each build works in a hard-linked copy of it,
# so a patch never reaches the shared tree. The release string is the stock
# image's, so that vermagic matches and the stock vmlinuz loads the modules.
#
# Prints, on stdout, a module root: a copy of the stock kernel's (hard links,
# boot/vmlinuz-<release> included) with the rebuilt modules in place of the
# stock ones and depmod run, plus kvm-build.json (kind rebuilt|patched,
# source, patches with their sha256, key, build seconds) and the patches.
# Cached in CACHE/kvm/<release>-<kind>-<key>, key = hash of the release,
# source version and patch hashes: a rerun is offline and instant.
# Exit 0; 1 the patch does not apply or the build failed (log named);
# 2 usage; 4 skip: no kernel, no source package or no build tools.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/kbuild.sh"

kernel="" cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
patches=()
usage() { sed -n '2,24s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift ;;
	--patch) patches+=("$2"); shift ;;
	--cache) cache=$2; shift ;;
	-h|--help) usage 0 ;;
	*) echo "kvm-build: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "kvm-build: $*" >&2; }
case $kernel in
debian|debian-*|debian:*) ;;
'') log "--kernel is required (debian, debian-6.12, ...)"; exit 2 ;;
*) log "--kernel $kernel: only Debian kernels are rebuilt here (their source is in apt);" \
	"for your own tree, build it and pass --kernel VMLINUZ --modroot DIR (README)"; exit 2 ;;
esac
for p in "${patches[@]}"; do
	[ -f "$p" ] && [ -r "$p" ] || { log "--patch $p: no such readable file"; exit 2; }
done
for tool in make gcc flex bison bc patch strip depmod; do
	command -v "$tool" >/dev/null ||
		{ log "no $tool: make deps installs the kernel build tools"; exit 4; }
done
[ -e /usr/include/libelf.h ] || { log "no libelf.h: make deps installs libelf-dev"; exit 4; }

debian_kernel "$kernel"
series=$(echo "$release" | sed -n 's/^\([0-9]*\.[0-9]*\)[.-].*/\1/p')
mkdir -p "$cache/debs" "$cache/kbuild" "$cache/kvm"

# The kernel's own compiler (its .config names it), so that the modules are
# built as the image was.
kmake() {
	make -s -j"$(nproc)" CC="$cc" KERNELRELEASE="$release" "$@"
}

# Hash of everything that decides the modules: release, source, patches.
sums=()
for p in "${patches[@]}"; do
	sums+=("$(sha256sum <"$p" | cut -c1-64)")
done
kind=rebuilt
[ ${#patches[@]} -gt 0 ] && kind=patched
key=$(printf '%s\n' "$release" "$version" "${sums[@]}" | sha256sum | cut -c1-12)
out=$cache/kvm/$release-$kind-$key
if [ -e "$out/.complete" ]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

exec 9>"$cache/kbuild/$release.lock"
flock 9	# one build of a release at a time: they share its tree
tree=$cache/kbuild/$release/tree
hdr=linux-headers-$release
if [ ! -e "$tree/.complete" ]; then
	src_deb=$(deb_fetch "linux-source-$series" "$version")
	hdr_deb=$(deb_fetch "$hdr" "$version")
	t0=$(date +%s)
	log "unpacking and preparing linux-source-$series $version (once per release)"
	rm -rf "$tree.tmp" "$cache/kbuild/$release/unpack"
	mkdir -p "$tree.tmp" "$cache/kbuild/$release/unpack"
	dpkg -x "$src_deb" "$cache/kbuild/$release/unpack"
	tar -xf "$cache/kbuild/$release/unpack"/usr/src/linux-source-"$series".tar.* \
		-C "$tree.tmp" --strip-components=1
	dpkg -x "$hdr_deb" "$cache/kbuild/$release/unpack"
	cp "$cache/kbuild/$release/unpack/usr/src/$hdr"/{.config,Module.symvers} "$tree.tmp/"
	rm -rf "$cache/kbuild/$release/unpack"
	cc=$(kernel_cc "$tree.tmp/.config")
	echo "$cc" >"$tree.tmp/.bartoggle-cc"
	if ! (cd "$tree.tmp" && kmake olddefconfig && kmake modules_prepare) \
			>"$cache/kbuild/$release/prepare.log" 2>&1; then
		log "modules_prepare failed; see $cache/kbuild/$release/prepare.log:"
		tail -n 5 "$cache/kbuild/$release/prepare.log" >&2
		exit 1
	fi
	touch "$tree.tmp/.complete"
	mv "$tree.tmp" "$tree"
	log "tree ready in $(( $(date +%s) - t0 )) s: $tree"
fi
cc=$(cat "$tree/.bartoggle-cc")

t0=$(date +%s)
work=$(mktemp -d "$cache/kbuild/$release/build.XXXXXX")
trap 'rm -rf "$work" "$out.tmp"' EXIT
cp -al "$tree" "$work/tree"	# GNU patch replaces a file it changes: links stay intact
for i in "${!patches[@]}"; do
	if ! patch -p1 -s -N --no-backup-if-mismatch -d "$work/tree" <"${patches[$i]}" \
			>"$work/patch.log" 2>&1; then
		log "${patches[$i]} does not apply to linux-source-$series $version:"
		cat "$work/patch.log" >&2
		exit 1
	fi
done
log "building kvm, kvm-amd, kvm-intel for $release ($kind${patches:+: ${patches[*]}})"
if ! (cd "$work/tree" && kmake M=arch/x86/kvm modules) >"$work/build.log" 2>&1; then
	mkdir -p "$cache/kvm/failed"
	cp "$work/build.log" "$cache/kvm/failed/$release-$kind-$key.log"
	log "build failed; see $cache/kvm/failed/$release-$kind-$key.log:"
	grep -m 5 -E 'error|Error' "$work/build.log" >&2 || tail -n 5 "$work/build.log" >&2
	exit 1
fi

# The module root: the stock one hard-linked, the KVM modules replaced.
rm -rf "$out.tmp"
cp -al "$stock" "$out.tmp"
moddir=$out.tmp/lib/modules/$release
rm -f "$moddir"/kernel/arch/x86/kvm/*.ko*
for ko in "$work"/tree/arch/x86/kvm/*.ko; do
	strip --strip-debug -o "$moddir/kernel/arch/x86/kvm/$(basename "$ko")" "$ko"
done
# depmod rewrites these: real copies, so the stock root's stay as they are.
for f in "$moddir"/modules.*; do
	cp --remove-destination "$f" "$f.copy" && mv "$f.copy" "$f"
done
depmod -b "$out.tmp" "$release"
mkdir -p "$out.tmp/patches"
pj=()
for i in "${!patches[@]}"; do
	cp "${patches[$i]}" "$out.tmp/patches/"
	pj+=("$(jq -nc --arg n "$(basename "${patches[$i]}")" --arg s "${sums[$i]}" '{name: $n, sha256: $s}')")
done
jq -n --arg kind "$kind" --arg release "$release" --arg key "$key" \
	--arg source "linux-source-$series $version" --arg cc "$cc" \
	--argjson s "$(( $(date +%s) - t0 ))" --argjson patches "$(printf '%s\n' "${pj[@]}" | jq -sc 'map(select(. != null))')" '
	{kind: $kind, release: $release, source: $source, compiler: $cc,
	 patches: $patches, key: $key, build_s: $s}' \
	>"$out.tmp/kvm-build.json"
rm -f "$out.tmp/.complete"
touch "$out.tmp/.complete"
mv "$out.tmp" "$out"
log "built in $(( $(date +%s) - t0 )) s: $out"
echo "$out"
