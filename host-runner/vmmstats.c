// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM's own counters, read over QMP before the runner stops it: how
 * often a fixed QEMU entered the guest again after a KVM_EXIT_MEMORY_FAULT
 * (fixes/qemu/, the "kvm-memory-fault-retries" property of each vCPU).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "bartoggle/log.h"
#include "runner.h"

#define VMM_QMP_MS 2000

/* One command's "return", parsed; NULL on an error answer or no answer. */
static struct json_object *ask(struct bt_qmp *qmp, const char *command,
			       void (*other)(void *ctx, const char *line), void *ctx)
{
	static char reply[1 << 16];
	struct json_object *o, *ret = NULL;

	if (bt_qmp_execute(qmp, command, reply, sizeof(reply), VMM_QMP_MS, other, ctx))
		return NULL;
	o = json_tokener_parse(reply);
	if (json_object_object_get_ex(o, "return", &ret))
		json_object_get(ret);
	json_object_put(o);
	return ret;
}

int64_t vmm_memory_fault_retries(struct bt_qmp *qmp,
				 void (*other)(void *ctx, const char *line), void *ctx)
{
	struct json_object *cpus = ask(qmp, "{\"execute\":\"query-cpus-fast\"}", other, ctx);
	int64_t sum = 0;
	size_t i, n;

	if (!json_object_is_type(cpus, json_type_array)) {
		json_object_put(cpus);
		return -1;
	}
	n = json_object_array_length(cpus);
	for (i = 0; i < n && sum >= 0; i++) {
		struct json_object *path, *v;
		char cmd[512];

		if (!json_object_object_get_ex(json_object_array_get_idx(cpus, i), "qom-path", &path))
			break;
		snprintf(cmd, sizeof(cmd), "{\"execute\":\"qom-get\",\"arguments\":{\"path\":%s,"
			 "\"property\":\"kvm-memory-fault-retries\"}}",
			 json_object_to_json_string_ext(path, JSON_C_TO_STRING_PLAIN));
		/* A QEMU without the property answers an error: -1, unknown. */
		v = ask(qmp, cmd, other, ctx);
		sum = json_object_is_type(v, json_type_int) ? sum + json_object_get_int64(v) : -1;
		json_object_put(v);
	}
	json_object_put(cpus);
	return i == n ? sum : -1;
}
