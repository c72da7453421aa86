/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which build of QEMU a run used: Debian's, or one of scripts/qemu-build.sh
 * (the unpatched control, or patched, with the patches' hashes), or a
 * user's. Goes into every record (qemu.build) and the report's VMM column.
 */
#ifndef BARTOGGLE_QEMUBUILD_H
#define BARTOGGLE_QEMUBUILD_H

#include <json-c/json.h>

/* The file beside a binary that says how it was built. */
#define BT_QEMU_BUILD_FILE "bartoggle-build.json"

/*
 * @binary (as configured; found on PATH when it has no slash) and the first
 * line of its --version: {"resolved": path, "kind": ...}. The kind and the
 * rest come from BT_QEMU_BUILD_FILE beside the resolved binary when there
 * is one (a file that is not a JSON object: kind "unknown" and "error");
 * else "(Debian 1:7.2+dfsg-...)" in the version line makes it
 * {"kind": "distribution", "package": "Debian 1:7.2+dfsg-..."}; else
 * "unknown". A new object.
 */
struct json_object *bt_qemu_build(const char *binary, const char *version_line);

/* For the VMM column: "[patched <key>]", "[control]", "(Debian ...)", or
 * NULL when the build is unknown or absent. The caller frees it. */
char *bt_qemu_build_label(struct json_object *build);

#endif
