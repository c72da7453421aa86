// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded disk: a 48-hour soak's progress lines, thinned as the runner
 * thins them, stay small and keep their first line, their totals and the
 * recent past at full resolution; a capped log keeps its head and tail.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bartoggle/thin.h"
#include "check_main.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_thin.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/progress.jsonl", dir);
}

static void teardown(void)
{
	bt_test_remove_tree(dir);
}

static size_t count_lines(const char *p, off_t *size)
{
	FILE *f = fopen(p, "r");
	struct stat st;
	size_t n = 0;
	int c;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	ck_assert_int_eq(stat(p, &st), 0);
	if (size)
		*size = st.st_size;
	return n;
}

START_TEST(select_keeps_ends_and_recent_past)
{
	double t[5000];
	unsigned char keep[5000];
	size_t i, kept, last = 0, gap = SIZE_MAX;

	for (i = 0; i < 5000; i++)
		t[i] = i * 500.0;
	ck_assert_uint_eq(bt_thin_select(t, 10, 64, keep), 10);
	kept = bt_thin_select(t, 5000, 200, keep);
	ck_assert_uint_le(kept, 200);
	ck_assert_uint_ge(kept, 150);	/* the budget is used, not wasted */
	ck_assert(keep[0] && keep[4999]);
	/* The last lines are all there; the gaps grow with age. */
	for (i = 4990; i < 5000; i++)
		ck_assert(keep[i]);
	for (i = 1; i < 5000; i++) {
		if (!keep[i])
			continue;
		ck_assert_uint_le(i - last, gap);
		gap = i - last;
		last = i;
	}
	ck_assert_uint_eq(gap, 1);
}
END_TEST

static void append_progress(FILE *f, unsigned long k)
{
	fprintf(f, "{\"type\":\"progress\",\"elapsed_ms\":%lu,\"counts\":{\"cycles\":%lu,"
		"\"toggles\":%lu,\"accesses\":%lu,\"window_hits\":%lu,\"ur_reads\":0,"
		"\"ur_violations\":0,\"faults\":0},\"rates\":{\"cycles_per_s\":1200,"
		"\"toggles_per_s\":2400,\"accesses_per_s\":6.2e+06}}\n",
		k * 500, k * 600, k * 1200, k * 3100000, k * 1100000);
}

/* 48 hours of 2 Hz progress, thinned as host-runner/vm.c does: to the
 * budget whenever twice the budget has piled up. */
START_TEST(forty_eight_hours_stay_small)
{
	const unsigned long lines = 48UL * 3600 * 2;
	const size_t budget = 512;
	struct json_object *o;
	size_t n = 0;
	unsigned long k;
	off_t size;
	char buf[512];
	FILE *f;

	for (k = 1; k <= lines; k++) {
		f = fopen(path, "a");
		ck_assert_ptr_nonnull(f);
		append_progress(f, k);
		ck_assert_int_eq(fclose(f), 0);
		if (++n >= 2 * budget) {
			int ret = __bt_thin_progress(path, budget);

			ck_assert_int_gt(ret, 0);
			ck_assert_int_le(ret, (int)budget);
			n = ret;
		}
	}
	f = fopen(path, "a");
	fprintf(f, "{\"type\":\"done\",\"elapsed_ms\":%lu,\"counts\":{\"cycles\":%lu}}\n",
		lines * 500, lines * 600);
	fclose(f);
	ck_assert_int_le(__bt_thin_progress(path, 128), 128);
	ck_assert_uint_le(count_lines(path, &size), 128);
	ck_assert_int_lt(size, 64 * 1024);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	o = json_tokener_parse(buf);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(o, "elapsed_ms")), 500);
	json_object_put(o);
	while (fgets(buf, sizeof(buf), f))
		;
	fclose(f);
	/* The totals survive every thinning: the last line is the done line. */
	ck_assert_ptr_nonnull(strstr(buf, "\"type\":\"done\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"cycles\":207360000"));
}
END_TEST

START_TEST(unparsable_and_done_lines_stay)
{
	FILE *f = fopen(path, "w");
	unsigned long k;

	for (k = 1; k <= 100; k++)
		append_progress(f, k);
	fputs("not json at all\n", f);
	for (; k <= 200; k++)
		append_progress(f, k);
	fputs("{\"type\":\"done\",\"elapsed_ms\":100000}\n", f);
	fputs("{\"type\":\"progress\",\"elap", f);	/* cut short by a kill */
	fclose(f);
	ck_assert_int_eq(__bt_thin_progress(path, 20), 20);
	f = fopen(path, "r");
	{
		char buf[512];
		int junk = 0, done = 0;

		while (fgets(buf, sizeof(buf), f)) {
			junk += !strcmp(buf, "not json at all\n");
			done += !!strstr(buf, "\"done\"");
		}
		ck_assert_int_eq(junk, 1);
		ck_assert_int_eq(done, 1);
	}
	fclose(f);
	ck_assert_int_eq(__bt_thin_progress("/nonexistent/progress.jsonl", 20), -ENOENT);
}
END_TEST

START_TEST(cap_keeps_head_and_tail)
{
	FILE *f = fopen(path, "w");
	char buf[256], last[256] = "";
	off_t size;
	int i, marks = 0;

	for (i = 0; i < 200000; i++)
		fprintf(f, "[%9d.000000] console line %d\n", i, i);
	fclose(f);
	ck_assert_int_eq(__bt_cap_file(path, 65536, 65536), 1);
	count_lines(path, &size);
	ck_assert_int_le(size, 65536 * 2 + 200);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	ck_assert_str_eq(buf, "[        0.000000] console line 0\n");
	while (fgets(buf, sizeof(buf), f)) {
		marks += !strncmp(buf, "[bartoggle: ", 12);
		strcpy(last, buf);
	}
	fclose(f);
	ck_assert_int_eq(marks, 1);
	ck_assert_str_eq(last, "[   199999.000000] console line 199999\n");
	/* Small enough already: untouched. */
	ck_assert_int_eq(__bt_cap_file(path, 1 << 20, 1 << 20), 0);
	ck_assert_int_eq(__bt_cap_file("/nonexistent/log", 10, 10), -ENOENT);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("thin");
	TCase *tc = tcase_create("thin");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, select_keeps_ends_and_recent_past);
	tcase_add_test(tc, forty_eight_hours_stay_small);
	tcase_add_test(tc, unparsable_and_done_lines_stay);
	tcase_add_test(tc, cap_keeps_head_and_tail);
	suite_add_tcase(s, tc);
	return s;
}
