// SPDX-License-Identifier: GPL-2.0
/*
 * The runner's reading of agent lines: a guest that is broken or hostile
 * gives an invalid or partial message, never a crash or a made-up count.
 */
#include <string.h>
#include <json-c/json.h>

#include "bartoggle/agentmsg.h"
#include "check_main.h"

static const struct {
	const char *line;
	enum bt_agent_msg_type type;
} types[] = {
	{ "{\"type\":\"hello\",\"agent\":\"bartoggle-agent\"}", BT_AGENT_MSG_HELLO },
	{ "{\"type\":\"progress\"}", BT_AGENT_MSG_PROGRESS },
	{ "{\"type\":\"done\",\"reason\":\"cycles\"}", BT_AGENT_MSG_DONE },
	{ "{\"type\":\"error\",\"reason\":\"no device\"}", BT_AGENT_MSG_ERROR },
	{ "{\"type\":\"party\"}", BT_AGENT_MSG_OTHER },
	{ "{\"type\":null}", BT_AGENT_MSG_INVALID },	/* once a NULL strcmp */
	{ "{\"type\":5}", BT_AGENT_MSG_INVALID },
	{ "{\"kind\":\"done\"}", BT_AGENT_MSG_INVALID },
	{ "[\"done\"]", BT_AGENT_MSG_INVALID },
	{ "\"done\"", BT_AGENT_MSG_INVALID },
	{ "", BT_AGENT_MSG_INVALID },
	{ "{\"type\":\"done\"", BT_AGENT_MSG_INVALID },
};

START_TEST(message_types)
{
	struct bt_agent_msg m;

	bt_agent_msg_decode(types[_i].line, &m);
	ck_assert_msg(m.type == types[_i].type, "'%s': %d", types[_i].line, m.type);
	ck_assert(m.type == BT_AGENT_MSG_INVALID ? m.obj == NULL : m.obj != NULL);
	bt_agent_msg_put(&m);
	ck_assert_ptr_null(m.obj);
}
END_TEST

START_TEST(counters_are_counters)
{
	struct bt_agent_msg m;

	bt_agent_msg_decode("{\"type\":\"done\",\"reason\":\"cycles\",\"counts\":{"
			    "\"cycles\":18446744073709551615,\"toggles\":-4,\"accesses\":1.5,"
			    "\"window_hits\":\"3\",\"ur_reads\":7,\"faults\":null}}", &m);
	ck_assert_int_eq(m.type, BT_AGENT_MSG_DONE);
	ck_assert(m.have_counts);
	ck_assert_uint_eq(m.cycles, 18446744073709551615ULL);
	ck_assert_uint_eq(m.toggles, 0);
	ck_assert_uint_eq(m.accesses, 0);
	ck_assert_uint_eq(m.window_hits, 0);
	ck_assert_uint_eq(m.ur_reads, 7);
	ck_assert_uint_eq(m.faults, 0);
	ck_assert_str_eq(m.reason, "cycles");
	bt_agent_msg_put(&m);

	bt_agent_msg_decode("{\"type\":\"progress\",\"counts\":[1,2]}", &m);
	ck_assert(!m.have_counts);
	bt_agent_msg_put(&m);
	bt_agent_msg_decode("{\"type\":\"error\",\"reason\":{\"a\":1}}", &m);
	ck_assert_str_eq(m.reason, "");
	bt_agent_msg_put(&m);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("agentmsg");
	TCase *tc = tcase_create("decode");

	tcase_add_loop_test(tc, message_types, 0, sizeof(types) / sizeof(types[0]));
	tcase_add_test(tc, counters_are_counters);
	suite_add_tcase(s, tc);
	return s;
}
