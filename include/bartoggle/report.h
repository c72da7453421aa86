/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The report over many records.jsonl files: records grouped into rows (one
 * per kernel x VMM x device x arm), survival statistics per row, and the
 * files a user pastes into a patch email. A bad line is a diagnostic with
 * file:line, never the end of the report.
 */
#ifndef BARTOGGLE_REPORT_H
#define BARTOGGLE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <json-c/json.h>

#include "bartoggle/outcome.h"
#include "bartoggle/survival.h"

struct bt_report_run {
	struct json_object *rec;
	const char *file;		/* owned by the report's file list */
	unsigned long line;
	char *text;			/* the line as read: duplicates are exact copies */
	int row;
	bool counted;			/* PASS or FAIL: enters the statistics */
	enum bt_outcome outcome;
	enum bt_verdict verdict;
	struct bt_run_obs obs;
};

struct bt_report_row {
	char *kernel, *vmm, *device, *arm;	/* the key */
	char *slug;				/* file-name-safe key */
	int id;					/* R<id> in tables and plots */
	enum bt_verdict verdict;
	size_t *runs, nruns;			/* indices into runs[] */
	unsigned verdicts[BT_VERDICT_ERROR + 1];
	unsigned outcomes[BT_OUTCOME_NR];
	unsigned ur_fail_runs;			/* FAIL on UR reads alone (ur_check=strict) */
	uint64_t window_hits, ur_violations;
	double duration_s;
	unsigned hosts, devices;		/* reportfleet.c */
	double device_hours;
	struct bt_survival stats;
};

struct bt_report_issue {
	const char *file;
	unsigned long line;
	char *reason;
};

struct bt_report {
	char **files;
	size_t nfiles;
	struct bt_report_run *runs;
	size_t nruns;
	struct bt_report_row *rows;
	size_t nrows;
	struct bt_report_issue *issues;	/* skipped lines and unreadable files */
	size_t nissues;
	size_t duplicates;
	FILE *diag;			/* each issue as it is found; may be NULL */
};

void bt_report_init(struct bt_report *r, FILE *diag);
void bt_report_cleanup(struct bt_report *r);

/* One records file: every good line becomes a run. 0, or -errno when the
 * file cannot be read (also kept as an issue). */
int __bt_report_add_file(struct bt_report *r, const char *path);
/* Every file named records.jsonl under @dir, in name order. The number of
 * files, or -errno. */
int __bt_report_add_dir(struct bt_report *r, const char *dir);

/* Group the runs into rows, sorted by key, and compute their statistics. */
void bt_report_finish(struct bt_report *r);
/* The observations of a row's PASS and FAIL runs into @obs; how many. */
size_t bt_report_row_obs(const struct bt_report *r, const struct bt_report_row *row,
			 struct bt_run_obs *obs);
/* The worst row verdict: FAIL > ERROR > PASS > SKIP (SKIP when no rows). */
enum bt_verdict bt_report_verdict(const struct bt_report *r);

/* Writers. Each file is written via a temp file and rename. 0 or -errno. */
int __bt_report_write_all(const struct bt_report *r, const char *outdir);
/* The table of summary.txt, for a terminal too. */
void bt_report_print_table(const struct bt_report *r, FILE *out);
/* KTAP: one test point per row. */
void bt_report_print_ktap(const struct bt_report *r, FILE *out);

#endif
