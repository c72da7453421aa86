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

enum step on_mmio(struct vcpu_state *v, struct bt_run_result *res)
{
	struct repro *r = v->r;
	uint64_t off = res->mmio.gpa - BAR_GPA;
	char what[160];
	int ret = 0;

	if (!in_bar(r, res->mmio.gpa, res->mmio.len)) {
		snprintf(what, sizeof(what),
			 "KVM_EXIT_MMIO outside the BAR: gpa=0x%" PRIx64 " len=%u",
			 res->mmio.gpa, res->mmio.len);
		return fatal(v, BT_OUTCOME_VM_STOPPED, what);
	}

	pthread_mutex_lock(&r->lock);
	if (atomic_load(&r->enabled)) {
		/* Raced with re-enable, or KVM cached an MMIO SPTE: the BAR
		 * decodes, so the access goes to it. */
		ret = bar_access((uint8_t *)r->bk.hva + off, res->mmio.data,
				 res->mmio.len, res->mmio.is_write);
		pthread_mutex_unlock(&r->lock);
		COUNT(v->forwarded);
		if (ret)
			return fatal(v, BT_OUTCOME_SIGBUS,
				     "SIGBUS: the VMM's own access to the enabled BAR mapping faulted");
		return STEP_CONTINUE;
	}
	pthread_mutex_unlock(&r->lock);

	COUNT(v->window_hits);
	if (res->mmio.is_write) {
		COUNT(v->writes_dropped);
	} else {
		memset(res->mmio.data, 0xff, res->mmio.len);
		COUNT(v->ur_served);
	}
	observe(v, BT_OUTCOME_MMIO_EXIT,
		"KVM_EXIT_MMIO gpa=0x%" PRIx64 " len=%u %s while the BAR was disabled",
		res->mmio.gpa, res->mmio.len,
		res->mmio.is_write ? "write" : "read");
	return STEP_CONTINUE;
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
