/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Is the guest alive when the agent goes silent? The guest's /init prints
 * "BT1 beat <uptime>" on its console every 2 s from a shell loop of its own,
 * independent of the agent's threads; the runner follows the console log and
 * decides from that beat, QMP's run state and the console's kernel lines
 * which way a silent agent ended.
 */
#ifndef BARTOGGLE_LIVENESS_H
#define BARTOGGLE_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bartoggle/outcome.h"

#define BT_BEAT_PREFIX		"BT1 beat "
#define BT_CONSOLE_MAX_TROUBLE	8

/* What a guest console line is: a beat, kernel trouble, or nothing to us. */
enum bt_console_kind { BT_CONSOLE_OTHER, BT_CONSOLE_BEAT, BT_CONSOLE_TROUBLE };

/* @kind_name gets the trouble's kind ("panic", "lockup", ...) for TROUBLE. */
enum bt_console_kind bt_console_line_kind(const char *line, const char **kind_name);

/* Follows a console log file as QEMU writes it. */
struct bt_console {
	int fd;
	char path[4096];
	char part[1024];	/* a line not yet ended */
	size_t partlen;
	uint64_t bytes;		/* read so far: an offset into the file */
	uint64_t beats;
	uint64_t last_beat_ns;	/* host CLOCK_MONOTONIC; 0: none yet */
	double last_uptime;	/* the guest's uptime in the last beat */
	bool panicked;
	int ntrouble;
	char trouble[BT_CONSOLE_MAX_TROUBLE][256];	/* first lines of concern */
};

/* Watch @path (it may not exist yet: QEMU creates it). */
void bt_console_init(struct bt_console *c, const char *path);
/* Read what was added since the last call; @now_ns stamps beats. */
void bt_console_poll(struct bt_console *c, uint64_t now_ns);
/* Feed bytes directly (what bt_console_poll does with the file's). */
void bt_console_feed(struct bt_console *c, const char *data, size_t n, uint64_t now_ns);
void bt_console_close(struct bt_console *c);

/* What the runner knows when the agent has been silent for too long. */
struct bt_silence {
	const char *vm_status;	/* QMP query-status "status"; NULL: no answer */
	uint64_t silent_ns;	/* since the agent's last line */
	uint64_t beats_while_silent;	/* console beats since the agent's last line */
	uint64_t last_beat_age_ns;	/* UINT64_MAX: never beat */
	uint64_t beat_period_ns;	/* the guest beats this often */
	bool panicked;		/* the console shows a kernel panic */
};

/*
 * The outcome of a silence: the VM not running -> vm-stopped (guest-panic
 * when QEMU says guest-panicked, or the console shows a panic); QEMU not
 * answering QMP, or a running guest whose console beat stopped too ->
 * guest-hang; a running guest still beating -> agent-stalled. @why gets one
 * line saying what decided it.
 */
enum bt_outcome bt_silence_outcome(const struct bt_silence *s, char *why, size_t len);

#endif
