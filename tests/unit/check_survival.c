// SPDX-License-Identifier: GPL-2.0
/*
 * Known values: the Kaplan-Meier estimate of the 6-MP arm of Freireich et al.
 * (1963), the textbook example (Kleinbaum & Klein, "Survival Analysis", table
 * 2.1); Clopper-Pearson intervals from R's binom.test(); 0.025^(1/5) for 5
 * failures in 5 cycles.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "bartoggle/survival.h"
#include "check_main.h"

#define ck_assert_rel(a, b, rel) \
	ck_assert_msg(fabs((a) - (b)) <= (rel) * fabs(b), \
		      "%s = %.10g, want %.10g", #a, (double)(a), (double)(b))

/* Weeks in remission; a '+' in the table (censored) is failures == 0. */
static const struct bt_run_obs six_mp[] = {
	{ 6, 1, NAN }, { 6, 1, NAN }, { 6, 1, NAN }, { 6, 0, NAN }, { 7, 1, NAN },
	{ 9, 0, NAN }, { 10, 1, NAN }, { 10, 0, NAN }, { 11, 0, NAN }, { 13, 1, NAN },
	{ 16, 1, NAN }, { 17, 0, NAN }, { 19, 0, NAN }, { 20, 0, NAN }, { 22, 1, NAN },
	{ 23, 1, NAN }, { 25, 0, NAN }, { 32, 0, NAN }, { 32, 0, NAN }, { 34, 0, NAN },
	{ 35, 0, NAN },
};

START_TEST(kaplan_meier_textbook)
{
	static const struct { uint64_t t; double alive; uint64_t at_risk, deaths; } want[] = {
		{ 0, 1.0, 21, 0 }, { 6, 0.8571, 21, 3 }, { 7, 0.8067, 17, 1 },
		{ 10, 0.7529, 15, 1 }, { 13, 0.6902, 12, 1 }, { 16, 0.6275, 11, 1 },
		{ 22, 0.5378, 7, 1 }, { 23, 0.4482, 6, 1 }, { 35, 0.4482, 1, 0 },
	};
	struct bt_km_step steps[22];
	size_t n = bt_km_curve(six_mp, 21, steps), i;

	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(steps[i].cycles, want[i].t);
		ck_assert_msg(fabs(steps[i].alive - want[i].alive) < 5e-5,
			      "S(%llu) = %.5f, want %.4f", (unsigned long long)want[i].t,
			      steps[i].alive, want[i].alive);
		ck_assert_uint_eq(steps[i].at_risk, want[i].at_risk);
		ck_assert_uint_eq(steps[i].deaths, want[i].deaths);
	}
}
END_TEST

START_TEST(kaplan_meier_edges)
{
	const struct bt_run_obs all_die[] = { { 1, 1, 40 }, { 1, 1, 50 } };
	const struct bt_run_obs none_die[] = { { 20000, 0, NAN }, { 5000, 0, NAN } };
	struct bt_km_step steps[3];

	ck_assert_uint_eq(bt_km_curve(all_die, 2, steps), 2);
	ck_assert(steps[1].cycles == 1 && steps[1].alive == 0.0 && steps[1].deaths == 2);
	/* Survivors only: a flat line out to the longest run. */
	ck_assert_uint_eq(bt_km_curve(none_die, 2, steps), 2);
	ck_assert(steps[1].cycles == 20000 && steps[1].alive == 1.0 && steps[1].at_risk == 1);
	ck_assert_uint_eq(bt_km_curve(NULL, 0, steps), 1);
	ck_assert(steps[0].alive == 1.0);
}
END_TEST

START_TEST(zero_failures_in_words)
{
	const struct bt_run_obs obs[] = { { 100000, 0, NAN }, { 100000, 0, NAN } };
	struct bt_survival s;
	char words[256];

	ck_assert_int_eq(bt_survival_summarize(obs, 2, &s), 0);
	ck_assert_uint_eq(s.cycles, 200000);
	ck_assert(s.p == 0.0 && s.p_lo == 0.0);
	ck_assert_rel(s.p_upper, 1.4978549188e-5, 1e-9);
	ck_assert_rel(s.p_hi, -expm1(log(0.025) / 200000), 1e-6);	/* two-sided */
	ck_assert(isnan(s.mean_cycles_between_failures) && isnan(s.ttf_median_ms));
	bt_survival_words(&s, words, sizeof(words));
	ck_assert_msg(strstr(words, "0 VM-fatal events in 200000 cycles") &&
		      strstr(words, "fewer than 1 in 66,700 cycles"), "%s", words);
}
END_TEST

