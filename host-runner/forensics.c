// SPDX-License-Identifier: GPL-2.0
/*
 * Hang forensics: when the agent goes silent, and before the VM is stopped,
 * ask QEMU and the guest kernel where everything is. QMP's run state and
 * vCPU list, every vCPU's registers and local APIC and the interrupt
 * controllers (HMP through QMP), and the guest's own task and CPU dumps
 * (sysrq t, w, l typed on its keyboard, or, when that gets no answer, the
 * panic dump an NMI provokes; the guest kernel prints them on the console,
 * which QEMU writes to console.log). Each answer is a file in
 * <run>/forensics/; the record names them.
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
/* An NMI was seen to get no answer now and then; the next one does. */
#define NMI_TRIES		3

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

/*
 * What the console gained from @from on (the guest's dumps, and its beats)
 * into @name; true when it holds @answer, the guest's sign that it acted.
 */
static bool save_console_tail(struct forensics *f, struct bt_console *con, uint64_t from,
			      const char *name, const char *answer, uint64_t *bytes)
{
	uint64_t n = con->bytes - from;
	bool answered;
	char *text;
	ssize_t got;
	int fd;

	*bytes = 0;
	if (!n)
		return false;
	fd = open(con->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	text = malloc(n + 1);
	BT_ASSERT(text, "out of memory");
	got = pread(fd, text, n, from);
	close(fd);
	text[got > 0 ? got : 0] = '\0';
	save(f, name, text);
	*bytes = got > 0 ? got : 0;
	answered = strstr(text, answer);
	free(text);
	return answered;
}

/*
 * The guest prints a dump some time after its key or NMI arrives: wait for
 * output that then pauses (its beat alone does not count as the answer), or
 * for the bound.
 */
static void wait_console_quiet(struct bt_console *con)
{
	uint64_t t0 = bt_now_ns(), quiet_since = t0, start = con->bytes, last_size = start;

	for (;;) {
		uint64_t now;

		usleep(100000);
		now = bt_now_ns();
		bt_console_poll(con, now);
		if (con->bytes != last_size) {
			last_size = con->bytes;
			quiet_since = now;
		}
		if (now - t0 > SYSRQ_MAX_NS ||
		    (con->bytes - start > 256 && now - quiet_since > SYSRQ_QUIET_NS))
			return;
	}
}

/* An HMP command through QMP: its text (malloc'd), or NULL. */
static char *hmp(struct forensics *f, const char *cmdline)
{
	struct json_object *cmd = json_object_new_object(), *args, *o, *ret;
	char *text = NULL;

	json_object_object_add(cmd, "execute", json_object_new_string("human-monitor-command"));
	args = json_object_new_object();
	json_object_object_add(args, "command-line", json_object_new_string(cmdline));
	json_object_object_add(cmd, "arguments", args);
	o = ask(f, json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN), NULL);
	if (o && json_object_object_get_ex(o, "return", &ret))
		text = strdup(json_object_get_string(ret));
	json_object_put(o);
	json_object_put(cmd);
	return text;
}

/*
 * Every vCPU's registers and local APIC (its timer and pending interrupts:
 * a guest whose timers stopped firing looks exactly like a hung one), and
 * the interrupt controllers.
 */
static void save_cpu_state(struct forensics *f, int ncpus)
{
	char *text, *all = NULL, cmd[32];
	size_t len = 0;
	FILE *m;
	int i;

	text = hmp(f, "info registers -a");
	if (text)
		save(f, "registers.txt", text);
	free(text);
	m = open_memstream(&all, &len);
	for (i = 0; i < ncpus && !f->qmp_dead; i++) {
		snprintf(cmd, sizeof(cmd), "info lapic %d", i);
		text = hmp(f, cmd);
		fprintf(m, "== CPU %d: %s ==\n%s\n", i, cmd, text ? text : "(no answer)");
		free(text);
	}
	fclose(m);
	if (ncpus && !f->qmp_dead)
		save(f, "lapic.txt", all);
	free(all);
	text = hmp(f, "info pic");
	if (text)
		save(f, "pic.txt", text);
	free(text);
}

#define MAX_VIRTQUEUES	16

/*
 * The agent's channel on QEMU's side: is its chardev connected, and what
 * every virtqueue holds (the agent's port is virtio-serial's queues 4 and
 * 5): a guest that wrote lines QEMU never took shows as last-avail-idx
 * behind shadow-avail-idx; lines QEMU took but never wrote out, as a
 * connected chardev and nothing arriving.
 */
