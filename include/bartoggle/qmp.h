/* SPDX-License-Identifier: GPL-2.0 */
/* A small QMP client: one connection, line-based, json-c for parsing. */
#ifndef BARTOGGLE_QMP_H
#define BARTOGGLE_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bt_qmp_kind { BT_QMP_GREETING, BT_QMP_RETURN, BT_QMP_ERROR, BT_QMP_EVENT };

struct bt_qmp_msg {
	enum bt_qmp_kind kind;
	char event[48];		/* events: STOP, SHUTDOWN, GUEST_PANICKED, ... */
	char status[32];	/* query-status return: "running", "internal-error" */
	bool running;
	char reason[48];	/* SHUTDOWN reason, GUEST_PANICKED action */
	char error[160];	/* error desc */
	char version[32];	/* greeting: "7.2.22" */
	double time;		/* event timestamp, seconds */
};

/* Parse one QMP line. 0, or -EINVAL when it is not a QMP message. */
int bt_qmp_parse(const char *line, struct bt_qmp_msg *m);

struct bt_qmp {
	int fd;
	char buf[65536];
	size_t len;
};

/* Connect to a QMP unix socket, waiting up to @timeout_ms for it to exist,
 * and negotiate capabilities. 0 or -errno. */
int bt_qmp_connect(struct bt_qmp *q, const char *path, int timeout_ms,
		   struct bt_qmp_msg *greeting);
int bt_qmp_send(struct bt_qmp *q, const char *command);	/* {"execute": ...} */
/* Next complete line within @timeout_ms: 1, 0 on timeout, -errno (EOF: -EPIPE). */
int bt_qmp_read_line(struct bt_qmp *q, char *line, size_t len, int timeout_ms);
/*
 * Run one command and wait up to @timeout_ms for its own answer: @command is
 * the "execute" object without an "id", one is added to tell its answer from
 * that of a command sent earlier. The answer line ({"return"...} or
 * {"error"...}) goes into @reply; every other line read meanwhile (events,
 * older answers) goes to @other, which may be NULL. 0 when answered (check
 * the line for "error"), -ETIMEDOUT, or -errno (EOF: -EPIPE).
 */
int bt_qmp_execute(struct bt_qmp *q, const char *command, char *reply, size_t len,
		   int timeout_ms, void (*other)(void *ctx, const char *line), void *ctx);
void bt_qmp_close(struct bt_qmp *q);

/* Shared with the agent channel: a unix stream socket, retried until @timeout_ms. */
int bt_unix_connect(const char *path, int timeout_ms);
/* Split complete lines out of @buf (len bytes): like bt_qmp_read_line. */
int bt_fd_read_line(int fd, char *buf, size_t cap, size_t *blen, char *line,
		    size_t len, int timeout_ms);

#endif
