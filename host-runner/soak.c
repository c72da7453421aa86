// SPDX-License-Identifier: GPL-2.0
/*
 * A run's directory and its heartbeat; a named soak's resume and bounded
 * disk. A soak lives in <results>/<name>: a restart (the service's, or the
 * host's) finds its records there, closes the iteration it cut short, and
 * goes on after the last recorded one with the same clock. status.json is
 * rewritten every few seconds: what `bartoggle-run status` reads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bartoggle/jpath.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/recover.h"
#include "bartoggle/thin.h"
#include "bartoggle/xalloc.h"
#include "runner.h"

#define STATUS_EVERY_NS		5000000000ULL
/* A finished iteration's progress.jsonl, in a soak: enough for its curve. */
#define SOAK_PROGRESS_LINES	128

extern char **environ;

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void utc_of(double epoch, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Position <-> (QEMU, iteration): a bounded run does each QEMU's iterations
 * in turn; an unbounded soak takes the QEMUs in turn, so that each gets its
 * share of the time. */
static void at_pos(const struct bt_config *c, uint64_t pos, int *q, int *i)
{
	if (c->iterations) {
		*q = (int)(pos / c->iterations);
		*i = (int)(pos % c->iterations) + 1;
	} else {
		*q = (int)(pos % c->nqemu);
		*i = (int)(pos / c->nqemu) + 1;
	}
}

static uint64_t pos_of(const struct bt_config *c, int q, int i)
{
	return c->iterations ? (uint64_t)q * c->iterations + i - 1
			     : (uint64_t)(i - 1) * c->nqemu + q;
}

bool soak_has_more(const struct run_env *env)
{
	const struct bt_config *c = env->cfg;
	const struct soak *s = env->soak;

	if (run_interrupted)
		return false;
	if (c->iterations && s->pos >= (uint64_t)c->nqemu * c->iterations)
		return false;
	return c->total_duration_s <= 0 || wall_now() < s->first_start + c->total_duration_s;
}

bool soak_next(const struct run_env *env, struct iteration *it)
{
	const struct bt_config *c = env->cfg;
	struct soak *s = env->soak;
	double left = s->first_start + c->total_duration_s - wall_now();

	if (!soak_has_more(env))
		return false;
	*it = (struct iteration){ .run_for_s = c->duration_s, .memory_fault_retries = -1 };
	/* The last iteration ends with the soak, not an hour after it. */
	if (c->total_duration_s > 0 && (c->duration_s <= 0 || left < c->duration_s))
		it->run_for_s = left;
	at_pos(c, s->pos++, &it->qemu, &it->number);
	snprintf(it->dir, sizeof(it->dir), "%s/qemu%d-run%d", env->dir, it->qemu + 1, it->number);
	s->current = it;
	return true;
}

void totals_add(struct totals *t, enum bt_outcome outcome, enum bt_verdict verdict,
		const struct bt_counts *counts, double duration_s)
{
	t->runs++;
	t->by_outcome[outcome]++;
	t->cycles += counts->cycles;
	t->window_hits += counts->window_hits;
	t->ur_violations += counts->ur_violations;
	t->failures += verdict == BT_VERDICT_FAIL;
	t->device_s += duration_s;
	if (verdict == BT_VERDICT_PASS)
		t->pass++;
	else if (verdict == BT_VERDICT_FAIL)
		t->fail++;
	else
		t->other++;
}

/* The records so far: the totals, and where the last one left off. */
static int load_records(const struct run_env *env, struct soak *s, struct totals *t)
{
	const struct bt_config *c = env->cfg;
	char path[PATH_MAX + 16], *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/records.jsonl", env->dir);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &cap, f) > 0) {
		struct json_object *rec = json_tokener_parse(line);
		struct bt_counts counts = { 0 };
		enum bt_outcome outcome;
		enum bt_verdict verdict;
		const char *bin;
		uint64_t n = 0;
		int q;

		lineno++;
		if (!rec || bt_outcome_parse(bt_jpath_str(rec, "outcome", ""), &outcome) ||
		    bt_verdict_parse(bt_jpath_str(rec, "verdict", ""), &verdict)) {
			bt_warn("%s:%lu: not a record, not counted", path, lineno);
			json_object_put(rec);
			continue;
		}
		bt_jpath_u64(rec, "counts.cycles", &counts.cycles);
		bt_jpath_u64(rec, "counts.window_hits", &counts.window_hits);
		bt_jpath_u64(rec, "counts.ur_violations", &counts.ur_violations);
		totals_add(t, outcome, verdict, &counts,
			   isnan(bt_jpath_num(rec, "duration_s")) ? 0 : bt_jpath_num(rec, "duration_s"));
		bin = bt_jpath_str(rec, "qemu.binary", "");
		for (q = 0; q < c->nqemu && strcmp(c->qemu[q], bin); q++)
			;
		if (bt_jpath_u64(rec, "iteration", &n) && n && q < c->nqemu &&
		    pos_of(c, q, (int)n) + 1 > s->pos)
			s->pos = pos_of(c, q, (int)n) + 1;
		json_object_put(rec);
	}
	free(line);
	fclose(f);
	return 0;
}

