// SPDX-License-Identifier: GPL-2.0
/*
 * The guest agent without a guest: device selection on fake sysfs trees,
 * the run engine on a copied tree (config and resource0 are plain files),
 * the protocol codec with hostile input, and option validation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent.h"
#include "bartoggle/pcisel.h"
#include "check_main.h"

#define GUEST BT_TEST_DATA "/sysfs-guest"

static char err[512];

static int find(const char *root, struct bt_pcisel sel, struct bt_pci_dev *dev)
{
	err[0] = '\0';
	return bt_pcisel_find(root, &sel, dev, err, sizeof(err));
}

START_TEST(channel_port_found)
{
	char port[32], bdf[16];

	ck_assert_int_eq(bt_virtio_port_find(GUEST, AGENT_PORT_NAME, port,
					     sizeof(port), bdf, sizeof(bdf)), 0);
	ck_assert_str_eq(port, "vport1p1");
	ck_assert_str_eq(bdf, "0000:00:02.0");
	ck_assert_int_eq(bt_virtio_port_find(GUEST, "org.nothing", port,
					     sizeof(port), bdf, sizeof(bdf)), -ENOENT);
	ck_assert_int_eq(bt_virtio_port_find("/nonexistent", AGENT_PORT_NAME, port,
					     sizeof(port), bdf, sizeof(bdf)), -ENOENT);
}
END_TEST

START_TEST(auto_selection_refuses_ambiguity)
{
	struct bt_pci_dev dev;

	/* edu and the VGA qualify; the bridge, the channel and the device
	 * without a resource file do not. */
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .exclude = "0000:00:02.0" }, &dev),
			 -EEXIST);
	ck_assert_msg(strstr(err, "0000:00:01.0 (1234:11e8)") &&
		      strstr(err, "0000:00:03.0 (1234:1111)") &&
		      !strstr(err, "0000:00:02.0") && !strstr(err, "0000:00:00.0") &&
		      !strstr(err, "0000:00:04.0") && strstr(err, "--device"), "%s", err);
	/* without knowing its channel, the agent would see three */
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ 0 }, &dev), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "3 devices qualify"));
}
END_TEST

START_TEST(select_by_id_and_bdf)
{
	struct bt_pci_dev dev;

	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .have_id = true,
		.vendor = 0x1234, .device = 0x11e8, .exclude = "0000:00:02.0" }, &dev), 0);
	ck_assert_str_eq(dev.bdf_str, "0000:00:01.0");
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .bdf = "0000:00:03.0" }, &dev), 0);
	ck_assert_str_eq(dev.driver, "bochs-drm");
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .have_id = true,
		.vendor = 0x1af4, .device = 0x1043, .exclude = "0000:00:02.0" }, &dev), -ENOENT);
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .bdf = "0000:00:02.0",
		.exclude = "0000:00:02.0" }, &dev), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "agent's own channel"));
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .bdf = "0000:00:04.0" }, &dev), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no resource file"));
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .bdf = "0000:00:00.0" }, &dev), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "does not exist"));
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .bdf = "0000:00:09.0" }, &dev), -ENOENT);
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .bdf = "00:09" }, &dev), -EINVAL);
	ck_assert_int_eq(find(GUEST, (struct bt_pcisel){ .have_id = true, .vendor = 0x10de,
		.device = 0x1 }, &dev), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no device 10de:0001"));
}
END_TEST

START_TEST(pci_ids)
{
	uint16_t v, d;

	ck_assert_int_eq(bt_pci_id_parse("1234:11e8", &v, &d), 0);
	ck_assert_uint_eq(v, 0x1234);
	ck_assert_uint_eq(d, 0x11e8);
	ck_assert_int_eq(bt_pci_id_parse("1234:11e", &v, &d), -EINVAL);
	ck_assert_int_eq(bt_pci_id_parse("1234-11e8", &v, &d), -EINVAL);
	ck_assert_int_eq(bt_pci_id_parse("12g4:11e8", &v, &d), -EINVAL);
	ck_assert_int_eq(bt_pci_id_parse("1234:11e8x", &v, &d), -EINVAL);
}
END_TEST

