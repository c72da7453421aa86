// SPDX-License-Identifier: GPL-2.0
/* What a run says: KTAP on stdout, the JSON record, the summary on stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bartoggle/log.h"
#include "bartoggle/stats.h"
#include "bartoggle_pfnmap.h"
#include "repro.h"

enum bt_outcome run_outcome(struct repro *r)
{
	enum bt_outcome outcome = BT_OUTCOME_SURVIVED;
	unsigned int i;

	for (i = 0; i < r->o->vcpus; i++)
		outcome = bt_outcome_worse(outcome, r->vcpus[i].outcome);
	if (r->toggle_error)
		outcome = bt_outcome_worse(outcome, BT_OUTCOME_SETUP_ERROR);
	return outcome;
}

/* The evidence line of the vCPU that saw the run's outcome. */
static const char *run_signature(struct repro *r, enum bt_outcome outcome)
{
	unsigned int i;

	for (i = 0; i < r->o->vcpus; i++)
		if (r->vcpus[i].outcome == outcome && r->vcpus[i].signature[0])
			return r->vcpus[i].signature;
	return NULL;
}

static void record_options(struct json_object *rec, const struct repro_opts *o)
{
	struct json_object *opts = bt_json_set_obj(rec, "options");

	bt_json_set_str(opts, "backing", o->backing->name);
	bt_json_set_str(opts, "mode", repro_mode_name(o->mode));
	bt_json_set_u64(opts, "vcpus", o->vcpus);
	bt_json_set_str(opts, "access", repro_access_name(o->access));
	bt_json_set_u64(opts, "width", o->width);
	bt_json_set_u64(opts, "offset", o->offset);
	if (o->backing->needs_device) {
		bt_json_set_str(opts, "bdf", o->bdf);
		bt_json_set_str(opts, "iommu", bt_vfio_mode_name(o->iommu));
		bt_json_set_u64(opts, "bar", o->bar);
	} else {
		bt_json_set_u64(opts, "size", o->size);
	}
	if (o->mode != REPRO_HELD) {
		bt_json_set_u64(opts, "cycles", o->cycles);
		bt_json_set_double(opts, "duration_s", o->duration_s);
		bt_json_set_u64(opts, "dwell_off_us", o->dwell_off_us);
		bt_json_set_u64(opts, "dwell_on_us", o->dwell_on_us);
		bt_json_set_str(opts, "on_fault",
				o->on_fault_continue ? "continue" : "stop");
		bt_json_set_bool(opts, "until_hit", o->until_hit);
	}
}

static void record_device(struct json_object *rec, struct repro *r)
{
	struct json_object *dev = bt_json_set_obj(rec, "device");
	char id[8];

	if (r->o->backing->needs_device && r->pci.path[0]) {
		bt_json_set_str(dev, "bdf", r->pci.bdf_str);
		snprintf(id, sizeof(id), "%04x", r->pci.vendor);
		bt_json_set_str(dev, "vendor", id);
		snprintf(id, sizeof(id), "%04x", r->pci.device);
		bt_json_set_str(dev, "device", id);
	} else {
		bt_json_set_null(dev, "bdf");
		bt_json_set_null(dev, "vendor");
		bt_json_set_null(dev, "device");
	}
	bt_json_set_u64(dev, "bar", r->o->backing->needs_device ? r->o->bar : 0);
	bt_json_set_u64(dev, "bar_size", r->bk.size);
}

