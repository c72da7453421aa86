// SPDX-License-Identifier: GPL-2.0
/*
 * bartoggle-repro: the disabled-BAR fault without QEMU.
 *
 * A BAR (a real vfio-pci BAR, or a stand-in whose fault handler also
 * declines) is registered as a KVM memslot and stays registered while the
 * backing is disabled: the window an unfixed VMM leaves open between the
 * config write and its memory-map update, held open for good. Guest vCPUs
 * access it; every KVM_RUN result is decoded and classified. Where KVM hands
 * the access back (KVM_EXIT_MMIO or KVM_EXIT_MEMORY_FAULT) this program acts
 * as a fixed VMM and completes it as an Unsupported Request.
 */
#include <inttypes.h>
#include <stdio.h>

#include "bartoggle/log.h"
#include "bartoggle/version.h"
#include "repro.h"

int main(int argc, char **argv)
{
	static struct repro r = {
		.vm = { .kvm_fd = -1, .vm_fd = -1 },
	};
	struct repro_opts o;
	struct held_result held = { 0 };
	enum setup_result res;
	enum bt_outcome outcome;
	enum bt_verdict verdict;
	struct bt_counts counts;
	struct bt_ktap k;
	char err[256];
	int ret;

	bt_log_init(argv[0], BT_LOG_INFO);
	bt_record_set_argv(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (repro_parse_options(argc, argv, &o, err, sizeof(err))) {
	case REPRO_PARSE_HELP:
		repro_usage(stdout, bt_log_prog());
		return BT_EXIT_PASS;
	case REPRO_PARSE_USAGE:
		bt_err("%s (try --help)", err);
		return BT_EXIT_USAGE;
	case REPRO_PARSE_OK:
		break;
	}
	bt_log_init(argv[0], o.quiet ? BT_LOG_QUIET :
			     o.verbose ? BT_LOG_DEBUG : BT_LOG_INFO);
	r.o = &o;
	r.bk.hva = (void *)-1;
	r.bk.fd = -1;
	install_signals();

	res = setup(&r);
	if (res != SETUP_OK) {
		ret = finish_setup_failure(&r, res);
		cleanup(&r);
		return ret;
	}

	bt_ktap_init(&k, stdout, 4);
	bt_ktap_diag(&k, "bartoggle-repro %s: backing=%s (%s) mode=%s access=%s width=%u",
		     bt_version, o.backing->name, o.backing->disable_desc,
		     repro_mode_name(o.mode), repro_access_name(o.access), o.width);
	bt_ktap_diag(&k, "KVM_CAP_MEMORY_FAULT_INFO=%d; BAR at gpa 0x%llx, %" PRIu64
		     " bytes, expected value 0x%" PRIx64, r.memory_fault_info,
		     BAR_GPA, r.bk.size, r.expected);
	bt_ktap_result(&k, BT_VERDICT_PASS, "setup");

	if (o.mode == REPRO_HELD)
		run_held(&r, &held);
	else
		run_race(&r);

	sum_counts(&r, &counts);
	outcome = run_outcome(&r);
	verdict = bt_verdict_of(outcome, counts.window_hits, counts.ur_violations);
	switch (o.mode) {
	case REPRO_HELD:
		if (verdict == BT_VERDICT_PASS && !(held.enabled_ok && held.resumed_ok))
			verdict = BT_VERDICT_FAIL;
		report_held(&r, &k, &held, outcome);
		break;
	case REPRO_RACE:
		report_race(&r, &k, &counts, outcome);
		break;
	case REPRO_CONTROL:
		verdict = control_verdict(outcome, &counts);
		report_control(&r, &k, &counts, outcome);
		break;
	}
	if (verdict == BT_VERDICT_ERROR && !r.reason[0])
		snprintf(r.reason, sizeof(r.reason),
			 "the disabled window was never hit: inconclusive");
	if (repro_interrupted)
		bt_ktap_diag(&k, "repro_interrupted by a signal: counts cover the run so far");
	bt_ktap_diag(&k, "outcome=%s verdict=%s%s%s", bt_outcome_name(outcome),
		     bt_verdict_name(verdict), r.reason[0] ? " reason=" : "",
		     r.reason);
	bt_ktap_totals(&k);
	summary(&r, &counts, outcome, verdict);

	ret = bt_verdict_exit_code(verdict);
	if (write_record(&r, outcome, verdict, &counts))
		ret = BT_EXIT_FAIL;
	cleanup(&r);
	return ret;
}
