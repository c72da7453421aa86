// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/parse.h"
#include "check_main.h"
#include "options.h"

static char err[256];

/* parse("--mode=race", "--cycles=5", NULL) */
static enum repro_parse_result parse(struct repro_opts *o, ...)
{
	char *argv[32] = { "bartoggle-repro" };
	int argc = 1;
	va_list ap;

	va_start(ap, o);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	err[0] = '\0';
	return repro_parse_options(argc, argv, o, err, sizeof(err));
}

static void setup(void)
{
	unsetenv(REPRO_BDF_ENV);
}

START_TEST(defaults)
{
	struct repro_opts o;

	ck_assert_int_eq(parse(&o, NULL), REPRO_PARSE_OK);
	ck_assert_str_eq(o.backing->name, "shmem");
	ck_assert_int_eq(o.mode, REPRO_HELD);
	ck_assert_int_eq(o.access, REPRO_READ);
	ck_assert_uint_eq(o.width, 4);
	ck_assert_uint_eq(o.vcpus, 1);
	ck_assert_uint_eq(o.size, 1 << 20);
	ck_assert_ptr_null(o.bdf);
	ck_assert_uint_eq(o.cycles, 0);

	ck_assert_int_eq(parse(&o, "--mode=race", NULL), REPRO_PARSE_OK);
	ck_assert_uint_eq(o.cycles, REPRO_DEFAULT_CYCLES);
	ck_assert(!o.on_fault_continue);
	ck_assert_int_eq(parse(&o, "--mode=race", "--duration=2.5", NULL),
			 REPRO_PARSE_OK);
	ck_assert_uint_eq(o.cycles, 0);
	ck_assert_double_eq(o.duration_s, 2.5);
	ck_assert_int_eq(parse(&o, "--mode=control", "--vcpus=2", NULL),
			 REPRO_PARSE_OK);
	ck_assert_int_eq(o.mode, REPRO_CONTROL);
	ck_assert_double_eq(o.duration_s, REPRO_CONTROL_DEFAULT_S);
	ck_assert_uint_eq(o.cycles, 0);
}
END_TEST

START_TEST(full_race)
{
	struct repro_opts o;

	ck_assert_int_eq(parse(&o, "-b", "mprotect", "-m", "race", "-c", "1000000",
			       "--vcpus=2", "--access=rw", "--width=8",
			       "--offset=0x10", "--dwell-off-us=5",
			       "--dwell-on-us", "7", "--on-fault=continue",
			       "--size=64K", "--json", "/tmp/x.jsonl", "-q", NULL),
			 REPRO_PARSE_OK);
	ck_assert_str_eq(o.backing->name, "mprotect");
	ck_assert_uint_eq(o.cycles, 1000000);
	ck_assert_uint_eq(o.vcpus, 2);
	ck_assert_int_eq(o.access, REPRO_RW);
	ck_assert_uint_eq(o.width, 8);
	ck_assert_uint_eq(o.offset, 0x10);
	ck_assert_uint_eq(o.dwell_off_us, 5);
	ck_assert_uint_eq(o.dwell_on_us, 7);
	ck_assert(o.on_fault_continue);
	ck_assert_uint_eq(o.size, 65536);
	ck_assert_str_eq(o.json, "/tmp/x.jsonl");
	ck_assert(o.quiet);
	ck_assert(!o.until_hit);

	/* a trial: the first hit ends it, the duration bounds it */
	ck_assert_int_eq(parse(&o, "--mode=race", "--until-hit", "--duration=60", NULL),
			 REPRO_PARSE_OK);
	ck_assert(o.until_hit);
	ck_assert_uint_eq(o.cycles, 0);
	ck_assert_double_eq(o.duration_s, 60);
}
END_TEST

/* The helper module's BAR is sized like a stand-in's; no device, no IOMMU. */
START_TEST(pfnmap_is_a_sized_standin)
{
	struct repro_opts o;

	ck_assert_int_eq(parse(&o, "--backing=pfnmap", "--mode=race", "--size=16K",
			       "--offset=0x3ffc", NULL), REPRO_PARSE_OK);
	ck_assert_str_eq(o.backing->name, "pfnmap");
	ck_assert(!o.backing->needs_device);
	ck_assert_uint_eq(o.size, 16384);
	ck_assert_ptr_null(o.bdf);
	ck_assert_int_eq(parse(&o, "--backing=pfnmap", "--offset=0x4000", "--size=16K", NULL),
			 REPRO_PARSE_USAGE);
}
END_TEST

