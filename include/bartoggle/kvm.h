/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal KVM VM: guest RAM at GPA 0 with an identity map of the low
 * 4 GiB (2 MiB pages), extra memslots for the BAR, and vCPUs entering 64-bit
 * long mode directly. KVM_RUN results are decoded into kinds that map onto
 * the outcome taxonomy.
 */
#ifndef BARTOGGLE_KVM_H
#define BARTOGGLE_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "bartoggle/outcome.h"

/* Guest physical layout inside slot 0 */
#define BT_GUEST_RAM_SIZE	0x200000ULL
#define BT_GUEST_PT_GPA		0x1000ULL	/* PML4, PDPT, 4 PDs */
#define BT_GUEST_CODE_GPA	0x10000ULL
#define BT_GUEST_CODE_MAX	0x10000ULL
#define BT_GUEST_DATA_GPA	0x20000ULL
#define BT_GUEST_STACK_TOP	0x100000ULL
#define BT_GUEST_STACK_SIZE	0x4000ULL
#define BT_GUEST_MAPPED_LIMIT	0x100000000ULL	/* identity-mapped below */

/*
 * Written into run->exit_reason before every KVM_RUN: on -EFAULT an unfixed
 * kernel leaves exit_reason alone, and the exit union holds whatever the
 * previous exit put there.
 */
#define BT_EXIT_REASON_SENTINEL	0xb7b7b7b7u

struct bt_vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	uint8_t *ram;		/* host view of guest RAM (slot 0) */
};

struct bt_vcpu {
	struct bt_vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
};

enum bt_run_kind {
	BT_RUN_IO,		/* guest signalled via port IO */
	BT_RUN_HLT,
	BT_RUN_MMIO,
	BT_RUN_MEMORY_FAULT,	/* -EFAULT/-EHWPOISON + KVM_EXIT_MEMORY_FAULT */
	BT_RUN_EFAULT,		/* -EFAULT, exit_reason untouched or stale */
	BT_RUN_INTR,		/* -EINTR/-EAGAIN: just run again */
	BT_RUN_SHUTDOWN,	/* triple fault */
	BT_RUN_INTERNAL_ERROR,
	BT_RUN_FAIL_ENTRY,
	BT_RUN_OTHER_EXIT,	/* ret 0 with an exit we do not handle */
	BT_RUN_ERRNO,		/* any other failure of the ioctl */
	BT_RUN_NR
};

struct bt_run_result {
	enum bt_run_kind kind;
	int ret;
	int err;			/* errno when ret < 0 */
	uint32_t exit_reason;		/* as found after the call */
	bool exit_reason_untouched;	/* still the sentinel */
	union {
		struct {
			uint64_t gpa;
			uint32_t len;
			bool is_write;
			uint8_t *data;	/* inside the run page */
		} mmio;
		struct {
			uint16_t port;
			uint8_t size;
			uint8_t direction;
			uint32_t value;	/* first element, for OUT */
		} io;
		struct {
			uint64_t flags;
			uint64_t gpa;
			uint64_t size;
		} memory_fault;
		uint32_t suberror;	/* internal error */
		uint64_t hw_reason;	/* fail entry */
	};
};

const char *bt_run_kind_name(enum bt_run_kind kind);
/* The outcome a run is judged by when it sees this result. */
enum bt_outcome bt_run_kind_outcome(enum bt_run_kind kind);

/*
 * Decode one KVM_RUN return (@ret, @err = errno) and the run page. Pure:
 * unit tests feed it raw kvm_run images.
 */
void bt_kvm_decode(int ret, int err, struct kvm_run *run,
		   struct bt_run_result *res);

/* Returns 0 or -errno (ENOENT/EACCES for /dev/kvm map to skips). */
int __bt_vm_init(struct bt_vm *vm);
void bt_vm_cleanup(struct bt_vm *vm);
int bt_kvm_check_cap(struct bt_vm *vm, long cap);
/* Probe @cap on /dev/kvm without a VM: -errno when it cannot be opened. */
int bt_kvm_probe_cap(long cap);

int __bt_vm_set_slot(struct bt_vm *vm, uint32_t slot, uint64_t gpa,
		     uint64_t size, void *hva);
void bt_vm_set_slot(struct bt_vm *vm, uint32_t slot, uint64_t gpa,
		    uint64_t size, void *hva);
/* Mark [gpa, gpa+size) uncacheable in the guest page tables. */
void bt_vm_map_uc(struct bt_vm *vm, uint64_t gpa, uint64_t size);
void bt_vm_load_code(struct bt_vm *vm, const void *code, size_t len);
static inline void *bt_vm_gpa_to_hva(struct bt_vm *vm, uint64_t gpa)
{
	return vm->ram + gpa;
}

/* A vCPU in long mode at @rip; @regs seeds the GPRs (rip/rsp/rflags set). */
void bt_vcpu_init(struct bt_vm *vm, struct bt_vcpu *vcpu, int id,
		  struct kvm_regs *regs);
void bt_vcpu_cleanup(struct bt_vcpu *vcpu);
void bt_vcpu_run(struct bt_vcpu *vcpu, struct bt_run_result *res);
void bt_vcpu_get_regs(struct bt_vcpu *vcpu, struct kvm_regs *regs);
void bt_vcpu_set_regs(struct bt_vcpu *vcpu, struct kvm_regs *regs);

#endif
