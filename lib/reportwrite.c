// SPDX-License-Identifier: GPL-2.0
/*
 * The report's files: the table, KTAP, summary.json and summary.txt, the
 * plots' data, and writing them all (each via a temp file and rename).
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bartoggle/jpath.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/report.h"
#include "bartoggle/reportevidence.h"
#include "bartoggle/reportfleet.h"
#include "bartoggle/version.h"
#include "bartoggle/xalloc.h"

#define MAX_RATE_SERIES	12

static char *outcome_text(const struct bt_report_row *row)
{
	size_t len = 0;
	char *text = NULL;
	FILE *m = open_memstream(&text, &len);

	BT_ASSERT(m, "out of memory");
	bt_report_outcome_list(row, m);
	fclose(m);
	return text;
}

/* The short form of the bound for a table cell. */
static void bound_cell(const struct bt_survival *s, char *buf, size_t len)
{
	char one_in[32];

	if (!s->cycles) {
		snprintf(buf, len, "-");
	} else if (!s->failures && s->p_upper > 0.1) {
		snprintf(buf, len, "p < %.3g", s->p_upper);
	} else if (!s->failures) {
		bt_one_in(s->p_upper, one_in, sizeof(one_in));
		snprintf(buf, len, "< 1 in %s", one_in);
	} else {
		bt_group_digits(s->mean_cycles_between_failures, one_in, sizeof(one_in));
		snprintf(buf, len, "1 in %s (mean)", one_in);
	}
}

enum { COL_ID, COL_VERDICT, COL_KERNEL, COL_VMM, COL_DEVICE, COL_ARM, COL_RUNS, COL_HOSTS,
       COL_DEVICES, COL_CYCLES, COL_DEVICE_HOURS, COL_HITS, COL_OUTCOMES, COL_TTF, COL_P,
       COL_BOUND, NCOLS };

static const char *const col_title[NCOLS] = {
	"ID", "VERDICT", "KERNEL", "VMM", "DEVICE", "ARM", "RUNS", "HOSTS", "DEVICES", "CYCLES",
	"DEVICE-H", "WINDOW HITS", "OUTCOMES", "TTF ms med/p95/max", "P(fail)/cycle [95% CI]",
	"FAILURE RATE",
};

static char *cell(const struct bt_report_row *row, int col)
{
	const struct bt_survival *s = &row->stats;
	char buf[64];

	switch (col) {
	case COL_ID:
		return bt_xasprintf("R%d", row->id);
	case COL_VERDICT:
		return bt_xstrdup(bt_verdict_name(row->verdict));
	case COL_KERNEL:
		return bt_xstrdup(row->kernel);
	case COL_VMM:
		return bt_xstrdup(row->vmm);
	case COL_DEVICE:
		return bt_xstrdup(row->device);
	case COL_ARM:
		return bt_xstrdup(row->arm);
	case COL_RUNS:
		return bt_xasprintf("%zu", row->nruns);
	case COL_HOSTS:
		return bt_xasprintf("%u", row->hosts);
	case COL_DEVICES:
		return bt_xasprintf("%u", row->devices);
	case COL_CYCLES:
		return bt_xasprintf("%llu", (unsigned long long)s->cycles);
	case COL_DEVICE_HOURS:
		return bt_xasprintf("%.*f", row->device_hours < 10 ? 2 : 0, row->device_hours);
	case COL_HITS:
		return bt_xasprintf("%llu", (unsigned long long)row->window_hits);
	case COL_OUTCOMES:
		return outcome_text(row);
	case COL_TTF:
		return s->ttf_n ? bt_xasprintf("%.3g/%.3g/%.3g", s->ttf_median_ms, s->ttf_p95_ms,
					    s->ttf_max_ms) : bt_xstrdup("-");
	case COL_P:
		return s->cycles ? bt_xasprintf("%.3g [%.3g, %.3g]", s->p, s->p_lo, s->p_hi)
				 : bt_xstrdup("-");
	default:
		bound_cell(s, buf, sizeof(buf));
		return bt_xstrdup(buf);
	}
}

