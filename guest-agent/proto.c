// SPDX-License-Identifier: GPL-2.0
/* The agent's JSON Lines protocol with the host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bartoggle/stats.h"
#include "bartoggle/version.h"
#include "agent.h"

/*
 * The protocol in both directions is json-c's (linked statically: the agent
 * needs no library in the guest); the hand-written codec it replaced is
 * gone (issue 15). Strings the agent sends may carry bytes from outside
 * (uname, sysfs, a host line quoted in an error): non-ASCII bytes become
 * '?', so every line is valid UTF-8 JSON whatever they held.
 */
static struct json_object *ascii(const char *s)
{
	struct json_object *o;
	char *copy;
	size_t i;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (i = 0; copy[i]; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	o = json_object_new_string(copy);
	free(copy);
	return o;
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, ascii(v));
}

static void put_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void put_double(struct json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, json_object_new_double(v));
}

static struct json_object *put_obj(struct json_object *o, const char *key)
{
	struct json_object *child = json_object_new_object();

	json_object_object_add(o, key, child);
	return child;
}

static struct json_object *message(const char *type)
{
	struct json_object *o = json_object_new_object();

	put_str(o, "type", type);
	return o;
}

/* @o as one '\n'-terminated line in @w (NULL when over the limit); puts @o. */
static const char *finish(struct agent_line *w, struct json_object *o, size_t *len)
{
	const char *text = json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = text ? strlen(text) : 0;
	const char *line = NULL;

	if (text && n + 1 <= AGENT_MAX_LINE) {
		memcpy(w->buf, text, n);
		w->buf[n++] = '\n';
		w->buf[n] = '\0';
		w->len = n;
		*len = n;
		line = w->buf;
	}
	json_object_put(o);
	return line;
}

static void counts(struct json_object *o, const struct agent_counts *c,
		   uint64_t elapsed_ns)
{
	struct json_object *k, *r;

	put_u64(o, "elapsed_ms", elapsed_ns / 1000000);
	k = put_obj(o, "counts");
	put_u64(k, "cycles", c->cycles);
	put_u64(k, "toggles", c->toggles);
	put_u64(k, "accesses", c->accesses);
	put_u64(k, "window_hits", c->window_hits);
	put_u64(k, "ur_reads", c->ur_reads);
	put_u64(k, "ur_violations", c->ur_violations);
	put_u64(k, "faults", c->faults);
	r = put_obj(o, "rates");
	put_double(r, "cycles_per_s", bt_per_s(c->cycles, elapsed_ns));
	put_double(r, "toggles_per_s", bt_per_s(c->toggles, elapsed_ns));
	put_double(r, "accesses_per_s", bt_per_s(c->accesses, elapsed_ns));
}

const char *agent_msg_hello(struct agent_line *w, const struct agent_dev *d,
			    const char *channel, size_t *len)
{
	struct json_object *o = message("hello"), *dev;
	struct utsname uts;
	char id[8];

	uname(&uts);
	put_str(o, "agent", "bartoggle-agent");
	put_str(o, "version", bt_version);
	put_str(o, "kernel", uts.release);
	put_u64(o, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
	put_str(o, "channel", channel);
	dev = put_obj(o, "device");
	put_str(dev, "bdf", d->pci.bdf_str);
	snprintf(id, sizeof(id), "%04x", d->pci.vendor);
	put_str(dev, "vendor", id);
	snprintf(id, sizeof(id), "%04x", d->pci.device);
	put_str(dev, "device", id);
	put_u64(dev, "class", d->pci.class);
	put_u64(dev, "bar_size", d->bar_len);
	put_str(dev, "driver_unbound", d->unbound[0] ? d->unbound : NULL);
	return finish(w, o, len);
}

const char *agent_msg_progress(struct agent_line *w, const struct agent_counts *c,
			       uint64_t elapsed_ns, size_t *len)
{
	struct json_object *o = message("progress");

	counts(o, c, elapsed_ns);
	return finish(w, o, len);
}

const char *agent_msg_done(struct agent_line *w, const struct agent_opts *o,
			   const struct agent_counts *c, uint64_t elapsed_ns,
			   const char *reason, const char *error, size_t *len)
{
	struct json_object *m = message("done"), *opts;

	put_str(m, "reason", reason);
	if (error)
		put_str(m, "error", error);
	counts(m, c, elapsed_ns);
	opts = put_obj(m, "options");
	put_str(opts, "access", agent_access_name(o->access));
	put_u64(opts, "width", o->width);
	put_u64(opts, "offset", o->offset);
	put_u64(opts, "dwell_off_us", o->dwell_off_us);
	put_u64(opts, "dwell_on_us", o->dwell_on_us);
	put_u64(opts, "cycles", o->cycles);
	put_double(opts, "duration_s", o->duration_s);
	put_u64(opts, "seed", o->seed);
	json_object_object_add(opts, "hammer_cpu", json_object_new_int64(o->hammer_cpu));
	json_object_object_add(opts, "toggle_cpu", json_object_new_int64(o->toggle_cpu));
	return finish(w, m, len);
}

const char *agent_msg_error(struct agent_line *w, const char *reason, size_t *len)
{
	struct json_object *o = message("error");

	put_str(o, "reason", reason);
	return finish(w, o, len);
}

static bool blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!strchr(" \t\r", s[i]))
			return false;
	return true;
}

/* One JSON object, strictly, and nothing after it; NULL with @why. */
static struct json_object *parse_object(const char *line, size_t len, const char **why)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;

	if (memchr(line, '\0', len)) {
		*why = "NUL byte in the line";
		return NULL;
	}
	if (blank(line, len)) {
		*why = "empty line";
		return NULL;
	}
	tok = json_tokener_new_ex(AGENT_MAX_DEPTH);
	if (!tok) {
		*why = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
				    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!o) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		*why = e == json_tokener_continue ? "truncated" : json_tokener_error_desc(e);
	} else if (!json_object_is_type(o, json_type_object)) {
		*why = "not a JSON object";
		json_object_put(o);
		o = NULL;
	} else if (end < len && !blank(line + end, len - end)) {
		*why = "trailing data";
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int agent_parse_cmd(const char *line, size_t len, enum agent_cmd *cmd,
		    struct json_object **msg, char *err, size_t errlen)
{
	struct json_object *type;
	const char *why = "";
	int ret = -EINVAL;

	*msg = parse_object(line, len, &why);
	if (!*msg) {
		snprintf(err, errlen, "malformed line: %s", why);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(*msg, "type", &type) ||
	    !json_object_is_type(type, json_type_string)) {
		snprintf(err, errlen, "no \"type\" string in the message");
	} else if (!strcmp(json_object_get_string(type), "start")) {
		*cmd = AGENT_CMD_START;
		ret = 0;
	} else if (!strcmp(json_object_get_string(type), "stop")) {
		*cmd = AGENT_CMD_STOP;
		ret = 0;
	} else {
		snprintf(err, errlen, "unknown message type \"%.40s\"",
			 json_object_get_string(type));
	}
	if (ret) {
		json_object_put(*msg);
		*msg = NULL;
	}
	return ret;
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
		if (l->len == AGENT_MAX_LINE) {
			l->discarding = true;
			l->len = 0;
			too_long(ctx);
			continue;
		}
		l->buf[l->len++] = c;
	}
}
