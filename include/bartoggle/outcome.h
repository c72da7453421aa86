/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The outcome taxonomy (design.md "Outcomes"). Names are stable strings:
 * records, reports and users' jq scripts key on them.
 */
#ifndef BARTOGGLE_OUTCOME_H
#define BARTOGGLE_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

enum bt_outcome {
	BT_OUTCOME_SURVIVED,
	BT_OUTCOME_MEMORY_FAULT_EXIT,
	BT_OUTCOME_MMIO_EXIT,
	BT_OUTCOME_EFAULT,
	BT_OUTCOME_SIGBUS,
	BT_OUTCOME_VM_STOPPED,
	BT_OUTCOME_VMM_CRASHED,
	BT_OUTCOME_GUEST_HANG,
	BT_OUTCOME_AGENT_STALLED,
	BT_OUTCOME_GUEST_PANIC,
	BT_OUTCOME_HOST_ERROR,
	BT_OUTCOME_SETUP_ERROR,
	BT_OUTCOME_SKIPPED,
	BT_OUTCOME_INTERRUPTED,
	BT_OUTCOME_HOST_RESET,
	BT_OUTCOME_NR
};

enum bt_verdict {
	BT_VERDICT_PASS,
	BT_VERDICT_FAIL,
	BT_VERDICT_SKIP,
	BT_VERDICT_ERROR,
};

const char *bt_outcome_name(enum bt_outcome outcome);
/* -EINVAL when @name is not an outcome. */
int bt_outcome_parse(const char *name, enum bt_outcome *outcome);
/* A description for humans, one line. */
const char *bt_outcome_help(enum bt_outcome outcome);

/*
 * The outcome of a run that saw both @a and @b: the more severe one, so that
 * a single efault is never hidden behind a million UR exits.
 */
enum bt_outcome bt_outcome_worse(enum bt_outcome a, enum bt_outcome b);
/* A VM-fatal (or host-harming) outcome: a failure event for the statistics. */
bool bt_outcome_failing(enum bt_outcome outcome);

/*
 * PASS needs a passing outcome, the disabled window really hit, and UR
 * semantics held; a passing outcome that never hit the window proves
 * nothing and is an ERROR.
 */
enum bt_verdict bt_verdict_of(enum bt_outcome outcome, uint64_t window_hits,
			      uint64_t ur_violations);
const char *bt_verdict_name(enum bt_verdict verdict);
/* -EINVAL when @name is not a verdict. */
int bt_verdict_parse(const char *name, enum bt_verdict *verdict);
int bt_verdict_exit_code(enum bt_verdict verdict);

#endif