void bt_report_print_table(const struct bt_report *r, FILE *out)
{
	size_t width[NCOLS], i;
	char **cells = calloc((r->nrows + 1) * NCOLS, sizeof(*cells));
	int c;

	BT_ASSERT(cells, "out of memory");
	for (c = 0; c < NCOLS; c++) {
		cells[c] = bt_xstrdup(col_title[c]);
		width[c] = strlen(cells[c]);
	}
	for (i = 0; i < r->nrows; i++) {
		for (c = 0; c < NCOLS; c++) {
			char *t = cells[(i + 1) * NCOLS + c] = cell(&r->rows[i], c);

			width[c] = strlen(t) > width[c] ? strlen(t) : width[c];
		}
	}
	for (i = 0; i <= r->nrows; i++) {
		for (c = 0; c < NCOLS; c++) {
			if (c == NCOLS - 1)
				fprintf(out, "%s\n", cells[i * NCOLS + c]);
			else
				fprintf(out, "%-*s  ", (int)width[c], cells[i * NCOLS + c]);
			free(cells[i * NCOLS + c]);
		}
	}
	free(cells);
}

void bt_report_print_ktap(const struct bt_report *r, FILE *out)
{
	struct bt_ktap k;
	size_t i;

	bt_ktap_init(&k, out, (int)r->nrows);
	bt_ktap_diag(&k, "bartoggle report %s: %zu records in %zu files, %zu lines skipped",
		     bt_version, r->nruns, r->nfiles, r->nissues);
	for (i = 0; i < r->nrows; i++) {
		const struct bt_report_row *row = &r->rows[i];
		char words[512], *outcomes = outcome_text(row);

		bt_report_fleet_words(row, words, sizeof(words));
		bt_ktap_result(&k, row->verdict, "R%d %s %s %s %s: %zu runs, %s", row->id,
			       row->kernel, row->vmm, row->device, row->arm, row->nruns, outcomes);
		bt_ktap_diag(&k, "%s", words);
		free(outcomes);
	}
	bt_ktap_totals(&k);
}

static struct json_object *dbl_or_null(double v)
{
	char buf[32];

