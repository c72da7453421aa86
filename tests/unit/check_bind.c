// SPDX-License-Identifier: GPL-2.0
/*
 * Safe binding against a fake host (tests/data/sysfs-host): three unsafe
 * devices refused with nothing changed, the group rule, and the journal:
 * written before the first write, replayed by restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bartoggle/bind.h"
#include "check_main.h"

#define HOST BT_TEST_DATA "/sysfs-host"

static struct bt_host_paths fake = { HOST "/sys", HOST "/proc" };
static char why[1024];
static struct bt_bind_plan plan;

static int check(const char *bdf, bool force)
{
	return bt_bind_check(&fake, bdf, force, &plan, why, sizeof(why));
}

START_TEST(refuses_boot_vga)
{
	ck_assert_int_eq(check("0000:00:02.0", false), -EPERM);
	ck_assert_str_eq(why, "is the boot VGA device (the console would go with it)");
}
END_TEST

START_TEST(refuses_mounted_disk)
{
	ck_assert_int_eq(check("0000:00:17.0", false), -EPERM);
	ck_assert_str_eq(why, "backs /dev/sda, which is mounted");
}
END_TEST

START_TEST(refuses_nic_up)
{
	ck_assert_int_eq(check("0000:00:1f.6", false), -EPERM);
	ck_assert_str_eq(why, "carries network interface eno1, which is up");
}
END_TEST

START_TEST(group_rule)
{
	ck_assert_int_eq(check("0000:01:00.0", false), -EPERM);
	ck_assert_str_eq(why, "shares IOMMU group 5 with 0000:01:00.1, bound to snd_hda_intel "
			      "(bind it to vfio-pci, or --force-group)");
	ck_assert_int_eq(check("0000:01:00.0", true), 0);
	ck_assert_int_eq(plan.n, 2);
	ck_assert_str_eq(plan.bdf[0], "0000:01:00.0");
	ck_assert_str_eq(plan.bdf[1], "0000:01:00.1");
}
END_TEST

START_TEST(safe_devices)
{
	ck_assert_int_eq(check("0000:03:00.0", false), 0);	/* its NIC is down */
	ck_assert_int_eq(plan.n, 1);
	ck_assert_int_eq(check("0000:04:00.0", false), 0);	/* no driver */
	ck_assert_int_eq(check("0000:09:00.0", false), -ENOENT);
	ck_assert_str_eq(why, "no PCI device 0000:09:00.0");
	ck_assert_int_eq(check("09:00", false), -EINVAL);
}
END_TEST

START_TEST(refusal_changes_nothing)
{
	char buf[32] = "";
	int fd;

	check("0000:00:02.0", false);
	check("0000:00:17.0", false);
	check("0000:00:1f.6", false);
	fd = open(HOST "/sys/bus/pci/devices/0000:00:17.0/driver_override", O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 7);
	close(fd);
	ck_assert_str_eq(buf, "(null)\n");
}
END_TEST

static char tree[64];

static void slurp(const char *rel, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/sys/%s", tree, rel);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "%s", path);
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
}

START_TEST(journal_apply_and_restore)
{
	char sys[96], proc[96], journal[128], buf[256], cmd[512], *echo = NULL;
	struct bt_host_paths h = { sys, proc };
	size_t echolen = 0;
	FILE *out;

	bt_test_copy_tree(HOST, tree);
	snprintf(sys, sizeof(sys), "%s/sys", tree);
	snprintf(proc, sizeof(proc), "%s/proc", tree);
	snprintf(journal, sizeof(journal), "%s/journal.json", tree);
	ck_assert_int_eq(bt_bind_check(&h, "0000:03:00.0", false, &plan, why, sizeof(why)), 0);

	out = open_memstream(&echo, &echolen);
	ck_assert_int_eq(bt_bind_apply(&h, &plan, journal, out, why, sizeof(why)), 0);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(echo, "+ echo 'vfio-pci' > "));
	ck_assert_ptr_nonnull(strstr(echo, "0000:03:00.0/driver/unbind"));
	ck_assert_ptr_nonnull(strstr(echo, "drivers_probe"));
	free(echo);
	slurp("bus/pci/devices/0000:03:00.0/driver_override", buf, sizeof(buf));
	ck_assert_str_eq(buf, "vfio-pci");
	slurp("bus/pci/drivers/e1000e/unbind", buf, sizeof(buf));
	ck_assert_str_eq(buf, "0000:03:00.0");
	slurp("bus/pci/drivers_probe", buf, sizeof(buf));
	ck_assert_str_eq(buf, "0000:03:00.0");
	snprintf(cmd, sizeof(cmd), "jq -e '.devices == [{\"bdf\":\"0000:03:00.0\",\"driver\":\"e1000e\","
		 "\"driver_override\":\"\"}]' %s >/dev/null", journal);
	ck_assert_int_eq(system(cmd), 0);

	/* What the kernel would have done; then a SIGKILL'd runner. */
	snprintf(cmd, sizeof(cmd), "cd %s/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0 && "
		 "ln -sfn ../../../../bus/pci/drivers/vfio-pci driver", tree);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(bt_bind_restore(&h, journal, NULL, why, sizeof(why)), 0);
	slurp("bus/pci/devices/0000:03:00.0/driver_override", buf, sizeof(buf));
	ck_assert_str_eq(buf, "\n");
	slurp("bus/pci/drivers/vfio-pci/unbind", buf, sizeof(buf));
	ck_assert_str_eq(buf, "0000:03:00.0");
	slurp("bus/pci/drivers/e1000e/bind", buf, sizeof(buf));
	ck_assert_str_eq(buf, "0000:03:00.0");
	ck_assert_int_eq(access(journal, F_OK), -1);
	ck_assert_int_eq(bt_bind_restore(&h, journal, NULL, why, sizeof(why)), -ENOENT);

	snprintf(cmd, sizeof(cmd), "echo '{\"devices\": 7}' > %s", journal);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(bt_bind_restore(&h, journal, NULL, why, sizeof(why)), -EINVAL);
	bt_test_remove_tree(tree);
}
END_TEST

