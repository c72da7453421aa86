// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bartoggle/stats.h"

uint64_t bt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void bt_dwell_us(uint64_t us)
{
	uint64_t until;

	if (!us)
		return;
	if (us >= 200) {
		struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

		nanosleep(&ts, NULL);
		return;
	}
	until = bt_now_ns() + us * 1000;
	while (bt_now_ns() < until)
		;
}

/* Continued fraction for I_x(a,b), modified Lentz; converges for x < (a+1)/(a+b+2). */
static double betacf(double a, double b, double x)
{
	const double tiny = 1e-300, eps = 1e-15;
	double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0), h;
	int m;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	h = d;
	for (m = 1; m <= 100000; m++) {
		double m2 = 2.0 * m, aa, del;

		aa = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2));
		d = 1.0 + aa * d;
		d = fabs(d) < tiny ? tiny : d;
		c = 1.0 + aa / c;
		c = fabs(c) < tiny ? tiny : c;
		d = 1.0 / d;
		h *= d * c;
		aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));
		d = 1.0 + aa * d;
		d = fabs(d) < tiny ? tiny : d;
		c = 1.0 + aa / c;
		c = fabs(c) < tiny ? tiny : c;
		d = 1.0 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) < eps)
			break;
	}
	return h;
}

double bt_betai(double a, double b, double x)
{
	double lbt;

	if (a <= 0 || b <= 0 || x < 0 || x > 1 || isnan(x))
		return NAN;
	if (x == 0 || x == 1)
		return x;
	lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) +
	      b * log1p(-x);
	if (x < (a + 1.0) / (a + b + 2.0))
		return exp(lbt) * betacf(a, b, x) / a;
	return 1.0 - exp(lbt) * betacf(b, a, 1.0 - x) / b;
}

double bt_binom_cdf(uint64_t k, uint64_t n, double p)
{
	if (k >= n)
		return 1.0;
	return bt_betai((double)(n - k), (double)k + 1.0, 1.0 - p);
}

/* Smallest p in [0,1] with I_p(a,b) >= target, by bisection. */
static double beta_quantile(double a, double b, double target)
{
	double lo = 0.0, hi = 1.0;
	int i;

	for (i = 0; i < 200; i++) {
		double mid = 0.5 * (lo + hi);

		if (mid == lo || mid == hi)
			break;
		if (bt_betai(a, b, mid) < target)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

int bt_binom_ci(uint64_t x, uint64_t n, double confidence, double *lo,
		double *hi)
{
	double alpha = 1.0 - confidence;

	if (!n || x > n || confidence <= 0 || confidence >= 1)
		return -EINVAL;
	*lo = x ? beta_quantile(x, n - x + 1.0, alpha / 2) : 0.0;
	*hi = x < n ? beta_quantile(x + 1.0, n - x, 1 - alpha / 2) : 1.0;
	return 0;
}

double bt_binom_upper(uint64_t x, uint64_t n, double confidence)
{
	if (!n || x > n || confidence <= 0 || confidence >= 1)
		return NAN;
	if (x == n)
		return 1.0;
	if (!x)	/* closed form, exact */
		return -expm1(log1p(-confidence) / (double)n);
	return beta_quantile(x + 1.0, n - x, confidence);
}

void bt_group_digits(double n, char *buf, size_t len)
{
	char digits[32];
	size_t i, nd, out = 0;

	snprintf(digits, sizeof(digits), "%.0f", n);
	nd = strlen(digits);
	for (i = 0; i < nd && out + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[out++] = ',';
		buf[out++] = digits[i];
	}
	buf[out] = '\0';
}

void bt_one_in(double p, char *buf, size_t len)
{
	double n, scale;

	if (!(p > 0) || p >= 1) {
		snprintf(buf, len, "%s", p >= 1 ? "1" : "inf");
		return;
	}
	n = 1.0 / p;
	scale = n >= 1000 ? pow(10, floor(log10(n)) - 2) : 1;
	bt_group_digits(floor(n / scale + 1e-9) * scale, buf, len);
}

int bt_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bt_quantile(const double *sorted, size_t n, double q)
{
	double pos, frac;
	size_t i;

	if (!n)
		return NAN;
	pos = q * (double)(n - 1);
	i = (size_t)pos;
	frac = pos - (double)i;
	if (i + 1 >= n)
		return sorted[n - 1];
	return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}
