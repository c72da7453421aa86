// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bartoggle/log.h"
#include "bartoggle/stats.h"
#include "bartoggle/survival.h"

int bt_survival_summarize(const struct bt_run_obs *obs, size_t n,
			  struct bt_survival *s)
{
	double *ttf = calloc(n ? n : 1, sizeof(*ttf));
	size_t i;

	BT_ASSERT(ttf, "out of memory");
	*s = (struct bt_survival){ .runs = n };
	for (i = 0; i < n; i++) {
		uint64_t f = obs[i].failures;

		s->cycles += obs[i].cycles;
		s->failures += f < obs[i].cycles ? f : obs[i].cycles;
		s->failed_runs += f > 0;
		if (f && !isnan(obs[i].ttf_ms))
			ttf[s->ttf_n++] = obs[i].ttf_ms;
	}
	qsort(ttf, s->ttf_n, sizeof(*ttf), bt_cmp_double);
	s->ttf_median_ms = bt_quantile(ttf, s->ttf_n, 0.5);
	s->ttf_p95_ms = bt_quantile(ttf, s->ttf_n, 0.95);
	s->ttf_max_ms = s->ttf_n ? ttf[s->ttf_n - 1] : NAN;
	free(ttf);
	s->mean_cycles_between_failures = s->failures ?
		(double)s->cycles / (double)s->failures : NAN;
	if (!s->cycles) {
		s->p = s->p_lo = s->p_hi = s->p_upper = NAN;
		return -EINVAL;
	}
	s->p = (double)s->failures / (double)s->cycles;
	bt_binom_ci(s->failures, s->cycles, BT_SURVIVAL_CONFIDENCE, &s->p_lo, &s->p_hi);
	s->p_upper = bt_binom_upper(s->failures, s->cycles, BT_SURVIVAL_CONFIDENCE);
	return 0;
}

struct km_point {
	uint64_t cycles;
	bool died;
};

/* Deaths before censorings at the same count: a run censored at t was at risk at t. */
static int cmp_point(const void *a, const void *b)
{
	const struct km_point *x = a, *y = b;

	if (x->cycles != y->cycles)
		return x->cycles < y->cycles ? -1 : 1;
	return (int)y->died - (int)x->died;
}

size_t bt_km_curve(const struct bt_run_obs *obs, size_t n,
		   struct bt_km_step *steps)
{
	struct km_point *pt = calloc(n ? n : 1, sizeof(*pt));
	uint64_t at_risk = n;
	double alive = 1.0;
	size_t i = 0, k, nsteps = 0;

	BT_ASSERT(pt, "out of memory");
	for (k = 0; k < n; k++)
		pt[k] = (struct km_point){ obs[k].cycles, obs[k].failures > 0 };
	qsort(pt, n, sizeof(*pt), cmp_point);
	steps[nsteps++] = (struct bt_km_step){ 0, 1.0, n, 0 };
	while (i < n) {
		uint64_t t = pt[i].cycles, deaths = 0, gone = 0;

		for (; i < n && pt[i].cycles == t; i++, gone++)
			deaths += pt[i].died;
		if (deaths) {
			alive *= 1.0 - (double)deaths / (double)at_risk;
			steps[nsteps++] = (struct bt_km_step){ t, alive, at_risk, deaths };
		} else if (i == n) {
			steps[nsteps++] = (struct bt_km_step){ t, alive, at_risk, 0 };
		}
		at_risk -= gone;
	}
	free(pt);
	return nsteps;
}

void bt_survival_words(const struct bt_survival *s, char *buf, size_t len)
{
	char one_in[32];

	if (!s->cycles) {
		snprintf(buf, len, "no cycles ran: no bound");
		return;
	}
	if (!s->failures) {
		int n = snprintf(buf, len, "0 VM-fatal events in %llu cycle%s: per-cycle probability "
				 "< %.3g (95%% one-sided upper, exact)", (unsigned long long)s->cycles,
				 s->cycles == 1 ? "" : "s", s->p_upper);

		/* "fewer than 1 in 1 cycles" is true and useless. */
		if (s->p_upper <= 0.1 && n > 0 && (size_t)n < len) {
			bt_one_in(s->p_upper, one_in, sizeof(one_in));
			snprintf(buf + n, len - n, ", fewer than 1 in %s cycles", one_in);
		}
		return;
	}
	bt_group_digits(s->mean_cycles_between_failures, one_in, sizeof(one_in));
	snprintf(buf, len, "%llu VM-fatal event%s in %llu cycles: per-cycle probability %.3g "
		 "(95%% CI %.3g to %.3g, exact Clopper-Pearson), one every %s cycles on average",
		 (unsigned long long)s->failures, s->failures == 1 ? "" : "s",
		 (unsigned long long)s->cycles, s->p, s->p_lo, s->p_hi, one_in);
}
