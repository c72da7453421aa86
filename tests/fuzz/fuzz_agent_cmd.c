// SPDX-License-Identifier: GPL-2.0
/*
 * Host -> agent: bytes from the host channel, split into lines as the agent
 * does, each decoded and, for a start, applied to the options and checked.
 * Every refusal goes back as the agent's error line, which quotes host text:
 * the runner's decoder must read it as an error with that reason.
 */
#include <stdio.h>
#include <json-c/json.h>

#include "bartoggle/agentmsg.h"
#include "agent.h"
#include "fuzz.h"

/* What the agent sends back must read back: valid JSON, the same reason
 * (non-ASCII bytes as '?'). */
static void answer(const char *err)
{
	struct agent_line w;
	struct bt_agent_msg m;
	const char *line;
	char want[256];
	size_t len, i;

	line = agent_msg_error(&w, err, &len);
	if (!line || len < 2 || line[len - 1] != '\n')
		abort();
	w.buf[len - 1] = '\0';
	bt_agent_msg_decode(w.buf, &m);
	snprintf(want, sizeof(want), "%s", err);
	for (i = 0; want[i]; i++)
		if ((unsigned char)want[i] >= 0x80)
			want[i] = '?';
	if (m.type != BT_AGENT_MSG_ERROR || strcmp(m.reason, want))
		abort();
	bt_agent_msg_put(&m);
}

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

	if (agent_parse_cmd(s, len, &cmd, &msg, err, sizeof(err))) {
		answer(err);
		return;
	}
	if (cmd == AGENT_CMD_START) {
		if (!agent_apply_start(&next, msg, err, sizeof(err)) &&
		    !agent_validate(&next, 2, err, sizeof(err)))
			c->opts = next;
		else
			answer(err);
	}
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