START_TEST(one_runner_per_device)
{
	struct bt_bind_plan a = { .n = 1 }, b = { .n = 1 }, group = { .n = 2 };
	struct bt_journal_lock la, lb, lg;
	char dir[] = "/tmp/bt-locks-XXXXXX", journal[128], cmd[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	strcpy(a.bdf[0], "0000:03:00.0");
	strcpy(b.bdf[0], "0000:04:00.0");
	strcpy(group.bdf[0], "0000:01:00.0");
	strcpy(group.bdf[1], "0000:03:00.0");

	bt_journal_path(dir, a.bdf[0], journal, sizeof(journal));
	ck_assert(strstr(journal, "/0000:03:00.0.json"));
	ck_assert_int_eq(bt_journal_lock(dir, &a, &la, why, sizeof(why)), 0);
	/* another device: both runners go on */
	ck_assert_int_eq(bt_journal_lock(dir, &b, &lb, why, sizeof(why)), 0);
	/* the same device, or a group that holds it: refused, says who */
	ck_assert_int_eq(bt_journal_lock(dir, &a, &lg, why, sizeof(why)), -EBUSY);
	ck_assert_msg(strstr(why, "0000:03:00.0 is in use by another bartoggle-run, PID ") &&
		      strstr(why, "nothing was changed"), "%s", why);
	ck_assert_int_eq(bt_journal_lock(dir, &group, &lg, why, sizeof(why)), -EBUSY);
	ck_assert_int_eq(lg.n, 0);
	/* a refused group holds nothing: 0000:01:00.0 is free */
	group.n = 1;
	ck_assert_int_eq(bt_journal_lock(dir, &group, &lg, why, sizeof(why)), 0);
	bt_journal_unlock(&lg);
	/* the holder gone, the device is free again */
	bt_journal_unlock(&la);
	ck_assert_int_eq(la.n, 0);
	ck_assert_int_eq(bt_journal_lock(dir, &a, &la, why, sizeof(why)), 0);
	bt_journal_unlock(&la);
	bt_journal_unlock(&lb);

	/* the devices a journal names, for --restore to lock */
	snprintf(cmd, sizeof(cmd), "echo '{\"devices\":[{\"bdf\":\"0000:03:00.0\"},"
		 "{\"bdf\":\"bogus\"},{\"bdf\":\"0000:03:00.1\"}]}' > %s", journal);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(bt_journal_devices(journal, &a), 0);
	ck_assert_int_eq(a.n, 2);
	ck_assert_str_eq(a.bdf[1], "0000:03:00.1");
	snprintf(cmd, sizeof(cmd), "echo 'not json' > %s", journal);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(bt_journal_devices(journal, &a), -EINVAL);
	bt_test_remove_tree(dir);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("bind");
	TCase *tc = tcase_create("safety");

	tcase_add_test(tc, refuses_boot_vga);
	tcase_add_test(tc, refuses_mounted_disk);
	tcase_add_test(tc, refuses_nic_up);
	tcase_add_test(tc, group_rule);
	tcase_add_test(tc, safe_devices);
	tcase_add_test(tc, refusal_changes_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("journal");
	tcase_add_test(tc, journal_apply_and_restore);
	tcase_add_test(tc, one_runner_per_device);
	suite_add_tcase(s, tc);
	return s;
}
