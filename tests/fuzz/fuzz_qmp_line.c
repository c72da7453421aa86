// SPDX-License-Identifier: GPL-2.0
/* One line from QEMU's QMP socket: a VMM that may misbehave. */
#include "bartoggle/qmp.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_string(data, size);
	struct bt_qmp_msg m;

	bt_qmp_parse(line, &m);
	free(line);
	return 0;
}
