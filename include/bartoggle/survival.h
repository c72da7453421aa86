/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Survival statistics over runs: each run is exposed to some number of
 * toggle cycles and either survives them (censored) or dies at the last one.
 * Cycles are the trials of a binomial per-cycle failure probability and the
 * time axis of the Kaplan-Meier curve.
 */
#ifndef BARTOGGLE_SURVIVAL_H
#define BARTOGGLE_SURVIVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bt_run_obs {
	uint64_t cycles;	/* cycles the run was exposed to, the failing one included */
	uint64_t failures;	/* VM-fatal events in them (0 for a survivor) */
	double ttf_ms;		/* start to first failure; NAN when none */
};

struct bt_survival {
	uint64_t runs, failed_runs, cycles, failures;
	/* failures / cycles, exact Clopper-Pearson two-sided 95% interval */
	double p, p_lo, p_hi;
	/* exact one-sided 95% upper bound: with 0 failures ~3/cycles */
	double p_upper;
	double mean_cycles_between_failures;	/* NAN without failures */
	size_t ttf_n;				/* runs with a time to failure */
	double ttf_median_ms, ttf_p95_ms, ttf_max_ms;	/* NAN when ttf_n == 0 */
};

#define BT_SURVIVAL_CONFIDENCE	0.95

/*
 * Summarise @n runs. Failures beyond the cycles they happened in (several
 * vCPUs failing in one cycle) are counted once per cycle so that the
 * binomial stays defined. 0, or -EINVAL when no run has a cycle.
 */
int bt_survival_summarize(const struct bt_run_obs *obs, size_t n,
			  struct bt_survival *s);

struct bt_km_step {
	uint64_t cycles;	/* where the curve steps (or the last censoring) */
	double alive;		/* fraction of runs alive after @cycles */
	uint64_t at_risk;	/* runs still exposed at @cycles */
	uint64_t deaths;	/* runs that failed exactly at @cycles */
};

/*
 * Kaplan-Meier estimate of the fraction of runs alive versus cycles: a run
 * that failed is an event at its exposure, a survivor is censored there
 * (censorings at the same count as deaths come after them). @steps needs
 * room for n + 1 entries; the first is (0, 1.0) and the last carries the
 * largest exposure so that a plot extends to it. Returns the number of
 * steps written.
 */
size_t bt_km_curve(const struct bt_run_obs *obs, size_t n,
		   struct bt_km_step *steps);

/*
 * One sentence for the per-cycle failure probability of @s, e.g.
 * "0 VM-fatal events in 200000 cycles: per-cycle probability < 1.5e-05
 * (95% one-sided upper, exact), fewer than 1 in 66,700 cycles".
 */
void bt_survival_words(const struct bt_survival *s, char *buf, size_t len);

#endif
