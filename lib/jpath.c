// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bartoggle/jpath.h"

struct json_object *bt_jpath(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && *path) {
		dot = strchrnul(path, '.');
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path = *dot ? dot + 1 : dot;
	}
	return o;
}

const char *bt_jpath_str(struct json_object *o, const char *path, const char *dflt)
{
	struct json_object *v = bt_jpath(o, path);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : dflt;
}

bool bt_jpath_u64(struct json_object *o, const char *path, uint64_t *out)
{
	struct json_object *v = bt_jpath(o, path);

	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return false;
	*out = json_object_get_uint64(v);
	return true;
}

double bt_jpath_num(struct json_object *o, const char *path)
{
	struct json_object *v = bt_jpath(o, path);

	if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
		return json_object_get_double(v);
	return NAN;
}

const char *bt_record_option_str(struct json_object *rec, const char *key, const char *dflt)
{
	char path[96];
	const char *v;

	snprintf(path, sizeof(path), "options.%s", key);
	v = bt_jpath_str(rec, path, NULL);
	snprintf(path, sizeof(path), "options.stress.%s", key);
	return v ? v : bt_jpath_str(rec, path, dflt);
}

uint64_t bt_record_option_u64(struct json_object *rec, const char *key, uint64_t dflt)
{
	char path[96];
	uint64_t v;

	snprintf(path, sizeof(path), "options.%s", key);
	if (bt_jpath_u64(rec, path, &v))
		return v;
	snprintf(path, sizeof(path), "options.stress.%s", key);
	return bt_jpath_u64(rec, path, &v) ? v : dflt;
}
