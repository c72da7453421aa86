// SPDX-License-Identifier: GPL-2.0
/*
 * The report over tests/data/report: good/ holds six records of four rows,
 * bad/ one good record and every kind of bad line (garbage, foreign JSON, a
 * duplicate of good/:3, an unknown outcome, an empty line, a last line cut
 * off by a crash).
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "bartoggle/report.h"
#include "check_main.h"

#define DATA BT_TEST_DATA "/report"

static struct bt_report r;

static void load(void)
{
	bt_report_init(&r, NULL);
	ck_assert_int_eq(__bt_report_add_dir(&r, DATA), 2);
	bt_report_finish(&r);
}

static void unload(void)
{
	bt_report_cleanup(&r);
}

static const struct bt_report_row *row(int id)
{
	ck_assert_int_le(id, (int)r.nrows);
	return &r.rows[id - 1];
}

START_TEST(bad_lines_are_named_and_skipped)
{
	static const struct { const char *file; unsigned long line; const char *reason; } want[] = {
		{ DATA "/bad/records.jsonl", 2, "not JSON (" },
		{ DATA "/bad/records.jsonl", 3, "not a bartoggle record (no \"schema\")" },
		{ DATA "/bad/records.jsonl", 5, "bad record: \"outcome\" is not an outcome name" },
		{ DATA "/bad/records.jsonl", 6, "empty line" },
		{ DATA "/bad/records.jsonl", 7, "truncated record (" },
		{ DATA "/good/records.jsonl", 3, "duplicate of " DATA "/bad/records.jsonl:4" },
	};
	size_t i;

	ck_assert_uint_eq(r.nfiles, 2);
	ck_assert_uint_eq(r.nruns, 7);
	ck_assert_uint_eq(r.duplicates, 1);
	ck_assert_uint_eq(r.nissues, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < r.nissues; i++) {
		ck_assert_str_eq(r.issues[i].file, want[i].file);
		ck_assert_uint_eq(r.issues[i].line, want[i].line);
		ck_assert_msg(!strncmp(r.issues[i].reason, want[i].reason, strlen(want[i].reason)),
			      "%s:%lu: %s", r.issues[i].file, r.issues[i].line, r.issues[i].reason);
	}
	ck_assert_ptr_nonnull(strstr(r.issues[4].reason, "the writer was cut off"));
}
END_TEST

START_TEST(rows_and_verdicts)
{
	ck_assert_uint_eq(r.nrows, 4);
	ck_assert_str_eq(row(1)->vmm, "QEMU 8.2.2");
	ck_assert_int_eq(row(1)->verdict, BT_VERDICT_ERROR);
	ck_assert_str_eq(row(2)->kernel, "6.12.0-test");
	ck_assert_str_eq(row(2)->vmm, "QEMU 9.2.0");
	ck_assert_str_eq(row(2)->device, "10de:2236");
	ck_assert_str_eq(row(2)->arm, "vfio race");
	ck_assert_int_eq(row(2)->verdict, BT_VERDICT_FAIL);
	ck_assert_uint_eq(row(2)->nruns, 4);
	ck_assert_uint_eq(row(2)->outcomes[BT_OUTCOME_VM_STOPPED], 2);
	ck_assert_str_eq(row(3)->arm, "shmem held");
	ck_assert_int_eq(row(3)->verdict, BT_VERDICT_SKIP);
	ck_assert_str_eq(row(4)->vmm, "bartoggle-repro");
	ck_assert_str_eq(row(4)->device, "-");
	ck_assert_int_eq(row(4)->verdict, BT_VERDICT_PASS);
	ck_assert_int_eq(bt_report_verdict(&r), BT_VERDICT_FAIL);
}
END_TEST

START_TEST(row_statistics)
{
	const struct bt_survival *s = &row(2)->stats;

	/* Died in cycle 0 and cycle 3: exposed to 1 and 4; survivors 20000 and 1000. */
	ck_assert_uint_eq(s->cycles, 21005);
	ck_assert_uint_eq(s->failures, 2);
	ck_assert_uint_eq(s->ttf_n, 2);
	ck_assert(fabs(s->ttf_median_ms - 50.0) < 1e-9);
	ck_assert(fabs(s->ttf_max_ms - 60.0) < 1e-9);
	ck_assert(fabs(s->mean_cycles_between_failures - 10502.5) < 1e-9);
	ck_assert_uint_eq(row(2)->window_hits, 951);
	ck_assert_uint_eq(row(4)->stats.cycles, 100000);
	ck_assert_uint_eq(row(4)->stats.failures, 0);
	/* ERROR and SKIP runs do not enter the statistics. */
	ck_assert_uint_eq(row(1)->stats.cycles, 0);
	ck_assert(isnan(row(1)->stats.p));
}
END_TEST

