# Shared by the scripts that build against a Debian kernel (kvm-build.sh,
# kmod-build.sh): its packages at exactly the image's version, its compiler.
# shellcheck shell=bash
# Needs $cache and a log function.

# deb_fetch PACKAGE VERSION: the cached .deb of PACKAGE at VERSION on stdout,
# downloaded once into $cache/debs. Exits 4 (skip) when it cannot be had.
deb_fetch() {
	local deb tmp
	mkdir -p "$cache/debs"
	deb=$(ls "$cache/debs/$1_${2//:/%3a}"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		log "downloading $1 $2"
		tmp=$(mktemp -d)
		chmod 755 "$tmp"	# apt's _apt user downloads into it
		if ! (cd "$tmp" && timeout 600 apt-get download -qq "$1=$2" >&2); then
			rm -rf "$tmp"
			log "cannot download $1 $2 (needs Debian's apt repositories once)"
			exit 4
		fi
		mv "$tmp"/*.deb "$cache/debs/"
		rmdir "$tmp"
		deb=$(ls "$cache/debs/$1_${2//:/%3a}"_*.deb | head -n 1)
	fi
	echo "$deb"
}

# debian_kernel SPEC: the Debian kernel image to build against
# (scripts/kernel-fetch.sh, cached). Sets $stock (its unpacked root),
# $release and $version (its .deb's, which its source and headers packages
# must match). Needs $here.
debian_kernel() {
	stock=$("$here/kernel-fetch.sh" "$1" "$cache") || exit $?
	release=$(ls "$stock/lib/modules" | head -n 1)
	version=$(cat "$stock/.deb-version" 2>/dev/null) ||
		{ log "$stock has no .deb-version (unpacked by an older kernel-fetch): remove it and rerun"; exit 1; }
}

# kernel_cc CONFIG: the compiler the kernel was built with (its .config
# names it), so that modules are built as the image was; gcc if absent.
kernel_cc() {
	local cc
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$1")
	command -v "$cc" >/dev/null 2>&1 || cc=gcc
	echo "$cc"
}
