// SPDX-License-Identifier: GPL-2.0
/*
 * bartoggle-run status: every run and soak under the results roots, from
 * the status.json each runner rewrites every few seconds. A runner that has
 * stopped beating is told apart from one that finished: its heartbeat's age
 * and, on this host, whether its PID still lives.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bartoggle/jpath.h"
#include "bartoggle/log.h"
#include "bartoggle/parse.h"
#include "bartoggle/record.h"
#include "bartoggle/recover.h"
#include "bartoggle/stats.h"
#include "bartoggle/xalloc.h"
#include "runner.h"

#define DEFAULT_STALE_S	60

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: bartoggle-run status [--json] [--stale=S] [DIR...]\n\n"
		"Every run and soak under each DIR (default results; a DIR may be a soak's own\n"
		"directory): host, device, state, current iteration, cycles, rate, elapsed,\n"
		"outcome so far and heartbeat age. A runner whose heartbeat is older than S\n"
		"seconds (default %d) is 'stale'; one whose PID is gone on this host, 'dead'.\n"
		"The table goes to stderr; --json prints one JSON document on stdout\n"
		"({\"soaks\": [...], \"running\": N, ...}: what the fleet playbook polls).\n\n"
		"  --json         the document on stdout\n"
		"  --stale=S      heartbeat age that makes a running soak stale\n"
		"  --quiet        no table\n"
		"  --help         this help\n\n"
		"Exit: 0 (what it found is in the output, none included), 2 usage or a DIR that\n"
		"cannot be read.\n", DEFAULT_STALE_S);
}

struct found {
	struct json_object **st;
	size_t n;
};

static struct found *found_state;

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	struct json_object *st;

	(void)sb;
	if (type != FTW_F || strcmp(path + ftw->base, "status.json"))
		return 0;
	st = json_object_from_file(path);
	if (!st || strcmp(bt_jpath_str(st, "schema", ""), "bartoggle.status/1")) {
		bt_warn("%s: not a runner's status file, skipped", path);
		json_object_put(st);
		return 0;
	}
	found_state->st = bt_grow(found_state->st, found_state->n, sizeof(*found_state->st));
	found_state->st[found_state->n++] = st;
	return 0;
}

static bool pid_alive(uint64_t pid)
{
	return pid > 0 && (!kill((pid_t)pid, 0) || errno == EPERM);
}

/* running, stale, dead, finished or stopped: what an operator acts on. */
static const char *live_state(struct json_object *st, double now, double stale_s,
			      const char *boot)
{
	const char *state = bt_jpath_str(st, "state", "unknown");
	double beat = bt_jpath_num(st, "heartbeat_epoch");
	uint64_t pid = 0;

	if (strcmp(state, "running"))
		return state;
	bt_jpath_u64(st, "pid", &pid);
	if (!strcmp(bt_jpath_str(st, "boot_id", ""), boot) && !pid_alive(pid))
		return "dead";
	if (isnan(beat) || now - beat > stale_s)
		return "stale";
	return "running";
}

static void human_age(double s, char *buf, size_t len)
{
	if (isnan(s))
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else
		snprintf(buf, len, "%.1fh", s / 3600);
}

static void print_table(struct json_object **st, size_t n, FILE *out)
{
	size_t i;

	fprintf(out, "%-14s %-16s %-18s %-8s %9s %12s %9s %8s %-10s %s\n", "HOST", "DEVICE",
		"SOAK", "STATE", "ITERATION", "CYCLES", "CYCLES/S", "ELAPSED", "SO FAR", "HEARTBEAT");
	for (i = 0; i < n; i++) {
		struct json_object *s = st[i];
		char elapsed[16], beat[16], iter[24] = "-";
		uint64_t it = 0;
		double rate = bt_jpath_num(s, "current.cycles_per_s");

		human_age(bt_jpath_num(s, "elapsed_s"), elapsed, sizeof(elapsed));
		human_age(bt_jpath_num(s, "heartbeat_age_s"), beat, sizeof(beat));
		if (bt_jpath_u64(s, "current.iteration", &it))
			snprintf(iter, sizeof(iter), "%llu", (unsigned long long)it);
		else if (bt_jpath_u64(s, "runs", &it))
			snprintf(iter, sizeof(iter), "%llu done", (unsigned long long)it);
		fprintf(out, "%-14s %-16s %-18s %-8s %9s %12s %9s %8s %-10s %s ago\n",
			bt_jpath_str(s, "host", "?"),
			bt_jpath_str(s, "device.bdf", bt_jpath_str(s, "device.emulated", "?")),
			bt_jpath_str(s, "soak", "-"), bt_jpath_str(s, "live_state", "?"), iter,
			bt_jpath_str(s, "cycles_text", "0"),
			isnan(rate) ? "-" : bt_jpath_str(s, "rate_text", "-"), elapsed,
			bt_jpath_str(s, "verdict_so_far", "?"), beat);
	}
}

