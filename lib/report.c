// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
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
#include "bartoggle/rowkey.h"
#include "bartoggle/version.h"
#include "bartoggle/xalloc.h"

#define MAX_RATE_SERIES	12

void bt_report_init(struct bt_report *r, FILE *diag)
{
	*r = (struct bt_report){ .diag = diag };
}

void bt_report_cleanup(struct bt_report *r)
{
	size_t i;

	for (i = 0; i < r->nruns; i++) {
		json_object_put(r->runs[i].rec);
		free(r->runs[i].text);
	}
	for (i = 0; i < r->nrows; i++) {
		struct bt_report_row *row = &r->rows[i];

		free(row->kernel);
		free(row->vmm);
		free(row->device);
		free(row->arm);
		free(row->slug);
		free(row->runs);
	}
	for (i = 0; i < r->nissues; i++)
		free(r->issues[i].reason);
	for (i = 0; i < r->nfiles; i++)
		free(r->files[i]);
	free(r->runs);
	free(r->rows);
	free(r->issues);
	free(r->files);
	*r = (struct bt_report){ 0 };
}

static void issue(struct bt_report *r, const char *file, unsigned long line,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void issue(struct bt_report *r, const char *file, unsigned long line,
		  const char *fmt, ...)
{
	struct bt_report_issue *is;
	va_list ap;
	int n;

	r->issues = bt_grow(r->issues, r->nissues, sizeof(*r->issues));
	is = &r->issues[r->nissues++];
	is->file = file;
	is->line = line;
	va_start(ap, fmt);
	n = vasprintf(&is->reason, fmt, ap);
	va_end(ap);
	BT_ASSERT(n >= 0, "out of memory");
	if (r->diag && line)
		fprintf(r->diag, "%s:%lu: %s, skipped\n", file, line, is->reason);
	else if (r->diag)
		fprintf(r->diag, "%s: %s\n", file, is->reason);
}

static const struct bt_report_run *find_duplicate(const struct bt_report *r, const char *text)
{
	size_t i;

	for (i = 0; i < r->nruns; i++)
		if (!strcmp(r->runs[i].text, text))
			return &r->runs[i];
	return NULL;
}

/* The fields every statistic relies on; the reason a record is unusable, or NULL. */
static const char *check_record(struct json_object *rec, struct bt_report_run *run)
{
	const char *schema = bt_jpath_str(rec, "schema", NULL), *s;
	uint64_t v;

	if (!schema)
		return "not a bartoggle record (no \"schema\")";
	if (strcmp(schema, BT_RECORD_SCHEMA))
		return "not a bartoggle record (unknown \"schema\")";
	s = bt_jpath_str(rec, "outcome", "");
	if (bt_outcome_parse(s, &run->outcome))
		return "bad record: \"outcome\" is not an outcome name";
	s = bt_jpath_str(rec, "verdict", "");
	if (bt_verdict_parse(s, &run->verdict))
		return "bad record: \"verdict\" is not PASS, FAIL, SKIP or ERROR";
	if (!bt_jpath_u64(rec, "counts.cycles", &v) || !bt_jpath_u64(rec, "counts.window_hits", &v))
		return "bad record: \"counts\" lacks cycles or window_hits";
	if (!bt_jpath_str(rec, "host.kernel", NULL) || !bt_jpath_str(rec, "tool", NULL))
		return "bad record: no \"host.kernel\" or \"tool\"";
	return NULL;
}

static void observe(struct bt_report_run *run)
{
	struct json_object *rec = run->rec;
	uint64_t cycles = 0, fail_cycle, fatal = 0;

	bt_jpath_u64(rec, "counts.cycles", &cycles);
	run->counted = run->verdict == BT_VERDICT_PASS || run->verdict == BT_VERDICT_FAIL;
	run->obs = (struct bt_run_obs){ .cycles = cycles, .ttf_ms = NAN };
	if (!bt_outcome_failing(run->outcome))
		return;
	/* A VM that died in cycle c was exposed to c + 1 cycles; the runner
	 * only knows the agent's last count, so this errs towards more risk. */
	if (bt_jpath_u64(rec, "first_failure.cycle", &fail_cycle) && fail_cycle + 1 > cycles)
		run->obs.cycles = fail_cycle + 1;
	bt_jpath_u64(rec, "vmm.fatal_results", &fatal);
	run->obs.failures = fatal > 1 ? fatal : 1;
	run->obs.ttf_ms = bt_jpath_num(rec, "first_failure.ms");
}

static void add_line(struct bt_report *r, const char *file, unsigned long lineno,
		     char *text, size_t len, bool at_eof_without_newline)
{
	enum json_tokener_error err;
	const struct bt_report_run *dup;
	struct bt_report_run run = { .file = file, .line = lineno };
	struct json_tokener *tok;
	struct json_object *rec;
	const char *why;

	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (strlen(text) != len) {
		issue(r, file, lineno, "NUL byte in the line");
		return;
	}
	if (!len) {
		issue(r, file, lineno, "empty line");
		return;
	}
	tok = json_tokener_new();
	BT_ASSERT(tok, "out of memory");
	rec = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	if (rec && json_tokener_get_parse_end(tok) != len) {
		json_object_put(rec);
		rec = NULL;
		err = json_tokener_error_parse_unexpected;
	}
	json_tokener_free(tok);
	if (!rec && err == json_tokener_continue) {
		issue(r, file, lineno, "truncated record (%zu bytes, the JSON ends early%s)", len,
		      at_eof_without_newline ? " at the end of the file: the writer was cut off" : "");
		return;
	}
	if (!rec) {
		issue(r, file, lineno, "not JSON (%s)", err == json_tokener_continue ? "incomplete" :
		      json_tokener_error_desc(err == json_tokener_success ?
					      json_tokener_error_parse_unexpected : err));
		return;
	}
	if (!json_object_is_type(rec, json_type_object)) {
		json_object_put(rec);
		issue(r, file, lineno, "not a JSON object");
		return;
	}
	why = check_record(rec, &run);
	if (why) {
		json_object_put(rec);
		issue(r, file, lineno, "%s", why);
		return;
	}
	dup = find_duplicate(r, text);
	if (dup) {
		json_object_put(rec);
		r->duplicates++;
		issue(r, file, lineno, "duplicate of %s:%lu", dup->file, dup->line);
		return;
	}
	run.rec = rec;
	run.text = bt_xstrdup(text);
	observe(&run);
	r->runs = bt_grow(r->runs, r->nruns, sizeof(*r->runs));
	r->runs[r->nruns++] = run;
}

int __bt_report_add_file(struct bt_report *r, const char *path)
{
	unsigned long lineno = 0;
	char *line = NULL, *name;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	r->files = bt_grow(r->files, r->nfiles, sizeof(*r->files));
	name = r->files[r->nfiles++] = bt_xstrdup(path);
	f = fopen(path, "r");
	if (!f) {
		int ret = -errno;

		issue(r, name, 0, "cannot read: %s", strerror(-ret));
		return ret;
	}
	while ((n = getline(&line, &cap, f)) > 0)
		add_line(r, name, ++lineno, line, n, line[n - 1] != '\n');
	free(line);
	fclose(f);
	return 0;
}

static char **found;
static size_t nfound;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type == FTW_F && !strcmp(path + ftw->base, "records.jsonl")) {
		found = bt_grow(found, nfound, sizeof(*found));
		found[nfound++] = bt_xstrdup(path);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int __bt_report_add_dir(struct bt_report *r, const char *dir)
{
	size_t i;
	int n;

	found = NULL;
	nfound = 0;
	if (nftw(dir, collect, 32, FTW_PHYS)) {
		int ret = errno ? -errno : -EIO;

		issue(r, dir, 0, "cannot walk: %s", strerror(-ret));
		return ret;
	}
	qsort(found, nfound, sizeof(*found), cmp_str);
	for (i = 0; i < nfound; i++) {
		__bt_report_add_file(r, found[i]);
		free(found[i]);
	}
	free(found);
	n = (int)nfound;
	found = NULL;
	return n;
}

static int cmp_row(const void *a, const void *b)
{
	const struct bt_report_row *x = a, *y = b;
	int c;

	if ((c = strcmp(x->kernel, y->kernel)) || (c = strcmp(x->vmm, y->vmm)) ||
	    (c = strcmp(x->device, y->device)))
		return c;
	return strcmp(x->arm, y->arm);
}

static size_t row_for(struct bt_report *r, char *kernel, char *vmm, char *device, char *arm)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		struct bt_report_row *row = &r->rows[i];

		if (!strcmp(row->kernel, kernel) && !strcmp(row->vmm, vmm) &&
		    !strcmp(row->device, device) && !strcmp(row->arm, arm)) {
			free(kernel);
			free(vmm);
			free(device);
			free(arm);
			return i;
		}
	}
	r->rows = bt_grow(r->rows, r->nrows, sizeof(*r->rows));
	r->rows[r->nrows] = (struct bt_report_row){ .kernel = kernel, .vmm = vmm,
		.device = device, .arm = arm };
	return r->nrows++;
}

