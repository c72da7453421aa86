/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host's side of the agent protocol: one line from the guest agent,
 * decoded. The guest may be broken or hostile: any line gives a result,
 * never a crash (fuzzed: tests/fuzz/fuzz_agent_line.c).
 */
#ifndef BARTOGGLE_AGENTMSG_H
#define BARTOGGLE_AGENTMSG_H

#include <stdbool.h>
#include <stdint.h>

struct json_object;

enum bt_agent_msg_type {
	BT_AGENT_MSG_INVALID,	/* not JSON, not an object, no "type" string */
	BT_AGENT_MSG_OTHER,	/* a type this runner does not know */
	BT_AGENT_MSG_HELLO,
	BT_AGENT_MSG_PROGRESS,
	BT_AGENT_MSG_DONE,
	BT_AGENT_MSG_ERROR,
};

struct bt_agent_msg {
	enum bt_agent_msg_type type;
	struct json_object *obj;	/* the parsed line: put it with bt_agent_msg_put() */
	bool have_counts;
	uint64_t cycles, toggles, accesses, window_hits, ur_reads, ur_violations, faults;
	char reason[256];	/* "error" and "done": the agent's reason */
};

/* Decode @line (NUL-terminated, no '\n'). Fills @m whatever the line held. */
void bt_agent_msg_decode(const char *line, struct bt_agent_msg *m);
void bt_agent_msg_put(struct bt_agent_msg *m);

#endif