/* Every status.json under @root. A default root that is not there yet is
 * no results, not an error. */
static int scan(const char *root, bool given)
{
	struct stat sb;

	if (stat(root, &sb) || !S_ISDIR(sb.st_mode)) {
		if (!given && errno == ENOENT)
			return 0;
		bt_err("%s: not a directory", root);
		return -ENOTDIR;
	}
	if (nftw(root, visit, 16, FTW_PHYS)) {
		bt_err("%s: %s", root, strerror(errno));
		return -errno;
	}
	return 0;
}

static int cmp_status(const void *a, const void *b)
{
	struct json_object *const *x = a, *const *y = b;

	return strcmp(bt_jpath_str(*x, "dir", ""), bt_jpath_str(*y, "dir", ""));
}

int status_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stale", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct found f = { 0 };
	struct json_object *doc, *list;
	double stale_s = DEFAULT_STALE_S, now;
	bool json = false, quiet = false;
	char boot[64], buf[64];
	unsigned by_state[8] = { 0 };
	static const char *const states[] = { "running", "stale", "dead", "finished", "stopped" };
	struct timespec ts;
	size_t i, k;
	int c;

	optind = 0;	/* glibc: a full restart (1 keeps its pointer into an earlier argv) */
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			if (bt_parse_seconds(optarg, 0, 30 * 86400, &stale_s)) {
				bt_err("--stale=%s: want seconds, > 0", optarg);
				return BT_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return BT_EXIT_PASS;
		default:
			usage(stderr);
			return BT_EXIT_USAGE;
		}
	}
	found_state = &f;
	for (i = optind; i < (size_t)argc; i++)
		if (scan(argv[i], true))
			return BT_EXIT_USAGE;
	if (optind == argc && scan("results", false))
		return BT_EXIT_USAGE;
	found_state = NULL;
	qsort(f.st, f.n, sizeof(*f.st), cmp_status);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec + ts.tv_nsec / 1e9;
	bt_boot_id(boot, sizeof(boot));
	list = json_object_new_array();
	for (i = 0; i < f.n; i++) {
		struct json_object *s = f.st[i];
		const char *state = live_state(s, now, stale_s, boot);
		double rate = bt_jpath_num(s, "current.cycles_per_s");
		uint64_t cycles = 0;

		bt_json_set_str(s, "live_state", state);
		bt_json_set_double(s, "heartbeat_age_s", now - bt_jpath_num(s, "heartbeat_epoch"));
		bt_jpath_u64(s, "cycles", &cycles);
		bt_group_digits((double)cycles, buf, sizeof(buf));
		bt_json_set_str(s, "cycles_text", buf);
		snprintf(buf, sizeof(buf), "%.0f", isnan(rate) ? 0 : rate);
		bt_json_set_str(s, "rate_text", buf);
		for (k = 0; k < sizeof(states) / sizeof(states[0]); k++)
			by_state[k] += !strcmp(state, states[k]);
		json_object_array_add(list, json_object_get(s));
	}
	if (!quiet) {
		if (f.n)
			print_table(f.st, f.n, stderr);
		else
			bt_info("no runs or soaks found");
	}
	if (json) {
		doc = json_object_new_object();
		bt_json_set_str(doc, "schema", "bartoggle.status-list/1");
		bt_utc_now(buf, sizeof(buf));
		bt_json_set_str(doc, "time", buf);
		for (k = 0; k < sizeof(states) / sizeof(states[0]); k++)
			bt_json_set_u64(doc, states[k], by_state[k]);
		json_object_object_add(doc, "soaks", list);
		printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
		json_object_put(doc);
	} else {
		json_object_put(list);
	}
	for (i = 0; i < f.n; i++)
		json_object_put(f.st[i]);
	free(f.st);
	return fflush(stdout) ? BT_EXIT_FAIL : BT_EXIT_PASS;
}
