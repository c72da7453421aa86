// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bartoggle/compat.h"
#include "bartoggle/kvm.h"
#include "bartoggle/log.h"

static const struct {
	const char *name;
	enum bt_outcome outcome;
} run_kinds[BT_RUN_NR] = {
	[BT_RUN_IO]		= { "io",		BT_OUTCOME_SURVIVED },
	[BT_RUN_HLT]		= { "hlt",		BT_OUTCOME_SURVIVED },
	[BT_RUN_MMIO]		= { "mmio",		BT_OUTCOME_MMIO_EXIT },
	[BT_RUN_MEMORY_FAULT]	= { "memory-fault",	BT_OUTCOME_MEMORY_FAULT_EXIT },
	[BT_RUN_EFAULT]		= { "efault",		BT_OUTCOME_EFAULT },
	[BT_RUN_INTR]		= { "intr",		BT_OUTCOME_SURVIVED },
	[BT_RUN_SHUTDOWN]	= { "shutdown",		BT_OUTCOME_GUEST_PANIC },
	[BT_RUN_INTERNAL_ERROR]	= { "internal-error",	BT_OUTCOME_VM_STOPPED },
	[BT_RUN_FAIL_ENTRY]	= { "fail-entry",	BT_OUTCOME_VM_STOPPED },
	[BT_RUN_OTHER_EXIT]	= { "other-exit",	BT_OUTCOME_VM_STOPPED },
	[BT_RUN_ERRNO]		= { "errno",		BT_OUTCOME_HOST_ERROR },
};

const char *bt_run_kind_name(enum bt_run_kind kind)
{
	return kind < BT_RUN_NR ? run_kinds[kind].name : "invalid";
}

enum bt_outcome bt_run_kind_outcome(enum bt_run_kind kind)
{
	return run_kinds[kind].outcome;
}

static void decode_error(int err, struct kvm_run *run,
			 struct bt_run_result *res)
{
	const struct bt_memory_fault *mf = bt_run_memory_fault(run);

	switch (err) {
	case EINTR:
	case EAGAIN:
		res->kind = BT_RUN_INTR;
		return;
	case EFAULT:
	case EHWPOISON:
		/*
		 * Only exit_reason == KVM_EXIT_MEMORY_FAULT makes the union
		 * meaningful; anything else, including a stale reason left by
		 * the previous exit, is a bare -EFAULT.
		 */
		if (run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
			res->kind = BT_RUN_MEMORY_FAULT;
			res->memory_fault.flags = mf->flags;
			res->memory_fault.gpa = mf->gpa;
			res->memory_fault.size = mf->size;
		} else {
			res->kind = BT_RUN_EFAULT;
		}
		return;
	default:
		res->kind = BT_RUN_ERRNO;
	}
}

void bt_kvm_decode(int ret, int err, struct kvm_run *run,
		   struct bt_run_result *res)
{
	memset(res, 0, sizeof(*res));
	res->ret = ret;
	res->err = ret < 0 ? err : 0;
	res->exit_reason = run->exit_reason;
	res->exit_reason_untouched =
		run->exit_reason == BT_EXIT_REASON_SENTINEL;

	if (ret < 0) {
		decode_error(err, run, res);
		return;
	}

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		res->kind = BT_RUN_IO;
		res->io.port = run->io.port;
		res->io.size = run->io.size;
		res->io.direction = run->io.direction;
		if (run->io.direction == KVM_EXIT_IO_OUT && run->io.size <= 4) {
			memcpy(&res->io.value, (uint8_t *)run +
			       run->io.data_offset, run->io.size);
		}
		break;
	case KVM_EXIT_HLT:
		res->kind = BT_RUN_HLT;
		break;
	case KVM_EXIT_MMIO:
		res->kind = BT_RUN_MMIO;
		res->mmio.gpa = run->mmio.phys_addr;
		res->mmio.len = run->mmio.len;
		res->mmio.is_write = run->mmio.is_write;
		res->mmio.data = run->mmio.data;
		break;
	case KVM_EXIT_SHUTDOWN:
		res->kind = BT_RUN_SHUTDOWN;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		res->kind = BT_RUN_INTERNAL_ERROR;
		res->suberror = run->internal.suberror;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		res->kind = BT_RUN_FAIL_ENTRY;
		res->hw_reason = run->fail_entry.hardware_entry_failure_reason;
		break;
	default:
		res->kind = BT_RUN_OTHER_EXIT;
	}
}

int bt_kvm_probe_cap(long cap)
{
	int fd, ret;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	close(fd);
	return ret < 0 ? 0 : ret;
}

int bt_kvm_check_cap(struct bt_vm *vm, long cap)
{
	int ret = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? 0 : ret;
}

#define PTE_P	0x001ULL
#define PTE_RW	0x002ULL
#define PTE_PWT	0x008ULL
#define PTE_PCD	0x010ULL
#define PTE_PS	0x080ULL
#define PD_PAGES	(BT_GUEST_MAPPED_LIMIT >> 30)

static uint64_t *guest_pd(struct bt_vm *vm)
{
	return (uint64_t *)(vm->ram + BT_GUEST_PT_GPA + 2 * 0x1000);
}

