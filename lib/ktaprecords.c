// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "bartoggle/jpath.h"
#include "bartoggle/ktaprecords.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"

int __bt_ktap_from_records(const char *dir, const char *title)
{
	char path[PATH_MAX + 32], *line = NULL, *text = NULL;
	size_t cap = 0, len = 0;
	struct bt_ktap k;
	FILE *f, *m;
	int n = 0, ret;

	snprintf(path, sizeof(path), "%s/records.jsonl", dir);
	f = fopen(path, "r");
	m = open_memstream(&text, &len);
	BT_ASSERT(m, "out of memory");
	if (f)
		while (getline(&line, &cap, f) > 0)
			n++;
	bt_ktap_init(&k, m, n);
	bt_ktap_diag(&k, "%s", title);
	if (f)
		rewind(f);
	while (f && getline(&line, &cap, f) > 0) {
		struct json_object *rec = json_tokener_parse(line);
		enum bt_verdict v = BT_VERDICT_ERROR;
		uint64_t iter = 0, cycles = 0, hits = 0;

		bt_verdict_parse(bt_jpath_str(rec, "verdict", "ERROR"), &v);
		bt_jpath_u64(rec, "iteration", &iter);
		bt_jpath_u64(rec, "counts.cycles", &cycles);
		bt_jpath_u64(rec, "counts.window_hits", &hits);
		bt_ktap_result(&k, v, "%s %s run%llu: %s, %llu cycles, %llu window hits",
			       bt_jpath_str(rec, "qemu.binary", "?"),
			       bt_jpath_str(rec, "qemu.version", "?"), (unsigned long long)iter,
			       bt_jpath_str(rec, "outcome", "unreadable record"),
			       (unsigned long long)cycles, (unsigned long long)hits);
		if (bt_jpath_str(rec, "signature", NULL))
			bt_ktap_diag(&k, "%s", bt_jpath_str(rec, "signature", ""));
		json_object_put(rec);
	}
	bt_ktap_totals(&k);
	fclose(m);
	free(line);
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/ktap.txt", dir);
	ret = __bt_write_file_atomic(path, text);
	free(text);
	return ret;
}
