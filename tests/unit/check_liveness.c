// SPDX-License-Identifier: GPL-2.0
/*
 * A silent agent: agent-stalled (the guest kernel still beats), guest-hang
 * (it does not, or QEMU does not answer), vm-stopped and guest-panic, decided
 * from console and QMP transcripts in tests/data/console.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bartoggle/liveness.h"
#include "check_main.h"

#define CONSOLE BT_TEST_DATA "/console"
#define NS 1000000000ULL

/*
 * Replays a transcript: "#T S" sets the host clock, "#A" is the agent's last
 * line, "#Q STATUS" QMP's answer at the decision ("none": no answer); other
 * lines are console output, fed in pieces to exercise line splitting.
 */
static enum bt_outcome replay(const char *name, struct bt_console *con, char *why,
			      size_t len)
{
	static char status[32];
	char path[256], line[512];
	uint64_t now = 0, agent_ns = 0, agent_beats = 0;
	struct bt_silence s = { .beat_period_ns = 2 * NS };
	FILE *f;

	snprintf(path, sizeof(path), CONSOLE "/%s", name);
	f = fopen(path, "r");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	bt_console_init(con, "/nonexistent");
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line), half = n / 2;

		if (!strncmp(line, "#T ", 3)) {
			now = strtod(line + 3, NULL) * NS;
		} else if (!strcmp(line, "#A\n")) {
			agent_ns = now;
			agent_beats = con->beats;
		} else if (!strncmp(line, "#Q ", 3)) {
			snprintf(status, sizeof(status), "%.*s", (int)strcspn(line + 3, "\n"),
				 line + 3);
			s.vm_status = strcmp(status, "none") ? status : NULL;
		} else if (line[0] != '#') {
			bt_console_feed(con, line, half, now);
			bt_console_feed(con, line + half, n - half, now);
		}
	}
	fclose(f);
	s.silent_ns = now - agent_ns;
	s.beats_while_silent = con->beats - agent_beats;
	s.last_beat_age_ns = con->last_beat_ns || con->beats ? now - con->last_beat_ns
							     : UINT64_MAX;
	s.panicked = con->panicked;
	return bt_silence_outcome(&s, why, len);
}

static const struct {
	const char *file;
	enum bt_outcome outcome;
	const char *why;	/* a part of the explanation */
} cases[] = {
	{ "stalled.txt", BT_OUTCOME_AGENT_STALLED,
	  "agent silent for 7 s while the guest kernel kept beating (3 beats, the last 1.0 s ago)" },
	{ "lockup-alive.txt", BT_OUTCOME_AGENT_STALLED, "kept beating (6 beats" },
	{ "hung.txt", BT_OUTCOME_GUEST_HANG,
	  "agent silent for 16 s and the guest console silent too (last beat 16.0 s ago)" },
	{ "beat-stopped-later.txt", BT_OUTCOME_GUEST_HANG, "last beat 9.0 s ago" },
	{ "never-beat.txt", BT_OUTCOME_GUEST_HANG, "the guest console never beat" },
	{ "qmp-dead.txt", BT_OUTCOME_GUEST_HANG, "QEMU did not answer QMP" },
	{ "internal-error.txt", BT_OUTCOME_VM_STOPPED, "not running (QMP status internal-error)" },
	{ "panic.txt", BT_OUTCOME_GUEST_PANIC, "the guest kernel panicked (console)" },
};

START_TEST(silence_outcomes)
{
	struct bt_console con;
	char why[256];
	enum bt_outcome o = replay(cases[_i].file, &con, why, sizeof(why));

	ck_assert_msg(o == cases[_i].outcome, "%s: %s, want %s (%s)", cases[_i].file,
		      bt_outcome_name(o), bt_outcome_name(cases[_i].outcome), why);
	ck_assert_msg(strstr(why, cases[_i].why), "%s: '%s' lacks '%s'", cases[_i].file, why,
		      cases[_i].why);
}
END_TEST