static char tree[64];

static uint16_t command_of(const char *bdf)
{
	char path[160];
	uint8_t b[2];
	int fd;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/config", tree, bdf);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, b, 2, 4), 2);
	close(fd);
	return b[0] | b[1] << 8;
}

START_TEST(run_engine_on_files)
{
	struct agent_opts o;
	struct agent_dev d = { .channel_bdf = "0000:00:02.0" };
	struct agent_run r;
	struct agent_counts c;

	bt_test_copy_tree(GUEST, tree);
	agent_opts_default(&o, 2);
	o.have_id = true;
	o.vendor = 0x1234;
	o.devid = 0x11e8;
	o.cycles = 3000;
	o.hammer_cpu = o.toggle_cpu = -1;
	ck_assert_int_eq(agent_validate(&o, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(agent_dev_open(&d, tree, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.bar_len, 4096);
	ck_assert_uint_eq(command_of("0000:00:01.0"), 0x0547);	/* MEM on */
	ck_assert_int_eq(agent_run_start(&r, &o, &d, err, sizeof(err)), 0);
	while (!agent_run_done(&r))
		usleep(1000);
	agent_run_join(&r);
	agent_run_counts(&r, &c);
	ck_assert_int_eq(atomic_load(&r.reason), AGENT_STOP_CYCLES);
	ck_assert_uint_eq(c.cycles, 3000);
	ck_assert_uint_eq(c.toggles, 6000);
	ck_assert_uint_gt(c.accesses, 0);
	/* A file does not stop decoding: whatever landed in the window read
	 * the file's zeros, which is a violation, never a UR read. */
	ck_assert_uint_eq(c.ur_reads, 0);
	ck_assert_uint_eq(c.ur_violations, c.window_hits);
	ck_assert_uint_eq(c.faults, 0);
	agent_dev_close(&d);
	ck_assert_uint_eq(command_of("0000:00:01.0"), 0x0545);	/* as found */
	bt_test_remove_tree(tree);
}
END_TEST

START_TEST(unbinds_the_driver)
{
	struct agent_opts o;
	struct agent_dev d = { 0 };
	char path[160], buf[32] = "";
	int fd;

	bt_test_copy_tree(GUEST, tree);
	agent_opts_default(&o, 2);
	o.device = "0000:00:03.0";
	ck_assert_int_eq(agent_dev_open(&d, tree, &o, err, sizeof(err)), 0);
	ck_assert_str_eq(d.unbound, "bochs-drm");
	ck_assert_uint_eq(d.bar_len, 16 << 20);
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/bochs-drm/unbind", tree);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 12);
	close(fd);
	ck_assert_str_eq(buf, "0000:00:03.0");
	agent_dev_close(&d);
	bt_test_remove_tree(tree);
}
END_TEST

/* Host lines: accepted (0) or refused with the reason (-EINVAL). */
static const struct {
	const char *line;
	int ret;
	const char *why;
} json_cases[] = {
	{ "{\"type\":\"stop\"}", 0, NULL },
	{ " {\"type\":\"stop\"} ", 0, NULL },
	{ "{\"type\":\"start\",\"cycles\":20000,\"duration_s\":1.5e0,\"x\":null,"
	  "\"y\":true,\"z\":{\"a\":[1,{\"b\":[]}],\"c\":\"}\"},\"w\":[]}", 0, NULL },
	{ "", -EINVAL, "empty line" },
	{ "   ", -EINVAL, "empty line" },
	{ "{}", -EINVAL, "no \"type\"" },
	{ "[1,2]", -EINVAL, "not a JSON object" },
	{ "\"stop\"", -EINVAL, "not a JSON object" },
	{ "hello", -EINVAL, "malformed line" },
	{ "{\"type\":\"start\",\"cyc", -EINVAL, "truncated" },
	{ "{\"type\":\"start\"", -EINVAL, "truncated" },
	{ "{\"type\" \"start\"}", -EINVAL, "malformed line" },
	{ "{\"type\":\"start\"} x", -EINVAL, "trailing data" },
	{ "{\"type\":\"stop\"}{\"type\":\"stop\"}", -EINVAL, "trailing data" },
	{ "{\"a\":tru}", -EINVAL, "malformed line" },
	{ "{\"a\":\"\\q\"}", -EINVAL, "malformed line" },
	{ "{\"a\":\"\\u12\"}", -EINVAL, "malformed line" },
	{ "{\"type\":\"st\xffop\"}", -EINVAL, "malformed line" },	/* not UTF-8 */
	{ "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}", -EINVAL, "malformed line" },
	{ "{\"a\":1,}", -EINVAL, "malformed line" },
	{ "{'type':'stop'}", -EINVAL, "malformed line" },	/* strict: no single quotes */
	{ "{\"type\":\"reboot\"}", -EINVAL, "unknown message type \"reboot\"" },
	{ "{\"type\":5}", -EINVAL, "no \"type\" string" },
};

START_TEST(json_reader)
{
	struct json_object *msg = NULL;
	enum agent_cmd cmd;
	int ret;

	err[0] = '\0';
	ret = agent_parse_cmd(json_cases[_i].line, strlen(json_cases[_i].line), &cmd, &msg,
			      err, sizeof(err));
	ck_assert_msg(ret == json_cases[_i].ret, "'%s': %d (%s)", json_cases[_i].line, ret, err);
	ck_assert(ret ? msg == NULL : msg != NULL);
	if (json_cases[_i].why)
		ck_assert_msg(strstr(err, json_cases[_i].why), "'%s': '%s'",
			      json_cases[_i].line, err);
	json_object_put(msg);
}
END_TEST

START_TEST(json_nul_byte)
{
	static const char nul[] = "{\"type\":\"stop\"}\0x";
	struct json_object *msg = NULL;
	enum agent_cmd cmd;

	ck_assert_int_eq(agent_parse_cmd(nul, sizeof(nul) - 1, &cmd, &msg, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "malformed line: NUL byte in the line");
	ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(json_writer)
{
	struct agent_line w;
	struct json_object *back;
	char big[AGENT_MAX_LINE + 16];
	const char *line;
	size_t len;

	line = agent_msg_error(&w, "q\"\\\n\x01\xc3\xa9 /", &len);
	ck_assert_str_eq(line, "{\"type\":\"error\",\"reason\":\"q\\\"\\\\\\n\\u0001?? /\"}\n");
	ck_assert_int_eq(len, strlen(line));
	back = json_tokener_parse(line);
	ck_assert_ptr_nonnull(back);
	json_object_put(back);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_ptr_null(agent_msg_error(&w, big, &len));	/* over 4 KiB */
}
END_TEST

START_TEST(json_done_line)
{
	struct agent_counts c = { .cycles = 18446744073709551615ULL, .window_hits = 3 };
	struct agent_line w;
	struct agent_opts o;
	struct json_object *m, *v;
	const char *line;
	size_t len;

	agent_opts_default(&o, 2);
	o.hammer_cpu = -1;
	line = agent_msg_done(&w, &o, &c, 2000000000ULL, "cycles", NULL, &len);
	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(line[len - 1], '\n');
	m = json_tokener_parse(line);
	ck_assert_ptr_nonnull(m);
	ck_assert(json_object_object_get_ex(m, "counts", &v));
	ck_assert(json_object_object_get_ex(v, "cycles", &v));
	ck_assert_uint_eq(json_object_get_uint64(v), 18446744073709551615ULL);
	ck_assert(json_object_object_get_ex(m, "options", &v));
	ck_assert(json_object_object_get_ex(v, "hammer_cpu", &v));
	ck_assert_int_eq(json_object_get_int64(v), -1);
	ck_assert(json_object_object_get_ex(m, "elapsed_ms", &v));
	ck_assert_int_eq(json_object_get_int64(v), 2000);
	json_object_put(m);
}
END_TEST

static int start(struct agent_opts *o, const char *line)
{
	struct json_object *msg;
	enum agent_cmd cmd;
	int ret;

	ck_assert_int_eq(agent_parse_cmd(line, strlen(line), &cmd, &msg, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd, AGENT_CMD_START);
	ret = agent_apply_start(o, msg, err, sizeof(err));
	json_object_put(msg);
	return ret;
}

START_TEST(start_options)
{
	struct agent_opts o;

	agent_opts_default(&o, 2);
	o.cycles = 100;
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"cycles\":20000,\"access\":\"rw\","
				 "\"width\":\"8\",\"dwell_off_us\":5,\"dwell-on-us\":7,"
				 "\"seed\":42,\"colour\":\"blue\",\"nested\":{\"a\":1}}"), 0);
	ck_assert_uint_eq(o.cycles, 20000);
	ck_assert_int_eq(o.access, AGENT_RW);
	ck_assert_uint_eq(o.width, 8);
	ck_assert_uint_eq(o.dwell_off_us, 5);
	ck_assert_uint_eq(o.dwell_on_us, 7);
	ck_assert_uint_eq(o.seed, 42);

	/* a duration alone replaces the cycle bound */
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"duration_s\":2.5}"), 0);
	ck_assert_double_eq(o.duration_s, 2.5);
	ck_assert_uint_eq(o.cycles, 0);

	/* failures leave the options as they were */
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"width\":4,\"cycles\":\"lots\"}"),
			 -EINVAL);
	ck_assert_str_eq(err, "cycles=lots: not a number");
	ck_assert_uint_eq(o.width, 8);
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"device\":\"0000:00:02.0\"}"), -EINVAL);
	ck_assert_str_eq(err, "device cannot change after hello");
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"width\":3}"), -EINVAL);
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"cycles\":true}"), -EINVAL);
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"cycles\":0}"), -EINVAL);
	ck_assert_int_eq(start(&o, "{\"type\":\"start\",\"cycles\":-1}"), -EINVAL);
}
END_TEST

