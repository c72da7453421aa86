// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "bartoggle/log.h"
#include "bartoggle/outcome.h"

enum outcome_class { PASSING, FAILING, NOT_A_VERDICT };

static const struct {
	const char *name;
	enum outcome_class class;
	int severity;
	const char *help;
} outcomes[BT_OUTCOME_NR] = {
	[BT_OUTCOME_SURVIVED] = { "survived", PASSING, 0,
		"every cycle completed" },
	[BT_OUTCOME_MMIO_EXIT] = { "mmio-exit", PASSING, 1,
		"disabled-BAR access came back as KVM_EXIT_MMIO; the VMM answered UR" },
	[BT_OUTCOME_MEMORY_FAULT_EXIT] = { "memory-fault-exit", PASSING, 2,
		"KVM_RUN -EFAULT with KVM_EXIT_MEMORY_FAULT inside the BAR; the VMM emulated UR" },
	[BT_OUTCOME_HOST_ERROR] = { "host-error", FAILING, 10,
		"host kernel log showed WARN/BUG/AER/DMAR/MCE during the run" },
	[BT_OUTCOME_GUEST_HANG] = { "guest-hang", FAILING, 12,
		"guest kernel stopped: agent and console heartbeat both silent" },
	[BT_OUTCOME_AGENT_STALLED] = { "agent-stalled", FAILING, 11,
		"guest kernel alive (console beat) while the agent made no progress: "
		"a vCPU stuck, e.g. in a KVM fault loop" },
	[BT_OUTCOME_GUEST_PANIC] = { "guest-panic", FAILING, 13,
		"guest crashed (panic, triple fault)" },
	[BT_OUTCOME_SIGBUS] = { "sigbus", FAILING, 14,
		"the VMM itself touched the zapped mapping and got SIGBUS" },
	[BT_OUTCOME_VM_STOPPED] = { "vm-stopped", FAILING, 15,
		"VM left stopped (internal error)" },
	[BT_OUTCOME_VMM_CRASHED] = { "vmm-crashed", FAILING, 16,
		"VMM process exited" },
	[BT_OUTCOME_EFAULT] = { "efault", FAILING, 17,
		"KVM_RUN -EFAULT without memory-fault info: a VMM must kill the VM" },
	[BT_OUTCOME_SKIPPED] = { "skipped", NOT_A_VERDICT, 20,
		"prerequisite missing" },
	[BT_OUTCOME_SETUP_ERROR] = { "setup-error", NOT_A_VERDICT, 21,
		"the test could not be set up" },
	[BT_OUTCOME_INTERRUPTED] = { "interrupted", NOT_A_VERDICT, 22,
		"the runner was stopped mid-run (a signal, or killed and closed later from its "
		"progress): not a verdict on the kernel" },
	/* The most serious finding of a soak: the host itself went down. */
	[BT_OUTCOME_HOST_RESET] = { "host-reset", FAILING, 30,
		"the host rebooted during the run (boot id changed)" },
};

const char *bt_outcome_name(enum bt_outcome outcome)
{
	return outcome < BT_OUTCOME_NR ? outcomes[outcome].name : "invalid";
}

const char *bt_outcome_help(enum bt_outcome outcome)
{
	return outcome < BT_OUTCOME_NR ? outcomes[outcome].help : "";
}

int bt_outcome_parse(const char *name, enum bt_outcome *outcome)
{
	int i;

	for (i = 0; i < BT_OUTCOME_NR; i++) {
		if (!strcmp(outcomes[i].name, name)) {
			*outcome = i;
			return 0;
		}
	}
	return -EINVAL;
}

enum bt_outcome bt_outcome_worse(enum bt_outcome a, enum bt_outcome b)
{
	return outcomes[b].severity > outcomes[a].severity ? b : a;
}

enum bt_verdict bt_verdict_of(enum bt_outcome outcome, uint64_t window_hits,
			      uint64_t ur_violations)
{
	switch (outcomes[outcome].class) {
	case FAILING:
		return BT_VERDICT_FAIL;
	case NOT_A_VERDICT:
		return outcome == BT_OUTCOME_SKIPPED ? BT_VERDICT_SKIP
						     : BT_VERDICT_ERROR;
	case PASSING:
		break;
	}
	if (ur_violations)
		return BT_VERDICT_FAIL;
	return window_hits ? BT_VERDICT_PASS : BT_VERDICT_ERROR;
}

bool bt_outcome_failing(enum bt_outcome outcome)
{
	return outcome < BT_OUTCOME_NR && outcomes[outcome].class == FAILING;
}

static const struct {
	const char *name;
	int exit_code;
} verdicts[] = {
	[BT_VERDICT_PASS] = { "PASS", BT_EXIT_PASS },
	[BT_VERDICT_FAIL] = { "FAIL", BT_EXIT_FAIL },
	[BT_VERDICT_SKIP] = { "SKIP", BT_EXIT_SKIP },
	/* An inconclusive run must not read as a pass to a CI script. */
	[BT_VERDICT_ERROR] = { "ERROR", BT_EXIT_FAIL },
};

const char *bt_verdict_name(enum bt_verdict verdict)
{
	return verdicts[verdict].name;
}

int bt_verdict_parse(const char *name, enum bt_verdict *verdict)
{
	size_t i;

	for (i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		if (!strcmp(verdicts[i].name, name)) {
			*verdict = i;
			return 0;
		}
	}
	return -EINVAL;
}

int bt_verdict_exit_code(enum bt_verdict verdict)
{
	return verdicts[verdict].exit_code;
}
