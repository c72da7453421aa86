// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bartoggle/evidence.h"
#include "bartoggle/liveness.h"

/*
 * The host log's table knows the kernel's trouble lines; of its kinds, these
 * say something about a guest kernel (an emulated guest's IOMMU or AER
 * lines are only about its virtual hardware).
 */
static const char *const guest_kinds[] = {
	"warning", "bug", "oops", "lockup", "rcu-stall", "hung-task",
};

static const char *guest_trouble(const char *line)
{
	const char *kind;
	size_t i;

	if (strstr(line, "Kernel panic"))
		return "panic";
	kind = bt_kmsg_error_kind(line);
	for (i = 0; kind && i < sizeof(guest_kinds) / sizeof(guest_kinds[0]); i++)
		if (!strcmp(kind, guest_kinds[i]))
			return kind;
	return NULL;
}

enum bt_console_kind bt_console_line_kind(const char *line, const char **kind_name)
{
	const char *kind;

	if (!strncmp(line, BT_BEAT_PREFIX, strlen(BT_BEAT_PREFIX)))
		return BT_CONSOLE_BEAT;
	kind = guest_trouble(line);
	if (!kind)
		return BT_CONSOLE_OTHER;
	if (kind_name)
		*kind_name = kind;
	return BT_CONSOLE_TROUBLE;
}

void bt_console_init(struct bt_console *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
}

static void console_line(struct bt_console *c, char *line, uint64_t now_ns)
{
	const char *kind = NULL;
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = '\0';
	switch (bt_console_line_kind(line, &kind)) {
	case BT_CONSOLE_BEAT:
		c->beats++;
		c->last_beat_ns = now_ns;
		c->last_uptime = strtod(line + strlen(BT_BEAT_PREFIX), NULL);
		break;
	case BT_CONSOLE_TROUBLE:
		if (!strcmp(kind, "panic"))
			c->panicked = true;
		if (c->ntrouble < BT_CONSOLE_MAX_TROUBLE)
			snprintf(c->trouble[c->ntrouble++], sizeof(c->trouble[0]), "%s", line);
		break;
	case BT_CONSOLE_OTHER:
		break;
	}
}

void bt_console_feed(struct bt_console *c, const char *data, size_t n, uint64_t now_ns)
{
	size_t i;

	c->bytes += n;
	for (i = 0; i < n; i++) {
		if (data[i] == '\n') {
			c->part[c->partlen] = '\0';
			console_line(c, c->part, now_ns);
			c->partlen = 0;
		} else if (c->partlen < sizeof(c->part) - 1) {
			/* a longer line is cut: its start is what we match on */
			c->part[c->partlen++] = data[i];
		}
	}
}

void bt_console_poll(struct bt_console *c, uint64_t now_ns)
{
	char buf[8192];
	ssize_t n;

	if (c->fd < 0) {
		c->fd = open(c->path, O_RDONLY | O_CLOEXEC);
		if (c->fd < 0)
			return;
		lseek(c->fd, c->bytes, SEEK_SET);
	}
	while ((n = read(c->fd, buf, sizeof(buf))) > 0)
		bt_console_feed(c, buf, n, now_ns);
}

void bt_console_close(struct bt_console *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

enum bt_outcome bt_silence_outcome(const struct bt_silence *s, char *why, size_t len)
{
	/* Two beats may be late before the guest counts as not beating. */
	uint64_t alive_within = 2 * s->beat_period_ns + 1000000000ULL;
	double silent = s->silent_ns / 1e9;

	if (!s->vm_status) {
		snprintf(why, len, "agent silent for %.0f s and QEMU did not answer QMP", silent);
		return BT_OUTCOME_GUEST_HANG;
	}
	if (!strcmp(s->vm_status, "guest-panicked") || s->panicked) {
		snprintf(why, len, "agent silent for %.0f s; the guest kernel panicked (%s)",
			 silent, s->panicked ? "console" : "QMP status guest-panicked");
		return BT_OUTCOME_GUEST_PANIC;
	}
	if (strcmp(s->vm_status, "running")) {
		snprintf(why, len, "agent silent for %.0f s; the VM is not running (QMP status %s)",
			 silent, s->vm_status);
		return BT_OUTCOME_VM_STOPPED;
	}
	if (s->beats_while_silent && s->last_beat_age_ns <= alive_within) {
		snprintf(why, len, "agent silent for %.0f s while the guest kernel kept beating "
			 "(%llu beats, the last %.1f s ago)", silent,
			 (unsigned long long)s->beats_while_silent, s->last_beat_age_ns / 1e9);
		return BT_OUTCOME_AGENT_STALLED;
	}
	if (s->last_beat_age_ns == UINT64_MAX)
		snprintf(why, len, "agent silent for %.0f s and the guest console never beat", silent);
	else
		snprintf(why, len, "agent silent for %.0f s and the guest console silent too "
			 "(last beat %.1f s ago)", silent, s->last_beat_age_ns / 1e9);
	return BT_OUTCOME_GUEST_HANG;
}