	if (isnan(v))
		return NULL;
	snprintf(buf, sizeof(buf), "%.6g", v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *row_json(const struct bt_report *r, const struct bt_report_row *row)
{
	struct json_object *o = json_object_new_object(), *x;
	const struct bt_survival *s = &row->stats;
	char words[512], buf[64];
	int i;

	snprintf(buf, sizeof(buf), "R%d", row->id);
	bt_json_set_str(o, "id", buf);
	bt_json_set_str(o, "verdict", bt_verdict_name(row->verdict));
	bt_json_set_str(o, "kernel", row->kernel);
	bt_json_set_str(o, "vmm", row->vmm);
	bt_json_set_str(o, "device", row->device);
	bt_json_set_str(o, "arm", row->arm);
	bt_json_set_u64(o, "runs", row->nruns);
	x = bt_json_set_obj(o, "verdicts");
	for (i = 0; i <= BT_VERDICT_ERROR; i++)
		if (row->verdicts[i])
			bt_json_set_u64(x, bt_verdict_name(i), row->verdicts[i]);
	bt_json_set_outcome_counts(o, "outcomes", row->outcomes);
	bt_json_set_u64(o, "cycles", s->cycles);
	bt_json_set_u64(o, "window_hits", row->window_hits);
	bt_json_set_u64(o, "ur_violations", row->ur_violations);
	bt_json_set_double(o, "duration_s", row->duration_s);
	bt_json_set_u64(o, "failures", s->failures);
	bt_json_set_u64(o, "failed_runs", s->failed_runs);
	json_object_object_add(o, "p", dbl_or_null(s->p));
	x = json_object_new_array();
	json_object_array_add(x, dbl_or_null(s->p_lo));
	json_object_array_add(x, dbl_or_null(s->p_hi));
	json_object_object_add(o, "ci95", x);
	json_object_object_add(o, "upper95", dbl_or_null(s->p_upper));
	json_object_object_add(o, "mean_cycles_between_failures",
			       dbl_or_null(s->mean_cycles_between_failures));
	x = bt_json_set_obj(o, "ttf_ms");
	bt_json_set_u64(x, "n", s->ttf_n);
	json_object_object_add(x, "median", dbl_or_null(s->ttf_median_ms));
	json_object_object_add(x, "p95", dbl_or_null(s->ttf_p95_ms));
	json_object_object_add(x, "max", dbl_or_null(s->ttf_max_ms));
	bt_survival_words(s, words, sizeof(words));
	bt_json_set_str(o, "bound", words);
	bt_json_set_u64(o, "hosts", row->hosts);
	bt_json_set_u64(o, "devices", row->devices);
	bt_json_set_double(o, "device_hours", row->device_hours);
	bt_report_fleet_words(row, words, sizeof(words));
	bt_json_set_str(o, "fleet", words);
	snprintf(words, sizeof(words), "evidence-%s.txt", row->slug);
	bt_json_set_str(o, "evidence", words);
	/* Per host: where the row's runs came from; stops: what cut them. */
	x = bt_report_fleet_json(r, row);
	json_object_object_add(o, "by_host", json_object_get(json_object_object_get(x, "hosts")));
	json_object_object_add(o, "stops", json_object_get(json_object_object_get(x, "stops")));
	json_object_put(x);
	return o;
}

static struct json_object *summary_json(const struct bt_report *r)
{
	struct json_object *o = json_object_new_object(), *in, *a;
	char now[32];
	size_t i;

	bt_utc_now(now, sizeof(now));
	bt_json_set_str(o, "schema", "bartoggle.report/1");
	bt_json_set_str(o, "version", bt_version);
	bt_json_set_str(o, "time", now);
	bt_json_set_str(o, "verdict", bt_verdict_name(bt_report_verdict(r)));
	in = bt_json_set_obj(o, "inputs");
	a = json_object_new_array();
	for (i = 0; i < r->nfiles; i++)
		json_object_array_add(a, json_object_new_string(r->files[i]));
	json_object_object_add(in, "files", a);
	bt_json_set_u64(in, "records", r->nruns);
	bt_json_set_u64(in, "duplicates", r->duplicates);
	a = json_object_new_array();
	for (i = 0; i < r->nissues; i++) {
		struct json_object *is = json_object_new_object();

		bt_json_set_str(is, "file", r->issues[i].file);
		bt_json_set_u64(is, "line", r->issues[i].line);
		bt_json_set_str(is, "reason", r->issues[i].reason);
		json_object_array_add(a, is);
	}
	json_object_object_add(in, "skipped", a);
	a = json_object_new_array();
	for (i = 0; i < r->nrows; i++)
		json_object_array_add(a, row_json(r, &r->rows[i]));
	json_object_object_add(o, "rows", a);
	return o;
}

static char *summary_text(const struct bt_report *r)
{
	size_t len = 0, i, nv[BT_VERDICT_ERROR + 1] = { 0 };
	char *text = NULL, now[32];
	FILE *m = open_memstream(&text, &len);

	BT_ASSERT(m, "out of memory");
	for (i = 0; i < r->nrows; i++)
		nv[r->rows[i].verdict]++;
	bt_utc_now(now, sizeof(now));
	fprintf(m, "verdict: %s (%zu rows: %zu FAIL, %zu ERROR, %zu PASS, %zu SKIP)\n",
		bt_verdict_name(bt_report_verdict(r)), r->nrows, nv[BT_VERDICT_FAIL],
		nv[BT_VERDICT_ERROR], nv[BT_VERDICT_PASS], nv[BT_VERDICT_SKIP]);
	fprintf(m, "bartoggle %s report, %s: %zu records from %zu files, %zu lines skipped "
		"(%zu duplicates)\n\n", bt_version, now, r->nruns, r->nfiles, r->nissues,
		r->duplicates);
	bt_report_print_table(r, m);
	fprintf(m, "\nCycles count PASS and FAIL runs only (a VM that died, up to its failing "
		"cycle);\nthe interval is exact Clopper-Pearson, the bound with 0 failures "
		"one-sided 95%% (about 3/cycles).\n\nFleet:\n");
	for (i = 0; i < r->nrows; i++) {
		char words[512];

		bt_report_fleet_words(&r->rows[i], words, sizeof(words));
		fprintf(m, "  R%d  %s\n", r->rows[i].id, words);
		bt_report_fleet_stops(r, &r->rows[i], "        ", m);
	}
	fprintf(m, "\nEvidence:\n");
	for (i = 0; i < r->nrows; i++)
		fprintf(m, "  R%d  evidence-%s.txt\n", r->rows[i].id, r->rows[i].slug);
	if (r->nissues)
		fprintf(m, "\nSkipped:\n");
	for (i = 0; i < r->nissues && i < 50; i++) {
		if (r->issues[i].line)
			fprintf(m, "  %s:%lu: %s\n", r->issues[i].file, r->issues[i].line,
				r->issues[i].reason);
		else
			fprintf(m, "  %s: %s\n", r->issues[i].file, r->issues[i].reason);
	}
	if (r->nissues > 50)
		fprintf(m, "  (and %zu more: summary.json has them all)\n", r->nissues - 50);
	fclose(m);
	return text;
}

/* Kaplan-Meier steps per row, x from 1 so that a log axis can show it. */
static char *survival_data(const struct bt_report *r)
{
	struct bt_run_obs *obs = calloc(r->nruns + 1, sizeof(*obs));
	struct bt_km_step *steps = calloc(r->nruns + 2, sizeof(*steps));
	size_t len = 0, i, k, n, blocks = 0;
	char *text = NULL;
	FILE *m = open_memstream(&text, &len);

	BT_ASSERT(obs && steps && m, "out of memory");
	for (i = 0; i < r->nrows; i++) {
		const struct bt_report_row *row = &r->rows[i];

		if (!row->stats.cycles)
			continue;
		n = bt_km_curve(obs, bt_report_row_obs(r, row, obs), steps);
		fprintf(m, "%s\"R%d %s, %s, %s\"\n", blocks++ ? "\n\n" : "", row->id,
			row->kernel, row->vmm, row->arm);
		for (k = 0; k < n; k++)
			fprintf(m, "%llu %.6f\n", (unsigned long long)(steps[k].cycles ?
				steps[k].cycles : 1), steps[k].alive);
	}
	fclose(m);
	free(obs);
	free(steps);
	return text;
}

/* Empirical distribution of time to first failure per row that has failures. */
static char *ttf_data(const struct bt_report *r)
{
	double *ms = calloc(r->nruns + 1, sizeof(*ms));
	size_t len = 0, i, k, n, blocks = 0;
	char *text = NULL;
	FILE *m = open_memstream(&text, &len);

	BT_ASSERT(ms && m, "out of memory");
	for (i = 0; i < r->nrows; i++) {
		const struct bt_report_row *row = &r->rows[i];

		if (!row->stats.ttf_n)
			continue;
		for (k = 0, n = 0; k < row->nruns; k++) {
			const struct bt_report_run *run = &r->runs[row->runs[k]];

			if (run->counted && run->obs.failures && !isnan(run->obs.ttf_ms))
				ms[n++] = run->obs.ttf_ms;
		}
		qsort(ms, n, sizeof(*ms), bt_cmp_double);
		fprintf(m, "%s\"R%d %s, %s, %s\"\n", blocks++ ? "\n\n" : "", row->id,
			row->kernel, row->vmm, row->arm);
		fprintf(m, "%.6g 0\n", ms[0]);
		for (k = 0; k < n; k++)
			fprintf(m, "%.6g %.6f\n", ms[k], (double)(k + 1) / (double)n);
	}
	fclose(m);
	free(ms);
	return text;
}

static int cmp_run_duration(const void *a, const void *b, void *arg)
{
	const struct bt_report *r = arg;
	double x = bt_jpath_num(r->runs[*(const size_t *)a].rec, "duration_s");
	double y = bt_jpath_num(r->runs[*(const size_t *)b].rec, "duration_s");

	return (x < y) - (x > y);
}

/* A runner run's progress.jsonl where its records file is now, not where it
 * was written; false for a record without logs. */
static bool progress_path(const struct bt_report_run *run, char *path, size_t len)
{
	const char *logs = bt_jpath_str(run->rec, "logs", NULL);
	char dir[PATH_MAX], base[PATH_MAX];

	if (!logs)
		return false;
	snprintf(dir, sizeof(dir), "%s", run->file);
	snprintf(base, sizeof(base), "%s", logs);
	snprintf(path, len, "%s/%s/progress.jsonl", dirname(dir), basename(base));
	return true;
}

/* The agent's progress files of the longest runner runs: "label<TAB>path". */
static char *progress_list(const struct bt_report *r)
{
	size_t *idx = calloc(r->nruns + 1, sizeof(*idx)), n = 0, len = 0, i;
	char *text = NULL, path[PATH_MAX];
	FILE *m = open_memstream(&text, &len);

	BT_ASSERT(idx && m, "out of memory");
	for (i = 0; i < r->nruns; i++)
		if (progress_path(&r->runs[i], path, sizeof(path)) && !access(path, R_OK))
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_run_duration, (void *)r);
	for (i = 0; i < n && i < MAX_RATE_SERIES; i++) {
		const struct bt_report_run *run = &r->runs[idx[i]];
		uint64_t iteration = 0;

		bt_jpath_u64(run->rec, "iteration", &iteration);
		progress_path(run, path, sizeof(path));
		fprintf(m, "R%d %s #%llu (%s)\t%s\n", r->rows[run->row].id,
			r->rows[run->row].vmm, (unsigned long long)iteration,
			bt_jpath_str(run->rec, "time", "?"), path);
	}
	fclose(m);
	free(idx);
	return text;
}

/* Earlier reports' files: a row that is gone must not leave its evidence behind. */
static void remove_old(const char *outdir)
{
	static const char *const prefixes[] = { "evidence-", "survival.", "ttf.", "rate." };
	struct dirent *de;
	DIR *d = opendir(outdir);
	char path[PATH_MAX + 256];
	size_t i;

	if (!d)
		return;
	while ((de = readdir(d))) {
		for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			if (strncmp(de->d_name, prefixes[i], strlen(prefixes[i])))
				continue;
			snprintf(path, sizeof(path), "%s/%s", outdir, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

static int write_one(const char *outdir, const char *name, char *text)
{
	char path[PATH_MAX + 256];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	ret = __bt_write_file_atomic(path, text);
	free(text);
	return ret;
}

static void keep_first(int *ret, int r)
{
	if (!*ret)
		*ret = r;
}

int __bt_report_write_all(const struct bt_report *r, const char *outdir)
{
	struct json_object *summary;
	char *ktap = NULL, name[PATH_MAX];
	size_t len = 0, i;
	int ret = 0;
	FILE *m;

	if (mkdir(outdir, 0755) && errno != EEXIST)
		return -errno;
	remove_old(outdir);
	summary = summary_json(r);
	keep_first(&ret, write_one(outdir, "summary.json", bt_xstrdup(json_object_to_json_string_ext(
			summary, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE))));
	json_object_put(summary);
	keep_first(&ret, write_one(outdir, "summary.txt", summary_text(r)));
	m = open_memstream(&ktap, &len);
	BT_ASSERT(m, "out of memory");
	bt_report_print_ktap(r, m);
	fclose(m);
	keep_first(&ret, write_one(outdir, "ktap.txt", ktap));
	for (i = 0; i < r->nrows; i++) {
		snprintf(name, sizeof(name), "evidence-%s.txt", r->rows[i].slug);
		keep_first(&ret, write_one(outdir, name, bt_report_evidence_text(r, &r->rows[i])));
	}
	keep_first(&ret, write_one(outdir, "survival.dat", survival_data(r)));
	keep_first(&ret, write_one(outdir, "ttf.dat", ttf_data(r)));
	keep_first(&ret, write_one(outdir, "rate.list", progress_list(r)));
	return ret;
}
