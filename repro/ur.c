// SPDX-License-Identifier: GPL-2.0
/*
 * Unsupported Request emulation: what a fixed VMM does with a BAR access KVM
 * hands back while the BAR does not decode (KVM_EXIT_MMIO here, or
 * KVM_EXIT_MEMORY_FAULT on a fixed kernel): reads complete as all ones,
 * writes are dropped, and the vCPU goes on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bartoggle/compat.h"
#include "bartoggle/urinsn.h"
#include "guest.h"
#include "repro.h"

static void window_hit(struct vcpu_state *v, struct bt_run_result *res)
{
	COUNT(v->window_hits);
	observe(v, BT_OUTCOME_MMIO_EXIT,
		"KVM_EXIT_MMIO gpa=0x%" PRIx64 " len=%u %s while the BAR was disabled",
		res->mmio.gpa, res->mmio.len,
		res->mmio.is_write ? "write" : "read");
}

static enum step complete_ur(struct vcpu_state *v, struct bt_run_result *res)
{
	if (res->mmio.is_write) {
		COUNT(v->writes_dropped);
	} else {
		memset(res->mmio.data, 0xff, res->mmio.len);
		COUNT(v->ur_served);
	}
	return STEP_CONTINUE;
}

/*
 * No lock against the toggler: a vCPU waiting for one while the toggler
 * truncates and re-takes it lost most window hits (issue 15). The toggler
 * makes backing_seq odd while it changes the backing; an access is in the
 * window when the BAR is (or is becoming) disabled now, or was toggled
 * while this KVM_RUN ran. KVM exits for other reasons too, so an exit with
 * the BAR decoding all along is no window hit: the access goes to the BAR.
 */
enum step on_mmio(struct vcpu_state *v, struct bt_run_result *res)
{
	struct repro *r = v->r;
	uint64_t off = res->mmio.gpa - BAR_GPA;
	uint_fast64_t seq;
	bool disabled, window;
	char what[160];

	if (!in_bar(r, res->mmio.gpa, res->mmio.len)) {
		snprintf(what, sizeof(what),
			 "KVM_EXIT_MMIO outside the BAR: gpa=0x%" PRIx64 " len=%u",
			 res->mmio.gpa, res->mmio.len);
		return fatal(v, BT_OUTCOME_VM_STOPPED, what);
	}

	seq = atomic_load(&r->backing_seq);
	disabled = (seq & 1) || !atomic_load(&r->enabled);
	window = disabled || seq != v->seq_at_entry;
	if (window)
		window_hit(v, res);
	if (disabled)
		return complete_ur(v, res);

	/* Re-enabled by now: the access goes to the BAR. */
	if (!bar_access((uint8_t *)r->bk.hva + off, res->mmio.data,
			res->mmio.len, res->mmio.is_write)) {
		COUNT(v->forwarded);
		if (window)
			COUNT(v->window_forwarded);
		return STEP_CONTINUE;
	}
	if (atomic_load(&r->backing_seq) == seq)
		return fatal(v, BT_OUTCOME_SIGBUS,
			     "SIGBUS: the VMM's own access to the enabled BAR mapping faulted");
	/* Disabled under the VMM's own access: a UR after all. */
	if (!window)
		window_hit(v, res);
	return complete_ur(v, res);
}

enum step on_memory_fault(struct vcpu_state *v,
				 struct bt_run_result *res)
{
	struct repro *r = v->r;
	struct bt_ur_insn insn;
	struct kvm_regs regs;
	uint64_t rax, rip;
	char what[192];

	snprintf(what, sizeof(what),
		 "KVM_EXIT_MEMORY_FAULT gpa=0x%" PRIx64 " size=0x%" PRIx64
		 " flags=0x%" PRIx64, res->memory_fault.gpa,
		 res->memory_fault.size, res->memory_fault.flags);
	if (!in_bar(r, res->memory_fault.gpa, 1))
		return fatal(v, BT_OUTCOME_VM_STOPPED, what);

	bt_vcpu_get_regs(&v->vcpu, &regs);
	if (regs.rip < BT_GUEST_CODE_GPA ||
	    regs.rip + BT_INSN_MAX_LEN > BT_GUEST_CODE_GPA + BT_GUEST_CODE_MAX ||
	    bt_ur_decode(bt_vm_gpa_to_hva(&r->vm, regs.rip), BT_INSN_MAX_LEN,
			 &insn)) {
		strncat(what, ": no BAR access at RIP to complete",
			sizeof(what) - strlen(what) - 1);
		return fatal(v, BT_OUTCOME_VM_STOPPED, what);
	}
	rax = regs.rax;
	rip = regs.rip;
	bt_ur_complete(&insn, &rax, &rip);
	regs.rax = rax;
	regs.rip = rip;
	bt_vcpu_set_regs(&v->vcpu, &regs);

	COUNT(v->window_hits);
	if (insn.is_write)
		COUNT(v->writes_dropped);
	else
		COUNT(v->ur_served);
	observe(v, BT_OUTCOME_MEMORY_FAULT_EXIT, "%s", what);
	return STEP_CONTINUE;
}