static char *slurp(const char *dir, const char *name)
{
	char path[512], *text = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_gt(getdelim(&text, &cap, '\0', f), 0);
	fclose(f);
	return text;
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

START_TEST(written_files)
{
	char dir[] = "/tmp/bt-report-XXXXXX", *t;
	struct json_object *summary;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(__bt_report_write_all(&r, dir), 0);

	t = slurp(dir, "evidence-6.12.0-test_QEMU-9.2.0_10de-2236_vfio-race.txt");
	ck_assert_int_lt(count_lines(t), 40);
	ck_assert_ptr_null(strchr(t, '\033'));
	ck_assert_ptr_nonnull(strstr(t, "Verdict:       FAIL (2 FAIL, 2 PASS)\n"));
	ck_assert_ptr_nonnull(strstr(t, "Kernel build:  #1 SMP PREEMPT_DYNAMIC Debian 6.12.1-1\n"));
	ck_assert_ptr_nonnull(strstr(t, "QEMU:          qemu-system-x86_64 9.2.0 (accel kvm)"));
	ck_assert_ptr_nonnull(strstr(t, "Device:        10de:2236 NVIDIA GA102GL [A10] at 0000:41:00.0"));
	ck_assert_ptr_nonnull(strstr(t, "Command:       bartoggle-run --config configs/a10.ini\n"));
	ck_assert_ptr_nonnull(strstr(t, "Outcomes:      vm-stopped=2 survived=2\n"));
	ck_assert_ptr_nonnull(strstr(t, "2 VM-fatal events in 21005 cycles"));
	ck_assert_ptr_nonnull(strstr(t, "one every 10,502 cycles on average"));
	free(t);
	t = slurp(dir, "evidence-6.12.0-test_bartoggle-repro_-_shmem-race.txt");
	ck_assert_ptr_nonnull(strstr(t, "fewer than 1 in 33,300 cycles"));
	ck_assert_ptr_nonnull(strstr(t, "IOMMU:         none (userspace stand-in"));
	ck_assert_ptr_nonnull(strstr(t, "Device:        none (a shmem stand-in, BAR0 1024 KiB)\n"));
	free(t);

	t = slurp(dir, "summary.txt");
	ck_assert_msg(!strncmp(t, "verdict: FAIL (4 rows: 1 FAIL, 1 ERROR, 1 PASS, 1 SKIP)\n", 56),
		      "%.80s", t);
	ck_assert_ptr_nonnull(strstr(t, DATA "/bad/records.jsonl:7: truncated record"));
	free(t);
	t = slurp(dir, "ktap.txt");
	ck_assert_ptr_nonnull(strstr(t, "KTAP version 1\n1..4\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nnot ok 2 R2 6.12.0-test QEMU 9.2.0 10de:2236 vfio race"));
	ck_assert_ptr_nonnull(strstr(t, "\nok 3 R3 6.12.0-test bartoggle-repro - shmem held: 1 runs, "
				     "skipped=1 # SKIP\n"));
	free(t);
	t = slurp(dir, "rate.list");
	ck_assert_ptr_nonnull(strstr(t, DATA "/bad/qemu1-run1/progress.jsonl\n"));
	free(t);

	summary = json_object_from_file(strcat(strcpy((char[64]){ 0 }, dir), "/summary.json"));
	ck_assert_ptr_nonnull(summary);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(summary, "rows")), 4);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(
		json_object_object_get(summary, "inputs"), "skipped")), 6);
	json_object_put(summary);
	bt_test_remove_tree(dir);
}
END_TEST

START_TEST(arm_names_what_differs)
{
	char path[] = "/tmp/bt-report-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct bt_report one;

	fputs("{\"schema\":\"bartoggle.record/1\",\"tool\":\"repro\",\"host\":{\"kernel\":\"k\"},"
	      "\"backing\":\"vfio\",\"mode\":\"race\",\"options\":{\"access\":\"rw\",\"width\":2,"
	      "\"dwell_off_us\":200,\"vcpus\":2,\"iommu\":\"type1\"},\"outcome\":\"efault\","
	      "\"verdict\":\"FAIL\",\"counts\":{\"cycles\":7,\"window_hits\":1},"
	      "\"vmm\":{\"fatal_results\":3}}\n", f);
	fclose(f);
	bt_report_init(&one, NULL);
	ck_assert_int_eq(__bt_report_add_file(&one, path), 0);
	bt_report_finish(&one);
	ck_assert_uint_eq(one.nrows, 1);
	ck_assert_str_eq(one.rows[0].arm, "vfio race rw/2 dwell 200/0 us 2 vCPUs type1");
	/* --on-fault=continue: every fatal result is a failure event. */
	ck_assert_uint_eq(one.rows[0].stats.failures, 3);
	ck_assert(isnan(one.rows[0].stats.ttf_median_ms));
	bt_report_cleanup(&one);
	unlink(path);

	bt_report_init(&one, NULL);
	ck_assert_int_eq(__bt_report_add_file(&one, "/nonexistent/records.jsonl"), -ENOENT);
	ck_assert_uint_eq(one.nissues, 1);
	ck_assert_uint_eq(one.issues[0].line, 0);
	bt_report_finish(&one);
	ck_assert_int_eq(bt_report_verdict(&one), BT_VERDICT_SKIP);
	bt_report_cleanup(&one);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_checked_fixture(tc, load, unload);
	tcase_add_test(tc, bad_lines_are_named_and_skipped);
	tcase_add_test(tc, rows_and_verdicts);
	tcase_add_test(tc, row_statistics);
	tcase_add_test(tc, written_files);
	tcase_add_test(tc, arm_names_what_differs);
	suite_add_tcase(s, tc);
	return s;
}