static void record_vmm(struct json_object *rec, struct repro *r)
{
	struct json_object *kinds = bt_json_set_obj(rec, "kvm_run");
	struct json_object *vmm = bt_json_set_obj(rec, "vmm");
	uint64_t sum[BT_RUN_NR] = { 0 }, ur = 0, dropped = 0, fwd = 0, fail = 0, late = 0;
	unsigned int i, k;

	for (i = 0; i < r->o->vcpus; i++) {
		struct vcpu_state *v = &r->vcpus[i];

		for (k = 0; k < BT_RUN_NR; k++)
			sum[k] += v->kinds[k];
		ur += v->ur_served;
		dropped += v->writes_dropped;
		fwd += v->forwarded;
		late += v->window_forwarded;
		fail += v->failures;
	}
	for (k = 0; k < BT_RUN_NR; k++)
		bt_json_set_u64(kinds, bt_run_kind_name(k), sum[k]);
	bt_json_set_u64(vmm, "ur_reads_served", ur);
	bt_json_set_u64(vmm, "writes_dropped", dropped);
	bt_json_set_u64(vmm, "forwarded_while_enabled", fwd);
	/* Window hits the VMM found re-enabled: they went to the BAR. With
	 * ur_reads_served and writes_dropped they add up to window_hits. */
	bt_json_set_u64(vmm, "window_hits_forwarded", late);
	bt_json_set_u64(vmm, "fatal_results", fail);
}

/* The helper module's own count of declined faults: the kernel's word that
 * the fault handler refused, next to the reproducer's window hits. */
static void record_pfnmap(struct json_object *rec, struct repro *r)
{
	struct bt_pfnmap_stats st;
	struct json_object *pf;

	if (__bt_backing_pfnmap_stats(&r->bk, &st))
		return;
	pf = bt_json_set_obj(rec, "pfnmap");
	bt_json_set_u64(pf, "faults", st.faults);
	bt_json_set_u64(pf, "inserted", st.inserted);
	bt_json_set_u64(pf, "declined", st.declined);
	bt_json_set_u64(pf, "zaps", st.zaps);
}

int write_record(struct repro *r, enum bt_outcome outcome,
			enum bt_verdict verdict, const struct bt_counts *c)
{
	uint64_t ff = atomic_load(&r->first_fail_ns);
	struct json_object *rec;
	int ret;

	if (!r->o->json)
		return 0;
	rec = bt_record_new("repro");
	record_device(rec, r);
	bt_json_set_str(rec, "backing", r->o->backing->name);
	bt_json_set_str(rec, "mode", repro_mode_name(r->o->mode));
	record_options(rec, r->o);
	bt_record_set_outcome(rec, outcome, verdict);
	bt_record_set_counts(rec, c, r->end_ns - r->start_ns);
	bt_record_set_first_failure(rec, ff, atomic_load(&r->first_fail_cycle),
				    ff / 1e6);
	bt_json_set_str(rec, "signature", run_signature(r, outcome));
	if (r->vm.vm_fd >= 0 && r->vcpus[0].r)
		record_vmm(rec, r);
	record_pfnmap(rec, r);
	bt_json_set_bool(rec, "repro_interrupted", repro_interrupted);
	bt_json_set_str(rec, "reason", r->reason[0] ? r->reason : NULL);
	ret = bt_record_append(r->o->json, rec);
	json_object_put(rec);
	if (ret)
		bt_err("could not append the record to %s: %s", r->o->json,
		       strerror(-ret));
	return ret;
}

void report_held(struct repro *r, struct bt_ktap *k,
			const struct held_result *h, enum bt_outcome outcome)
{
	const char *sig = run_signature(r, outcome);
	bool pass = bt_verdict_of(outcome, 1, 0) == BT_VERDICT_PASS;

	bt_ktap_result(k, h->enabled_ok ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "enabled access returns 0x%" PRIx64, r->expected);
	bt_ktap_result(k, pass && h->disabled_ur_ok ? BT_VERDICT_PASS
						     : BT_VERDICT_FAIL,
		       "disabled access: %s", bt_outcome_name(outcome));
	if (sig)
		bt_ktap_diag(k, "%s", sig);
	if (h->disabled_completed && !h->disabled_ur_ok)
		bt_ktap_diag(k, "UR violated: the guest did not read all ones");
	bt_ktap_result(k, h->resumed_ok ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "re-enabled access resumes");
}

