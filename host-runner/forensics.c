// SPDX-License-Identifier: GPL-2.0
/*
 * Hang forensics: when the agent goes silent, and before the VM is stopped,
 * ask QEMU and the guest kernel where everything is. QMP's run state and
 * vCPU list, every vCPU's registers (HMP through QMP), and the guest's own
 * task and CPU dumps (sysrq t, w, l typed on its keyboard; the guest kernel
 * prints them on the console, which QEMU writes to console.log). Each answer
 * is a file in <run>/forensics/; the record names them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "runner.h"

#define FORENSICS_QMP_MS	5000
/* The dumps are printed when the key arrives; a quiet console ends them. */
#define SYSRQ_QUIET_NS		1000000000ULL
#define SYSRQ_MAX_NS		5000000000ULL

static const char *const sysrq_keys[] = {
	"t",	/* every task's state and stack */
	"w",	/* tasks blocked in uninterruptible sleep */
	"l",	/* a backtrace of every CPU */
};

struct forensics {
	struct bt_qmp *qmp;
	const char *dir;
	struct json_object *files;
	void (*other)(void *ctx, const char *line);
	void *ctx;
	bool qmp_dead;
};

static void save(struct forensics *f, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	ret = __bt_write_file_atomic(path, text);
	if (ret) {
		bt_warn("forensics: cannot write %s: %s", path, strerror(-ret));
		return;
	}
	json_object_array_add(f->files, json_object_new_string(name));
}

/* One QMP command; its answer (parsed) or NULL. Saved as @name if given. */
static struct json_object *ask(struct forensics *f, const char *command, const char *name)
{
	static char reply[1 << 20];
	struct json_object *o;
	int ret;

	if (f->qmp_dead)
		return NULL;
	ret = bt_qmp_execute(f->qmp, command, reply, sizeof(reply), FORENSICS_QMP_MS,
			     f->other, f->ctx);
	if (ret) {
		/* A QEMU that does not answer one will not answer the next. */
		bt_warn("forensics: %s: %s", command, strerror(-ret));
		f->qmp_dead = true;
		return NULL;
	}
	o = json_tokener_parse(reply);
	if (name && o)
		save(f, name, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	return o;
}

static void send_sysrq(struct forensics *f, const char *key)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"send-key\",\"arguments\":{\"keys\":["
		 "{\"type\":\"qcode\",\"data\":\"alt\"},"
		 "{\"type\":\"qcode\",\"data\":\"sysrq\"},"
		 "{\"type\":\"qcode\",\"data\":\"%s\"}]}}", key);
	json_object_put(ask(f, cmd, NULL));
}

/* What the console gained from @from on: the guest's dumps. */
static uint64_t save_console_tail(struct forensics *f, struct bt_console *con, uint64_t from)
{
	char *text;
	uint64_t n = con->bytes - from;
	ssize_t got;
	int fd;

	if (!n)
		return 0;
	fd = open(con->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	text = malloc(n + 1);
	BT_ASSERT(text, "out of memory");
	got = pread(fd, text, n, from);
	close(fd);
	text[got > 0 ? got : 0] = '\0';
	save(f, "sysrq.txt", text);
	free(text);
	return got > 0 ? got : 0;
}

/* The guest prints a dump when its key arrives: until the console is quiet. */
static void wait_console_quiet(struct bt_console *con)
{
	uint64_t t0 = bt_now_ns(), quiet_since = t0, last_size = con->bytes;

	for (;;) {
		uint64_t now;

		usleep(100000);
		now = bt_now_ns();
		bt_console_poll(con, now);
		if (con->bytes != last_size) {
			last_size = con->bytes;
			quiet_since = now;
		}
		if (now - quiet_since > SYSRQ_QUIET_NS || now - t0 > SYSRQ_MAX_NS)
			return;
	}
}

void collect_forensics(struct bt_qmp *qmp, struct bt_console *con, const char *run_dir,
		       void (*other)(void *ctx, const char *line), void *ctx,
		       struct hang_report *out)
{
	char dir[PATH_MAX];
	struct forensics f = { .qmp = qmp, .dir = dir, .other = other, .ctx = ctx };
	struct json_object *o, *ret;
	uint64_t mark;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/forensics", run_dir);
	mkdir(dir, 0755);
	f.files = json_object_new_array();
	out->files = f.files;
	out->vm_status[0] = '\0';
	out->answered_qmp = false;

	o = ask(&f, "{\"execute\":\"query-status\"}", "qmp-status.json");
	if (o && json_object_object_get_ex(o, "return", &ret)) {
		snprintf(out->vm_status, sizeof(out->vm_status), "%s",
			 json_object_get_string(json_object_object_get(ret, "status")));
		out->answered_qmp = true;
	}
	json_object_put(o);
	json_object_put(ask(&f, "{\"execute\":\"query-cpus-fast\"}", "qmp-cpus.json"));
	o = ask(&f, "{\"execute\":\"human-monitor-command\","
		"\"arguments\":{\"command-line\":\"info registers -a\"}}", NULL);
	if (o && json_object_object_get_ex(o, "return", &ret))
		save(&f, "registers.txt", json_object_get_string(ret));
	json_object_put(o);

	bt_console_poll(con, bt_now_ns());
	mark = con->bytes;
	/* One key at a time: a key typed while the last dump is still being
	 * printed was seen to be lost. */
	for (i = 0; i < sizeof(sysrq_keys) / sizeof(sysrq_keys[0]) && !f.qmp_dead; i++) {
		send_sysrq(&f, sysrq_keys[i]);
		wait_console_quiet(con);
	}
	out->sysrq_bytes = save_console_tail(&f, con, mark);
}
