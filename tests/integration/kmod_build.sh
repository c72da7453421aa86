#!/bin/bash
# scripts/kmod-build.sh and make kmod: the helper module builds for the
# nested lane's Debian kernels from their headers packages, and for a tree
# of your own with --kdir; cached; clear errors. Nothing is loaded here
# (this host's kernel is not ours): the lanes load it inside L1.
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
OUT=${BARTOGGLE_TEST_OUT:-results/check}/kmod
CACHE=${BARTOGGLE_CACHE:-${HOME:-/root}/.cache/bartoggle}
rm -rf "$OUT"
mkdir -p "$OUT"

scripts/kmod-build.sh --kernel debian >"$OUT/61.dir" 2>"$OUT/61.err"
rc=$?
[ "$rc" = 4 ] && t_skip_all "$(grep -m1 cannot "$OUT/61.err")"
d61=$(cat "$OUT/61.dir")
t_plan 9
t_check "Debian 6.1: built from its headers packages (exit $rc), vermagic of the release" bash -c "
	[ $rc = 0 ] && rel=\$(jq -r .release '$d61/kmod-build.json') &&
	modinfo -F vermagic '$d61/bartoggle_pfnmap.ko' | grep -q \"^\$rel \" &&
	jqs '(.tree | startswith(\"linux-headers-\")) and .module == \"bartoggle_pfnmap\" and
		(.ko_sha256 | length == 64) and (.sources_sha256 | length == 64)' <'$d61/kmod-build.json'"
t_check "Debian 6.1: the build is warning-free" bash -c "! grep -E 'warning|error' '$d61/build.log'"
t0=$(date +%s%N)
scripts/kmod-build.sh --kernel debian >"$OUT/61b.dir" 2>"$OUT/61b.err"
t_check "a rerun is the cache: same directory, no build, under 3 s" bash -c "
	[ \"\$(cat '$OUT/61b.dir')\" = '$d61' ] && grep -q '^kmod-build: cached' '$OUT/61b.err' &&
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ]"

scripts/kmod-build.sh --kernel debian-6.12 >"$OUT/612.dir" 2>"$OUT/612.err"
rc=$?
d612=$(cat "$OUT/612.dir")
rel612=$(jq -r .release "$d612/kmod-build.json" 2>/dev/null)
kdir=$CACHE/kheaders/$rel612/usr/src/linux-headers-$rel612
t_check "Debian 6.12: built (exit $rc), vermagic $rel612" bash -c "
	[ $rc = 0 ] && modinfo -F vermagic '$d612/bartoggle_pfnmap.ko' | grep -q '^$rel612 '"
scripts/kmod-build.sh --kdir "$kdir" --cache "$OUT/cache" >"$OUT/kdir.dir" 2>"$OUT/kdir.err"
rc=$?
t_check "--kdir: a tree of your own (the 6.12 headers as one), its own cache entry" bash -c "
	[ $rc = 0 ] && d=\$(cat '$OUT/kdir.dir') && [[ \$d = "$(cd "$OUT" && pwd)/cache/kmod/"* ]] &&
	jqs --arg k '$kdir' '.tree == \$k and .release == \"$rel612\"' <\$d/kmod-build.json"

# A source that does not compile: exit 1, the compiler's words, the log kept.
mkdir -p "$OUT/broken/scripts" "$OUT/broken/kmod" "$OUT/broken/include"
cp -r scripts/kmod-build.sh scripts/kernel-fetch.sh scripts/lib "$OUT/broken/scripts/"
cp kmod/Kbuild "$OUT/broken/kmod/"
cp -r include/uapi "$OUT/broken/include/"
sed 's/^static vm_fault_t bt_fault/static vm_fault_t bt_fault_broken = 1;\nstatic vm_fault_t bt_fault/' \
	kmod/bartoggle_pfnmap.c >"$OUT/broken/kmod/bartoggle_pfnmap.c"
echo 'int broken(void) { return undeclared_symbol; }' >>"$OUT/broken/kmod/bartoggle_pfnmap.c"
"$OUT/broken/scripts/kmod-build.sh" --kdir "$kdir" --cache "$OUT/cache" >/dev/null 2>"$OUT/broken.err"
rc=$?
t_check "a build that fails: exit 1, the error shown, the log kept" bash -c "
	[ $rc = 1 ] && grep -q 'undeclared_symbol' '$OUT/broken.err' &&
	log=\$(sed -n 's/^kmod-build: build failed; see \(.*\):\$/\1/p' '$OUT/broken.err') && [ -s \"\$log\" ]"

t_check "usage errors: exit 2 with the reason" bash -c "
	scripts/kmod-build.sh 2>&1 >/dev/null | grep -q 'want exactly one of' && { scripts/kmod-build.sh; [ \$? = 2 ]; } &&
	scripts/kmod-build.sh --kdir /nonexistent 2>&1 | grep -q 'no kernel tree or headers there' &&
	{ scripts/kmod-build.sh --kdir /nonexistent; [ \$? = 2 ]; } &&
	{ scripts/kmod-build.sh --kernel /boot/vmlinuz; [ \$? = 2 ]; }" 2>/dev/null

if [ ! -e "/lib/modules/$(uname -r)/build/Makefile" ]; then
	make -s kmod O="$OUT/make" >"$OUT/make-nokdir.out" 2>&1
	rc=$?
	t_check "make kmod with no headers for the running kernel: fails, says what to install or set" bash -c "
		[ $rc != 0 ] && grep -q 'no kernel build tree at /lib/modules/$(uname -r)/build: install linux-headers-$(uname -r)' '$OUT/make-nokdir.out'"
else
	t_skip "make kmod with no headers" "this host has headers for $(uname -r)"
fi
make -s kmod O="$OUT/make" KDIR="$kdir" >"$OUT/make.out" 2>&1
rc=$?
t_check "make kmod KDIR=...: $OUT/make/kmod/bartoggle_pfnmap.ko, checkout untouched" bash -c "
	[ $rc = 0 ] && modinfo -F vermagic '$OUT/make/kmod/bartoggle_pfnmap.ko' | grep -q '^$rel612 ' &&
	[ -z \"\$(git status --porcelain --ignored kmod)\" ]"
t_done
