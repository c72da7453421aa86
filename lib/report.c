// SPDX-License-Identifier: GPL-2.0
/* The report's records: read, checked, grouped into rows, summarized. */
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
#include "bartoggle/reportfleet.h"
#include "bartoggle/rowkey.h"
#include "bartoggle/version.h"
#include "bartoggle/xalloc.h"

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
	/* A run a restart cut short is the operator's, not the kernel's: it
	 * is named in the row, and judged only when nothing else ran. */
	unsigned errors = row->verdicts[BT_VERDICT_ERROR] - row->outcomes[BT_OUTCOME_INTERRUPTED];

	if (row->verdicts[BT_VERDICT_FAIL])
		return BT_VERDICT_FAIL;
	if (errors || (row->verdicts[BT_VERDICT_ERROR] && !row->verdicts[BT_VERDICT_PASS]))
		return BT_VERDICT_ERROR;
	return row->verdicts[BT_VERDICT_PASS] ? BT_VERDICT_PASS : BT_VERDICT_SKIP;
}

/* The observations of a row's PASS and FAIL runs into @obs; how many. */
size_t bt_report_row_obs(const struct bt_report *r, const struct bt_report_row *row,
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
	if (r->nrows)	/* rows is NULL then: qsort's pointer must not be */
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

		bt_survival_summarize(obs, bt_report_row_obs(r, row, obs), &row->stats);
		row->verdict = row_verdict(row);
	}
	bt_report_fleet_count(r);
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