static void save_channel_state(struct forensics *f)
{
	struct json_object *list, *ret, *all = json_object_new_array();
	char *text = hmp(f, "info chardev"), cmd[512];
	size_t i;
	int q;

	if (text)
		save(f, "chardev.txt", text);
	free(text);
	list = ask(f, "{\"execute\":\"x-query-virtio\"}", NULL);
	if (!list || !json_object_object_get_ex(list, "return", &ret) ||
	    !json_object_is_type(ret, json_type_array)) {
		json_object_put(list);
		json_object_put(all);
		return;
	}
	for (i = 0; i < json_object_array_length(ret) && !f->qmp_dead; i++) {
		const char *path = json_object_get_string(json_object_object_get(
			json_object_array_get_idx(ret, i), "path"));
		struct json_object *dev = json_object_new_object(), *queues = json_object_new_array();
		struct json_object *o, *r;

		json_object_object_add(dev, "path", json_object_new_string(path));
		snprintf(cmd, sizeof(cmd), "{\"execute\":\"x-query-virtio-status\","
			 "\"arguments\":{\"path\":\"%s\"}}", path);
		o = ask(f, cmd, NULL);
		if (o && json_object_object_get_ex(o, "return", &r))
			json_object_object_add(dev, "status", json_object_get(r));
		json_object_put(o);
		for (q = 0; q < MAX_VIRTQUEUES && !f->qmp_dead; q++) {
			snprintf(cmd, sizeof(cmd), "{\"execute\":\"x-query-virtio-queue-status\","
				 "\"arguments\":{\"path\":\"%s\",\"queue\":%d}}", path, q);
			o = ask(f, cmd, NULL);
			if (!o || !json_object_object_get_ex(o, "return", &r)) {
				json_object_put(o);
				break;	/* past the last queue */
			}
			json_object_array_add(queues, json_object_get(r));
			json_object_put(o);
		}
		json_object_object_add(dev, "queues", queues);
		json_object_array_add(all, dev);
	}
	json_object_put(list);
	save(f, "virtio.json", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY));
	json_object_put(all);
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
	int ncpus = 0;

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
	o = ask(&f, "{\"execute\":\"query-cpus-fast\"}", "qmp-cpus.json");
	if (o && json_object_object_get_ex(o, "return", &ret) &&
	    json_object_is_type(ret, json_type_array))
		ncpus = json_object_array_length(ret);
	json_object_put(o);
	save_cpu_state(&f, ncpus);
	save_channel_state(&f);

	bt_console_poll(con, bt_now_ns());
	mark = con->bytes;
	/* One key at a time: a key typed while the last dump is still being
	 * printed was seen to be lost. */
	for (i = 0; i < sizeof(sysrq_keys) / sizeof(sysrq_keys[0]) && !f.qmp_dead; i++) {
		send_sysrq(&f, sysrq_keys[i]);
		wait_console_quiet(con);
	}
	out->sysrq_answered = save_console_tail(&f, con, mark, "sysrq.txt", "sysrq: ",
						&out->sysrq_bytes);
	if (out->sysrq_answered || f.qmp_dead)
		return;

	/*
	 * The guest printed nothing for its keyboard: its interrupts are not
	 * getting through. An NMI does; the guest boots with
	 * unknown_nmi_panic and panic_print, so it dumps every task, its
	 * timers and every CPU's backtrace, then stops (it was going to be
	 * stopped anyway). Events from here on are the dump's, not the run's.
	 */
	f.other = NULL;
	mark = con->bytes;
	/* pvpanic tells QEMU at the start of the panic, and QEMU's default is
	 * to stop the guest there: before it has printed anything. */
	json_object_put(ask(&f, "{\"execute\":\"set-action\",\"arguments\":{\"panic\":\"none\"}}",
			    NULL));
	for (i = 0; i < NMI_TRIES && !f.qmp_dead && !out->nmi_answered; i++) {
		json_object_put(ask(&f, "{\"execute\":\"inject-nmi\"}", NULL));
		wait_console_quiet(con);
		out->nmi_answered = save_console_tail(&f, con, mark, "nmi-panic.txt",
						      "Kernel panic", &out->nmi_bytes);
		out->nmis = i + 1;
	}
}
