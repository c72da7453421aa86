// SPDX-License-Identifier: GPL-2.0
/*
 * bartoggle-agent: runs inside the guest that owns the device. Standalone it
 * runs at once; with --serve it says hello on its channel and runs each time
 * the host sends "start".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bartoggle/pcisel.h"
#include "bartoggle/stats.h"
#include "agent.h"

struct agent {
	struct agent_opts opts;
	struct agent_dev dev;
	struct agent_run run;
	bool running;
	int in_fd;		/* -1: standalone, nothing to read */
	int out_fd;
	struct agent_lines lines;
	bool quit;
	int ncpus;
	int kmsg_fd;		/* the guest kernel log: the console, when the channel fails */
	/* the channel, seen from here */
	uint64_t lines_sent, write_errors, max_write_ns;
	int last_errno;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * A note in the guest kernel's log, which its console prints: what the host
 * reads when the agent's own channel has gone quiet.
 */
static void kmsg(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kmsg(struct agent *a, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (a->kmsg_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "<4>bartoggle-agent: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (write(a->kmsg_fd, buf, strlen(buf)) < 0)
		return;
}

/*
 * One whole line per write; a host that went away is not our failure, but
 * every failed or slow write is noted in the kernel log.
 */
static void send_line(struct agent *a, const char *line, size_t len)
{
	uint64_t t0 = bt_now_ns(), took;

	while (len) {
		ssize_t n = write(a->out_fd, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!a->write_errors++ || errno != a->last_errno)
				kmsg(a, "write to the host channel: %s (%llu failed so far)",
				     n ? strerror(errno) : "nothing written",
				     (unsigned long long)a->write_errors);
			a->last_errno = errno;
			return;
		}
		line += n;
		len -= n;
	}
	a->lines_sent++;
	took = bt_now_ns() - t0;
	if (took > a->max_write_ns) {
		a->max_write_ns = took;
		if (took > 1000000000ULL)
			kmsg(a, "a write to the host channel blocked for %.1f s", took / 1e9);
	}
}

static void send_error(struct agent *a, const char *reason)
{
	struct agent_line w;
	size_t len;
	const char *line = agent_msg_error(&w, reason, &len);

	if (line)
		send_line(a, line, len);
}

static void start_run(struct agent *a)
{
	char err[256];

	if (agent_validate(&a->opts, a->ncpus, err, sizeof(err)) ||
	    agent_run_start(&a->run, &a->opts, &a->dev, err, sizeof(err))) {
		send_error(a, err);
		return;
	}
	a->running = true;
}

static void on_line(void *ctx, const char *s, size_t len)
{
	struct json_object *msg;
	struct agent *a = ctx;
	struct agent_opts next;
	enum agent_cmd cmd;
	char err[256];
	int ret;

	if (!len)
		return;
	if (agent_parse_cmd(s, len, &cmd, &msg, err, sizeof(err))) {
		send_error(a, err);
		return;
	}
	if (cmd == AGENT_CMD_STOP) {
		json_object_put(msg);
		if (a->running)
			agent_run_stop(&a->run, AGENT_STOP_REQUEST);
		else
			a->quit = true;
		return;
	}
	if (a->running) {
		json_object_put(msg);
		send_error(a, "start while running: send stop first");
		return;
	}
	next = a->opts;
	ret = agent_apply_start(&next, msg, err, sizeof(err));
	json_object_put(msg);
	if (ret) {
		send_error(a, err);
		return;
	}
	a->opts = next;
	start_run(a);
}

static void on_too_long(void *ctx)
{
	send_error(ctx, "line longer than 4096 bytes: ignored");
}

/* Reads what the host sent, if anything, waiting at most @ms. */
static void poll_input(struct agent *a, int ms)
{
	struct pollfd pfd = { .fd = a->in_fd, .events = POLLIN };
	char buf[1024];
	ssize_t n;

	if (a->in_fd < 0) {
		poll(NULL, 0, ms);
		return;
	}
	if (poll(&pfd, 1, ms) <= 0)
		return;
	n = read(a->in_fd, buf, sizeof(buf));
	if (n > 0) {
		agent_lines_feed(&a->lines, buf, n, on_line, on_too_long, a);
	} else if (n == 0) {
		/* stdin closed: nobody will send stop. A virtio port reads EOF
		 * while the host side is not connected: wait for it. */
		if (a->in_fd == STDIN_FILENO)
			a->quit = true;
		else
			poll(NULL, 0, 100);
	}
}

static void summary(struct agent *a, const struct agent_counts *c, uint64_t ns)
{
	if (a->opts.quiet)
		return;
	fprintf(stderr,
		"bartoggle-agent: %s %s: %llu cycles in %.2f s (%.0f cycles/s), %llu accesses, "
		"%llu window hits, %llu UR reads, %llu UR violations, %llu faults\n",
		a->dev.pci.bdf_str, agent_stop_name(atomic_load(&a->run.reason)),
		(unsigned long long)c->cycles, ns / 1e9, bt_per_s(c->cycles, ns),
		(unsigned long long)c->accesses, (unsigned long long)c->window_hits,
		(unsigned long long)c->ur_reads, (unsigned long long)c->ur_violations,
		(unsigned long long)c->faults);
}

/* Elapsed time that never wraps when the clock steps back. */
static uint64_t since(uint64_t t0, uint64_t t1)
{
	return t1 > t0 ? t1 - t0 : 0;
}

/* Progress every interval until the run ends, then done. */
static int drive_run(struct agent *a)
{
	uint64_t interval = a->opts.interval_ms * 1000000ULL, next = bt_now_ns() + interval;
	struct agent_counts c;
	const char *line;
	struct agent_line w;
	size_t len;
	int reason;

	while (!agent_run_done(&a->run)) {
		uint64_t now = bt_now_ns();

		if (interrupted)
			agent_run_stop(&a->run, AGENT_STOP_REQUEST);
		/*
		 * The next line is due one interval from now, whatever the
		 * clock did: a TCG guest's CLOCK_MONOTONIC was seen to jump
		 * seconds ahead and back, and a deadline set in the jump kept
		 * the agent silent until the host declared the guest hung.
		 */
		if (now >= next || next - now > interval) {
			agent_run_counts(&a->run, &c);
			line = agent_msg_progress(&w, &c, since(a->run.start_ns, now), &len);
			if (line)
				send_line(a, line, len);
			next = now + interval;
			continue;
		}
		poll_input(a, (next - now) / 1000000 + 1 > 50 ? 50 : (next - now) / 1000000 + 1);
	}
	agent_run_join(&a->run);
	a->running = false;
	agent_run_counts(&a->run, &c);
	reason = atomic_load(&a->run.reason);
	line = agent_msg_done(&w, &a->opts, &c, since(a->run.start_ns, a->run.end_ns),
			      interrupted ? "signal" : agent_stop_name(reason),
			      a->run.error[0] ? a->run.error : NULL, &len);
	if (line)
		send_line(a, line, len);
	kmsg(a, "run ended (%s) after %llu cycles; %llu lines sent, %llu write errors, "
	     "longest write %.1f ms", interrupted ? "signal" : agent_stop_name(reason),
	     (unsigned long long)c.cycles, (unsigned long long)a->lines_sent,
	     (unsigned long long)a->write_errors, a->max_write_ns / 1e6);
	summary(a, &c, since(a->run.start_ns, a->run.end_ns));
	return reason == AGENT_STOP_ERROR ? 1 : 0;
}

static void open_channel(struct agent *a, char *channel, size_t len)
{
	char port[64], path[80];
	int fd;

	a->in_fd = a->opts.serve ? STDIN_FILENO : -1;
	a->out_fd = STDOUT_FILENO;
	snprintf(channel, len, "stdio");
	if (a->opts.stdio || bt_virtio_port_find(NULL, a->opts.port, port, sizeof(port),
						 a->dev.channel_bdf,
						 sizeof(a->dev.channel_bdf)))
		return;
	if (!a->opts.serve)
		return;	/* standalone keeps stdout; the port only names the channel device */
	snprintf(path, sizeof(path), "/dev/%s", port);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "bartoggle-agent: %s: %s; using stdin/stdout\n", path,
			strerror(errno));
		return;
	}
	a->in_fd = a->out_fd = fd;
	snprintf(channel, len, "virtio:%s", port);
}

