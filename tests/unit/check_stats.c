// SPDX-License-Identifier: GPL-2.0
/*
 * Known values: R's binom.test() for the small intervals, closed forms for
 * x = 0 and x = n, and an independent exact binomial sum (Python, integer
 * binomials, bisection) for n = 10^6.
 */
#include <errno.h>
#include <math.h>

#include "bartoggle/stats.h"
#include "check_main.h"

#define ck_assert_rel(a, b, rel) \
	ck_assert_msg(fabs((a) - (b)) <= (rel) * fabs(b), \
		      "%s = %.10g, want %.10g", #a, (double)(a), (double)(b))

START_TEST(binom_cdf_exact)
{
	ck_assert_rel(bt_binom_cdf(2, 10, 0.5), 56.0 / 1024, 1e-12);
	ck_assert_rel(bt_binom_cdf(0, 10, 0.1), pow(0.9, 10), 1e-12);
	ck_assert_rel(bt_binom_cdf(10, 10, 0.3), 1.0, 0);
	ck_assert(isnan(bt_betai(0, 1, 0.5)));
	ck_assert(isnan(bt_betai(1, 1, 1.5)));
	ck_assert_rel(bt_betai(1, 1, 0.25), 0.25, 1e-12);
}
END_TEST

START_TEST(clopper_pearson_r_values)
{
	double lo, hi;

	ck_assert_int_eq(bt_binom_ci(5, 10, 0.95, &lo, &hi), 0);
	ck_assert_rel(lo, 0.1870860, 1e-6);
	ck_assert_rel(hi, 0.8129140, 1e-6);
	ck_assert_int_eq(bt_binom_ci(1, 10, 0.95, &lo, &hi), 0);
	ck_assert_rel(lo, 0.002528579, 1e-6);
	ck_assert_rel(hi, 0.4450161, 1e-6);
	ck_assert_int_eq(bt_binom_ci(0, 10, 0.95, &lo, &hi), 0);
	ck_assert(lo == 0.0);
	ck_assert_rel(hi, 0.3084971, 1e-6);
	ck_assert_int_eq(bt_binom_ci(10, 10, 0.95, &lo, &hi), 0);
	ck_assert_rel(lo, 0.6915029, 1e-6);
	ck_assert(hi == 1.0);
}
END_TEST

START_TEST(clopper_pearson_large_n)
{
	double lo, hi;

	ck_assert_int_eq(bt_binom_ci(3, 1000000, 0.95, &lo, &hi), 0);
	ck_assert_rel(lo, 6.186725501e-7, 1e-6);
	ck_assert_rel(hi, 8.767247788e-6, 1e-6);
	ck_assert_rel(bt_binom_upper(3, 1000000, 0.95), 7.753638099e-6, 1e-6);
}
END_TEST

START_TEST(zero_failures_rule_of_three)
{
	double p = bt_binom_upper(0, 200000, 0.95);
	char words[32];

	ck_assert_rel(p, 1.4978549188e-5, 1e-9);
	ck_assert_rel(p * 200000, 3.0, 0.002);	/* "about 3/N" */
	bt_one_in(p, words, sizeof(words));
	ck_assert_str_eq(words, "66,700");	/* 66,762 rounded down */
}
END_TEST

START_TEST(invalid_arguments)
{
	double lo, hi;

	ck_assert_int_eq(bt_binom_ci(1, 0, 0.95, &lo, &hi), -EINVAL);
	ck_assert_int_eq(bt_binom_ci(11, 10, 0.95, &lo, &hi), -EINVAL);
	ck_assert_int_eq(bt_binom_ci(1, 10, 1.0, &lo, &hi), -EINVAL);
	ck_assert(isnan(bt_binom_upper(0, 0, 0.95)));
	ck_assert(bt_binom_upper(5, 5, 0.95) == 1.0);
}
END_TEST

START_TEST(one_in_words)
{
	char buf[32];

	bt_one_in(1.0 / 66.7, buf, sizeof(buf));
	ck_assert_str_eq(buf, "66");
	bt_one_in(1e-6, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1,000,000");
	bt_one_in(1.0 / 1234567.0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1,230,000");
	bt_one_in(0.5, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2");
	bt_one_in(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "inf");
}
END_TEST

START_TEST(quantiles)
{
	const double v[] = { 0.6, 1.0, 1.2, 2.7, 17.0 };

	ck_assert_rel(bt_quantile(v, 5, 0.5), 1.2, 1e-12);
	ck_assert_rel(bt_quantile(v, 5, 1.0), 17.0, 1e-12);
	ck_assert_rel(bt_quantile(v, 5, 0.0), 0.6, 1e-12);
	ck_assert_rel(bt_quantile(v, 4, 0.5), 1.1, 1e-12);
	ck_assert_rel(bt_quantile(v, 5, 0.95), 2.7 + 0.8 * 14.3, 1e-12);
	ck_assert(isnan(bt_quantile(v, 0, 0.5)));
}
END_TEST

START_TEST(rates)
{
	ck_assert_rel(bt_per_s(500, 250000000ULL), 2000.0, 1e-12);
	ck_assert(bt_per_s(5, 0) == 0.0);
	ck_assert_uint_gt(bt_now_ns(), 0);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("binomial");

	tcase_add_test(tc, binom_cdf_exact);
	tcase_add_test(tc, clopper_pearson_r_values);
	tcase_add_test(tc, clopper_pearson_large_n);
	tcase_add_test(tc, zero_failures_rule_of_three);
	tcase_add_test(tc, invalid_arguments);
	suite_add_tcase(s, tc);
	tc = tcase_create("summaries");
	tcase_add_test(tc, one_in_words);
	tcase_add_test(tc, quantiles);
	tcase_add_test(tc, rates);
	suite_add_tcase(s, tc);
	return s;
}
