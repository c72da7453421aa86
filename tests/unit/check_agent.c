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

#include "agent.h"
#include "bartoggle/jsonl.h"
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

static const struct {
	const char *line;
	int n;			/* members, or -EINVAL */
	const char *why;
} json_cases[] = {
	{ "{}", 0, NULL },
	{ " {\"type\":\"stop\"} ", 1, NULL },
	{ "{\"type\":\"start\",\"cycles\":20000,\"duration_s\":1.5e0,\"x\":null,"
	  "\"y\":true,\"z\":{\"a\":[1,{\"b\":[]}],\"c\":\"}\"},\"w\":[]}", 7, NULL },
	{ "", -EINVAL, "empty line" },
	{ "[1,2]", -EINVAL, "not a JSON object" },
	{ "hello", -EINVAL, "not a JSON object" },
	{ "{\"type\":\"start\",\"cyc", -EINVAL, "truncated" },
	{ "{\"type\":\"start\"", -EINVAL, "truncated" },
	{ "{\"type\" \"start\"}", -EINVAL, "expected ':'" },
	{ "{\"type\":\"start\"} x", -EINVAL, "trailing data" },
	{ "{\"a\":tru}", -EINVAL, "not JSON" },
	{ "{\"a\":-}", -EINVAL, "not JSON" },
	{ "{\"a\":\"\\q\"}", -EINVAL, "bad escape" },
	{ "{\"a\":\"\\u12\"}", -EINVAL, "bad \\u escape" },
	{ "{\"a\":\"tab\there\"}", -EINVAL, "control character" },
	{ "{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}", -EINVAL, "nested too deep" },
	{ "{\"a\":1,}", -EINVAL, "expected a key" },
	{ "{\"a\":[1 2]}", -EINVAL, "expected ','" },
};

START_TEST(json_reader)
{
	struct bt_jfield f[8];
	const char *why;
	int n = bt_jsonl_parse(json_cases[_i].line, strlen(json_cases[_i].line), f, 8, &why);

	ck_assert_msg(n == json_cases[_i].n, "'%s': %d (%s)", json_cases[_i].line, n,
		      why ? why : "");
	if (json_cases[_i].why)
		ck_assert_msg(why && strstr(why, json_cases[_i].why), "'%s': '%s'",
			      json_cases[_i].line, why ? why : "(none)");
}
END_TEST

START_TEST(json_values_and_limits)
{
	const char *line = "{\"s\":\"a\\\"b\\\\c\\n\\u0041\\u00e9\",\"n\":-12.5,\"b\":false}";
	struct bt_jfield f[4];
	char big[600], nul[] = "{\"a\":\"x\0y\"}";
	const char *why;

	ck_assert_int_eq(bt_jsonl_parse(line, strlen(line), f, 4, &why), 3);
	ck_assert_str_eq(bt_jsonl_get(f, 3, "s")->val, "a\"b\\c\nA?");
	ck_assert_int_eq(bt_jsonl_get(f, 3, "n")->type, BT_JNUMBER);
	ck_assert_str_eq(bt_jsonl_get(f, 3, "n")->val, "-12.5");
	ck_assert_str_eq(bt_jsonl_get(f, 3, "b")->val, "false");
	ck_assert_ptr_null(bt_jsonl_get(f, 3, "missing"));

	ck_assert_int_eq(bt_jsonl_parse(nul, sizeof(nul) - 1, f, 4, &why), -EINVAL);
	ck_assert_str_eq(why, "NUL byte in the line");
	snprintf(big, sizeof(big), "{\"a\":\"%0500d\"}", 0);
	ck_assert_int_eq(bt_jsonl_parse(big, strlen(big), f, 4, &why), -EINVAL);
	ck_assert_str_eq(why, "string too long");
	line = "{\"a\":1,\"b\":2,\"c\":3}";
	ck_assert_int_eq(bt_jsonl_parse(line, strlen(line), f, 2, &why), -EINVAL);
	ck_assert_str_eq(why, "too many members");
}
END_TEST

START_TEST(json_writer)
{
	struct bt_jw w;
	const char *line;
	size_t len, i;
	struct bt_jfield f[4];
	const char *why;

	bt_jw_begin(&w);
	bt_jw_str(&w, "s", "q\"\\\n\x01\xc3\xa9");
	bt_jw_u64(&w, "u", 18446744073709551615ULL);
	bt_jw_obj(&w, "o");
	bt_jw_double(&w, "d", 0.5);
	bt_jw_bool(&w, "b", true);
	bt_jw_str(&w, "n", NULL);
	bt_jw_end(&w);
	bt_jw_end(&w);
	line = bt_jw_line(&w, &len);
	ck_assert_str_eq(line, "{\"s\":\"q\\\"\\\\\\u000a\\u0001??\",\"u\":18446744073709551615,"
			       "\"o\":{\"d\":0.5,\"b\":true,\"n\":null}}\n");
	ck_assert_int_eq(len, strlen(line));
	ck_assert_int_eq(bt_jsonl_parse(line, len, f, 4, &why), 3);

	bt_jw_begin(&w);
	for (i = 0; i < 200; i++)
		bt_jw_str(&w, "key", "a value that fills the line quickly");
	bt_jw_end(&w);
	ck_assert_ptr_null(bt_jw_line(&w, &len));	/* over 4 KiB */
	bt_jw_begin(&w);
	bt_jw_obj(&w, "unclosed");
	bt_jw_end(&w);
	ck_assert_ptr_null(bt_jw_line(&w, &len));
}
END_TEST

START_TEST(commands)
{
	struct bt_jfield f[AGENT_MAX_FIELDS];
	enum agent_cmd cmd;
	const char *s;
	int n;

	s = "{\"type\":\"stop\",\"why\":\"bored\"}";
	ck_assert_int_eq(agent_parse_cmd(s, strlen(s), &cmd, f, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd, AGENT_CMD_STOP);
	s = "{\"type\":\"start\",\"cycles\":5}";
	ck_assert_int_eq(agent_parse_cmd(s, strlen(s), &cmd, f, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd, AGENT_CMD_START);
	ck_assert_int_eq(n, 2);
	s = "{\"type\":\"reboot\"}";
	ck_assert_int_eq(agent_parse_cmd(s, strlen(s), &cmd, f, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown message type \"reboot\"");
	s = "{\"type\":5}";
	ck_assert_int_eq(agent_parse_cmd(s, strlen(s), &cmd, f, &n, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no \"type\""));
	s = "\xff\xfe\x01garbage";
	ck_assert_int_eq(agent_parse_cmd(s, strlen(s), &cmd, f, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "malformed line: not a JSON object");
}
END_TEST

static int start(struct agent_opts *o, const char *line)
{
	struct bt_jfield f[AGENT_MAX_FIELDS];
	enum agent_cmd cmd;
	int n;

	ck_assert_int_eq(agent_parse_cmd(line, strlen(line), &cmd, f, &n, err, sizeof(err)), 0);
	return agent_apply_start(o, f, n, err, sizeof(err));
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
	tcase_add_test(tc, json_values_and_limits);
	tcase_add_test(tc, json_writer);
	tcase_add_test(tc, commands);
	tcase_add_test(tc, start_options);
	tcase_add_test(tc, line_splitter);
	suite_add_tcase(s, tc);
	tc = tcase_create("options");
	tcase_add_loop_test(tc, cli_rejects, 0, sizeof(bad_args) / sizeof(bad_args[0]));
	tcase_add_test(tc, cli_and_validation);
	suite_add_tcase(s, tc);
	return s;
}
