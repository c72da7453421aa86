// SPDX-License-Identifier: GPL-2.0
/*
 * The host runner's parsers: configuration (INI and command line, with
 * precedence), QMP transcripts, the kernel log, QEMU's stderr signatures and
 * its exit status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bartoggle/config.h"
#include "bartoggle/evidence.h"
#include "bartoggle/qmp.h"
#include "check_main.h"

#define CONFIGS BT_TEST_DATA "/configs"

static char err[512];

START_TEST(config_file_and_precedence)
{
	struct bt_config c;

	bt_config_default(&c);
	ck_assert_int_eq(bt_config_load(&c, CONFIGS "/good.ini", err, sizeof(err)), 0);
	ck_assert_str_eq(c.bdf, "0000:03:00.0");
	ck_assert_int_eq(c.nqemu, 2);
	ck_assert_str_eq(c.qemu[1], "/opt/qemu-9.2/bin/qemu-system-x86_64");
	ck_assert_str_eq(c.accel, "kvm");
	ck_assert(c.no_mmap);
	ck_assert_uint_eq(c.smp, 4);
	ck_assert_uint_eq(c.cycles, 200000);
	ck_assert_uint_eq(c.iterations, 5);
	ck_assert_str_eq(c.access, "rw");
	ck_assert_str_eq(c.results, "/var/tmp/bt");
	ck_assert_str_eq(c.kernel, "host");

	/* the command line wins; its first --qemu replaces the file's list */
	ck_assert_int_eq(bt_config_set_option(&c, "cycles", "1000", true, err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_set_option(&c, "qemu", "/a/qemu", true, err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_set_option(&c, "qemu", "/b/qemu", true, err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_set_option(&c, "no-mmap", "false", true, err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_set_option(&c, "stress.width", "2", true, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.cycles, 1000);
	ck_assert_int_eq(c.nqemu, 2);
	ck_assert_str_eq(c.qemu[0], "/a/qemu");
	ck_assert(!c.no_mmap);
	ck_assert_uint_eq(c.width, 2);
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.ur_check, "strict");
}
END_TEST

START_TEST(config_json_dump)
{
	struct bt_config c;
	struct json_object *j, *v;

	bt_config_default(&c);
	strcpy(c.emulated, "edu");
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), 0);
	j = bt_config_json(&c);
	ck_assert(json_object_object_get_ex(j, "stress", &v));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(v, "cycles")), 20000);
	ck_assert(json_object_object_get_ex(j, "device", &v));
	ck_assert_str_eq(json_object_get_string(json_object_object_get(v, "emulated")), "edu");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(v, "ur_check")), "record");
	ck_assert(json_object_is_type(json_object_object_get(v, "bdf"), json_type_null));
	ck_assert(json_object_object_get_ex(j, "qemu", &v));
	ck_assert_int_eq(json_object_array_length(json_object_object_get(v, "binary")), 1);
	json_object_put(j);
}
END_TEST

static const struct {
	const char *file;
	const char *message;
} bad_files[] = {
	{ "unknown-key.ini", "unknown-key.ini:3: unknown key [stress] colour" },
	{ "negative.ini", "negative.ini:4: [stress] cycles = -5: not a number" },
	{ "not-ini.ini", "not-ini.ini:1: not an INI line" },
	{ "missing.ini", "missing.ini: No such file or directory" },
};

START_TEST(config_bad_files)
{
	struct bt_config c;
	char path[256];

	bt_config_default(&c);
	snprintf(path, sizeof(path), CONFIGS "/%s", bad_files[_i].file);
	ck_assert_int_ne(bt_config_load(&c, path, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, bad_files[_i].message), "'%s' lacks '%s'", err,
		      bad_files[_i].message);
}
END_TEST

