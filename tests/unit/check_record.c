// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bartoggle/record.h"
#include "check_main.h"

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[128], *key, *save = NULL;
	struct json_object *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key;
	     key = strtok_r(NULL, ".", &save)) {
		ck_assert_msg(json_object_object_get_ex(cur, key, &cur),
			      "missing field %s", path);
	}
	return cur;
}

static struct json_object *sample(void)
{
	struct bt_counts c = {
		.cycles = 1000000, .toggles = 2000000, .accesses = 74538,
		.window_hits = 21018, .ur_reads = 21018,
	};
	struct json_object *rec = bt_record_new("repro");

	bt_record_set_outcome(rec, BT_OUTCOME_MMIO_EXIT, BT_VERDICT_PASS);
	bt_record_set_counts(rec, &c, 5000000000ULL);
	bt_record_set_first_failure(rec, false, 0, 0);
	bt_json_set_str(rec, "signature", "line with \"quotes\"\nand a newline");
	return rec;
}

START_TEST(required_fields)
{
	static const char *const fields[] = {
		"schema", "tool", "version", "time", "host.hostname", "host.kernel",
		"host.memory_fault_info", "outcome", "verdict", "counts.cycles",
		"counts.toggles", "counts.accesses", "counts.window_hits",
		"counts.ur_reads", "counts.ur_violations", "rates.toggles_per_s",
		"rates.accesses_per_s", "first_failure", "duration_s", "signature",
	};
	struct json_object *rec = sample();
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		get(rec, fields[i]);
	ck_assert_str_eq(json_object_get_string(get(rec, "schema")),
			 "bartoggle.record/1");
	ck_assert_str_eq(json_object_get_string(get(rec, "outcome")), "mmio-exit");
	ck_assert_str_eq(json_object_get_string(get(rec, "verdict")), "PASS");
	ck_assert_uint_eq(json_object_get_uint64(get(rec, "counts.cycles")), 1000000);
	ck_assert_double_eq_tol(json_object_get_double(get(rec, "rates.toggles_per_s")),
				400000.0, 1e-6);
	ck_assert(json_object_is_type(get(rec, "first_failure"), json_type_null));
	ck_assert_int_eq(strlen(json_object_get_string(get(rec, "time"))), 20);
	json_object_put(rec);
}
END_TEST

START_TEST(one_line_round_trip)
{
	struct json_object *rec = sample(), *back;
	char *line = bt_record_line(rec);
	size_t len = strlen(line);

	ck_assert_int_gt(len, 2);
	ck_assert_int_eq(line[len - 1], '\n');
	ck_assert_ptr_null(memchr(line, '\n', len - 1));
	back = json_tokener_parse(line);
	ck_assert_ptr_nonnull(back);
	ck_assert_str_eq(json_object_get_string(get(back, "signature")),
			 "line with \"quotes\"\nand a newline");
	json_object_put(back);
	json_object_put(rec);
	free(line);
}
END_TEST

START_TEST(first_failure_object)
{
	struct json_object *rec = bt_record_new("repro");

	bt_record_set_first_failure(rec, true, 17, 1.25);
	ck_assert_uint_eq(json_object_get_uint64(get(rec, "first_failure.cycle")), 17);
	ck_assert_double_eq_tol(json_object_get_double(get(rec, "first_failure.ms")),
				1.25, 1e-9);
	json_object_put(rec);
}
END_TEST

START_TEST(append_lines)
{
	char path[] = "/tmp/bt-record-XXXXXX";
	struct json_object *rec = sample();
	char line[8192];
	FILE *f;
	int fd = mkstemp(path), n = 0;

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(bt_record_append(path, rec), 0);
	ck_assert_int_eq(bt_record_append(path, rec), 0);
	f = fopen(path, "r");
	while (fgets(line, sizeof(line), f)) {
		struct json_object *back = json_tokener_parse(line);

		ck_assert_ptr_nonnull(back);
		json_object_put(back);
		n++;
	}
	fclose(f);
	ck_assert_int_eq(n, 2);
	unlink(path);
	ck_assert_int_eq(bt_record_append("/nonexistent-dir/x.jsonl", rec), -ENOENT);
	json_object_put(rec);
}
END_TEST

START_TEST(ktap_shape)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct bt_ktap k;

	bt_ktap_init(&k, out, 4);
	bt_ktap_diag(&k, "note %d", 1);
	bt_ktap_result(&k, BT_VERDICT_PASS, "setup");
	bt_ktap_result(&k, BT_VERDICT_FAIL, "disabled access: %s", "efault");
	bt_ktap_result(&k, BT_VERDICT_SKIP, "iommufd");
	bt_ktap_result(&k, BT_VERDICT_ERROR, "window");
	bt_ktap_totals(&k);
	fclose(out);
	ck_assert_str_eq(buf,
		"KTAP version 1\n"
		"1..4\n"
		"# note 1\n"
		"ok 1 setup\n"
		"not ok 2 disabled access: efault\n"
		"ok 3 iommufd # SKIP\n"
		"not ok 4 window\n"
		"# ERROR 4: no verdict, the run itself went wrong\n"
		"# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:1\n");
	free(buf);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, required_fields);
	tcase_add_test(tc, one_line_round_trip);
	tcase_add_test(tc, first_failure_object);
	tcase_add_test(tc, append_lines);
	suite_add_tcase(s, tc);
	tc = tcase_create("ktap");
	tcase_add_test(tc, ktap_shape);
	suite_add_tcase(s, tc);
	return s;
}
