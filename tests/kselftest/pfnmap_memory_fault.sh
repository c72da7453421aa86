#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Load the helper module, run pfnmap_memory_fault_test, unload the module.
#   pfnmap_memory_fault.sh [MODULE.ko [TEST_BINARY]]
# Defaults: bartoggle_pfnmap.ko and pfnmap_memory_fault_test next to this
# script (where a selftests install puts them). Exit: the test's (0 pass,
# 1 fail, 4 skip); 1 as well when the module will not unload afterwards or
# still holds pages (a leak).
dir=$(dirname "$0")
ko=${1:-$dir/bartoggle_pfnmap.ko}
test=${2:-$dir/pfnmap_memory_fault_test}
ksft_skip=4

if [ "$(id -u)" != 0 ]; then
	echo "# SKIP: needs root to load $ko"
	exit $ksft_skip
fi
[ -e /dev/kvm ] || { echo "# SKIP: no /dev/kvm"; exit $ksft_skip; }
loaded=0
if [ ! -d /sys/module/bartoggle_pfnmap ]; then
	insmod "$ko" || { echo "# SKIP: cannot load $ko"; exit $ksft_skip; }
	loaded=1
fi
"$test"
rc=$?
if [ "$loaded" = 1 ]; then
	live=$(cat /sys/module/bartoggle_pfnmap/parameters/pages_live)
	if [ "$live" != 0 ]; then
		echo "# bartoggle_pfnmap still holds $live pages after the test"
		rc=1
	fi
	rmmod bartoggle_pfnmap || { echo "# bartoggle_pfnmap did not unload"; rc=1; }
fi
exit $rc