static enum bt_verdict row_verdict(const struct bt_report_row *row)
{
	if (row->verdicts[BT_VERDICT_FAIL])
		return BT_VERDICT_FAIL;
	if (row->verdicts[BT_VERDICT_ERROR])
		return BT_VERDICT_ERROR;
	return row->verdicts[BT_VERDICT_PASS] ? BT_VERDICT_PASS : BT_VERDICT_SKIP;
}

/* The observations of a row's PASS and FAIL runs into @obs; how many. */
static size_t row_obs(const struct bt_report *r, const struct bt_report_row *row,
		      struct bt_run_obs *obs)
{
	size_t k, n = 0;

	for (k = 0; k < row->nruns; k++)
		if (r->runs[row->runs[k]].counted)
			obs[n++] = r->runs[row->runs[k]].obs;
	return n;
}

void bt_report_finish(struct bt_report *r)
{
	struct bt_run_obs *obs = calloc(r->nruns ? r->nruns : 1, sizeof(*obs));
	int *remap;
	size_t i;

	BT_ASSERT(obs, "out of memory");
	for (i = 0; i < r->nruns; i++) {
		struct json_object *rec = r->runs[i].rec;

		r->runs[i].row = (int)row_for(r, bt_rowkey_kernel(rec), bt_rowkey_vmm(rec),
					      bt_rowkey_device(rec), bt_rowkey_arm(rec));
	}
	/* Sorted by key; id carries a row's place before the sort meanwhile. */
	for (i = 0; i < r->nrows; i++)
		r->rows[i].id = (int)i;
	qsort(r->rows, r->nrows, sizeof(*r->rows), cmp_row);
	remap = calloc(r->nrows + 1, sizeof(*remap));
	BT_ASSERT(remap, "out of memory");
	for (i = 0; i < r->nrows; i++) {
		remap[r->rows[i].id] = (int)i;
		r->rows[i].id = (int)i + 1;
		r->rows[i].slug = bt_rowkey_slug(r->rows[i].kernel, r->rows[i].vmm,
						  r->rows[i].device, r->rows[i].arm);
	}
	for (i = 0; i < r->nruns; i++) {
		struct bt_report_run *run = &r->runs[i];
		struct json_object *rec = run->rec;
		struct bt_report_row *row;
		uint64_t v = 0;
		double d;

		run->row = remap[run->row];
		row = &r->rows[run->row];
		row->runs = bt_grow(row->runs, row->nruns, sizeof(*row->runs));
		row->runs[row->nruns++] = i;
		row->verdicts[run->verdict]++;
		row->outcomes[run->outcome]++;
		row->ur_fail_runs += run->verdict == BT_VERDICT_FAIL &&
				     !bt_outcome_failing(run->outcome);
		if (bt_jpath_u64(rec, "counts.window_hits", &v))
			row->window_hits += v;
		if (bt_jpath_u64(rec, "counts.ur_violations", &v))
			row->ur_violations += v;
		d = bt_jpath_num(rec, "duration_s");
		row->duration_s += isnan(d) ? 0 : d;
	}
	for (i = 0; i < r->nrows; i++) {
		struct bt_report_row *row = &r->rows[i];

		bt_survival_summarize(obs, row_obs(r, row, obs), &row->stats);
		row->verdict = row_verdict(row);
	}
	free(remap);
	free(obs);
}

