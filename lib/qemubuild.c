// SPDX-License-Identifier: GPL-2.0
/* Which build of QEMU a run used. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bartoggle/jpath.h"
#include "bartoggle/qemubuild.h"
#include "bartoggle/record.h"
#include "bartoggle/xalloc.h"

/* @binary as execvp would find it, made absolute; false when it is not there. */
static bool resolve(const char *binary, char *out)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX + NAME_MAX + 2];

	if (strchr(binary, '/'))
		return realpath(binary, out);
	for (path = path ? path : "/usr/bin:/bin"; *path; path += *path == ':') {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s/%s", (int)n, n ? path : ".", binary);
		path += n;
		if (!access(dir, X_OK) && realpath(dir, out))
			return true;
	}
	return false;
}

/* "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)" -> "Debian 1:..." */
static char *package_of(const char *version_line)
{
	const char *open = strchr(version_line, '('), *close;

	if (!open || !(close = strchr(open, ')')) || close - open < 2)
		return NULL;
	return bt_xasprintf("%.*s", (int)(close - open - 1), open + 1);
}

struct json_object *bt_qemu_build(const char *binary, const char *version_line)
{
	struct json_object *build = NULL, *o;
	char resolved[PATH_MAX], file[PATH_MAX + sizeof(BT_QEMU_BUILD_FILE) + 1];
	char *package, *slash;
	bool found = resolve(binary, resolved);

	if (found) {
		snprintf(file, sizeof(file), "%s", resolved);
		slash = strrchr(file, '/');
		snprintf(slash + 1, sizeof(file) - (slash + 1 - file), "%s", BT_QEMU_BUILD_FILE);
		if (!access(file, F_OK)) {
			o = json_object_from_file(file);
			if (json_object_is_type(o, json_type_object)) {
				build = o;
			} else {
				json_object_put(o);
				build = json_object_new_object();
				bt_json_set_str(build, "kind", "unknown");
				bt_json_set_str(build, "error", BT_QEMU_BUILD_FILE " is not a JSON object");
			}
			bt_json_set_str(build, "build_file", file);
		}
	}
	if (!build) {
		build = json_object_new_object();
		package = package_of(version_line ? version_line : "");
		bt_json_set_str(build, "kind", package ? "distribution" : "unknown");
		if (package)
			bt_json_set_str(build, "package", package);
		free(package);
	}
	bt_json_set_str(build, "resolved", found ? resolved : NULL);
	return build;
}

char *bt_qemu_build_label(struct json_object *build)
{
	const char *kind = bt_jpath_str(build, "kind", NULL);
	const char *key = bt_jpath_str(build, "key", NULL);

	if (!kind || !strcmp(kind, "unknown"))
		return NULL;
	if (!strcmp(kind, "distribution"))
		return bt_xasprintf("(%s)", bt_jpath_str(build, "package", "?"));
	return key ? bt_xasprintf("[%s %s]", kind, key) : bt_xasprintf("[%s]", kind);
}
