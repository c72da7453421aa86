// SPDX-License-Identifier: GPL-2.0
/* One /dev/kmsg record, then the classifier over its text. */
#include "bartoggle/evidence.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rec = fuzz_string(data, size), text[512];
	int level;

	if (!bt_kmsg_parse(rec, text, sizeof(text), &level))
		bt_kmsg_error_kind(text);
	bt_kmsg_error_kind(rec);
	free(rec);
	return 0;
}
