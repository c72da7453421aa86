// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "bartoggle/agentmsg.h"

static const struct {
	const char *name;
	enum bt_agent_msg_type type;
} types[] = {
	{ "hello", BT_AGENT_MSG_HELLO },
	{ "progress", BT_AGENT_MSG_PROGRESS },
	{ "done", BT_AGENT_MSG_DONE },
	{ "error", BT_AGENT_MSG_ERROR },
};

/* A counter the agent sent, or 0: json-c gives 0 for a negative integer,
 * and a fraction, a string or anything else is not a counter. */
static uint64_t counter(struct json_object *counts, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(counts, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_uint64(v);
}

static void read_counts(struct bt_agent_msg *m)
{
	struct json_object *c;

	if (!json_object_object_get_ex(m->obj, "counts", &c) ||
	    !json_object_is_type(c, json_type_object))
		return;
	m->cycles = counter(c, "cycles");
	m->toggles = counter(c, "toggles");
	m->accesses = counter(c, "accesses");
	m->window_hits = counter(c, "window_hits");
	m->ur_reads = counter(c, "ur_reads");
	m->ur_violations = counter(c, "ur_violations");
	m->faults = counter(c, "faults");
	m->have_counts = true;
}

void bt_agent_msg_decode(const char *line, struct bt_agent_msg *m)
{
	struct json_object *type, *reason;
	const char *t;
	size_t i;

	*m = (struct bt_agent_msg){ .type = BT_AGENT_MSG_INVALID };
	m->obj = json_tokener_parse(line);
	if (!m->obj || !json_object_is_type(m->obj, json_type_object) ||
	    !json_object_object_get_ex(m->obj, "type", &type) ||
	    !json_object_is_type(type, json_type_string)) {
		bt_agent_msg_put(m);
		return;
	}
	t = json_object_get_string(type);
	m->type = BT_AGENT_MSG_OTHER;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(t, types[i].name))
			m->type = types[i].type;
	if (m->type == BT_AGENT_MSG_PROGRESS || m->type == BT_AGENT_MSG_DONE)
		read_counts(m);
	if (json_object_object_get_ex(m->obj, "reason", &reason) &&
	    json_object_is_type(reason, json_type_string))
		snprintf(m->reason, sizeof(m->reason), "%s", json_object_get_string(reason));
}

void bt_agent_msg_put(struct bt_agent_msg *m)
{
	json_object_put(m->obj);
	m->obj = NULL;
}
