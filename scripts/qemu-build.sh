#!/bin/bash
# Build Debian's source of the installed QEMU, minimal and for x86_64 only,
# unpatched (the control) or with patches applied (default: the reference
# fix, fixes/qemu/*.patch). make qemu-fixed builds both.
#
#   qemu-build.sh [--control | --patch FILE...] [--cache DIR] [--print-configure]
#
# The source is fetched with apt-get source at exactly the installed
# qemu-system-x86's source version, through a private sources list (deb-src
# lines for the archives and suites apt knows qemu-system-x86 from) and
# private package lists under CACHE/qemu/apt: the machine's apt
# configuration is not touched. Unpacked once (Debian's own patch series
# applied) into CACHE/qemu/src; built in one work tree, CACHE/qemu/tree,
# configured once, so that going from one build to the next recompiles only
# what the patches touch (the files a build patched are put back from the
# pristine source, with a new mtime, before the next).
#
# Prints on stdout the binary: CACHE/qemu/<version>-<kind>-<key>/bin/
# qemu-system-x86_64, next to its bartoggle-build.json (kind control|patched,
# source, patches with their sha256, key, configure line, build seconds),
# which bartoggle-run copies into every record. share/ beside bin/ links to
# Debian's firmware, so the binary finds it from where it is (QEMU looks for
# its data relative to its own directory). key = hash of the source version,
# the configure line, scripts/qemu-devices.mak and the patches: a rerun is
# offline and instant.
# Exit 0; 1 a patch does not apply or the build failed (log named); 2 usage;
# 4 skip: no QEMU installed, source or build dependencies not to be had.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

cache=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
patches=() control=0 print_configure=0
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--control) control=1 ;;
	--patch) patches+=("$2"); shift ;;
	--cache) cache=$2; shift ;;
	--print-configure) print_configure=1 ;;
	-h|--help) usage 0 ;;
	*) echo "qemu-build: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