void report_race(struct repro *r, struct bt_ktap *k,
			const struct bt_counts *c, enum bt_outcome outcome)
{
	const char *sig = run_signature(r, outcome);
	bool pass = bt_verdict_of(outcome, 1, 0) == BT_VERDICT_PASS;

	bt_ktap_result(k, c->window_hits ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "disabled window hit: %" PRIu64 " accesses in %" PRIu64
		       " cycles", c->window_hits, c->cycles);
	bt_ktap_result(k, pass ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "KVM_RUN results: %s", bt_outcome_name(outcome));
	if (sig)
		bt_ktap_diag(k, "%s", sig);
	bt_ktap_result(k, c->ur_violations ? BT_VERDICT_FAIL : BT_VERDICT_PASS,
		       "UR semantics: %" PRIu64 " all-ones reads, %" PRIu64
		       " violations", c->ur_reads, c->ur_violations);
}

void report_control(struct repro *r, struct bt_ktap *k,
			   const struct bt_counts *c, enum bt_outcome outcome)
{
	const char *sig = run_signature(r, outcome);

	bt_ktap_result(k, c->accesses ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "no toggling: %" PRIu64 " accesses", c->accesses);
	bt_ktap_result(k, outcome == BT_OUTCOME_SURVIVED ? BT_VERDICT_PASS
							  : BT_VERDICT_FAIL,
		       "KVM_RUN results: %s", bt_outcome_name(outcome));
	if (sig)
		bt_ktap_diag(k, "%s", sig);
	bt_ktap_result(k, c->ur_violations || c->ur_reads ? BT_VERDICT_FAIL
							   : BT_VERDICT_PASS,
		       "every read returned 0x%" PRIx64 ": %" PRIu64
		       " all-ones reads, %" PRIu64 " violations", r->expected,
		       c->ur_reads, c->ur_violations);
}

/* A BAR that always decodes must give nothing but its own value. */
enum bt_verdict control_verdict(enum bt_outcome outcome,
				       const struct bt_counts *c)
{
	if (outcome == BT_OUTCOME_SETUP_ERROR)
		return BT_VERDICT_ERROR;
	return outcome == BT_OUTCOME_SURVIVED && c->accesses &&
	       !c->ur_reads && !c->ur_violations ? BT_VERDICT_PASS
						  : BT_VERDICT_FAIL;
}

void summary(struct repro *r, const struct bt_counts *c,
		    enum bt_outcome outcome, enum bt_verdict verdict)
{
	uint64_t ns = r->end_ns - r->start_ns, ff = atomic_load(&r->first_fail_ns);

	if (r->o->quiet)
		return;
	bt_info("%s/%s: %s, %s; %" PRIu64 " cycles, %" PRIu64 " accesses, %" PRIu64
		" window hits, %" PRIu64 " UR reads, %" PRIu64 " violations",
		r->o->backing->name, repro_mode_name(r->o->mode),
		bt_outcome_name(outcome), bt_verdict_name(verdict), c->cycles,
		c->accesses, c->window_hits, c->ur_reads, c->ur_violations);
	if (r->o->mode != REPRO_HELD)
		bt_info("rates: %.0f toggles/s, %.0f accesses/s over %.3f s",
			bt_per_s(c->toggles, ns), bt_per_s(c->accesses, ns),
			ns / 1e9);
	if (ff)
		bt_info("first failure after %.3f ms (cycle %" PRIu64 ")",
			ff / 1e6, (uint64_t)atomic_load(&r->first_fail_cycle));
}

int finish_setup_failure(struct repro *r, enum setup_result res)
{
	static const struct bt_counts none;
	enum bt_outcome outcome = res == SETUP_SKIP ? BT_OUTCOME_SKIPPED
						    : BT_OUTCOME_SETUP_ERROR;
	enum bt_verdict verdict = bt_verdict_of(outcome, 0, 0);

	printf("KTAP version 1\n");
	if (res == SETUP_SKIP) {
		/* One skipped test: kunit.py rejects "1..0", no test run. */
		printf("1..1\nok 1 setup # SKIP %s\n", r->reason);
	} else {
		printf("1..1\nnot ok 1 setup\n# ERROR 1: %s\n", r->reason);
	}
	fflush(stdout);
	r->end_ns = r->start_ns = bt_now_ns();
	write_record(r, outcome, verdict, &none);
	if (res == SETUP_SKIP)
		bt_info("skip: %s", r->reason);
	else
		bt_err("%s", r->reason);
	return bt_verdict_exit_code(verdict);
}
