// SPDX-License-Identifier: GPL-2.0
/* The agent's JSON Lines protocol with the host. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bartoggle/stats.h"
#include "bartoggle/version.h"
#include "agent.h"

static void counts(struct bt_jw *w, const struct agent_counts *c,
		   uint64_t elapsed_ns)
{
	bt_jw_u64(w, "elapsed_ms", elapsed_ns / 1000000);
	bt_jw_obj(w, "counts");
	bt_jw_u64(w, "cycles", c->cycles);
	bt_jw_u64(w, "toggles", c->toggles);
	bt_jw_u64(w, "accesses", c->accesses);
	bt_jw_u64(w, "window_hits", c->window_hits);
	bt_jw_u64(w, "ur_reads", c->ur_reads);
	bt_jw_u64(w, "ur_violations", c->ur_violations);
	bt_jw_u64(w, "faults", c->faults);
	bt_jw_end(w);
	bt_jw_obj(w, "rates");
	bt_jw_double(w, "cycles_per_s", bt_per_s(c->cycles, elapsed_ns));
	bt_jw_double(w, "toggles_per_s", bt_per_s(c->toggles, elapsed_ns));
	bt_jw_double(w, "accesses_per_s", bt_per_s(c->accesses, elapsed_ns));
	bt_jw_end(w);
}

const char *agent_msg_hello(struct bt_jw *w, const struct agent_dev *d,
			    const char *channel, size_t *len)
{
	struct utsname uts;
	char id[8];

	uname(&uts);
	bt_jw_begin(w);
	bt_jw_str(w, "type", "hello");
	bt_jw_str(w, "agent", "bartoggle-agent");
	bt_jw_str(w, "version", bt_version);
	bt_jw_str(w, "kernel", uts.release);
	bt_jw_u64(w, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
	bt_jw_str(w, "channel", channel);
	bt_jw_obj(w, "device");
	bt_jw_str(w, "bdf", d->pci.bdf_str);
	snprintf(id, sizeof(id), "%04x", d->pci.vendor);
	bt_jw_str(w, "vendor", id);
	snprintf(id, sizeof(id), "%04x", d->pci.device);
	bt_jw_str(w, "device", id);
	bt_jw_u64(w, "class", d->pci.class);
	bt_jw_u64(w, "bar_size", d->bar_len);
	bt_jw_str(w, "driver_unbound", d->unbound[0] ? d->unbound : NULL);
	bt_jw_end(w);
	bt_jw_end(w);
	return bt_jw_line(w, len);
}

const char *agent_msg_progress(struct bt_jw *w, const struct agent_counts *c,
			       uint64_t elapsed_ns, size_t *len)
{
	bt_jw_begin(w);
	bt_jw_str(w, "type", "progress");
	counts(w, c, elapsed_ns);
	bt_jw_end(w);
	return bt_jw_line(w, len);
}

const char *agent_msg_done(struct bt_jw *w, const struct agent_opts *o,
			   const struct agent_counts *c, uint64_t elapsed_ns,
			   const char *reason, const char *error, size_t *len)
{
	bt_jw_begin(w);
	bt_jw_str(w, "type", "done");
	bt_jw_str(w, "reason", reason);
	if (error)
		bt_jw_str(w, "error", error);
	counts(w, c, elapsed_ns);
	bt_jw_obj(w, "options");
	bt_jw_str(w, "access", agent_access_name(o->access));
	bt_jw_u64(w, "width", o->width);
	bt_jw_u64(w, "offset", o->offset);
	bt_jw_u64(w, "dwell_off_us", o->dwell_off_us);
	bt_jw_u64(w, "dwell_on_us", o->dwell_on_us);
	bt_jw_u64(w, "cycles", o->cycles);
	bt_jw_double(w, "duration_s", o->duration_s);
	bt_jw_u64(w, "seed", o->seed);
	bt_jw_double(w, "hammer_cpu", o->hammer_cpu);
	bt_jw_double(w, "toggle_cpu", o->toggle_cpu);
	bt_jw_end(w);
	bt_jw_end(w);
	return bt_jw_line(w, len);
}

const char *agent_msg_error(struct bt_jw *w, const char *reason, size_t *len)
{
	bt_jw_begin(w);
	bt_jw_str(w, "type", "error");
	bt_jw_str(w, "reason", reason);
	bt_jw_end(w);
	return bt_jw_line(w, len);
}

int agent_parse_cmd(const char *line, size_t len, enum agent_cmd *cmd,
		    struct bt_jfield *f, int *n, char *err, size_t errlen)
{
	const struct bt_jfield *type;
	const char *why;

	*n = bt_jsonl_parse(line, len, f, AGENT_MAX_FIELDS, &why);
	if (*n < 0) {
		snprintf(err, errlen, "malformed line: %s", why);
		return -EINVAL;
	}
	type = bt_jsonl_get(f, *n, "type");
	if (!type || type->type != BT_JSTRING) {
		snprintf(err, errlen, "no \"type\" string in the message");
		return -EINVAL;
	}
	if (!strcmp(type->val, "start")) {
		*cmd = AGENT_CMD_START;
		return 0;
	}
	if (!strcmp(type->val, "stop")) {
		*cmd = AGENT_CMD_STOP;
		return 0;
	}
	snprintf(err, errlen, "unknown message type \"%.40s\"", type->val);
	return -EINVAL;
}

void agent_lines_feed(struct agent_lines *l, const char *data, size_t n,
		      void (*line)(void *ctx, const char *s, size_t len),
		      void (*too_long)(void *ctx), void *ctx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n') {
			if (!l->discarding)
				line(ctx, l->buf, l->len);
			l->len = 0;
			l->discarding = false;
			continue;
		}
		if (l->discarding)
			continue;
		if (l->len == BT_JSONL_MAX_LINE) {
			l->discarding = true;
			l->len = 0;
			too_long(ctx);
			continue;
		}
		l->buf[l->len++] = c;
	}
}
