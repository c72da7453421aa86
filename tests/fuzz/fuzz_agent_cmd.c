// SPDX-License-Identifier: GPL-2.0
/*
 * Host -> agent: bytes from the host channel, split into lines as the agent
 * does, each decoded and, for a start, applied to the options and checked.
 */
#include <json-c/json.h>

#include "agent.h"
#include "fuzz.h"

struct ctx {
	struct agent_opts opts;
};

static void on_line(void *arg, const char *s, size_t len)
{
	struct ctx *c = arg;
	struct json_object *msg = NULL;
	struct agent_opts next = c->opts;
	enum agent_cmd cmd;
	char err[256];

	if (agent_parse_cmd(s, len, &cmd, &msg, err, sizeof(err)))
		return;
	if (cmd == AGENT_CMD_START && !agent_apply_start(&next, msg, err, sizeof(err)) &&
	    !agent_validate(&next, 2, err, sizeof(err)))
		c->opts = next;
	json_object_put(msg);
}

static void on_too_long(void *arg)
{
	(void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct agent_lines lines;
	struct ctx c;

	agent_opts_default(&c.opts, 2);
	lines = (struct agent_lines){ 0 };
	agent_lines_feed(&lines, (const char *)data, size, on_line, on_too_long, &c);
	return 0;
}