static void load_status(struct soak *s)
{
	struct json_object *st = json_object_from_file(s->status_path);
	uint64_t n = 0;
	double d;

	if (!st)
		return;
	d = bt_jpath_num(st, "started_epoch");
	if (!isnan(d) && d > 0 && d <= s->session_start)
		s->first_start = d;
	if (bt_jpath_u64(st, "sessions", &n))
		s->sessions = (unsigned)n;
	json_object_put(st);
}

/* A new <UTC>-<host> directory: one run, never resumed. */
static int fresh_dir(struct run_env *env, const char *host)
{
	char now[32];
	int i;

	bt_utc_now(now, sizeof(now));
	for (i = 0; now[i]; i++)
		if (now[i] == ':' || now[i] == '-')
			memmove(now + i, now + i + 1, strlen(now + i));
	snprintf(env->dir, sizeof(env->dir), "%s/%s-%s", env->cfg->results, now, host);
	if (mkdir(env->dir, 0755) && errno != EEXIST) {
		bt_err("cannot create %s: %s", env->dir, strerror(errno));
		return BT_EXIT_FAIL;
	}
	return 0;
}

int soak_begin(struct run_env *env, struct soak *s, struct totals *t)
{
	const struct bt_config *c = env->cfg;
	char path[PATH_MAX + 16];
	int ret;

	*s = (struct soak){ .lock_fd = -1, .state = "running", .t = t };
	s->session_start = s->first_start = wall_now();
	env->soak = s;
	if (!c->soak[0]) {
		ret = fresh_dir(env, env->host);
		snprintf(s->status_path, sizeof(s->status_path), "%s/status.json", env->dir);
		s->sessions = 1;
		return ret;
	}
	snprintf(env->dir, sizeof(env->dir), "%s/%s", c->results, c->soak);
	make_dir_for(env->dir);
	if (mkdir(env->dir, 0755) && errno != EEXIST) {
		bt_err("cannot create %s: %s", env->dir, strerror(errno));
		return BT_EXIT_FAIL;
	}
	/* One runner per soak: a second one would interleave its records. */
	snprintf(path, sizeof(path), "%s/.lock", env->dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		bt_err("soak %s: another runner has %s (%s): not started twice", c->soak, env->dir,
		       strerror(errno));
		return BT_EXIT_SKIP;
	}
	snprintf(s->status_path, sizeof(s->status_path), "%s/status.json", env->dir);
	load_status(s);
	s->sessions++;
	/* The iteration a kill or a reboot cut short: recorded before counting. */
	if (bt_recover_tree(env->dir, "runner", stderr) < 0)
		bt_warn("could not close the unrecorded runs under %s", env->dir);
	ret = load_records(env, s, t);
	if (ret) {
		bt_err("soak %s: cannot read its records: %s", c->soak, strerror(-ret));
		return BT_EXIT_FAIL;
	}
	if (s->sessions > 1 || t->runs)
		bt_info("soak %s: session %u, %d run(s) recorded, %.0f s into %s",
			c->soak, s->sessions, t->runs, s->session_start - s->first_start,
			c->total_duration_s > 0 ? "its total duration" : "it");
	return 0;
}

