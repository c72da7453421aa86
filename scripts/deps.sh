#!/bin/sh
# Install what bartoggle needs from Debian's apt repositories, idempotently
# and non-interactively. Does nothing (and needs no root) when all is there.
# The second group builds a Debian kernel's KVM modules (scripts/kvm-build.sh).
set -eu

PACKAGES="gcc make libc6-dev linux-libc-dev pkg-config check libsubunit-dev
libpci-dev libjson-c-dev libinih-dev jq qemu-system-x86 busybox-static cpio
kmod gnuplot-nox pciutils xz-utils util-linux
flex bison bc libelf-dev libssl-dev patch"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all present" >&2
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing" >&2
	echo "deps: run 'make deps' as root (or: apt-get install$missing)" >&2
	exit 1
fi

echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