START_TEST(bdf_selects_vfio)
{
	struct repro_opts o;

	ck_assert_int_eq(parse(&o, "0000:00:01.0", NULL), REPRO_PARSE_OK);
	ck_assert_str_eq(o.backing->name, "vfio");
	ck_assert_str_eq(o.bdf, "0000:00:01.0");
	ck_assert_str_eq(bt_vfio_mode_name(o.iommu), "type1v2");

	setenv(REPRO_BDF_ENV, "0000:00:02.0", 1);
	ck_assert_int_eq(parse(&o, "--iommu=type1", "--bar=2", NULL),
			 REPRO_PARSE_OK);
	ck_assert_str_eq(o.bdf, "0000:00:02.0");
	ck_assert_str_eq(bt_vfio_mode_name(o.iommu), "type1");
	ck_assert_int_eq(o.bar, 2);
	/* an explicit stand-in ignores the environment */
	ck_assert_int_eq(parse(&o, "--backing=shmem", NULL), REPRO_PARSE_OK);
	ck_assert_ptr_null(o.bdf);
}
END_TEST

START_TEST(help)
{
	struct repro_opts o;

	ck_assert_int_eq(parse(&o, "--help", NULL), REPRO_PARSE_HELP);
	ck_assert_int_eq(parse(&o, "-h", "--bogus", NULL), REPRO_PARSE_HELP);
}
END_TEST

static const struct {
	const char *args[4];
	const char *message;
} usage_errors[] = {
	{ { "zz:00.0" }, "not a PCI address" },
	{ { "0000:00:20.0" }, "not a PCI address" },
	{ { "--backing=vfio" }, "needs a BDF" },
	{ { "--backing=shmem", "0000:00:01.0" }, "conflicts with --backing=shmem" },
	{ { "--backing=pfnmap", "0000:00:01.0" }, "conflicts with --backing=pfnmap" },
	{ { "--backing=pfnmap", "--iommu=type1" }, "only apply to --backing=vfio" },
	{ { "--backing=dmabuf" }, "want vfio|pfnmap|shmem|mprotect" },
	{ { "--mode=held", "--cycles=5" }, "do not apply to --mode=held" },
	{ { "--dwell-on-us=5" }, "do not apply to --mode=held" },
	{ { "--mode=control", "--cycles=5" }, "do not apply to --mode=control" },
	{ { "--mode=control", "--on-fault=stop" }, "do not apply to --mode=control" },
	{ { "--vcpus=2" }, "runs one vCPU" },
	{ { "--until-hit" }, "applies to --mode=race only" },
	{ { "--mode=control", "--until-hit" }, "applies to --mode=race only" },
	{ { "--mode=race", "--until-hit", "--on-fault=continue" }, "nothing to continue" },
	{ { "--mode=race", "--cycles=0" }, "between 1 and" },
	{ { "--mode=race", "--cycles=-5" }, "not a number" },
	{ { "--mode=race", "--cycles=12abc" }, "not a number" },
	{ { "--mode=race", "--duration=0" }, "want seconds" },
	{ { "--mode=race", "--duration=-1" }, "want seconds" },
	{ { "--mode=race", "--vcpus=9" }, "between 1 and 8" },
	{ { "--width=3" }, "want 1, 2, 4 or 8" },
	{ { "--width=16" }, "between 1 and 8" },
	{ { "--offset=2", "--width=4" }, "not aligned" },
	{ { "--offset=0x100000" }, "outside" },
	{ { "--size=1000" }, "multiple of 4096" },
	{ { "--size=2G" }, "multiple of 4096" },
	{ { "--iommu=type1" }, "only apply to --backing=vfio" },
	{ { "0000:00:01.0", "--size=8K" }, "--size only applies" },
	{ { "0000:00:01.0", "--iommu=nested" }, "want type1|type1v2|iommufd" },
	{ { "--access=exec" }, "unknown value" },
	{ { "--on-fault=ignore", "--mode=race" }, "unknown value" },
	{ { "--frobnicate" }, "unknown option" },
	{ { "--json" }, "needs a value" },
	{ { "0000:00:01.0", "0000:00:02.0" }, "one BDF at most" },
};

