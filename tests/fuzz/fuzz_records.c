// SPDX-License-Identifier: GPL-2.0
/*
 * A records.jsonl through the report: read (every kind of bad line is
 * counted and skipped), grouped, bounded, written as a table and KTAP.
 */
#include <limits.h>
#include <stdio.h>

#include "bartoggle/report.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[PATH_MAX];
	static FILE *null;
	struct bt_report r;

	if (!path[0]) {
		snprintf(path, sizeof(path), "%s/records.jsonl", fuzz_dir());
		null = fopen("/dev/null", "w");
		if (!null)
			abort();
	}
	if (fuzz_write_file(path, data, size))
		return 0;
	bt_report_init(&r, null);
	__bt_report_add_file(&r, path);
	bt_report_finish(&r);
	bt_report_print_table(&r, null);
	bt_report_print_ktap(&r, null);
	bt_report_verdict(&r);
	bt_report_cleanup(&r);
	return 0;
}