START_TEST(console_keeps_beats_and_trouble)
{
	struct bt_console con;
	char why[256];

	replay("lockup-alive.txt", &con, why, sizeof(why));
	ck_assert_uint_eq(con.beats, 7);
	ck_assert_double_eq_tol(con.last_uptime, 16.61, 1e-9);
	ck_assert_int_eq(con.ntrouble, 1);
	ck_assert_str_eq(con.trouble[0],
		"[   30.500000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [bartoggle-agent:140]");
	ck_assert(!con.panicked);

	replay("panic.txt", &con, why, sizeof(why));
	ck_assert_int_eq(con.ntrouble, 3);
	ck_assert(con.panicked);
}
END_TEST

START_TEST(console_line_kinds)
{
	const char *kind = NULL;

	ck_assert_int_eq(bt_console_line_kind("BT1 beat 12.53", &kind), BT_CONSOLE_BEAT);
	/* a beat quoted inside another line is not a beat */
	ck_assert_int_eq(bt_console_line_kind("echo BT1 beat 1", &kind), BT_CONSOLE_OTHER);
	ck_assert_int_eq(bt_console_line_kind("BT1 note agent frozen", &kind), BT_CONSOLE_OTHER);
	ck_assert_int_eq(bt_console_line_kind("[ 1.0] Kernel panic - not syncing: x", &kind),
			 BT_CONSOLE_TROUBLE);
	ck_assert_str_eq(kind, "panic");
	ck_assert_int_eq(bt_console_line_kind(
		"[ 40.1] rcu: INFO: rcu_sched self-detected stall on CPU", &kind),
		BT_CONSOLE_TROUBLE);
	ck_assert_str_eq(kind, "rcu-stall");
	ck_assert_int_eq(bt_console_line_kind(
		"[ 99.0] INFO: task bartoggle-agent:139 blocked for more than 120 seconds.", &kind),
		BT_CONSOLE_TROUBLE);
	ck_assert_str_eq(kind, "hung-task");
	ck_assert_int_eq(bt_console_line_kind("[ 4.0] Run /init as init process", &kind),
			 BT_CONSOLE_OTHER);
	/* a guest's virtual IOMMU saying hello is not trouble (seen in the demo) */
	ck_assert_int_eq(bt_console_line_kind("[    1.869907] AMD-Vi: AMD IOMMUv2 functionality "
			 "not available on this system - This is not a bug.", &kind),
			 BT_CONSOLE_OTHER);
}
END_TEST

START_TEST(console_follows_a_growing_file)
{
	char path[] = "/tmp/bt-console-XXXXXX";
	int fd = mkstemp(path);
	struct bt_console con;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	bt_console_init(&con, path);
	/* CRLF, as a serial console writes, and a line cut mid-way */
	fputs("boot\r\nBT1 beat 1.00\r\nBT1 be", f);
	fflush(f);
	bt_console_poll(&con, 5 * NS);
	ck_assert_uint_eq(con.beats, 1);
	ck_assert_uint_eq(con.last_beat_ns, 5 * NS);
	fputs("at 3.00\r\n", f);
	fflush(f);
	bt_console_poll(&con, 7 * NS);
	ck_assert_uint_eq(con.beats, 2);
	ck_assert_uint_eq(con.last_beat_ns, 7 * NS);
	ck_assert_double_eq_tol(con.last_uptime, 3.0, 1e-9);
	ck_assert_uint_eq(con.bytes, strlen("boot\r\nBT1 beat 1.00\r\nBT1 beat 3.00\r\n"));
	fclose(f);
	bt_console_close(&con);
	unlink(path);

	/* not there yet (QEMU creates it): nothing, no error */
	bt_console_init(&con, "/nonexistent/console.log");
	bt_console_poll(&con, NS);
	ck_assert_uint_eq(con.beats, 0);
	ck_assert_int_eq(con.fd, -1);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("liveness");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, silence_outcomes, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, console_keeps_beats_and_trouble);
	tcase_add_test(tc, console_line_kinds);
	tcase_add_test(tc, console_follows_a_growing_file);
	suite_add_tcase(s, tc);
	return s;
}
