#!/bin/bash
# Fetch and unpack a Debian kernel for guest images.
#   kernel-fetch.sh debian|debian-SERIES|debian:SERIES|PACKAGE CACHE_DIR
# "debian" is the kernel linux-image-amd64 depends on now; "debian-6.12" (or
# "debian:6.12") the
# newest linux-image-6.12.N+deb12-amd64-unsigned apt can install (the
# security archive's 6.12). Versions are resolved here because the archive
# keeps only the newest ABI. The .deb is
# kept in CACHE_DIR/debs and unpacked into CACHE_DIR/kernels/<release>, so a
# rerun needs no network. Prints the unpacked root on stdout; the root's
# .deb-version holds the package's Debian version (kvm-build.sh fetches the
# source and headers of exactly that version).
# Exit 0, or 4 (skip) when no kernel can be had: no network and no cache.
set -euo pipefail
spec=$1
cache=$2
mkdir -p "$cache/debs" "$cache/kernels"

log() { echo "kernel-fetch: $*" >&2; }

# linux-image-amd64 -> linux-image-6.1.0-56-amd64
resolve() {
	apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}

unpack() {
	local deb=$1 pkg release root
	pkg=$(dpkg-deb -f "$deb" Package)
	release=${pkg#linux-image-}
	release=${release%-unsigned}
	root=$cache/kernels/$release
	if [ ! -e "$root/.complete" ]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$root.tmp"
		mkdir -p "$root.tmp"
		dpkg -x "$deb" "$root.tmp"
		depmod -b "$root.tmp" "$release"
		dpkg-deb -f "$deb" Version >"$root.tmp/.deb-version"
		touch "$root.tmp/.complete"
		rm -rf "$root"
		mv "$root.tmp" "$root"
	fi
	echo "$root"
}

# Newest cached .deb matching a glob, for offline reruns.
cached() {
	ls -t "$cache"/debs/$1_*.deb 2>/dev/null | head -n 1 || true
}

# debian-6.12 -> linux-image-6.12.117+deb12-amd64-unsigned: the newest one
# apt has a candidate for.
resolve_series() {
	local series=${1//./\\.} p
	for p in $(apt-cache search --names-only "^linux-image-${series}\\.[0-9]+\\+deb12-amd64-unsigned\$" 2>/dev/null |
			awk '{ print $1 }' | sort -rV); do
		# (not grep -q on the pipe: under pipefail its early exit fails apt-cache)
		[[ $(apt-cache policy "$p" 2>/dev/null) = *"Candidate: "[0-9]* ]] && { echo "$p"; return; }
	done
}

spec=${spec/#debian:/debian-}
pkg=$spec
fallback='linux-image-*'
case $spec in
debian-*)
	series=${spec#debian-}
	fallback="linux-image-$series.*"
	pkg=$(resolve_series "$series")
	if [ -z "$pkg" ]; then
		log "apt knows no linux-image-$series.*; running apt-get update"
		apt-get update -q >&2 2>&1 || true
		pkg=$(resolve_series "$series")
	fi
	;;
esac
if [ "$spec" = debian ]; then
	pkg=$(resolve linux-image-amd64)
	if [ -z "$pkg" ]; then
		log "apt knows no linux-image-amd64; running apt-get update"
		apt-get update -q >&2 2>&1 || true
		pkg=$(resolve linux-image-amd64)
	fi
fi

if [ -n "$pkg" ] && deb=$(cached "$pkg") && [ -n "$deb" ]; then
	unpack "$deb"
	exit 0
fi

if [ -n "$pkg" ]; then
	log "downloading $pkg"
	tmp=$(mktemp -d)
	chmod 755 "$tmp"	# apt's _apt user downloads into it
	trap 'rm -rf "$tmp"' EXIT
	if (cd "$tmp" && timeout 300 apt-get download -qq "$pkg" >&2) ||
	   { log "download failed; refreshing apt lists once";
	     timeout 300 apt-get update -qq >&2 &&
	     (cd "$tmp" && timeout 300 apt-get download -qq "$pkg" >&2); }; then
		mv "$tmp"/*.deb "$cache/debs/"
		unpack "$(cached "$pkg")"
		exit 0
	fi
fi

# No network (or apt cannot resolve): fall back to the newest cached kernel.
deb=$(cached "$fallback")
if [ -n "$deb" ]; then
	log "cannot download ${pkg:-the kernel}; using cached $(basename "$deb")"
	unpack "$deb"
	exit 0
fi
log "cannot download ${pkg:-linux-image-amd64} and nothing is cached in $cache/debs"
log "(needs Debian's apt repositories once; later runs work offline)"
exit 4
