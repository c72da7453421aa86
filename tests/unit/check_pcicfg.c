// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "bartoggle/pcicfg.h"
#include "check_main.h"

/* A 256-byte config space in a temporary file, as sysfs "config" is. */
static int config_file(uint16_t command, off_t base)
{
	char path[] = "/tmp/bt-pcicfg-XXXXXX";
	uint8_t space[256] = { 0x34, 0x12, 0xe8, 0x11 };
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	space[4] = command & 0xff;
	space[5] = command >> 8;
	ck_assert_int_eq(pwrite(fd, space, sizeof(space), base), sizeof(space));
	return fd;
}

static uint16_t raw_command(int fd, off_t base)
{
	uint8_t b[2];

	ck_assert_int_eq(pread(fd, b, 2, base + 4), 2);
	return b[0] | b[1] << 8;
}

START_TEST(mem_toggle_preserves_other_bits)
{
	struct bt_pcicfg cfg;
	int fd = config_file(0x0547, 0);	/* IO MEM MASTER PARITY SERR INTx */

	bt_pcicfg_init_fd(&cfg, fd, 0);
	ck_assert_int_eq(bt_pcicfg_command_read(&cfg), 0);
	ck_assert_uint_eq(cfg.command, 0x0547);
	ck_assert_int_eq(bt_pcicfg_set_mem(&cfg, false), 0);
	ck_assert_uint_eq(raw_command(fd, 0), 0x0545);
	ck_assert_int_eq(bt_pcicfg_set_mem(&cfg, false), 0);
	ck_assert_uint_eq(raw_command(fd, 0), 0x0545);
	ck_assert_int_eq(bt_pcicfg_set_mem(&cfg, true), 0);
	ck_assert_uint_eq(raw_command(fd, 0), 0x0547);
	close(fd);
}
END_TEST

START_TEST(region_offset_and_endianness)
{
	const off_t base = 0x70000;	/* like the vfio config region */
	struct bt_pcicfg cfg;
	uint16_t v;
	int fd = config_file(0x0100, base);

	bt_pcicfg_init_fd(&cfg, fd, base);
	ck_assert_int_eq(bt_pcicfg_read16(&cfg, 0, &v), 0);
	ck_assert_uint_eq(v, 0x1234);
	ck_assert_int_eq(bt_pcicfg_read16(&cfg, 2, &v), 0);
	ck_assert_uint_eq(v, 0x11e8);
	ck_assert_int_eq(bt_pcicfg_command_read(&cfg), 0);
	ck_assert_int_eq(bt_pcicfg_set_mem(&cfg, true), 0);
	ck_assert_uint_eq(raw_command(fd, base), 0x0102);
	close(fd);
}
END_TEST

START_TEST(short_and_failed_transfers)
{
	struct bt_pcicfg cfg;
	uint16_t v;
	int fd = config_file(0x2, 0);

	ck_assert_int_eq(ftruncate(fd, 5), 0);	/* command's high byte gone */
	bt_pcicfg_init_fd(&cfg, fd, 0);
	ck_assert_int_eq(bt_pcicfg_read16(&cfg, 4, &v), -EIO);
	close(fd);
	bt_pcicfg_init_fd(&cfg, fd, 0);		/* closed fd */
	ck_assert_int_eq(bt_pcicfg_command_read(&cfg), -EBADF);
	cfg.command = 0x6;
	ck_assert_int_eq(bt_pcicfg_set_mem(&cfg, false), -EBADF);
	ck_assert_uint_eq(cfg.command, 0x6);	/* unchanged on failure */
}
END_TEST

START_TEST(command_with_mem)
{
	ck_assert_uint_eq(bt_pcicfg_command_with_mem(0xffff, false), 0xfffd);
	ck_assert_uint_eq(bt_pcicfg_command_with_mem(0x0000, true), 0x0002);
	ck_assert_uint_eq(bt_pcicfg_command_with_mem(0x0406, true), 0x0406);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("pcicfg");
	TCase *tc = tcase_create("command");

	tcase_add_test(tc, mem_toggle_preserves_other_bits);
	tcase_add_test(tc, region_offset_and_endianness);
	tcase_add_test(tc, short_and_failed_transfers);
	tcase_add_test(tc, command_with_mem);
	suite_add_tcase(s, tc);
	return s;
}