struct sink {
	char lines[4][64];
	int n, too_long;
};

static void on_line(void *ctx, const char *s, size_t len)
{
	struct sink *k = ctx;

	snprintf(k->lines[k->n++ % 4], 64, "%.*s", (int)len, s);
}

static void on_too_long(void *ctx)
{
	((struct sink *)ctx)->too_long++;
}

START_TEST(line_splitter)
{
	static struct agent_lines l;
	static char big[5000];
	struct sink k = { 0 };

	agent_lines_feed(&l, "{\"a\":1}\n{\"b\"", 12, on_line, on_too_long, &k);
	agent_lines_feed(&l, ":2}\n", 4, on_line, on_too_long, &k);
	ck_assert_int_eq(k.n, 2);
	ck_assert_str_eq(k.lines[0], "{\"a\":1}");
	ck_assert_str_eq(k.lines[1], "{\"b\":2}");

	memset(big, 'x', sizeof(big));
	agent_lines_feed(&l, big, sizeof(big), on_line, on_too_long, &k);
	agent_lines_feed(&l, "tail\nok\n", 8, on_line, on_too_long, &k);
	ck_assert_int_eq(k.too_long, 1);
	ck_assert_int_eq(k.n, 3);	/* the long line is dropped whole */
	ck_assert_str_eq(k.lines[2], "ok");
}
END_TEST

