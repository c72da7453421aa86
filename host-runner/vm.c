// SPDX-License-Identifier: GPL-2.0
/*
 * One iteration: boot QEMU with the device, drive the agent, watch every
 * way the VM can die at once (QMP events and status, QEMU's exit and stderr,
 * the host kernel log, the agent's heartbeat), and turn what was seen into
 * an outcome. Whatever happens, QEMU is stopped by its own PID before this
 * returns: QMP quit first, then SIGTERM, then SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bartoggle/agentmsg.h"
#include "bartoggle/evidence.h"
#include "bartoggle/log.h"
#include "bartoggle/parse.h"
#include "bartoggle/qmp.h"
#include "bartoggle/record.h"
#include "bartoggle/thin.h"
#include "runner.h"

#define QMP_TIMEOUT_MS		15000
#define QUIT_GRACE_MS		5000
#define PROGRESS_EVERY_NS	1000000000ULL
/* progress.jsonl during an iteration: thinned with age to this many lines
 * whenever twice as many are there (bounded disk over a days-long run). */
#define PROGRESS_LINES		1024
/* Logs nobody writes any more: their first and last part. */
#define LOG_HEAD_BYTES		(256 * 1024)
#define LOG_TAIL_BYTES		(256 * 1024)
/* scripts/guest/frame.sh: "BT1 beat" every 2 s. */
#define GUEST_BEAT_PERIOD_NS	2000000000ULL

struct vm {
	pid_t pid;
	int status;
	bool exited;
	bool quitting;
	int err_fd;
	char errbuf[16384];
	size_t errlen;
	FILE *qemu_log;
	struct bt_qmp qmp;
	int agent_fd;
	char abuf[65536];
	size_t alen;
	struct bt_kmsg kmsg;
	struct bt_console console;	/* the guest's own heartbeat */
	bool agent_eof;
	uint64_t agent_lines;		/* received from the agent */
	uint64_t agent_bytes;
	char sockdir[64];
	char qmp_path[96];
	char agent_path[96];
};