START_TEST(rejects)
{
	const char *const *a = usage_errors[_i].args;
	struct repro_opts o;

	ck_assert_int_eq(parse(&o, a[0], a[1], a[2], a[3], NULL),
			 REPRO_PARSE_USAGE);
	ck_assert_msg(strstr(err, usage_errors[_i].message),
		      "case %d: '%s' lacks '%s'", _i, err,
		      usage_errors[_i].message);
}
END_TEST

START_TEST(numbers)
{
	uint64_t v;
	double d;

	ck_assert_int_eq(bt_parse_u64("0x10", 0, 100, &v), 0);
	ck_assert_uint_eq(v, 16);
	ck_assert_int_eq(bt_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_int_eq(bt_parse_u64("18446744073709551616", 0, UINT64_MAX, &v),
			 -ERANGE);
	ck_assert_int_eq(bt_parse_u64("", 0, 1, &v), -EINVAL);
	ck_assert_int_eq(bt_parse_u64("+1", 0, 1, &v), -EINVAL);
	ck_assert_int_eq(bt_parse_u64("1 ", 0, 1, &v), -EINVAL);
	ck_assert_int_eq(bt_parse_u64("5", 6, 9, &v), -ERANGE);
	ck_assert_int_eq(bt_parse_size("4k", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(bt_parse_size("1G", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, 1ULL << 30);
	ck_assert_int_eq(bt_parse_size("1T", 0, UINT64_MAX, &v), -EINVAL);
	ck_assert_int_eq(bt_parse_size("99999999999999G", 0, UINT64_MAX, &v),
			 -ERANGE);
	ck_assert_int_eq(bt_parse_seconds("0.5", 0, 10, &d), 0);
	ck_assert_double_eq(d, 0.5);
	ck_assert_int_eq(bt_parse_seconds("nan", 0, 10, &d), -EINVAL);
	ck_assert_int_eq(bt_parse_seconds("1e999", 0, 10, &d), -EINVAL);
	ck_assert_int_eq(bt_parse_seconds("11", 0, 10, &d), -ERANGE);
	ck_assert_int_eq(bt_parse_seconds("2d", 0, 3e5, &d), 0);
	ck_assert(d == 172800);
	ck_assert_int_eq(bt_parse_seconds("1.5h", 0, 1e5, &d), 0);
	ck_assert(d == 5400);
	ck_assert_int_eq(bt_parse_seconds("10m", 0, 1e5, &d), 0);
	ck_assert(d == 600);
	ck_assert_int_eq(bt_parse_seconds("3s", 0, 10, &d), 0);
	ck_assert(d == 3);
	ck_assert_int_eq(bt_parse_seconds("3ss", 0, 10, &d), -EINVAL);
	ck_assert_int_eq(bt_parse_seconds("3w", 0, 10, &d), -EINVAL);
	ck_assert_int_eq(bt_parse_seconds("1d", 0, 10, &d), -ERANGE);
}
END_TEST

START_TEST(next_field_skips_empty_fields)
{
	const char *p = "::/usr/share/qemu::/usr/share/seabios:";
	char f[16];

	p = bt_next_field(p, ':', f, sizeof(f));
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(f, "/usr/share/qemu");
	p = bt_next_field(p, ':', f, sizeof(f));
	ck_assert_str_eq(f, "/usr/share/seab");	/* cut to the buffer */
	ck_assert_ptr_null(bt_next_field(p, ':', f, sizeof(f)));
	ck_assert_ptr_null(bt_next_field("", ':', f, sizeof(f)));
	ck_assert_ptr_null(bt_next_field(NULL, ':', f, sizeof(f)));
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("repro");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_race);
	tcase_add_test(tc, bdf_selects_vfio);
	tcase_add_test(tc, pfnmap_is_a_sized_standin);
	tcase_add_test(tc, help);
	tcase_add_loop_test(tc, rejects, 0,
			    sizeof(usage_errors) / sizeof(usage_errors[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, next_field_skips_empty_fields);
	suite_add_tcase(s, tc);
	return s;
}