static void build_page_tables(struct bt_vm *vm)
{
	uint64_t *pml4 = (uint64_t *)(vm->ram + BT_GUEST_PT_GPA);
	uint64_t *pdpt = pml4 + 512;
	uint64_t *pd = guest_pd(vm);
	uint64_t i;

	pml4[0] = (BT_GUEST_PT_GPA + 0x1000) | PTE_P | PTE_RW;
	for (i = 0; i < PD_PAGES; i++)
		pdpt[i] = (BT_GUEST_PT_GPA + (2 + i) * 0x1000) | PTE_P | PTE_RW;
	for (i = 0; i < PD_PAGES * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
}

void bt_vm_map_uc(struct bt_vm *vm, uint64_t gpa, uint64_t size)
{
	uint64_t *pd = guest_pd(vm);
	uint64_t i;

	BT_ASSERT(gpa + size <= BT_GUEST_MAPPED_LIMIT,
		  "gpa 0x%llx+0x%llx above the identity map",
		  (unsigned long long)gpa, (unsigned long long)size);
	for (i = gpa >> 21; i <= (gpa + size - 1) >> 21; i++)
		pd[i] |= PTE_PCD | PTE_PWT;
}

int __bt_vm_init(struct bt_vm *vm)
{
	int ret;

	*vm = (struct bt_vm){ .kvm_fd = -1, .vm_fd = -1 };
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION)
		return -ENOTSUP;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0)
		return -errno;
	vm->run_size = ret;

	vm->ram = mmap(NULL, BT_GUEST_RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return -errno;
	}
	build_page_tables(vm);
	return __bt_vm_set_slot(vm, 0, 0, BT_GUEST_RAM_SIZE, vm->ram);
}

void bt_vm_cleanup(struct bt_vm *vm)
{
	if (vm->ram)
		munmap(vm->ram, BT_GUEST_RAM_SIZE);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	*vm = (struct bt_vm){ .kvm_fd = -1, .vm_fd = -1 };
}

int __bt_vm_set_slot(struct bt_vm *vm, uint32_t slot, uint64_t gpa,
		     uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) ?
	       -errno : 0;
}

void bt_vm_set_slot(struct bt_vm *vm, uint32_t slot, uint64_t gpa,
		    uint64_t size, void *hva)
{
	int ret = __bt_vm_set_slot(vm, slot, gpa, size, hva);

	errno = -ret;
	BT_ASSERT(!ret, "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx",
		  slot, (unsigned long long)gpa, (unsigned long long)size);
}

void bt_vm_load_code(struct bt_vm *vm, const void *code, size_t len)
{
	BT_ASSERT(len <= BT_GUEST_CODE_MAX, "guest code is %zu bytes", len);
	memcpy(vm->ram + BT_GUEST_CODE_GPA, code, len);
}

static void set_cpuid(struct bt_vcpu *vcpu)
{
	struct kvm_cpuid2 *cpuid = NULL;
	int nent = 64, ret;

	for (;;) {
		cpuid = realloc(cpuid, sizeof(*cpuid) +
				nent * sizeof(cpuid->entries[0]));
		BT_ASSERT(cpuid, "out of memory");
		cpuid->nent = nent;
		ret = ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
		if (!ret || errno != E2BIG)
			break;
		nent *= 2;
	}
	BT_ASSERT(!ret, "KVM_GET_SUPPORTED_CPUID failed");
	/* Without LM in the guest's CPUID KVM refuses EFER.LME. */
	BT_IOCTL(vcpu->fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
}

static void set_long_mode(struct bt_vcpu *vcpu)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x8,
		.type = 11, .present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = 0x10,
		.type = 3, .present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_segment tss = {
		.base = 0, .limit = 0x67, .selector = 0x18,
		.type = 11, .present = 1,
	};
	struct kvm_sregs sregs;

	BT_IOCTL(vcpu->fd, KVM_GET_SREGS, &sregs);
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	sregs.ldt.unusable = 1;
	sregs.cr0 = 0x80050033;		/* PG WP AM NE ET MP PE */
	sregs.cr3 = BT_GUEST_PT_GPA;
	sregs.cr4 = 0x620;		/* OSXMMEXCPT OSFXSR PAE */
	sregs.efer = 0x500;		/* LMA LME */
	BT_IOCTL(vcpu->fd, KVM_SET_SREGS, &sregs);
}

void bt_vcpu_init(struct bt_vm *vm, struct bt_vcpu *vcpu, int id,
		  struct kvm_regs *regs)
{
	*vcpu = (struct bt_vcpu){ .vm = vm, .id = id, .fd = -1 };
	vcpu->fd = BT_IOCTL(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	BT_ASSERT(vcpu->run != MAP_FAILED, "mmap of the kvm_run page");
	set_cpuid(vcpu);
	set_long_mode(vcpu);
	regs->rflags = 0x2;
	regs->rsp = BT_GUEST_STACK_TOP - (uint64_t)id * BT_GUEST_STACK_SIZE;
	bt_vcpu_set_regs(vcpu, regs);
}

void bt_vcpu_cleanup(struct bt_vcpu *vcpu)
{
	if (vcpu->run && vcpu->run != MAP_FAILED)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->fd = -1;
	vcpu->run = NULL;
}

void bt_vcpu_run(struct bt_vcpu *vcpu, struct bt_run_result *res)
{
	int ret;

	vcpu->run->exit_reason = BT_EXIT_REASON_SENTINEL;
	ret = ioctl(vcpu->fd, KVM_RUN, NULL);
	bt_kvm_decode(ret, errno, vcpu->run, res);
}

void bt_vcpu_get_regs(struct bt_vcpu *vcpu, struct kvm_regs *regs)
{
	BT_IOCTL(vcpu->fd, KVM_GET_REGS, regs);
}

void bt_vcpu_set_regs(struct bt_vcpu *vcpu, struct kvm_regs *regs)
{
	BT_IOCTL(vcpu->fd, KVM_SET_REGS, regs);
}