static void add_arg(char **argv, int *argc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_arg(char **argv, int *argc, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	BT_ASSERT(s, "out of memory");
	argv[(*argc)++] = s;
}

static int build_argv(const struct run_env *env, const struct iteration *it,
		      const struct vm *vm, char **argv)
{
	const struct bt_config *c = env->cfg;
	char extra[sizeof(c->qemu_args)], dir[PATH_MAX], *tok, *save = NULL;
	const char *firmware = c->qemu_firmware;
	int n = 0;

	add_arg(argv, &n, "%s", c->qemu[it->qemu]);
	if (!strcmp(env->accel, "kvm")) {
		add_arg(argv, &n, "-accel");
		add_arg(argv, &n, "kvm");
		add_arg(argv, &n, "-cpu");
		add_arg(argv, &n, "host");
	} else {
		add_arg(argv, &n, "-accel");
		add_arg(argv, &n, "tcg,thread=%s", c->tcg_thread);
		add_arg(argv, &n, "-cpu");
		add_arg(argv, &n, "max");
	}
	/* Tells --restore this QEMU is a runner's, and whose. */
	add_arg(argv, &n, "-name");
	add_arg(argv, &n, RUN_QEMU_NAME "%d", (int)getpid());
	while (n < 40 && (firmware = bt_next_field(firmware, ':', dir, sizeof(dir)))) {
		add_arg(argv, &n, "-L");
		add_arg(argv, &n, "%s", dir);
	}
	add_arg(argv, &n, "-machine");
	add_arg(argv, &n, "q35");
	add_arg(argv, &n, "-smp");
	add_arg(argv, &n, "%llu", (unsigned long long)c->smp);
	add_arg(argv, &n, "-m");
	add_arg(argv, &n, "%llu", (unsigned long long)c->memory_mb);
	add_arg(argv, &n, "-nographic");
	add_arg(argv, &n, "-nodefaults");
	add_arg(argv, &n, "-no-reboot");
	add_arg(argv, &n, "-kernel");
	add_arg(argv, &n, "%s/vmlinuz", env->image);
	add_arg(argv, &n, "-initrd");
	add_arg(argv, &n, "%s/initramfs.cpio.gz", env->image);
	add_arg(argv, &n, "-append");
	/*
	 * idle=poll under TCG: see guest_tcg_cmdline in scripts/lib/guest.sh.
	 * sysrq_always_enabled: the hang forensics type sysrq t/w/l;
	 * unknown_nmi_panic, panic_print: tasks, timers and every CPU's
	 * backtrace after their NMI, when the keyboard gets no answer.
	 */
	add_arg(argv, &n, "console=ttyS0 panic=-1 sysrq_always_enabled unknown_nmi_panic "
		"panic_print=0x45 bt.mode=serve bt.id=%s%s%s%s",
		env->device_id, strcmp(env->accel, "kvm") ? " idle=poll" : "",
		c->guest_cmdline[0] ? " " : "", c->guest_cmdline);
	add_arg(argv, &n, "-serial");
	add_arg(argv, &n, "file:%s/console.log", it->dir);
	add_arg(argv, &n, "-serial");
	add_arg(argv, &n, "file:%s/frames.log", it->dir);
	add_arg(argv, &n, "-qmp");
	add_arg(argv, &n, "unix:%s,server=on,wait=off", vm->qmp_path);
	add_arg(argv, &n, "-device");
	add_arg(argv, &n, "virtio-serial-pci");
	add_arg(argv, &n, "-chardev");
	add_arg(argv, &n, "socket,id=agent,path=%s,server=on,wait=off", vm->agent_path);
	add_arg(argv, &n, "-device");
	add_arg(argv, &n, "virtserialport,chardev=agent,name=%s", RUN_AGENT_PORT);
	add_arg(argv, &n, "-device");
	add_arg(argv, &n, "pvpanic-pci");
	add_arg(argv, &n, "-device");
	if (c->emulated[0])
		add_arg(argv, &n, "%s", c->emulated);
	else
		add_arg(argv, &n, "vfio-pci,host=%s%s", c->bdf, c->no_mmap ? ",x-no-mmap=on" : "");
	snprintf(extra, sizeof(extra), "%s", c->qemu_args);
	for (tok = strtok_r(extra, " \t", &save); tok && n < 90;
	     tok = strtok_r(NULL, " \t", &save))
		add_arg(argv, &n, "%s", tok);
	argv[n] = NULL;
	return n;
}

static void write_cmdline(const struct iteration *it, char **argv, int argc)
{
	char path[PATH_MAX + 16];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/qemu.cmdline", it->dir);
	f = fopen(path, "w");
	if (!f)
		return;
	for (i = 0; i < argc; i++)
		fprintf(f, "%s%s", i ? " " : "", argv[i]);
	fputc('\n', f);
	fclose(f);
}

static int spawn(const struct run_env *env, struct iteration *it, struct vm *vm)
{
	char *argv[96], path[PATH_MAX + 16];
	int pipefd[2], argc, i;
	pid_t parent;

	argc = build_argv(env, it, vm, argv);
	write_cmdline(it, argv, argc);
	snprintf(path, sizeof(path), "%s/qemu.log", it->dir);
	vm->qemu_log = fopen(path, "w");
	if (pipe2(pipefd, O_CLOEXEC)) {
		snprintf(it->agent_error, sizeof(it->agent_error), "pipe: %s", strerror(errno));
		return -errno;
	}
	parent = getpid();
	vm->pid = fork();
	if (vm->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		/* Dies with the runner, SIGKILL included; a runner already gone
		 * before the request took effect is caught by the parent check. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(127);
		/* Its own process group: a Ctrl-C is the runner's to handle. */
		setpgid(0, 0);
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	if (vm->pid < 0) {
		close(pipefd[0]);
		return -errno;
	}
	write_qemu_pidfile(env->pidfile, vm->pid);
	vm->err_fd = pipefd[0];
	fcntl(vm->err_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

static void note_event(struct iteration *it, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_event(struct iteration *it, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_array_add(it->events, json_object_new_string(buf));
}

static void set_outcome(struct iteration *it, enum bt_outcome outcome, uint64_t t0)
{
	if (bt_outcome_worse(it->outcome, outcome) == it->outcome && it->outcome != outcome)
		return;
	if (it->fail_ms < 0 && outcome != BT_OUTCOME_SURVIVED) {
		it->fail_ms = (bt_now_ns() - t0) / 1e6;
		it->fail_cycle = it->counts.cycles;
	}
	it->outcome = outcome;
}

/* QEMU's stderr: kept verbatim in qemu.log, known lines become evidence. */
static void drain_stderr(struct vm *vm, struct iteration *it)
{
	for (;;) {
		ssize_t n = read(vm->err_fd, vm->errbuf + vm->errlen,
				 sizeof(vm->errbuf) - 1 - vm->errlen);
		char *line, *nl;

		if (n <= 0)
			break;
		vm->errlen += n;
		vm->errbuf[vm->errlen] = '\0';
		line = vm->errbuf;
		while ((nl = strchr(line, '\n'))) {
			const char *meaning;

			*nl = '\0';
			if (vm->qemu_log)
				fprintf(vm->qemu_log, "%s\n", line);
			meaning = bt_qemu_signature(line);
			if (meaning && !it->signature[0]) {
				snprintf(it->signature, sizeof(it->signature), "%s", line);
				snprintf(it->cause, sizeof(it->cause), "%s", meaning);
			}
			line = nl + 1;
		}
		vm->errlen -= line - vm->errbuf;
		memmove(vm->errbuf, line, vm->errlen);
		if (vm->errlen == sizeof(vm->errbuf) - 1)
			vm->errlen = 0;	/* a line longer than the buffer */
	}
	if (vm->qemu_log)
		fflush(vm->qemu_log);
}

static void drain_kmsg(struct vm *vm, struct iteration *it, uint64_t t0)
{
	char text[1024];
	int level;

	if (vm->kmsg.fd < 0)
		return;
	while (bt_kmsg_next(&vm->kmsg, text, sizeof(text), &level) > 0) {
		const char *kind = bt_kmsg_error_kind(text);

		if (!kind)
			continue;
		json_object_array_add(it->kmsg, json_object_new_string(text));
		if (!it->signature[0] || it->outcome == BT_OUTCOME_SURVIVED)
			snprintf(it->signature, sizeof(it->signature), "host kernel: %s", text);
		set_outcome(it, BT_OUTCOME_HOST_ERROR, t0);
	}
}

static bool reap(struct vm *vm)
{
	if (!vm->exited && waitpid(vm->pid, &vm->status, WNOHANG) == vm->pid)
		vm->exited = true;
	return vm->exited;
}

/* Stop QEMU, gently first; always by its own PID. */
static void stop_qemu(struct vm *vm)
{
	uint64_t deadline;

	if (vm->pid <= 0 || reap(vm))
		return;
	vm->quitting = true;
	if (vm->qmp.fd >= 0)
		bt_qmp_send(&vm->qmp, "{\"execute\":\"quit\"}");
	deadline = bt_now_ns() + QUIT_GRACE_MS * 1000000ULL;
	while (!reap(vm) && bt_now_ns() < deadline)
		usleep(20000);
	if (!reap(vm)) {
		kill(vm->pid, SIGTERM);
		usleep(500000);
	}
	if (!reap(vm)) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, &vm->status, 0);
		vm->exited = true;
	}
}

static void send_agent(struct vm *vm, const char *line)
{
	size_t len = strlen(line);

	if (write(vm->agent_fd, line, len) != (ssize_t)len)
		bt_debug("agent write: %s", strerror(errno));
}

static void start_agent(const struct run_env *env, const struct iteration *it, struct vm *vm)
{
	const struct bt_config *c = env->cfg;
	struct json_object *m = json_object_new_object();
	char *line;

	bt_json_set_str(m, "type", "start");
	if (c->cycles)
		bt_json_set_u64(m, "cycles", c->cycles);
	if (it->run_for_s > 0)
		bt_json_set_double(m, "duration_s", it->run_for_s);
	bt_json_set_str(m, "access", c->access);
	bt_json_set_u64(m, "width", c->width);
	bt_json_set_u64(m, "dwell_off_us", c->dwell_off_us);
	bt_json_set_u64(m, "dwell_on_us", c->dwell_on_us);
	bt_json_set_u64(m, "seed", c->seed);
	bt_json_set_u64(m, "interval_ms", 500);
	line = bt_record_line(m);
	send_agent(vm, line);
	free(line);
	json_object_put(m);
}

static void read_counts(const struct bt_agent_msg *m, struct iteration *it)
{
	if (!m->have_counts)
		return;
	it->counts.cycles = m->cycles;
	it->counts.toggles = m->toggles;
	it->counts.accesses = m->accesses;
	it->counts.window_hits = m->window_hits;
	it->counts.ur_reads = m->ur_reads;
	it->counts.ur_violations = m->ur_violations;
	it->faults = m->faults;
	it->have_counts = true;
}

enum phase { BOOTING, RUNNING, ENDED };

struct loop {
	enum phase phase;
	uint64_t t_boot, t_start, last_beat, last_progress_print;
	uint64_t console_beats_at_last_line;
};

/* The agent's counters over time: the report's toggle-rate plot of a soak. */
static void keep_progress(struct iteration *it, const char *line)
{
	char path[PATH_MAX + 16], *copy;
	int ret;

	snprintf(path, sizeof(path), "%s/progress.jsonl", it->dir);
	BT_ASSERT(asprintf(&copy, "%s\n", line) > 0, "out of memory");
	ret = bt_append_line(path, copy);
	if (ret)
		bt_debug("%s: %s", path, strerror(-ret));
	free(copy);
	if (++it->progress_lines < 2 * PROGRESS_LINES)
		return;
	ret = __bt_thin_progress(path, PROGRESS_LINES);
	if (ret < 0)
		bt_warn("%s: not thinned: %s", path, strerror(-ret));
	it->progress_lines = ret < 0 ? 0 : (unsigned)ret;
}

static void on_agent_line(const struct run_env *env, struct vm *vm,
			  struct iteration *it, struct loop *l, const char *line)
{
	struct bt_agent_msg m;

	bt_agent_msg_decode(line, &m);
	if (m.type == BT_AGENT_MSG_INVALID) {
		bt_debug("agent: unparsable line: %.200s", line);
		return;
	}
	vm->agent_lines++;
	vm->agent_bytes += strlen(line) + 1;
	l->last_beat = bt_now_ns();
	l->console_beats_at_last_line = vm->console.beats;
	switch (m.type) {
	case BT_AGENT_MSG_HELLO:
		if (l->phase != BOOTING)
			break;
		it->hello = json_object_get(m.obj);
		start_agent(env, it, vm);
		l->phase = RUNNING;
		l->t_start = bt_now_ns();
		break;
	case BT_AGENT_MSG_PROGRESS:
		read_counts(&m, it);
		keep_progress(it, line);
		break;
	case BT_AGENT_MSG_DONE:
		read_counts(&m, it);
		keep_progress(it, line);
		it->finished = true;
		l->phase = ENDED;
		break;
	case BT_AGENT_MSG_ERROR:
		snprintf(it->agent_error, sizeof(it->agent_error), "%s", m.reason);
		if (l->phase != RUNNING) {
			set_outcome(it, BT_OUTCOME_SETUP_ERROR, l->t_boot);
			l->phase = ENDED;
		}
		break;
	default:
		break;
	}
	bt_agent_msg_put(&m);
}

static void on_qmp_line(struct vm *vm, struct iteration *it, struct loop *l,
			const char *line)
{
	uint64_t t0 = l->t_start ? l->t_start : l->t_boot;
	struct bt_qmp_msg m;

	if (bt_qmp_parse(line, &m))
		return;
	if (m.kind == BT_QMP_EVENT) {
		note_event(it, "%s%s%s", m.event, m.reason[0] ? " " : "", m.reason);
		if (!strcmp(m.event, "STOP") && !vm->quitting) {
			bt_qmp_send(&vm->qmp, "{\"execute\":\"query-status\"}");
		} else if (!strcmp(m.event, "GUEST_PANICKED")) {
			set_outcome(it, BT_OUTCOME_GUEST_PANIC, t0);
			l->phase = ENDED;
		} else if (!strcmp(m.event, "SHUTDOWN") && !vm->quitting) {
			/* The guest went down by itself: panic=-1 reboots,
			 * -no-reboot turns that into a shutdown. */
			set_outcome(it, strstr(m.reason, "panic") || l->phase == RUNNING ?
				    BT_OUTCOME_GUEST_PANIC : BT_OUTCOME_SETUP_ERROR, t0);
			l->phase = ENDED;
		}
	} else if (m.kind == BT_QMP_RETURN && m.status[0]) {
		snprintf(it->stop_status, sizeof(it->stop_status), "%s", m.status);
		note_event(it, "status %s", m.status);
		if (!strcmp(m.status, "internal-error")) {
			set_outcome(it, BT_OUTCOME_VM_STOPPED, t0);
			l->phase = ENDED;
		} else if (!strcmp(m.status, "guest-panicked")) {
			set_outcome(it, BT_OUTCOME_GUEST_PANIC, t0);
			l->phase = ENDED;
		} else if (!m.running && l->phase == RUNNING && !vm->quitting) {
			set_outcome(it, BT_OUTCOME_VM_STOPPED, t0);
			l->phase = ENDED;
		}
	}
}

static void progress(const struct run_env *env, const struct iteration *it,
		     struct loop *l)
{
	uint64_t now = bt_now_ns();
	double s;

	if (env->quiet || l->phase != RUNNING || now - l->last_progress_print < PROGRESS_EVERY_NS)
		return;
	l->last_progress_print = now;
	s = (now - l->t_start) / 1e9;
	bt_info("run: %s run%d: %llu cycles, %.0f cycles/s, %llu window hits, %.1f s, %s so far",
		env->qemu_version[it->qemu], it->number,
		(unsigned long long)it->counts.cycles, s > 0 ? it->counts.cycles / s : 0,
		(unsigned long long)it->counts.window_hits, s,
		bt_outcome_name(it->outcome));
}

/* The guest console in the record: did it beat, what did its kernel say. */
static struct json_object *console_json(const struct bt_console *con)
{
	struct json_object *o = json_object_new_object(), *t = json_object_new_array();
	int i;

	bt_json_set_u64(o, "beats", con->beats);
	bt_json_set_double(o, "last_uptime_s", con->last_uptime);
	for (i = 0; i < con->ntrouble; i++)
		json_object_array_add(t, json_object_new_string(con->trouble[i]));
	json_object_object_add(o, "trouble", t);
	return o;
}

struct qmp_ctx {
	struct vm *vm;
	struct iteration *it;
	struct loop *l;
};

/* QMP lines that arrive while the forensics wait for their own answers. */
static void on_other_qmp_line(void *ctx, const char *line)
{
	struct qmp_ctx *q = ctx;

	on_qmp_line(q->vm, q->it, q->l, line);
}

/*
 * The agent said nothing for the heartbeat: collect the forensics while the
 * VM is still there, then tell a dead guest from a stalled agent by the
 * console's own beat and QMP's run state.
 */
static void on_silence(const struct run_env *env, struct vm *vm, struct iteration *it,
		       struct loop *l)
{
	struct qmp_ctx ctx = { vm, it, l };
	struct hang_report h = { 0 };
	struct json_object *ch;
	int unread = 0;
	struct bt_silence s;
	enum bt_outcome o;
	uint64_t now = bt_now_ns();
	char why[256];

	bt_console_poll(&vm->console, now);
	s = (struct bt_silence){
		.silent_ns = now - l->last_beat,
		.beats_while_silent = vm->console.beats - l->console_beats_at_last_line,
		.last_beat_age_ns = vm->console.last_beat_ns ? now - vm->console.last_beat_ns
							     : UINT64_MAX,
		.beat_period_ns = GUEST_BEAT_PERIOD_NS,
	};
	/* What the guest said by itself; the forensics make it say more (an
	 * NMI they inject ends in a panic of their own making). */
	s.panicked = vm->console.panicked;
	it->console = console_json(&vm->console);
	if (ioctl(vm->agent_fd, FIONREAD, &unread))
		unread = 0;
	if (!env->quiet)
		bt_warn("agent silent for %.0f s: collecting forensics in %s/forensics",
			s.silent_ns / 1e9, it->dir);
	collect_forensics(&vm->qmp, &vm->console, it->dir, on_other_qmp_line, &ctx, &h);
	s.vm_status = h.answered_qmp ? h.vm_status : NULL;
	o = bt_silence_outcome(&s, why, sizeof(why));
	note_event(it, "%s", why);
	if (!it->signature[0])
		snprintf(it->signature, sizeof(it->signature), "%s", why);
	set_outcome(it, o, l->t_start);

	it->forensics = json_object_new_object();
	bt_json_set_str(it->forensics, "dir", "forensics");
	json_object_object_add(it->forensics, "files", h.files);
	bt_json_set_str(it->forensics, "decided", why);
	bt_json_set_str(it->forensics, "vm_status", s.vm_status);
	bt_json_set_double(it->forensics, "silent_s", s.silent_ns / 1e9);
	bt_json_set_u64(it->forensics, "beats_while_silent", s.beats_while_silent);
	if (s.last_beat_age_ns == UINT64_MAX)
		bt_json_set_null(it->forensics, "last_beat_age_s");
	else
		bt_json_set_double(it->forensics, "last_beat_age_s", s.last_beat_age_ns / 1e9);
	bt_json_set_u64(it->forensics, "sysrq_bytes", h.sysrq_bytes);
	bt_json_set_bool(it->forensics, "sysrq_answered", h.sysrq_answered);
	bt_json_set_u64(it->forensics, "nmi_bytes", h.nmi_bytes);
	bt_json_set_u64(it->forensics, "nmis", h.nmis);
	bt_json_set_bool(it->forensics, "nmi_answered", h.nmi_answered);
	bt_json_set_bool(it->forensics, "agent_channel_eof", vm->agent_eof);
	/* What the runner had of the channel: did lines stop coming, or
	 * stop being read? */
	ch = bt_json_set_obj(it->forensics, "agent_channel");
	bt_json_set_u64(ch, "lines", vm->agent_lines);
	bt_json_set_u64(ch, "bytes", vm->agent_bytes);
	bt_json_set_u64(ch, "partial_line_bytes", vm->alen);
	bt_json_set_u64(ch, "unread_bytes", unread);
}

static void event_loop(const struct run_env *env, struct vm *vm,
		       struct iteration *it)
{
	const struct bt_config *c = env->cfg;
	struct loop l = { .phase = BOOTING, .t_boot = bt_now_ns() };
	char line[8192];

	l.last_beat = l.t_boot;
	while (l.phase != ENDED) {
		struct pollfd pfd[3] = {
			{ .fd = vm->qmp.fd, .events = POLLIN },
			{ .fd = vm->agent_fd, .events = POLLIN },
			{ .fd = vm->err_fd, .events = POLLIN },
		};
		uint64_t now;
		int ret;

		poll(pfd, 3, 200);
		drain_stderr(vm, it);
		drain_kmsg(vm, it, l.t_start ? l.t_start : l.t_boot);
		bt_console_poll(&vm->console, bt_now_ns());
		while ((ret = bt_qmp_read_line(&vm->qmp, line, sizeof(line), 0)) > 0)
			on_qmp_line(vm, it, &l, line);
		while (l.phase != ENDED &&
		       (ret = bt_fd_read_line(vm->agent_fd, vm->abuf, sizeof(vm->abuf),
					      &vm->alen, line, sizeof(line), 0)) > 0)
			on_agent_line(env, vm, it, &l, line);
		if (ret == -EPIPE && !vm->agent_eof) {
			/* QEMU closed the agent's socket: nothing more will come. */
			vm->agent_eof = true;
			note_event(it, "agent channel closed by QEMU");
		}
		progress(env, it, &l);
		now = bt_now_ns();
		soak_beat(env, it, l.t_start ? (now - l.t_start) / 1e9 : 0);
		if (reap(vm)) {
			char how[64];
			enum bt_outcome o = bt_exit_outcome(vm->status, how, sizeof(how));

			snprintf(it->qemu_exit, sizeof(it->qemu_exit), "%s", how);
			note_event(it, "QEMU %s", how);
			/* QEMU died without a word: how it died is the signature. */
			if (!it->signature[0])
				snprintf(it->signature, sizeof(it->signature), "QEMU %s", how);
			set_outcome(it, o == BT_OUTCOME_SURVIVED ? BT_OUTCOME_VMM_CRASHED : o,
				    l.t_start ? l.t_start : l.t_boot);
			break;
		}
		if (run_interrupted) {
			snprintf(it->agent_error, sizeof(it->agent_error), "interrupted by a signal");
			if (l.phase == RUNNING)
				send_agent(vm, "{\"type\":\"stop\"}\n");
			break;
		}
		if (l.phase == BOOTING && now - l.t_boot > c->boot_timeout_s * 1000000000ULL) {
			snprintf(it->agent_error, sizeof(it->agent_error),
				 "no hello from the agent within %llu s",
				 (unsigned long long)c->boot_timeout_s);
			set_outcome(it, BT_OUTCOME_SETUP_ERROR, l.t_boot);
			break;
		}
		if (l.phase == RUNNING && now - l.last_beat > c->heartbeat_s * 1000000000ULL) {
			on_silence(env, vm, it, &l);
			break;
		}
	}
	it->duration_s = l.t_start ? (bt_now_ns() - l.t_start) / 1e9 : 0;
	/* A stopped VM's QEMU still answers: the fix's counters are wanted
	 * most then. */
	if (!reap(vm) && vm->qmp.fd >= 0) {
		struct qmp_ctx ctx = { .vm = vm, .it = it, .l = &l };

		it->memory_fault_retries = vmm_memory_fault_retries(&vm->qmp, on_other_qmp_line, &ctx);
	}
}

static void close_vm(struct vm *vm)
{
	bt_qmp_close(&vm->qmp);
	if (vm->agent_fd >= 0)
		close(vm->agent_fd);
	if (vm->err_fd >= 0)
		close(vm->err_fd);
	if (vm->qemu_log)
		fclose(vm->qemu_log);
	bt_kmsg_close(&vm->kmsg);
	bt_console_close(&vm->console);
	unlink(vm->qmp_path);
	unlink(vm->agent_path);
	rmdir(vm->sockdir);
}

/* QEMU is gone: what it and the guest wrote can be cut to size. */
static void cap_logs(const struct iteration *it)
{
	static const char *const logs[] = { "console.log", "frames.log", "qemu.log" };
	char path[PATH_MAX + 16];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", it->dir, logs[i]);
		ret = __bt_cap_file(path, LOG_HEAD_BYTES, LOG_TAIL_BYTES);
		if (ret < 0 && ret != -ENOENT)
			bt_warn("%s: not capped: %s", path, strerror(-ret));
	}
}

void run_iteration(const struct run_env *env, struct iteration *it)
{
	struct vm vm = { .err_fd = -1, .agent_fd = -1, .qmp.fd = -1, .kmsg.fd = -1 };
	struct bt_qmp_msg greeting;
	char path[PATH_MAX + 16];
	int ret;

	it->outcome = BT_OUTCOME_SURVIVED;
	it->fail_ms = -1;
	it->memory_fault_retries = -1;
	it->events = json_object_new_array();
	it->kmsg = json_object_new_array();
	mkdir(it->dir, 0755);

	/* Socket paths must be short: a private directory under /tmp. */
	snprintf(vm.sockdir, sizeof(vm.sockdir), "/tmp/bartoggle-XXXXXX");
	if (!mkdtemp(vm.sockdir)) {
		snprintf(it->agent_error, sizeof(it->agent_error), "mkdtemp: %s", strerror(errno));
		it->outcome = BT_OUTCOME_SETUP_ERROR;
		return;
	}
	snprintf(vm.qmp_path, sizeof(vm.qmp_path), "%s/qmp", vm.sockdir);
	snprintf(vm.agent_path, sizeof(vm.agent_path), "%s/agent", vm.sockdir);
	if (bt_kmsg_open(&vm.kmsg))
		note_event(it, "host kernel log unavailable: kmsg not watched");
	snprintf(path, sizeof(path), "%s/console.log", it->dir);
	bt_console_init(&vm.console, path);

	ret = spawn(env, it, &vm);
	if (!ret) {
		ret = bt_qmp_connect(&vm.qmp, vm.qmp_path, QMP_TIMEOUT_MS, &greeting);
		if (ret)
			snprintf(it->agent_error, sizeof(it->agent_error),
				 "QMP: %s (see qemu.log)", strerror(-ret));
	}
	if (!ret) {
		vm.agent_fd = bt_unix_connect(vm.agent_path, QMP_TIMEOUT_MS);
		ret = vm.agent_fd < 0 ? vm.agent_fd : 0;
		if (ret)
			snprintf(it->agent_error, sizeof(it->agent_error),
				 "agent socket: %s", strerror(-ret));
	}
	if (ret && run_interrupted)	/* the signal cut the setup short */
		snprintf(it->agent_error, sizeof(it->agent_error), "interrupted by a signal");
	if (ret) {
		drain_stderr(&vm, it);
		it->outcome = BT_OUTCOME_SETUP_ERROR;
	} else {
		event_loop(env, &vm, it);
	}
	stop_qemu(&vm);
	if (env->pidfile[0])
		unlink(env->pidfile);
	drain_stderr(&vm, it);
	if (!it->qemu_exit[0] && vm.exited) {
		char how[64];

		bt_exit_outcome(vm.status, how, sizeof(how));
		snprintf(it->qemu_exit, sizeof(it->qemu_exit), "%s (after quit)", how);
	}
	bt_console_poll(&vm.console, bt_now_ns());
	if (!it->console)
		it->console = console_json(&vm.console);
	close_vm(&vm);
	cap_logs(it);
}
