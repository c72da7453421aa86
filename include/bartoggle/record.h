/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Result records (design.md "Results"), one JSON object per line, and KTAP.
 * A record line is serialised completely before a single O_APPEND write and
 * fsync'd: a crash can lose a record but never leave half of one.
 */
#ifndef BARTOGGLE_RECORD_H
#define BARTOGGLE_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "bartoggle/outcome.h"
#include "bartoggle/stats.h"

#define BT_RECORD_SCHEMA	"bartoggle.record/1"

/* UTC ISO 8601, second resolution: "2026-11-21T09:15:03Z". */
void bt_utc_now(char *buf, size_t len);

/*
 * Remember the command line, shell-quoted, for the "command" field of every
 * record made after it: evidence must say exactly what was run.
 */
void bt_record_set_argv(int argc, char **argv);
const char *bt_record_command(void);	/* "" before bt_record_set_argv() */
/* host.name of every record from now on ([results] host); NULL or "": the
 * hostname. */
void bt_record_set_host_name(const char *name);

/*
 * A new record with schema, tool, version, time, host {hostname, kernel,
 * kernel_build (uname -v), memory_fault_info (null when /dev/kvm cannot be
 * opened)} and command (null when never set).
 */
struct json_object *bt_record_new(const char *tool);

void bt_record_set_outcome(struct json_object *rec, enum bt_outcome outcome,
			   enum bt_verdict verdict);
void bt_record_set_counts(struct json_object *rec,
			  const struct bt_counts *counts, uint64_t duration_ns);
/* first_failure {cycle, ms}, or null when @have is false. */
void bt_record_set_first_failure(struct json_object *rec, bool have,
				 uint64_t cycle, double ms);

/* Shorthands that never fail silently on allocation (they assert). */
void bt_json_set_str(struct json_object *o, const char *key, const char *v);
void bt_json_set_u64(struct json_object *o, const char *key, uint64_t v);
void bt_json_set_double(struct json_object *o, const char *key, double v);
void bt_json_set_bool(struct json_object *o, const char *key, bool v);
void bt_json_set_null(struct json_object *o, const char *key);
struct json_object *bt_json_set_obj(struct json_object *o, const char *key);
/* {outcome name: count} of the non-zero counts, BT_OUTCOME_NR of them. */
void bt_json_set_outcome_counts(struct json_object *o, const char *key,
				const unsigned *counts);

/* The record as one line with '\n', malloc'd. */
char *bt_record_line(struct json_object *rec);
/* Append @line (ending in '\n') to @path (created 0644) in one write, and
 * fsync. 0 or -errno. */
int bt_append_line(const char *path, const char *line);
int bt_record_append(const char *path, struct json_object *rec);
/* @text to @path via @path.tmp, fsync and rename: never half a file. */
int __bt_write_file_atomic(const char *path, const char *text);

struct bt_ktap {
	FILE *out;
	int n;
	int pass, fail, skip, error;
};

void bt_ktap_init(struct bt_ktap *k, FILE *out, int plan);
void bt_ktap_diag(struct bt_ktap *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One test point for a verdict: ok / not ok / ok # SKIP / not ok # ERROR. */
void bt_ktap_result(struct bt_ktap *k, enum bt_verdict verdict,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void bt_ktap_totals(struct bt_ktap *k);

#endif
