// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "bartoggle/bdf.h"
#include "bartoggle/sysfs.h"
#include "check_main.h"

#define ROOT BT_TEST_DATA "/sysfs"

static struct bt_bdf bdf(const char *s)
{
	struct bt_bdf b;

	ck_assert_int_eq(bt_bdf_parse(s, &b), 0);
	return b;
}

START_TEST(bdf_valid)
{
	char buf[BT_BDF_STRLEN];
	struct bt_bdf b = bdf("0000:3a:1f.7");

	ck_assert_uint_eq(b.domain, 0);
	ck_assert_uint_eq(b.bus, 0x3a);
	ck_assert_uint_eq(b.dev, 0x1f);
	ck_assert_uint_eq(b.fn, 7);
	ck_assert_str_eq(bt_bdf_format(&b, buf), "0000:3a:1f.7");
	b = bdf("AB:01.2");
	ck_assert_str_eq(bt_bdf_format(&b, buf), "0000:ab:01.2");
	b = bdf("10de:00:00.0");
	ck_assert_uint_eq(b.domain, 0x10de);
}
END_TEST

static const char *const bad_bdfs[] = {
	"", "0000:00:00", "0000:00:20.0", "0000:00:00.8", "000:00:00.0",
	"0000:00:00.0 ", " 0000:00:00.0", "0000-00-00.0", "g000:00:00.0",
	"00000:00:00.0", "0000:000:00.0", "0000:00:00.00", "1:2.3", "0x00:01.0",
};

START_TEST(bdf_invalid)
{
	struct bt_bdf b;

	ck_assert_msg(bt_bdf_parse(bad_bdfs[_i], &b) == -EINVAL,
		      "'%s' was accepted", bad_bdfs[_i]);
}
END_TEST

START_TEST(bdf_from_env)
{
	setenv("BT_TEST_BDF", "0000:00:01.0", 1);
	ck_assert_str_eq(bt_bdf_from(NULL, "BT_TEST_BDF"), "0000:00:01.0");
	ck_assert_str_eq(bt_bdf_from("00:02.0", "BT_TEST_BDF"), "00:02.0");
	setenv("BT_TEST_BDF", "", 1);
	ck_assert_ptr_null(bt_bdf_from(NULL, "BT_TEST_BDF"));
	unsetenv("BT_TEST_BDF");
	ck_assert_ptr_null(bt_bdf_from("", "BT_TEST_BDF"));
}
END_TEST

START_TEST(resource_lines)
{
	struct bt_pci_resource r;

	ck_assert_int_eq(bt_pci_resource_parse(
		"0x00000000fea00000 0x00000000feafffff 0x0000000000040200\n", &r), 0);
	ck_assert_uint_eq(r.start, 0xfea00000);
	ck_assert_uint_eq(r.end, 0xfeafffff);
	ck_assert_uint_eq(r.flags, 0x40200);
	ck_assert_int_eq(bt_pci_resource_parse("0x0 0x0 0x0", &r), 0);
	ck_assert_int_eq(bt_pci_resource_parse("0x1 0x2", &r), -EINVAL);
	ck_assert_int_eq(bt_pci_resource_parse("0x10 0x1 0x200", &r), -EINVAL);
	ck_assert_int_eq(bt_pci_resource_parse("0x0 0x1 0x200 junk", &r), -EINVAL);
}
END_TEST

START_TEST(edu_bound_to_vfio)
{
	struct bt_bdf b = bdf("0000:00:01.0");
	struct bt_pci_dev dev;

	ck_assert_int_eq(bt_pci_dev_init(&dev, ROOT, &b), 0);
	ck_assert_uint_eq(dev.vendor, 0x1234);
	ck_assert_uint_eq(dev.device, 0x11e8);
	ck_assert_uint_eq(dev.class, 0x00ff00);
	ck_assert_str_eq(dev.driver, "vfio-pci");
	ck_assert_int_eq(dev.iommu_group, 1);
	ck_assert_uint_eq(bt_pci_bar_size(&dev, 0), 1 << 20);
	ck_assert(bt_pci_bar_is_mem(&dev, 0));
	ck_assert(!bt_pci_bar_is_mem(&dev, 1));
	ck_assert_uint_eq(bt_pci_bar_size(&dev, 5), 0);
}
END_TEST

START_TEST(io_bar_no_iommu)
{
	struct bt_bdf b = bdf("0000:00:02.0");
	struct bt_pci_dev dev;

	ck_assert_int_eq(bt_pci_dev_init(&dev, ROOT, &b), 0);
	ck_assert_str_eq(dev.driver, "ata_piix");
	ck_assert_int_eq(dev.iommu_group, -1);
	ck_assert(!bt_pci_bar_is_mem(&dev, 0));
	ck_assert_uint_eq(dev.res[0].flags & BT_IORESOURCE_IO, BT_IORESOURCE_IO);
	ck_assert(bt_pci_bar_is_mem(&dev, 1));
	ck_assert_uint_eq(bt_pci_bar_size(&dev, 1), 4096);
}
END_TEST

START_TEST(broken_trees)
{
	struct bt_pci_dev dev;
	struct bt_bdf b;

	b = bdf("0000:00:09.0");
	ck_assert_int_eq(bt_pci_dev_init(&dev, ROOT, &b), -ENOENT);
	b = bdf("0000:00:03.0");
	ck_assert_int_eq(bt_pci_dev_init(&dev, ROOT, &b), -EINVAL);
	b = bdf("0000:00:04.0");
	ck_assert_int_eq(bt_pci_dev_init(&dev, ROOT, &b), -EINVAL);
}
END_TEST

START_TEST(root_from_env)
{
	ck_assert_str_eq(bt_sysfs_root("/x"), "/x");
	setenv("BARTOGGLE_SYSFS_ROOT", ROOT, 1);
	ck_assert_str_eq(bt_sysfs_root(NULL), ROOT);
	unsetenv("BARTOGGLE_SYSFS_ROOT");
	ck_assert_str_eq(bt_sysfs_root(NULL), "/sys");
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("sysfs");
	TCase *tc = tcase_create("bdf");

	tcase_add_test(tc, bdf_valid);
	tcase_add_loop_test(tc, bdf_invalid, 0,
			    sizeof(bad_bdfs) / sizeof(bad_bdfs[0]));
	tcase_add_test(tc, bdf_from_env);
	suite_add_tcase(s, tc);
	tc = tcase_create("sysfs");
	tcase_add_test(tc, resource_lines);
	tcase_add_test(tc, edu_bound_to_vfio);
	tcase_add_test(tc, io_bar_no_iommu);
	tcase_add_test(tc, broken_trees);
	tcase_add_test(tc, root_from_env);
	suite_add_tcase(s, tc);
	return s;
}