/* What `status` shows: the soak so far, the iteration in flight included. */
static void write_status(const struct run_env *env, struct soak *s)
{
	const struct bt_config *c = env->cfg;
	const struct iteration *it = s->current;
	const struct totals *t = s->t;
	struct json_object *o = json_object_new_object(), *d, *cur;
	double now = wall_now();
	char buf[64], boot[64];
	uint64_t cycles = t->cycles, hits = t->window_hits;
	double device_s = t->device_s;
	const char *verdict;

	bt_json_set_str(o, "schema", "bartoggle.status/1");
	bt_json_set_str(o, "host", env->host);
	bt_json_set_str(o, "soak", c->soak[0] ? c->soak : NULL);
	bt_json_set_str(o, "dir", env->dir);
	bt_json_set_u64(o, "pid", getpid());
	bt_boot_id(boot, sizeof(boot));
	bt_json_set_str(o, "boot_id", boot);
	bt_json_set_str(o, "state", s->state);
	utc_of(s->first_start, buf, sizeof(buf));
	bt_json_set_str(o, "started", buf);
	json_object_object_add(o, "started_epoch", json_object_new_int64((int64_t)s->first_start));
	utc_of(s->session_start, buf, sizeof(buf));
	bt_json_set_str(o, "session_started", buf);
	bt_json_set_u64(o, "sessions", s->sessions);
	if (c->total_duration_s > 0) {
		bt_json_set_double(o, "total_duration_s", c->total_duration_s);
		utc_of(s->first_start + c->total_duration_s, buf, sizeof(buf));
		bt_json_set_str(o, "ends", buf);
	} else {
		bt_json_set_null(o, "total_duration_s");
		bt_json_set_null(o, "ends");
	}
	utc_of(now, buf, sizeof(buf));
	bt_json_set_str(o, "heartbeat", buf);
	json_object_object_add(o, "heartbeat_epoch", json_object_new_int64((int64_t)now));
	bt_json_set_double(o, "elapsed_s", now - s->first_start);
	d = bt_json_set_obj(o, "device");
	bt_json_set_str(d, "bdf", c->emulated[0] ? NULL : c->bdf);
	bt_json_set_str(d, "emulated", c->emulated[0] ? c->emulated : NULL);
	bt_json_set_str(d, "id", env->device_id);
	bt_json_set_str(d, "name", env->device_name);
	if (it && s->in_flight) {
		cur = bt_json_set_obj(o, "current");
		bt_json_set_str(cur, "qemu", env->qemu_version[it->qemu]);
		bt_json_set_u64(cur, "iteration", it->number);
		bt_json_set_u64(cur, "cycles", it->counts.cycles);
		bt_json_set_u64(cur, "window_hits", it->counts.window_hits);
		bt_json_set_double(cur, "elapsed_s", s->current_s);
		bt_json_set_double(cur, "cycles_per_s",
				   s->current_s > 0 ? it->counts.cycles / s->current_s : 0);
		bt_json_set_str(cur, "outcome", bt_outcome_name(it->outcome));
		cycles += it->counts.cycles;
		hits += it->counts.window_hits;
		device_s += s->current_s;
	} else {
		bt_json_set_null(o, "current");
	}
	bt_json_set_u64(o, "runs", t->runs);
	bt_json_set_u64(o, "pass", t->pass);
	bt_json_set_u64(o, "fail", t->fail);
	bt_json_set_u64(o, "error_or_skip", t->other);
	bt_json_set_u64(o, "cycles", cycles);
	bt_json_set_u64(o, "window_hits", hits);
	bt_json_set_double(o, "device_s", device_s);
	bt_json_set_outcome_counts(o, "outcomes", t->by_outcome);
	verdict = soak_verdict(t);
	if (it && s->in_flight && bt_outcome_failing(it->outcome))
		verdict = "FAIL";
	bt_json_set_str(o, "verdict_so_far", verdict);
	if (__bt_write_file_atomic(s->status_path,
				   json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY)))
		bt_debug("%s: %s", s->status_path, strerror(errno));
	json_object_put(o);
}

const char *soak_verdict(const struct totals *t)
{
	/* A soak's restarts are the operator's, not the kernel's: an
	 * interrupted iteration is counted and named, never judged. */
	unsigned errors = t->other - t->by_outcome[BT_OUTCOME_INTERRUPTED];

	if (t->fail)
		return "FAIL";
	if (errors)
		return "ERROR";
	return t->pass ? "PASS" : "PENDING";
}

void soak_beat(const struct run_env *env, const struct iteration *it, double elapsed_s)
{
	struct soak *s = env->soak;
	uint64_t now = bt_now_ns();

	if (!s)
		return;
	service_beat(env, it, elapsed_s);
	s->in_flight = it != NULL;
	s->current_s = elapsed_s;
	if (it && s->last_status_ns && now - s->last_status_ns < STATUS_EVERY_NS)
		return;
	s->last_status_ns = now;
	write_status(env, s);
}

