// SPDX-License-Identifier: GPL-2.0
/* An INI file through the config layer: load, validate, the effective JSON. */
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>

#include "bartoggle/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[PATH_MAX];
	static struct bt_config c;
	char err[512];

	if (!path[0])
		snprintf(path, sizeof(path), "%s/fuzz.ini", fuzz_dir());
	if (fuzz_write_file(path, data, size))
		return 0;
	bt_config_default(&c);
	if (!bt_config_load(&c, path, err, sizeof(err)) && !bt_config_validate(&c, err, sizeof(err)))
		json_object_put(bt_config_json(&c));
	return 0;
}
