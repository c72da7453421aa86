// SPDX-License-Identifier: GPL-2.0
/*
 * No silent loss: an iteration whose runner died is closed from its pending
 * record and progress.jsonl, as interrupted or, across a reboot, host-reset;
 * a live runner's iteration, one already recorded, and garbage are left
 * alone. And a write that fails says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bartoggle/record.h"
#include "bartoggle/recover.h"
#include "check_main.h"

static char root[64], run[128], iter[192];

static void put(const char *dir, const char *name, const char *text)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A run directory with one iteration whose runner (@pid on @boot) left a
 * pending record and three progress lines, the last one cut short. */
static void make_run(int pid, const char *boot)
{
	char pending[1024];

	snprintf(root, sizeof(root), "/tmp/bt-recover-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(run, sizeof(run), "%s/20261122T080000Z-host", root);
	snprintf(iter, sizeof(iter), "%s/qemu1-run1", run);
	ck_assert_int_eq(mkdir(run, 0755), 0);
	ck_assert_int_eq(mkdir(iter, 0755), 0);
	snprintf(pending, sizeof(pending),
		 "{\"schema\":\"bartoggle.record/1\",\"tool\":\"run\",\"outcome\":\"interrupted\","
		 "\"verdict\":\"ERROR\",\"iteration\":1,\"logs\":\"%s\","
		 "\"counts\":{\"cycles\":0},\"runner\":{\"pid\":%d,\"boot_id\":\"%s\"}}", iter, pid,
		 boot);
	put(iter, BT_PENDING_NAME, pending);
	put(iter, "progress.jsonl",
	    "{\"type\":\"progress\",\"elapsed_ms\":500,\"counts\":{\"cycles\":900,\"toggles\":1800,"
	    "\"accesses\":5000,\"window_hits\":7,\"ur_reads\":7,\"ur_violations\":0}}\n"
	    "{\"type\":\"progress\",\"elapsed_ms\":1000,\"counts\":{\"cycles\":2000,\"toggles\":4000,"
	    "\"accesses\":9000,\"window_hits\":11,\"ur_reads\":11,\"ur_violations\":0}}\n"
	    "{\"type\":\"progress\",\"elapsed_ms\":15");
}

static struct json_object *only_record(void)
{
	char path[192], line[4096];
	struct json_object *o;
	FILE *f;

	snprintf(path, sizeof(path), "%s/records.jsonl", run);
	f = fopen(path, "r");
	ck_assert_msg(f, "no %s", path);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_msg(!fgets(line + 2000, 100, f), "more than one record");
	fclose(f);
	o = json_tokener_parse(line);
	ck_assert_ptr_nonnull(o);
	return o;
}

static const char *str(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = json_object_object_get(o, a);

	return json_object_get_string(b ? json_object_object_get(v, b) : v);
}

static int64_t num(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = json_object_object_get(o, a);

	return json_object_get_int64(b ? json_object_object_get(v, b) : v);
}

static bool pending_gone(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", iter, BT_PENDING_NAME);
	return access(path, F_OK);
}

/* A PID no process has: a dead runner. */
#define DEAD_PID	999999

START_TEST(killed_runner_is_interrupted)
{
	struct json_object *rec;
	char boot[64];

	bt_boot_id(boot, sizeof(boot));
	ck_assert_str_ne(boot, "");
	make_run(DEAD_PID, boot);
	ck_assert_int_eq(bt_recover_tree(root, "report", NULL), 1);
	rec = only_record();
	ck_assert_str_eq(str(rec, "outcome", NULL), "interrupted");
	ck_assert_str_eq(str(rec, "verdict", NULL), "ERROR");
	/* the last whole progress line; the cut one is not counted */
	ck_assert_int_eq(num(rec, "counts", "cycles"), 2000);
	ck_assert_int_eq(num(rec, "counts", "window_hits"), 11);
	ck_assert_str_eq(str(rec, "recovered", "by"), "report");
	ck_assert(json_object_is_type(json_object_object_get(rec, "first_failure"), json_type_null));
	ck_assert(pending_gone());
	json_object_put(rec);

	/* seen again: nothing more to do */
	ck_assert_int_eq(bt_recover_tree(root, "restore", NULL), 0);
	json_object_put(only_record());
	bt_test_remove_tree(root);
}
END_TEST

START_TEST(reboot_is_host_reset)
{
	struct json_object *rec;

	make_run(DEAD_PID, "boot-before");
	setenv("BARTOGGLE_BOOT_ID", "boot-after", 1);
	ck_assert_int_eq(bt_recover_tree(root, "runner", NULL), 1);
	unsetenv("BARTOGGLE_BOOT_ID");
	rec = only_record();
	ck_assert_str_eq(str(rec, "outcome", NULL), "host-reset");
	ck_assert_str_eq(str(rec, "verdict", NULL), "FAIL");
	ck_assert_int_eq(num(rec, "first_failure", "cycle"), 2000);
	ck_assert(strstr(str(rec, "signature", NULL), "rebooted"));
	ck_assert_str_eq(str(rec, "recovered", "boot_id"), "boot-after");
	json_object_put(rec);
	bt_test_remove_tree(root);
}
END_TEST

START_TEST(live_runner_left_alone)
{
	char boot[64], path[256];

	bt_boot_id(boot, sizeof(boot));
	make_run(getpid(), boot);
	ck_assert_int_eq(bt_recover_tree(root, "report", NULL), 0);
	ck_assert(!pending_gone());
	snprintf(path, sizeof(path), "%s/records.jsonl", run);
	ck_assert_int_ne(access(path, F_OK), 0);
	bt_test_remove_tree(root);
}
END_TEST

START_TEST(already_recorded_not_twice)
{
	char boot[64], line[512];

	bt_boot_id(boot, sizeof(boot));
	make_run(DEAD_PID, boot);
	/* killed after its record was appended, before the pending one went */
	snprintf(line, sizeof(line), "{\"outcome\":\"survived\",\"logs\":\"%s\"}\n", iter);
	put(run, "records.jsonl", line);
	ck_assert_int_eq(bt_recover_tree(root, "report", NULL), 0);
	ck_assert(pending_gone());
	json_object_put(only_record());
	bt_test_remove_tree(root);
}
END_TEST

START_TEST(garbage_left_alone)
{
	char path[256];

	make_run(DEAD_PID, "x");
	put(iter, BT_PENDING_NAME, "{\"outcome\": trunc");
	ck_assert_int_eq(bt_recover_tree(root, "report", NULL), 0);
	ck_assert(!pending_gone());
	snprintf(path, sizeof(path), "%s/records.jsonl", run);
	ck_assert_int_ne(access(path, F_OK), 0);
	bt_test_remove_tree(root);
	/* a results root that does not exist yet: nothing to do */
	ck_assert_int_eq(bt_recover_tree("/nonexistent/results", "runner", NULL), 0);
}
END_TEST

START_TEST(full_disk_is_an_error)
{
	struct json_object *rec = bt_record_new("run");

	/* /dev/full: every write is ENOSPC, as on a full results disk */
	ck_assert_int_eq(bt_record_append("/dev/full", rec), -ENOSPC);
	ck_assert_int_eq(bt_append_line("/dev/full", "x\n"), -ENOSPC);
	json_object_put(rec);
}
END_TEST

/* The streamed KTAP of a killed runner promised more than it wrote: the
 * recovery writes it again from the records, plan and results agreeing. */
START_TEST(ktap_written_again)
{
	char boot[64], path[256], text[2048];
	size_t n;
	FILE *f;

	bt_boot_id(boot, sizeof(boot));
	make_run(DEAD_PID, boot);
	put(run, "ktap.txt", "KTAP version 1\n1..5\n# bartoggle-run: streamed\n");
	ck_assert_int_eq(bt_recover_tree(root, "restore", NULL), 1);
	snprintf(path, sizeof(path), "%s/ktap.txt", run);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_msg(strstr(text, "KTAP version 1\n1..1\n"), "%s", text);
	ck_assert_msg(strstr(text, "\nnot ok 1 ? ? run1: interrupted, 2000 cycles, 11 window hits\n"),
		      "%s", text);
	ck_assert_msg(strstr(text, "written from records.jsonl by restore"), "%s", text);
	bt_test_remove_tree(root);

	/* No ktap.txt (not a runner's directory): none is made. */
	make_run(DEAD_PID, boot);
	ck_assert_int_eq(bt_recover_tree(root, "restore", NULL), 1);
	snprintf(path, sizeof(path), "%s/ktap.txt", run);
	ck_assert_int_ne(access(path, F_OK), 0);
	bt_test_remove_tree(root);
}
END_TEST

START_TEST(pending_marks_runner)
{
	struct json_object *rec = bt_record_new("run");
	char boot[64];

	bt_boot_id(boot, sizeof(boot));
	bt_pending_prepare(rec);
	ck_assert_str_eq(str(rec, "outcome", NULL), "interrupted");
	ck_assert_str_eq(str(rec, "verdict", NULL), "ERROR");
	ck_assert_int_eq(num(rec, "runner", "pid"), getpid());
	ck_assert_str_eq(str(rec, "runner", "boot_id"), boot);
	json_object_put(rec);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("recover");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, killed_runner_is_interrupted);
	tcase_add_test(tc, reboot_is_host_reset);
	tcase_add_test(tc, live_runner_left_alone);
	tcase_add_test(tc, already_recorded_not_twice);
	tcase_add_test(tc, garbage_left_alone);
	tcase_add_test(tc, full_disk_is_an_error);
	tcase_add_test(tc, ktap_written_again);
	tcase_add_test(tc, pending_marks_runner);
	suite_add_tcase(s, tc);
	return s;
}