enum bt_verdict bt_report_verdict(const struct bt_report *r)
{
	static const int rank[] = { [BT_VERDICT_SKIP] = 0, [BT_VERDICT_PASS] = 1,
				    [BT_VERDICT_ERROR] = 2, [BT_VERDICT_FAIL] = 3 };
	enum bt_verdict v = BT_VERDICT_SKIP;
	size_t i;

	for (i = 0; i < r->nrows; i++)
		if (rank[r->rows[i].verdict] > rank[v])
			v = r->rows[i].verdict;
	return v;
}

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

enum { COL_ID, COL_VERDICT, COL_KERNEL, COL_VMM, COL_DEVICE, COL_ARM, COL_RUNS, COL_CYCLES,
       COL_HITS, COL_OUTCOMES, COL_TTF, COL_P, COL_BOUND, NCOLS };

static const char *const col_title[NCOLS] = {
	"ID", "VERDICT", "KERNEL", "VMM", "DEVICE", "ARM", "RUNS", "CYCLES", "WINDOW HITS",
	"OUTCOMES", "TTF ms med/p95/max", "P(fail)/cycle [95% CI]", "FAILURE RATE",
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
	case COL_CYCLES:
		return bt_xasprintf("%llu", (unsigned long long)s->cycles);
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
		char words[256], *outcomes = outcome_text(row);

		bt_survival_words(&row->stats, words, sizeof(words));
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

static struct json_object *row_json(const struct bt_report_row *row)
{
	struct json_object *o = json_object_new_object(), *x;
	const struct bt_survival *s = &row->stats;
	char words[320], buf[64];
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
	snprintf(words, sizeof(words), "evidence-%s.txt", row->slug);
	bt_json_set_str(o, "evidence", words);
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
		json_object_array_add(a, row_json(&r->rows[i]));
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
		"one-sided 95%% (about 3/cycles).\n\nEvidence:\n");
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
		n = bt_km_curve(obs, row_obs(r, row, obs), steps);
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
