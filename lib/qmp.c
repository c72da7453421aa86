// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bartoggle/qmp.h"
#include "bartoggle/stats.h"

static void copy_str(struct json_object *o, const char *key, char *out, size_t len)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, len, "%s", json_object_get_string(v));
}

int bt_qmp_parse(const char *line, struct bt_qmp_msg *m)
{
	struct json_object *o = json_tokener_parse(line), *v, *d;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "QMP", &v)) {
		m->kind = BT_QMP_GREETING;
		if (json_object_object_get_ex(v, "version", &d) &&
		    json_object_object_get_ex(d, "qemu", &d)) {
			snprintf(m->version, sizeof(m->version), "%d.%d.%d",
				 json_object_get_int(json_object_object_get(d, "major")),
				 json_object_get_int(json_object_object_get(d, "minor")),
				 json_object_get_int(json_object_object_get(d, "micro")));
		}
	} else if (json_object_object_get_ex(o, "event", &v)) {
		m->kind = BT_QMP_EVENT;
		copy_str(o, "event", m->event, sizeof(m->event));
		if (json_object_object_get_ex(o, "timestamp", &d))
			m->time = json_object_get_int64(json_object_object_get(d, "seconds")) +
				  json_object_get_int64(json_object_object_get(d, "microseconds")) / 1e6;
		if (json_object_object_get_ex(o, "data", &d)) {
			copy_str(d, "reason", m->reason, sizeof(m->reason));
			copy_str(d, "action", m->reason, sizeof(m->reason));
		}
	} else if (json_object_object_get_ex(o, "return", &v)) {
		m->kind = BT_QMP_RETURN;
		if (json_object_is_type(v, json_type_object)) {
			copy_str(v, "status", m->status, sizeof(m->status));
			m->running = json_object_get_boolean(json_object_object_get(v, "running"));
		}
	} else if (json_object_object_get_ex(o, "error", &v)) {
		m->kind = BT_QMP_ERROR;
		copy_str(v, "desc", m->error, sizeof(m->error));
	} else {
		ret = -EINVAL;
	}
	json_object_put(o);
	return ret;
}

int bt_unix_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = bt_now_ns() + (uint64_t)timeout_ms * 1000000;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		if (bt_now_ns() >= deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

int bt_fd_read_line(int fd, char *buf, size_t cap, size_t *blen, char *line,
		    size_t len, int timeout_ms)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *blen);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t l = nl - buf, c = l < len - 1 ? l : len - 1;

			memcpy(line, buf, c);
			line[c] = '\0';
			memmove(buf, nl + 1, *blen - l - 1);
			*blen -= l + 1;
			return 1;
		}
		if (*blen == cap)	/* a line longer than the buffer: drop it */
			*blen = 0;
		n = poll(&pfd, 1, timeout_ms);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		if (!n)
			return 0;
		n = read(fd, buf + *blen, cap - *blen);
		if (n < 0)
			return errno == EINTR || errno == EAGAIN ? 0 : -errno;
		if (!n)
			return -EPIPE;
		*blen += n;
		timeout_ms = 0;	/* what follows is already here or not */
	}
}

int bt_qmp_read_line(struct bt_qmp *q, char *line, size_t len, int timeout_ms)
{
	return bt_fd_read_line(q->fd, q->buf, sizeof(q->buf), &q->len, line, len,
			       timeout_ms);
}

int bt_qmp_send(struct bt_qmp *q, const char *command)
{
	size_t len = strlen(command);

	if (write(q->fd, command, len) != (ssize_t)len || write(q->fd, "\n", 1) != 1)
		return -errno ? -errno : -EIO;
	return 0;
}

int bt_qmp_connect(struct bt_qmp *q, const char *path, int timeout_ms,
		   struct bt_qmp_msg *greeting)
{
	char line[4096];
	struct bt_qmp_msg m;
	int ret;

	q->len = 0;
	q->fd = bt_unix_connect(path, timeout_ms);
	if (q->fd < 0)
		return q->fd;
	ret = bt_qmp_read_line(q, line, sizeof(line), timeout_ms);
	if (ret <= 0 || bt_qmp_parse(line, greeting) || greeting->kind != BT_QMP_GREETING)
		goto fail;
	ret = bt_qmp_send(q, "{\"execute\":\"qmp_capabilities\"}");
	if (ret)
		goto fail;
	for (;;) {
		ret = bt_qmp_read_line(q, line, sizeof(line), timeout_ms);
		if (ret <= 0 || bt_qmp_parse(line, &m))
			goto fail;
		if (m.kind == BT_QMP_RETURN)
			return 0;
		if (m.kind == BT_QMP_ERROR)
			goto fail;
	}
fail:
	bt_qmp_close(q);
	return ret < 0 ? ret : -EPROTO;
}

static bool has_id(const char *line, const char *id)
{
	struct json_object *o = json_tokener_parse(line), *v;
	bool ret = o && json_object_object_get_ex(o, "id", &v) &&
		   json_object_is_type(v, json_type_string) &&
		   !strcmp(json_object_get_string(v), id);

	json_object_put(o);
	return ret;
}

int bt_qmp_execute(struct bt_qmp *q, const char *command, char *reply, size_t len,
		   int timeout_ms, void (*other)(void *ctx, const char *line), void *ctx)
{
	uint64_t deadline = bt_now_ns() + (uint64_t)timeout_ms * 1000000;
	struct json_object *cmd = json_tokener_parse(command);
	static unsigned seq;
	char id[32];
	int ret;

	if (!cmd || !json_object_is_type(cmd, json_type_object)) {
		json_object_put(cmd);
		return -EINVAL;
	}
	snprintf(id, sizeof(id), "bt-%d-%u", getpid(), ++seq);
	json_object_object_add(cmd, "id", json_object_new_string(id));
	ret = bt_qmp_send(q, json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN));
	json_object_put(cmd);
	while (!ret) {
		uint64_t now = bt_now_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		ret = bt_qmp_read_line(q, reply, len, (deadline - now) / 1000000 + 1);
		if (ret < 0)
			return ret;
		if (!ret)
			continue;
		if (has_id(reply, id))
			return 0;
		if (other)
			other(ctx, reply);
		ret = 0;
	}
	return ret;
}

void bt_qmp_close(struct bt_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}