static const struct {
	const char *args[4];
	const char *message;
} bad_args[] = {
	{ { "--width=3" }, "want 1, 2, 4 or 8" },
	{ { "--cycles=0" }, "between 1 and" },
	{ { "--duration=-1" }, "want seconds" },
	{ { "--id=1234" }, "want VENDOR:DEVICE" },
	{ { "--device=0000:00:01.0", "--id=1234:11e8" }, "give one" },
	{ { "--access=exec" }, "want read, write or rw" },
	{ { "--hammer-cpu=x" }, "want a CPU number" },
	{ { "--bar=6" }, "between 0 and 5" },
	{ { "--interval-ms=1" }, "between 10 and" },
	{ { "--frobnicate" }, "unknown option" },
	{ { "--cycles" }, "needs a value" },
	{ { "stray" }, "unexpected argument" },
};

START_TEST(cli_rejects)
{
	char *argv[6] = { "bartoggle-agent" };
	struct agent_opts o;
	int argc = 1, i;

	for (i = 0; i < 4 && bad_args[_i].args[i]; i++)
		argv[argc++] = (char *)bad_args[_i].args[i];
	agent_opts_default(&o, 2);
	ck_assert_int_eq(agent_parse_args(argc, argv, &o, err, sizeof(err)), AGENT_USAGE);
	ck_assert_msg(strstr(err, bad_args[_i].message), "'%s' lacks '%s'", err,
		      bad_args[_i].message);
}
END_TEST

