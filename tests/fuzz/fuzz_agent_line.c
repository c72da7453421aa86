// SPDX-License-Identifier: GPL-2.0
/* Agent -> host: one line from a guest that may be broken or hostile. */
#include "bartoggle/agentmsg.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_string(data, size);
	struct bt_agent_msg m;

	bt_agent_msg_decode(line, &m);
	if (m.type == BT_AGENT_MSG_DONE && m.have_counts && m.window_hits > m.cycles + m.accesses)
		m.reason[0] = '\0';	/* touch what was decoded */
	bt_agent_msg_put(&m);
	free(line);
	return 0;
}
