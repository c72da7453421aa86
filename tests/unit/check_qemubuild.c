// SPDX-License-Identifier: GPL-2.0
/*
 * Which QEMU build a run used: the bartoggle-build.json beside the binary
 * wins, a distribution's --version line is the fallback, and a broken file
 * is said to be broken rather than taken for a build.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bartoggle/jpath.h"
#include "bartoggle/qemubuild.h"
#include "check_main.h"

static char dir[64];
static char bin[PATH_MAX], file[PATH_MAX];

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_qemubuild.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(bin, sizeof(bin), "%s/qemu-system-x86_64", dir);
	snprintf(file, sizeof(file), "%s/" BT_QEMU_BUILD_FILE, dir);
	put(bin, "#!/bin/sh\n", 0755);
}

static void teardown(void)
{
	unlink(file);
	unlink(bin);
	rmdir(dir);
}

START_TEST(build_file_wins)
{
	struct json_object *b;
	char *label;

	put(file, "{\"kind\":\"patched\",\"key\":\"190cd4ddaacc\",\"patches\":[{\"name\":\"0001.patch\"}]}", 0644);
	b = bt_qemu_build(bin, "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)");
	ck_assert_str_eq(bt_jpath_str(b, "kind", "?"), "patched");
	ck_assert_str_eq(bt_jpath_str(b, "build_file", "?"), file);
	ck_assert_str_eq(bt_jpath_str(b, "resolved", "?"), bin);
	ck_assert_int_eq(json_object_array_length(bt_jpath(b, "patches")), 1);
	label = bt_qemu_build_label(b);
	ck_assert_str_eq(label, "[patched 190cd4ddaacc]");
	free(label);
	json_object_put(b);
}
END_TEST

START_TEST(distribution_from_version_line)
{
	struct json_object *b = bt_qemu_build(bin, "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)");
	char *label = bt_qemu_build_label(b);

	ck_assert_str_eq(bt_jpath_str(b, "kind", "?"), "distribution");
	ck_assert_str_eq(bt_jpath_str(b, "package", "?"), "Debian 1:7.2+dfsg-7+deb12u18+b3");
	ck_assert_str_eq(label, "(Debian 1:7.2+dfsg-7+deb12u18+b3)");
	free(label);
	json_object_put(b);

	/* A plain upstream build says nothing of itself. */
	b = bt_qemu_build(bin, "QEMU emulator version 7.2.22");
	ck_assert_str_eq(bt_jpath_str(b, "kind", "?"), "unknown");
	ck_assert_ptr_null(bt_qemu_build_label(b));
	json_object_put(b);
	b = bt_qemu_build(bin, "QEMU emulator version 7.2.22 ()");
	ck_assert_str_eq(bt_jpath_str(b, "kind", "?"), "unknown");
	json_object_put(b);
}
END_TEST

START_TEST(broken_build_file_is_said)
{
	struct json_object *b;

	put(file, "[1, 2", 0644);
	b = bt_qemu_build(bin, "QEMU emulator version 7.2.22 (Debian 1:7.2)");
	ck_assert_str_eq(bt_jpath_str(b, "kind", "?"), "unknown");
	ck_assert_ptr_nonnull(strstr(bt_jpath_str(b, "error", ""), "not a JSON object"));
	json_object_put(b);
	put(file, "\"patched\"", 0644);
	b = bt_qemu_build(bin, NULL);
	ck_assert_str_eq(bt_jpath_str(b, "kind", "?"), "unknown");
	json_object_put(b);
}
END_TEST

START_TEST(found_on_path_or_not_at_all)
{
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	struct json_object *b;

	setenv("PATH", dir, 1);
	b = bt_qemu_build("qemu-system-x86_64", "");
	ck_assert_str_eq(bt_jpath_str(b, "resolved", "?"), bin);
	json_object_put(b);
	b = bt_qemu_build("no-such-qemu", "QEMU emulator version 7.2.22");
	ck_assert_ptr_null(bt_jpath_str(b, "resolved", NULL));
	ck_assert_str_eq(bt_jpath_str(b, "kind", "?"), "unknown");
	json_object_put(b);
	if (old)
		setenv("PATH", old, 1);
	free(old);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("qemubuild");
	TCase *tc = tcase_create("qemubuild");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, build_file_wins);
	tcase_add_test(tc, distribution_from_version_line);
	tcase_add_test(tc, broken_build_file_is_said);
	tcase_add_test(tc, found_on_path_or_not_at_all);
	suite_add_tcase(s, tc);
	return s;
}
