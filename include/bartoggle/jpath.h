/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading records: values by dotted path ("host.kernel") in a json-c
 * object, with a default where a field is missing or of another type, and
 * the stress options the runner nests in INI sections and the reproducer
 * does not.
 */
#ifndef BARTOGGLE_JPATH_H
#define BARTOGGLE_JPATH_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

/* "a.b.c" inside @o, or NULL. */
struct json_object *bt_jpath(struct json_object *o, const char *path);
const char *bt_jpath_str(struct json_object *o, const char *path, const char *dflt);
/* A non-negative integer into @out; false where there is none. */
bool bt_jpath_u64(struct json_object *o, const char *path, uint64_t *out);
/* A number, or NAN. */
double bt_jpath_num(struct json_object *o, const char *path);

/* options.KEY (the reproducer) or options.stress.KEY (the runner). */
const char *bt_record_option_str(struct json_object *rec, const char *key, const char *dflt);
uint64_t bt_record_option_u64(struct json_object *rec, const char *key, uint64_t dflt);

#endif