START_TEST(config_validation)
{
	struct bt_config c;

	bt_config_default(&c);
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no device"));
	ck_assert_int_eq(bt_config_load(&c, CONFIGS "/bad-width.ini", err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "want 1, 2, 4 or 8"));
	bt_config_default(&c);
	strcpy(c.emulated, "edu");
	c.no_mmap = true;
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), -EINVAL);
	bt_config_default(&c);
	strcpy(c.bdf, "3:00.0");
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(bt_config_set_option(&c, "accel", "hvf", true, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "accel = hvf: want auto|kvm|tcg");
	ck_assert_int_eq(bt_config_set_option(&c, "colour", "x", true, err, sizeof(err)), -ENOENT);
	ck_assert_int_eq(bt_config_set_option(&c, "smp", "1", true, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(bt_config_set_option(&c, "kernel", "/boot/vmlinuz", true, err, sizeof(err)), 0);
	strcpy(c.bdf, "0000:03:00.0");
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "needs [guest] modroot"));
}
END_TEST

/* A soak: its clock needs its name; iterations = 0 is "until then". */
START_TEST(config_soak)
{
	struct bt_config c;

	bt_config_default(&c);
	strcpy(c.emulated, "edu");
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.iterations, 1);	/* unset: one run */
	ck_assert_uint_eq(c.keep_runs, 8);
	ck_assert_uint_eq(c.archive_chunk, 16);
	ck_assert_int_eq(bt_config_set_option(&c, "total-duration", "2d", true, err, sizeof(err)), 0);
	ck_assert(c.total_duration_s == 172800);
	ck_assert_int_eq(bt_config_set_option(&c, "iterations", "0", true, err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "needs a named soak"));
	ck_assert_int_eq(bt_config_set_option(&c, "results.soak", "../x", true, err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "a plain name"));
	ck_assert_int_eq(bt_config_set_option(&c, "soak", "nvme-3b", true, err, sizeof(err)), 0);
	ck_assert_int_eq(bt_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.iterations, 0);	/* until total_duration */
	ck_assert_int_eq(bt_config_set_option(&c, "total-duration", "31d", true, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(bt_config_set_option(&c, "host", "host-a", true, err, sizeof(err)), 0);
	ck_assert_str_eq(c.host, "host-a");
	ck_assert_int_eq(bt_config_set_option(&c, "keep-runs", "0", true, err, sizeof(err)), -EINVAL);
}
END_TEST

static int transcript(const char *name, struct bt_qmp_msg *m, int max)
{
	char path[256], line[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), BT_TEST_DATA "/qmp/%s", name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (n < max && fgets(line, sizeof(line), f))
		ck_assert_int_eq(bt_qmp_parse(line, &m[n++]), 0);
	fclose(f);
	return n;
}

START_TEST(qmp_internal_error)
{
	struct bt_qmp_msg m[8];

	ck_assert_int_eq(transcript("internal-error.txt", m, 8), 6);
	ck_assert_int_eq(m[0].kind, BT_QMP_GREETING);
	ck_assert_str_eq(m[0].version, "7.2.22");
	ck_assert_int_eq(m[1].kind, BT_QMP_RETURN);
	ck_assert_int_eq(m[2].kind, BT_QMP_EVENT);
	ck_assert_str_eq(m[2].event, "STOP");
	ck_assert_double_eq_tol(m[2].time, 1763716801.204511, 1e-6);
	ck_assert_str_eq(m[3].status, "internal-error");
	ck_assert(!m[3].running);
	ck_assert_str_eq(m[5].event, "SHUTDOWN");
	ck_assert_str_eq(m[5].reason, "host-qmp-quit");
}
END_TEST

START_TEST(qmp_panic_and_errors)
{
	struct bt_qmp_msg m[8];

	ck_assert_int_eq(transcript("guest-panic.txt", m, 8), 5);
	ck_assert_str_eq(m[0].version, "8.2.0");
	ck_assert_str_eq(m[2].event, "GUEST_PANICKED");
	ck_assert_str_eq(m[2].reason, "pause");
	ck_assert_str_eq(m[3].status, "guest-panicked");
	ck_assert_int_eq(m[4].kind, BT_QMP_ERROR);
	ck_assert_str_eq(m[4].error, "The command query-nothing has not been found");
	ck_assert_int_eq(bt_qmp_parse("not json", &m[0]), -EINVAL);
	ck_assert_int_eq(bt_qmp_parse("[1]", &m[0]), -EINVAL);
	ck_assert_int_eq(bt_qmp_parse("{\"hello\":1}", &m[0]), -EINVAL);
	ck_assert_int_eq(bt_qmp_parse("{\"event\":\"STOP\"", &m[0]), -EINVAL);
}
END_TEST

START_TEST(kmsg_classification)
{
	const char *want[] = {
		NULL, NULL, NULL, "warning", NULL, NULL, "aer", NULL, "dmar", "mce", NULL, NULL,
	};
	char line[1024], text[1024];
	int n = 0, level, errors = 0;
	FILE *f = fopen(BT_TEST_DATA "/kmsg.txt", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		const char *kind;

		if (bt_kmsg_parse(line, text, sizeof(text), &level)) {
			ck_assert_msg(line[0] == ' ' || !strchr(line, ';'), "rejected: %s", line);
			n++;
			continue;
		}
		kind = bt_kmsg_error_kind(text);
		ck_assert_msg((!kind && !want[n]) || (kind && want[n] && !strcmp(kind, want[n])),
			      "line %d '%s': %s", n, text, kind ? kind : "(none)");
		errors += !!kind;
		n++;
	}
	fclose(f);
	ck_assert_int_eq(n, 12);
	ck_assert_int_eq(errors, 4);
	ck_assert_int_eq(bt_kmsg_parse("3,1,2,-;AER: x\n", text, sizeof(text), &level), 0);
	ck_assert_int_eq(level, 3);
	ck_assert_str_eq(text, "AER: x");
}
END_TEST

START_TEST(qemu_signatures)
{
	ck_assert_str_eq(bt_qemu_signature("error: kvm run failed Bad address"),
			 "KVM_RUN returned -EFAULT and QEMU gave up on the vCPU");
	ck_assert_ptr_nonnull(strstr(bt_qemu_signature(
		"qemu-system-x86_64: Convert non guest_memfd backed memory region (0xfe000000 ,+ 0x1000) to shared"),
		"guest_memfd"));
	ck_assert_ptr_nonnull(bt_qemu_signature("KVM_EXIT_MEMORY_FAULT: Unknown flag 0x10"));
	ck_assert_ptr_nonnull(strstr(bt_qemu_signature(
		"qemu-system-x86_64: vfio_region_read(0000:00:02.0:region0+0x0, 4) failed: Input/output error"),
		"-EIO"));
	ck_assert_ptr_nonnull(bt_qemu_signature("kvm run failed Invalid argument"));
	ck_assert_ptr_null(bt_qemu_signature("vfio: Cannot reset device 0000:00:02.0"));
}
END_TEST

START_TEST(exit_status)
{
	char buf[64];

	ck_assert_int_eq(bt_exit_outcome(0, buf, sizeof(buf)), BT_OUTCOME_SURVIVED);
	ck_assert_str_eq(buf, "exited 0");
	ck_assert_int_eq(bt_exit_outcome(1 << 8, buf, sizeof(buf)), BT_OUTCOME_VMM_CRASHED);
	ck_assert_str_eq(buf, "exited 1");
	ck_assert_int_eq(bt_exit_outcome(SIGBUS | 0x80, buf, sizeof(buf)), BT_OUTCOME_SIGBUS);
	ck_assert_str_eq(buf, "killed by SIGBUS (core dumped)");
	ck_assert_int_eq(bt_exit_outcome(SIGABRT, buf, sizeof(buf)), BT_OUTCOME_VMM_CRASHED);
	ck_assert_str_eq(buf, "killed by SIGABRT");
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, config_file_and_precedence);
	tcase_add_test(tc, config_json_dump);
	tcase_add_loop_test(tc, config_bad_files, 0, sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, config_validation);
	tcase_add_test(tc, config_soak);
	suite_add_tcase(s, tc);
	tc = tcase_create("evidence");
	tcase_add_test(tc, qmp_internal_error);
	tcase_add_test(tc, qmp_panic_and_errors);
	tcase_add_test(tc, kmsg_classification);
	tcase_add_test(tc, qemu_signatures);
	tcase_add_test(tc, exit_status);
	suite_add_tcase(s, tc);
	return s;
}
