#!/bin/sh
# Install what bartoggle needs from Debian's apt repositories, idempotently
# and non-interactively. Does nothing (and needs no root) when all is there.
# The second group builds a Debian kernel's KVM modules (scripts/kvm-build.sh);
# the third, the libFuzzer targets (make fuzz) and the kernel's KTAP parser
# (kunit.py, a Python script) that the tests run.
#
#   deps.sh [--qemu-build]
#
# --qemu-build: also what a minimal build of Debian's QEMU source needs
# (scripts/qemu-build.sh, make qemu-fixed); make demo does not need it.
set -eu

PACKAGES="gcc make libc6-dev linux-libc-dev pkg-config check libsubunit-dev
libpci-dev libjson-c-dev libinih-dev jq qemu-system-x86 busybox-static cpio
kmod gnuplot-nox pciutils xz-utils util-linux tar libsystemd-dev systemd ansible-core
flex bison bc libelf-dev libssl-dev patch
clang libclang-rt-14-dev python3"
QEMU_BUILD="dpkg-dev meson ninja-build python3 libglib2.0-dev libpixman-1-dev
libslirp-dev libfdt-dev libcap-ng-dev libattr1-dev zlib1g-dev"

case "${1:-}" in
"") ;;
--qemu-build) PACKAGES="$PACKAGES $QEMU_BUILD" ;;
-h|--help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
*) echo "deps: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

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