START_TEST(every_run_fails_at_once)
{
	/* The nested-full default arm: five VMs stopped in their first cycle. */
	const struct bt_run_obs obs[] = {
		{ 1, 1, 35.46 }, { 1, 1, 47.45 }, { 1, 1, 46.37 }, { 1, 1, 41.6 }, { 1, 1, 53.2 },
	};
	struct bt_survival s;
	char words[256];

	ck_assert_int_eq(bt_survival_summarize(obs, 5, &s), 0);
	ck_assert(s.p == 1.0 && s.p_hi == 1.0 && s.p_upper == 1.0);
	ck_assert_rel(s.p_lo, pow(0.025, 1.0 / 5), 1e-6);
	ck_assert_uint_eq(s.failed_runs, 5);
	ck_assert_uint_eq(s.ttf_n, 5);
	ck_assert_rel(s.ttf_median_ms, 46.37, 1e-12);
	ck_assert_rel(s.ttf_p95_ms, 47.45 + 0.8 * (53.2 - 47.45), 1e-12);
	ck_assert_rel(s.ttf_max_ms, 53.2, 1e-12);
	ck_assert_rel(s.mean_cycles_between_failures, 1.0, 1e-12);
	bt_survival_words(&s, words, sizeof(words));
	ck_assert_msg(strstr(words, "5 VM-fatal events in 5 cycles: per-cycle probability 1 "
			     "(95% CI 0.478 to 1"), "%s", words);
}
END_TEST

START_TEST(mixed_runs)
{
	/* One death in ten cycles over two runs: R gives [0.002528579, 0.4450161]. */
	const struct bt_run_obs obs[] = { { 9, 0, NAN }, { 1, 1, 2.5 } };
	struct bt_survival s;

	ck_assert_int_eq(bt_survival_summarize(obs, 2, &s), 0);
	ck_assert_uint_eq(s.failures, 1);
	ck_assert_uint_eq(s.failed_runs, 1);
	ck_assert_rel(s.p, 0.1, 1e-12);
	ck_assert_rel(s.p_lo, 0.002528579, 1e-6);
	ck_assert_rel(s.p_hi, 0.4450161, 1e-6);
	ck_assert_rel(s.mean_cycles_between_failures, 10.0, 1e-12);
	ck_assert_rel(s.ttf_max_ms, 2.5, 1e-12);
}
END_TEST

START_TEST(degenerate_input)
{
	/* Two vCPUs failing in the one cycle they ran count once. */
	const struct bt_run_obs clamp[] = { { 1, 2, 1.0 } };
	const struct bt_run_obs none[] = { { 0, 0, NAN } };
	const struct bt_run_obs single[] = { { 1, 0, NAN } };
	struct bt_survival s;
	char words[160];

	ck_assert_int_eq(bt_survival_summarize(clamp, 1, &s), 0);
	ck_assert_uint_eq(s.failures, 1);
	ck_assert(s.p == 1.0);
	ck_assert_int_eq(bt_survival_summarize(single, 1, &s), 0);
	bt_survival_words(&s, words, sizeof(words));
	ck_assert_str_eq(words, "0 VM-fatal events in 1 cycle: per-cycle probability < 0.95 "
			 "(95% one-sided upper, exact)");
	ck_assert_int_eq(bt_survival_summarize(none, 1, &s), -EINVAL);
	ck_assert(isnan(s.p) && isnan(s.p_upper));
	bt_survival_words(&s, words, sizeof(words));
	ck_assert_str_eq(words, "no cycles ran: no bound");
	ck_assert_int_eq(bt_survival_summarize(NULL, 0, &s), -EINVAL);
	ck_assert_uint_eq(s.runs, 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("survival");
	TCase *tc = tcase_create("survival");

	tcase_add_test(tc, kaplan_meier_textbook);
	tcase_add_test(tc, kaplan_meier_edges);
	tcase_add_test(tc, zero_failures_in_words);
	tcase_add_test(tc, every_run_fails_at_once);
	tcase_add_test(tc, mixed_runs);
	tcase_add_test(tc, degenerate_input);
	suite_add_tcase(s, tc);
	return s;
}