log() { echo "qemu-build: $*" >&2; }
if [ "$control" = 1 ] && [ ${#patches[@]} -gt 0 ]; then
	log "--control builds the source unpatched: no --patch with it"
	exit 2
fi
if [ "$control" = 0 ] && [ ${#patches[@]} = 0 ]; then
	for p in "$here"/../fixes/qemu/*.patch; do
		[ -e "$p" ] && patches+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p")")
	done
	[ ${#patches[@]} -gt 0 ] || { log "no fixes/qemu/*.patch and no --patch"; exit 2; }
fi
for p in "${patches[@]}"; do
	[ -f "$p" ] && [ -r "$p" ] || { log "--patch $p: no such readable file"; exit 2; }
done

# The devices the runner and the lanes use (scripts/qemu-devices.mak), with
# Debian's prefix and firmware path; KVM and TCG, slirp, 9p.
configure=(--prefix=/usr --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
	--target-list=x86_64-softmmu --without-default-features --without-default-devices
	--with-devices-x86_64=bartoggle --enable-kvm --enable-tcg --enable-slirp
	--enable-virtfs --enable-attr --enable-cap-ng --disable-docs)
if [ "$print_configure" = 1 ]; then
	echo "../configure ${configure[*]}"
	exit 0
fi

srcpkg=$(dpkg-query -W -f='${source:Package}' qemu-system-x86 2>/dev/null) ||
	{ log "qemu-system-x86 is not installed (make deps installs it)"; exit 4; }
srcver=$(dpkg-query -W -f='${source:Version}' qemu-system-x86)
ver=${srcver#*:}		# no epoch in file names
upstream=${ver%-*}		# 7.2+dfsg

if ! "$here/deps.sh" --qemu-build; then
	log "the build dependencies are missing and cannot be installed here (as root: scripts/deps.sh --qemu-build)"
	exit 4
fi

sums=()
for p in "${patches[@]}"; do
	sums+=("$(sha256sum <"$p" | cut -c1-64)")
done
kind=patched
[ "$control" = 1 ] && kind=control
key=$(printf '%s\n' "$srcver" "${configure[*]}" "$(sha256sum <"$here/qemu-devices.mak")" "${sums[@]}" |
	sha256sum | cut -c1-12)
out=$cache/qemu/$ver-$kind-$key
if [ -e "$out/.complete" ]; then
	log "cached: $out"
	echo "$out/bin/qemu-system-x86_64"
	exit 0
fi

mkdir -p "$cache/qemu/tree"
exec 9>"$cache/qemu/tree/$ver.lock"
flock 9	# one build at a time: they share the tree

# The source, once: deb-src for every archive and suite apt has
# qemu-system-x86 from (Debian's, not third-party repositories).
src=$cache/qemu/src/$ver
if [ ! -e "$src/.complete" ]; then
	apt_dir=$cache/qemu/apt
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/parts" "$apt_dir/cache/archives/partial"
	apt-cache policy qemu-system-x86 |
		awk '$2 ~ /^(https?|file):/ && $3 ~ /\// {split($3, s, "/"); print "deb-src", $2, s[1], s[2]}' |
		sort -u >"$apt_dir/sources.list"
	[ -s "$apt_dir/sources.list" ] || { log "apt knows no archive for qemu-system-x86: no source to fetch"; exit 4; }
	apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
		-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
	t0=$(date +%s)
	log "fetching $srcpkg $srcver ($(awk '{print $2, $3}' "$apt_dir/sources.list" | paste -sd, -))"
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	if ! timeout 600 apt-get "${apt_opts[@]}" -q update >"$src.tmp/apt.log" 2>&1 ||
	   ! (cd "$src.tmp" && timeout 600 apt-get "${apt_opts[@]}" -q source "$srcpkg=$srcver") \
			>>"$src.tmp/apt.log" 2>&1; then
		log "cannot fetch the source of $srcpkg $srcver (needs Debian's apt repositories once):"
		grep -E '^(E|W):' "$src.tmp/apt.log" | head -n 5 >&2 || tail -n 5 "$src.tmp/apt.log" >&2
		exit 4
	fi
	[ -x "$src.tmp/qemu-$upstream/configure" ] || { log "apt-get source left no qemu-$upstream/configure"; exit 1; }
	touch "$src.tmp/.complete"
	rm -rf "$src"
	mv "$src.tmp" "$src"
	log "source ready in $(( $(date +%s) - t0 )) s: $src/qemu-$upstream"
fi
pristine=$src/qemu-$upstream

# The work tree: configured once per configure line; a build's patches are
# undone before the next build.
tree=$cache/qemu/tree/$ver
if [ ! -e "$tree/.complete" ]; then
	rm -rf "$tree"
	cp -a "$pristine" "$tree.tmp"
	touch "$tree.tmp/.complete"
	mv "$tree.tmp" "$tree"
fi
cp "$here/qemu-devices.mak" "$tree/configs/devices/x86_64-softmmu/bartoggle.mak"
touched=$tree/.bartoggle-touched
if [ -s "$touched" ]; then
	while read -r f; do
		if [ -e "$pristine/$f" ]; then
			cp "$pristine/$f" "$tree/$f"	# no -p: a new mtime, ninja rebuilds it
		else
			rm -f "$tree/$f"
		fi
	done <"$touched"
fi
: >"$touched"
for i in "${!patches[@]}"; do
	sed -n 's,^+++ [^/]*/\([^[:space:]]*\).*,\1,p' "${patches[$i]}" >>"$touched"
	if ! patch -p1 -s -N --no-backup-if-mismatch -d "$tree" <"${patches[$i]}" >"$tree/patch.log" 2>&1; then
		log "${patches[$i]} does not apply to $srcpkg $srcver:"
		cat "$tree/patch.log" >&2
		exit 1
	fi
done

t0=$(date +%s)
mkdir -p "$tree/build"
if [ "$(cat "$tree/build/.bartoggle-configure" 2>/dev/null)" != "${configure[*]}" ]; then
	log "configuring: ../configure ${configure[*]}"
	rm -rf "$tree/build"
	mkdir -p "$tree/build"
	if ! (cd "$tree/build" && ../configure "${configure[@]}") >"$tree/configure.log" 2>&1; then
		log "configure failed; see $tree/configure.log:"
		grep -m 5 -iE 'error' "$tree/configure.log" >&2 || tail -n 5 "$tree/configure.log" >&2
		exit 1
	fi
	echo "${configure[*]}" >"$tree/build/.bartoggle-configure"
	log "configured in $(( $(date +%s) - t0 )) s"
fi
log "building qemu-system-x86_64 ($kind${patches:+: $(for p in "${patches[@]}"; do basename "$p"; done | paste -sd' ' -)})"
if ! ninja -C "$tree/build" -j"$(nproc)" qemu-system-x86_64 >"$tree/build.log" 2>&1; then
	mkdir -p "$cache/qemu/failed"
	cp "$tree/build.log" "$cache/qemu/failed/$ver-$kind-$key.log"
	log "build failed; see $cache/qemu/failed/$ver-$kind-$key.log:"
	grep -m 5 -E 'error' "$tree/build.log" >&2 || tail -n 5 "$tree/build.log" >&2
	exit 1
fi
build_s=$(( $(date +%s) - t0 ))

rm -rf "$out.tmp"
mkdir -p "$out.tmp/bin" "$out.tmp/share" "$out.tmp/lib/ipxe" "$out.tmp/patches"
# Without its debug info: a third of the size, for the copies the lanes make.
strip --strip-debug -o "$out.tmp/bin/qemu-system-x86_64" "$tree/build/qemu-system-x86_64"
ln -s /usr/share/qemu "$out.tmp/share/qemu"
ln -s /usr/share/seabios "$out.tmp/share/seabios"
ln -s /usr/lib/ipxe/qemu "$out.tmp/lib/ipxe/qemu"
version=$("$out.tmp/bin/qemu-system-x86_64" --version | head -n 1)
for dev in vfio-pci edu intel-iommu virtio-serial-pci pvpanic-pci; do
	"$out.tmp/bin/qemu-system-x86_64" -device help 2>&1 | grep -q "name \"$dev\"" ||
		{ log "the build has no $dev device: scripts/qemu-devices.mak wants it"; exit 1; }
done
pj=()
for i in "${!patches[@]}"; do
	cp "${patches[$i]}" "$out.tmp/patches/"
	pj+=("$(jq -nc --arg n "$(basename "${patches[$i]}")" --arg s "${sums[$i]}" '{name: $n, sha256: $s}')")
done
jq -n --arg kind "$kind" --arg source "$srcpkg $srcver" --arg key "$key" --arg version "$version" \
	--arg configure "../configure ${configure[*]}" --argjson s "$build_s" \
	--argjson patches "$(printf '%s\n' "${pj[@]}" | jq -sc 'map(select(. != null))')" '
	{kind: $kind, source: $source, version: $version, patches: $patches, key: $key,
	 configure: $configure, build_s: $s}' >"$out.tmp/bin/bartoggle-build.json"
touch "$out.tmp/.complete"
mv "$out.tmp" "$out"
log "built in $build_s s: $out"
echo "$out/bin/qemu-system-x86_64"
