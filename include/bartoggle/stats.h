/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BARTOGGLE_STATS_H
#define BARTOGGLE_STATS_H

#include <stddef.h>
#include <stdint.h>

struct bt_counts {
	uint64_t cycles;	/* disable + enable pairs */
	uint64_t toggles;	/* every MEM/backing state change */
	uint64_t accesses;	/* guest BAR accesses */
	uint64_t window_hits;	/* accesses that landed while disabled */
	uint64_t ur_reads;	/* reads that returned all ones */
	uint64_t ur_violations;	/* reads while disabled returning anything else */
};

uint64_t bt_now_ns(void);		/* CLOCK_MONOTONIC */
/* Wait @us microseconds: spin below 200 (a sleep overshoots by tens of
 * microseconds), sleep above. */
void bt_dwell_us(uint64_t us);
static inline double bt_per_s(uint64_t n, uint64_t ns)
{
	return ns ? (double)n * 1e9 / (double)ns : 0.0;
}

/* Regularized incomplete beta I_x(a, b); NaN for invalid arguments. */
double bt_betai(double a, double b, double x);
/* P(X <= k) for X ~ Binomial(n, p). */
double bt_binom_cdf(uint64_t k, uint64_t n, double p);

/*
 * Exact (Clopper-Pearson) two-sided interval for a binomial proportion with
 * @x successes in @n trials at @confidence (e.g. 0.95). 0 or -EINVAL.
 */
int bt_binom_ci(uint64_t x, uint64_t n, double confidence, double *lo,
		double *hi);
/* Exact one-sided upper bound; with x == 0 it is 1 - (1-c)^(1/n) ~ 3/n. */
double bt_binom_upper(uint64_t x, uint64_t n, double confidence);

/*
 * "1 in N" for a probability bound, N rounded *down* to three significant
 * digits (so that "fewer than 1 in N" stays true), with thousands
 * separators: 1.4979e-5 -> "66,700".
 */
void bt_one_in(double p, char *buf, size_t len);
/* @n rounded to an integer, with thousands separators: "10,502". */
void bt_group_digits(double n, char *buf, size_t len);

/* qsort() order of doubles, ascending. */
int bt_cmp_double(const void *a, const void *b);
/* Quantile of a sorted array by linear interpolation (q in [0,1]). */
double bt_quantile(const double *sorted, size_t n, double q);

#endif