int main(int argc, char **argv)
{
	static struct agent a;
	struct sigaction sa = { .sa_handler = on_signal };
	char err[320], channel[96];
	const char *line;
	struct agent_line w;
	size_t len;
	int ret = 0;

	a.kmsg_fd = -1;
	a.ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	agent_opts_default(&a.opts, a.ncpus);
	switch (agent_parse_args(argc, argv, &a.opts, err, sizeof(err))) {
	case AGENT_HELP:
		agent_usage(stdout, "bartoggle-agent");
		return 0;
	case AGENT_USAGE:
		fprintf(stderr, "bartoggle-agent: error: %s (try --help)\n", err);
		return 2;
	case AGENT_OK:
		break;
	}
	if (agent_validate(&a.opts, a.ncpus, err, sizeof(err))) {
		fprintf(stderr, "bartoggle-agent: error: %s\n", err);
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	open_channel(&a, channel, sizeof(channel));
	if (agent_check_machine(&a.opts, !strncmp(channel, "virtio:", 7) || a.dev.channel_bdf[0],
				err, sizeof(err))) {
		fprintf(stderr, "bartoggle-agent: error: %s\n", err);
		send_error(&a, err);
		return 1;
	}
	a.kmsg_fd = a.opts.serve ? open("/dev/kmsg", O_WRONLY | O_CLOEXEC) : -1;
	if (agent_dev_open(&a.dev, NULL, &a.opts, err, sizeof(err))) {
		fprintf(stderr, "bartoggle-agent: error: %s\n", err);
		send_error(&a, err);
		agent_dev_close(&a.dev);
		return 1;
	}
	if (a.dev.unbound[0] && !a.opts.quiet)
		fprintf(stderr, "bartoggle-agent: unbound %s from driver %s\n",
			a.dev.pci.bdf_str, a.dev.unbound);
	line = agent_msg_hello(&w, &a.dev, channel, &len);
	if (line)
		send_line(&a, line, len);

	if (!a.opts.serve) {
		start_run(&a);
		ret = a.running ? drive_run(&a) : 1;
	} else {
		while (!a.quit && !interrupted) {
			poll_input(&a, 200);
			if (a.running)
				ret = drive_run(&a);
		}
	}
	agent_dev_close(&a.dev);
	return ret;
}
