// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bartoggle/ktaprecords.h"
#include "bartoggle/record.h"
#include "bartoggle/recover.h"
#include "bartoggle/version.h"

void bt_boot_id(char *out, size_t len)
{
	/* Tests stand in for a reboot with $BARTOGGLE_BOOT_ID. */
	const char *fake = getenv("BARTOGGLE_BOOT_ID");
	FILE *f;

	out[0] = '\0';
	if (fake && *fake) {
		snprintf(out, len, "%s", fake);
		return;
	}
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!f)
		return;
	if (!fgets(out, len, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

void bt_pending_prepare(struct json_object *rec)
{
	struct json_object *runner = bt_json_set_obj(rec, "runner");
	char boot[64];

	bt_boot_id(boot, sizeof(boot));
	bt_json_set_u64(runner, "pid", getpid());
	bt_json_set_str(runner, "boot_id", boot);
	bt_record_set_outcome(rec, BT_OUTCOME_INTERRUPTED, BT_VERDICT_ERROR);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Its runner still at work on this boot: not ours to close. */
static bool runner_alive(struct json_object *pending, const char *boot)
{
	struct json_object *runner = get(pending, "runner");
	pid_t pid = json_object_get_int(get(runner, "pid"));
	char path[64], cmd[256];
	ssize_t n;
	int fd;

	if (!runner || pid <= 0 || strcmp(json_object_get_string(get(runner, "boot_id")), boot))
		return false;
	if (pid == getpid())
		return true;
	if (kill(pid, 0) && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	cmd[n > 0 ? n : 0] = '\0';
	return n > 0 && strstr(cmd, "bartoggle");	/* argv[0], NUL-ended */
}

/* The last progress or done line the host kept: how far the run got. */
static struct json_object *last_progress(const char *dir)
{
	struct json_object *last = NULL;
	char path[PATH_MAX + 32], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/progress.jsonl", dir);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line);

		if (o && get(o, "counts")) {
			json_object_put(last);
			last = o;
		} else {
			json_object_put(o);	/* a line cut short by the kill */
		}
	}
	free(line);
	fclose(f);
	return last;
}

/* Is a record of the iteration logged in @logs already in @fd's file? */
static bool already_recorded(int fd, const char *logs)
{
	FILE *f = fdopen(dup(fd), "r");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	rewind(f);
	while (!found && getline(&line, &cap, f) > 0) {
		struct json_object *o;

		if (!strstr(line, logs))
			continue;
		o = json_tokener_parse(line);
		found = o && !strcmp(json_object_get_string(get(o, "logs")) ?: "", logs);
		json_object_put(o);
	}
	free(line);
	fclose(f);
	return found;
}

static void close_pending(struct json_object *rec, const char *boot, const char *by,
			  const char *dir)
{
	struct json_object *runner = get(rec, "runner"), *p = last_progress(dir), *r;
	bool reset = strcmp(json_object_get_string(get(runner, "boot_id")), boot);
	struct json_object *counts = p ? get(p, "counts") : NULL;
	uint64_t cycles = json_object_get_uint64(get(counts, "cycles"));
	double ms = json_object_get_double(get(p, "elapsed_ms"));
	struct bt_counts c = {
		.cycles = cycles,
		.toggles = json_object_get_uint64(get(counts, "toggles")),
		.accesses = json_object_get_uint64(get(counts, "accesses")),
		.window_hits = json_object_get_uint64(get(counts, "window_hits")),
		.ur_reads = json_object_get_uint64(get(counts, "ur_reads")),
		.ur_violations = json_object_get_uint64(get(counts, "ur_violations")),
	};
	char now[32];

	bt_utc_now(now, sizeof(now));
	bt_record_set_outcome(rec, reset ? BT_OUTCOME_HOST_RESET : BT_OUTCOME_INTERRUPTED,
			      reset ? BT_VERDICT_FAIL : BT_VERDICT_ERROR);
	bt_record_set_counts(rec, &c, (uint64_t)(ms * 1e6));
	/* A host that died mid-soak failed at the last cycle it was seen at. */
	bt_record_set_first_failure(rec, reset, cycles, ms);
	bt_json_set_str(rec, "signature", reset ?
		"the host rebooted during the run (boot id changed); no record was written" :
		"the runner was stopped during the run (killed); no record was written");
	r = bt_json_set_obj(rec, "recovered");
	bt_json_set_str(r, "by", by);
	bt_json_set_str(r, "time", now);
	bt_json_set_str(r, "boot_id", boot);
	bt_json_set_bool(r, "progress", p != NULL);
	json_object_put(p);
}

struct walk {
	const char *by;
	FILE *log;
	char boot[64];
	int closed;
	int error;
};

static struct walk *walk_state;

static int close_one(const char *pending_path, struct walk *w)
{
	char tmp[PATH_MAX], dir[PATH_MAX], records[PATH_MAX + 16];
	struct json_object *rec = json_object_from_file(pending_path);
	bool closed = false;
	const char *logs;
	int fd, ret = 0;

	if (!rec) {
		if (w->log)
			fprintf(w->log, "%s: not a pending record, left alone\n", pending_path);
		return 0;
	}
	if (runner_alive(rec, w->boot)) {
		json_object_put(rec);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s", pending_path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));		/* .../qemuN-runM */
	snprintf(tmp, sizeof(tmp), "%s", dir);
	snprintf(records, sizeof(records), "%s/records.jsonl", dirname(tmp));
	logs = json_object_get_string(get(rec, "logs"));

	/* One closer at a time per records file: a report and a --restore
	 * seeing the same iteration must not record it twice. */
	fd = open(records, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		json_object_put(rec);
		return ret;
	}
	if (!logs || !already_recorded(fd, logs)) {
		close_pending(rec, w->boot, w->by, dir);
		ret = bt_record_append(records, rec);
		if (!ret && w->log)
			fprintf(w->log, "%s: closed an iteration its runner never recorded: %s\n",
				records, json_object_get_string(get(rec, "outcome")));
		if (!ret) {
			w->closed++;
			closed = true;
		}
	}
	if (!ret)
		unlink(pending_path);
	/* The runner's streamed KTAP stops where it was killed: written
	 * again from the records, now including the closed iteration. */
	if (closed) {
		char ktap[PATH_MAX + 16], title[256];

		snprintf(tmp, sizeof(tmp), "%s", records);
		snprintf(ktap, sizeof(ktap), "%s/ktap.txt", dirname(tmp));
		snprintf(title, sizeof(title),
			 "bartoggle-run %s: written from records.jsonl by %s, the runner having gone",
			 bt_version, w->by ? w->by : "recovery");
		if (!access(ktap, F_OK)) {
			snprintf(tmp, sizeof(tmp), "%s", records);
			__bt_ktap_from_records(dirname(tmp), title);
		}
	}
	flock(fd, LOCK_UN);
	close(fd);
	json_object_put(rec);
	return ret;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	int ret;

	(void)st;
	if (type != FTW_F || strcmp(base, BT_PENDING_NAME))
		return 0;
	ret = close_one(path, walk_state);
	if (ret && !walk_state->error) {
		walk_state->error = ret;
		if (walk_state->log)
			fprintf(walk_state->log, "%s: cannot close it: %s\n", path, strerror(-ret));
	}
	return 0;
}

int bt_recover_tree(const char *root, const char *by, FILE *log)
{
	struct walk w = { .by = by, .log = log };

	bt_boot_id(w.boot, sizeof(w.boot));
	walk_state = &w;
	if (nftw(root, visit, 16, FTW_PHYS) && errno != ENOENT)
		return -errno;
	walk_state = NULL;
	return w.error ? w.error : w.closed;
}