/* qemuQ-runN directories a record names, oldest first. */
struct run_dir {
	int q, n;
	char name[64];
};

static int cmp_run_dir(const void *a, const void *b)
{
	const struct run_dir *x = a, *y = b;

	return x->n != y->n ? x->n - y->n : x->q - y->q;
}

static size_t list_run_dirs(const char *dir, struct run_dir **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	*out = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char pending[PATH_MAX + 128];
		struct run_dir r;

		if (sscanf(e->d_name, "qemu%d-run%d", &r.q, &r.n) != 2 || strlen(e->d_name) >= 64)
			continue;
		/* Not recorded yet (or being run): never packed away. */
		snprintf(pending, sizeof(pending), "%s/%s/" BT_PENDING_NAME, dir, e->d_name);
		if (!access(pending, F_OK))
			continue;
		snprintf(r.name, sizeof(r.name), "%s", e->d_name);
		*out = bt_grow(*out, n, sizeof(**out));
		(*out)[n++] = r;
	}
	closedir(d);
	qsort(*out, n, sizeof(**out), cmp_run_dir);
	return n;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) ? -1 : 0;
}

static int run_tar(char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ))
		return -errno;
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The oldest archive_chunk iteration directories into one xz tarball
 * (similar consoles compress well together), once more than keep_runs
 * are there. The directories go only after the archive is on disk.
 */
static void archive_old_runs(const struct run_env *env)
{
	const struct bt_config *c = env->cfg;
	char archive[PATH_MAX], tmp[PATH_MAX + 8], path[PATH_MAX + 64];
	struct run_dir *runs;
	size_t n = list_run_dirs(env->dir, &runs), i, chunk = c->archive_chunk;
	char **argv;
	int argc = 0, ret;

	if (n < c->keep_runs + chunk) {
		free(runs);
		return;
	}
	argv = calloc(chunk + 8, sizeof(*argv));
	BT_ASSERT(argv, "out of memory");
	snprintf(path, sizeof(path), "%s/archive", env->dir);
	mkdir(path, 0755);
	snprintf(archive, sizeof(archive), "%s/archive/%s..%s.tar.xz", env->dir, runs[0].name,
		 runs[chunk - 1].name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", archive);
	argv[argc++] = "tar";
	argv[argc++] = "-cJf";
	argv[argc++] = tmp;
	argv[argc++] = "-C";
	argv[argc++] = (char *)env->dir;
	for (i = 0; i < chunk; i++)
		argv[argc++] = runs[i].name;
	argv[argc] = NULL;
	ret = run_tar(argv);
	if (!ret)
		ret = fsync_path(tmp);
	if (!ret && rename(tmp, archive))
		ret = -errno;
	if (ret) {
		bt_warn("could not pack %s..%s into %s (%s): left as they are", runs[0].name,
			runs[chunk - 1].name, archive, strerror(-ret));
		unlink(tmp);
		free(runs);
		free(argv);
		return;
	}
	for (i = 0; i < chunk; i++) {
		snprintf(path, sizeof(path), "%s/%s", env->dir, runs[i].name);
		if (nftw(path, remove_one, 8, FTW_DEPTH | FTW_PHYS))
			bt_warn("%s: packed, but not removed: %s", path, strerror(errno));
	}
	bt_info("packed %s..%s into %s", runs[0].name, runs[chunk - 1].name, archive);
	free(runs);
	free(argv);
}

void soak_after_iteration(const struct run_env *env, const struct iteration *it)
{
	char path[PATH_MAX + 32];
	int ret;

	if (env->cfg->soak[0]) {
		snprintf(path, sizeof(path), "%s/progress.jsonl", it->dir);
		ret = __bt_thin_progress(path, SOAK_PROGRESS_LINES);
		if (ret < 0 && ret != -ENOENT)
			bt_warn("%s: not thinned: %s", path, strerror(-ret));
		archive_old_runs(env);
	}
	env->soak->in_flight = false;
	env->soak->last_status_ns = 0;
	soak_beat(env, NULL, 0);
}

void soak_end(const struct run_env *env, const char *state)
{
	struct soak *s = env->soak;

	s->state = state;
	s->in_flight = false;
	write_status(env, s);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}
