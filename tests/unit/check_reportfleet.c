// SPDX-License-Identifier: GPL-2.0
/*
 * The report across a fleet: hosts and devices counted per row (host.name
 * first, several fleet hosts may share a machine), device-hours, runs a stop
 * or a reboot cut short named with their host, and an interrupted run that
 * does not make a row of completed runs ERROR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bartoggle/jpath.h"
#include "bartoggle/report.h"
#include "bartoggle/reportfleet.h"
#include "check_main.h"

static char dir[64], path[128];
static struct bt_report r;

static void put(FILE *f, const char *host, const char *name, const char *bdf, const char *kernel,
		const char *outcome, const char *verdict, unsigned cycles, double duration_s,
		unsigned iteration)
{
	fprintf(f, "{\"schema\":\"bartoggle.record/1\",\"tool\":\"run\",\"host\":{\"hostname\":\"%s\","
		"%s%s%s\"kernel\":\"%s\"},\"qemu\":{\"version\":\"7.2.22\"},\"device\":{\"bdf\":%s%s%s,"
		"\"vendor\":\"1234\",\"device\":\"11e8\"},\"backing\":\"vfio\",\"mode\":\"race\","
		"\"options\":{\"results\":{\"soak\":\"s\"}},\"outcome\":\"%s\",\"verdict\":\"%s\","
		"\"counts\":{\"cycles\":%u,\"window_hits\":%u},\"duration_s\":%g,\"iteration\":%u,"
		"\"time\":\"2026-12-01T10:00:0%uZ\",\"logs\":\"/r/s/qemu1-run%u\"}\n",
		host, name ? "\"name\":\"" : "", name ? name : "", name ? "\"," : "", kernel,
		bdf ? "\"" : "", bdf ? bdf : "null", bdf ? "\"" : "", outcome, verdict, cycles,
		cycles, duration_s, iteration, iteration, iteration);
}

static void setup(void)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/check_reportfleet.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/records.jsonl", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	/* Row 6.12: three fleet hosts on one machine ("box"), host-a with two
	 * devices; one run of host-b cut short by a stop. */
	put(f, "box", "host-a", "0000:3b:00.0", "6.12", "survived", "PASS", 1000, 1800, 1);
	put(f, "box", "host-a", "0000:5e:00.0", "6.12", "survived", "PASS", 2000, 1800, 2);
	put(f, "box", "host-b", "0000:3b:00.0", "6.12", "survived", "PASS", 3000, 3600, 3);
	put(f, "box", "host-b", "0000:3b:00.0", "6.12", "interrupted", "ERROR", 500, 900, 4);
	put(f, "box", "host-c", NULL, "6.12", "survived", "PASS", 4000, 1800, 5);
	/* Row 6.1: no host.name (older records): the hostname; a reboot. */
	put(f, "old", NULL, "0000:3b:00.0", "6.1", "host-reset", "FAIL", 10, 60, 6);
	/* Row 6.13: nothing but an interrupted run: no verdict to give. */
	put(f, "box", "host-a", "0000:3b:00.0", "6.13", "interrupted", "ERROR", 5, 1, 7);
	ck_assert_int_eq(fclose(f), 0);
	bt_report_init(&r, NULL);
	ck_assert_int_eq(__bt_report_add_file(&r, path), 0);
	bt_report_finish(&r);
	ck_assert_uint_eq(r.nrows, 3);
}

static void teardown(void)
{
	bt_report_cleanup(&r);
	bt_test_remove_tree(dir);
}

static const struct bt_report_row *row_of(const char *kernel)
{
	size_t i;

	for (i = 0; i < r.nrows; i++)
		if (!strcmp(r.rows[i].kernel, kernel))
			return &r.rows[i];
	ck_abort_msg("no row for %s", kernel);
	return NULL;
}

START_TEST(hosts_devices_and_hours)
{
	const struct bt_report_row *row = row_of("6.12");
	char words[512];

	ck_assert_uint_eq(row->hosts, 3);
	ck_assert_uint_eq(row->devices, 4);	/* host-b's two runs: one device */
	ck_assert(row->device_hours > 2.74 && row->device_hours < 2.76);
	ck_assert_int_eq(row->verdict, BT_VERDICT_PASS);
	ck_assert_uint_eq(row->stats.cycles, 10000);	/* the cut run is not counted */
	bt_report_fleet_words(row, words, sizeof(words));
	ck_assert_msg(!strncmp(words, "4 devices on 3 hosts, 2.75 device-hours, 0 VM-fatal events in "
			       "10000 cycles", 70), "%s", words);
	row = row_of("6.1");
	ck_assert_uint_eq(row->hosts, 1);
	ck_assert_int_eq(row->verdict, BT_VERDICT_FAIL);
	bt_report_fleet_words(row, words, sizeof(words));
	ck_assert_msg(!strncmp(words, "1 device on 1 host, ", 20), "%s", words);
	ck_assert_int_eq(row_of("6.13")->verdict, BT_VERDICT_ERROR);
}
END_TEST

START_TEST(drill_down_and_stops)
{
	struct json_object *o = bt_report_fleet_json(&r, row_of("6.12")), *h;
	char *text = NULL;
	size_t len = 0, i;
	FILE *m;

	h = json_object_object_get(o, "hosts");
	ck_assert_uint_eq(json_object_array_length(h), 3);
	for (i = 0; i < 3; i++) {
		struct json_object *x = json_object_array_get_idx(h, i);
		const char *name = bt_jpath_str(x, "host", "?");
		uint64_t devices = 0, runs = 0, cycles = 0;

		bt_jpath_u64(x, "devices", &devices);
		bt_jpath_u64(x, "runs", &runs);
		bt_jpath_u64(x, "cycles", &cycles);
		if (!strcmp(name, "host-a"))
			ck_assert(devices == 2 && runs == 2 && cycles == 3000);
		else if (!strcmp(name, "host-b"))
			ck_assert(devices == 1 && runs == 2 && cycles == 3500);
		else
			ck_assert(!strcmp(name, "host-c") && devices == 1 && runs == 1);
	}
	h = json_object_object_get(o, "stops");
	ck_assert_uint_eq(json_object_array_length(h), 1);
	h = json_object_array_get_idx(h, 0);
	ck_assert_str_eq(bt_jpath_str(h, "host", "?"), "host-b");
	ck_assert_str_eq(bt_jpath_str(h, "device", "?"), "host-b 0000:3b:00.0");
	ck_assert_str_eq(bt_jpath_str(h, "outcome", "?"), "interrupted");
	json_object_put(o);

	m = open_memstream(&text, &len);
	bt_report_fleet_stops(&r, row_of("6.1"), "> ", m);
	fclose(m);
	ck_assert_str_eq(text, "> host-reset on old 0000:3b:00.0: run 6 cut short by a reboot at "
			       "2026-12-01T10:00:06Z (/r/s/qemu1-run6)\n");
	free(text);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("reportfleet");
	TCase *tc = tcase_create("reportfleet");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hosts_devices_and_hours);
	tcase_add_test(tc, drill_down_and_stops);
	suite_add_tcase(s, tc);
	return s;
}