START_TEST(cli_and_validation)
{
	char *argv[] = { "bartoggle-agent", "--id=1234:11e8", "--duration=3",
			 "--hammer-cpu=-1", "--serve", "--offset=0x10", NULL };
	struct agent_opts o;

	agent_opts_default(&o, 2);
	ck_assert_int_eq(o.hammer_cpu, 0);
	ck_assert_int_eq(o.toggle_cpu, 1);
	ck_assert_int_eq(agent_parse_args(6, argv, &o, err, sizeof(err)), AGENT_OK);
	ck_assert(o.have_id && o.serve);
	ck_assert_int_eq(o.hammer_cpu, -1);
	ck_assert_int_eq(agent_validate(&o, 2, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.cycles, 0);		/* bounded by the duration */

	agent_opts_default(&o, 2);
	ck_assert_int_eq(agent_validate(&o, 2, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.cycles, AGENT_DEFAULT_CYCLES);
	o.offset = 2;
	ck_assert_int_eq(agent_validate(&o, 2, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not aligned"));
	agent_opts_default(&o, 2);
	o.toggle_cpu = 3;
	ck_assert_int_eq(agent_validate(&o, 2, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "CPU 3 does not exist"));
	o.toggle_cpu = 0;
	ck_assert_int_eq(agent_validate(&o, 2, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "same CPU"));
	agent_opts_default(&o, 1);
	ck_assert_int_eq(o.hammer_cpu, -1);	/* one CPU: no pinning */
	ck_assert_int_eq(agent_validate(&o, 1, err, sizeof(err)), 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("agent");
	TCase *tc = tcase_create("selection");

	tcase_add_test(tc, channel_port_found);
	tcase_add_test(tc, auto_selection_refuses_ambiguity);
	tcase_add_test(tc, select_by_id_and_bdf);
	tcase_add_test(tc, pci_ids);
	suite_add_tcase(s, tc);
	tc = tcase_create("engine");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, run_engine_on_files);
	tcase_add_test(tc, unbinds_the_driver);
	suite_add_tcase(s, tc);
	tc = tcase_create("protocol");
	tcase_add_loop_test(tc, json_reader, 0, sizeof(json_cases) / sizeof(json_cases[0]));
	tcase_add_test(tc, json_nul_byte);
	tcase_add_test(tc, json_writer);
	tcase_add_test(tc, json_done_line);
	tcase_add_test(tc, start_options);
	tcase_add_test(tc, line_splitter);
	suite_add_tcase(s, tc);
	tc = tcase_create("options");
	tcase_add_loop_test(tc, cli_rejects, 0, sizeof(bad_args) / sizeof(bad_args[0]));
	tcase_add_test(tc, cli_and_validation);
	suite_add_tcase(s, tc);
	return s;
}
