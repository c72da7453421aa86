// SPDX-License-Identifier: GPL-2.0
/* The device, its backing, and the VM with the BAR as a memslot. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bartoggle/bdf.h"
#include "bartoggle/compat.h"
#include "bartoggle/log.h"
#include "bartoggle/urinsn.h"
#include "guest.h"
#include "repro.h"

static enum setup_result setup_fail(struct repro *r, enum setup_result res,
				    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum setup_result setup_fail(struct repro *r, enum setup_result res,
				    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return res;
}

/* Errors that say "this host cannot run the test", not "the test failed". */
static bool is_skip_errno(int err)
{
	switch (err) {
	case ENOENT: case ENODEV: case ENXIO: case EACCES: case EPERM:
	case ENOTSUP: case EBUSY:
		return true;
	}
	return false;
}

static enum setup_result setup_device(struct repro *r)
{
	struct bt_bdf bdf;
	int ret;

	bt_bdf_parse(r->o->bdf, &bdf);	/* validated with the options */
	ret = bt_pci_dev_init(&r->pci, NULL, &bdf);
	if (ret == -ENOENT)
		return setup_fail(r, SETUP_SKIP, "no PCI device %s", r->o->bdf);
	if (ret)
		return setup_fail(r, SETUP_ERROR, "reading %s from sysfs: %s",
				  r->o->bdf, strerror(-ret));
	if (!bt_pci_bar_size(&r->pci, r->o->bar))
		return setup_fail(r, SETUP_SKIP, "%s has no BAR%d",
				  r->o->bdf, r->o->bar);
	if (!bt_pci_bar_is_mem(&r->pci, r->o->bar))
		return setup_fail(r, SETUP_SKIP,
				  "%s BAR%d is not a memory BAR (choose one with --bar)",
				  r->o->bdf, r->o->bar);
	if (strcmp(r->pci.driver, "vfio-pci"))
		return setup_fail(r, SETUP_SKIP,
				  "%s is bound to %s, not vfio-pci (bartoggle-run binds it safely)",
				  r->o->bdf, r->pci.driver[0] ? r->pci.driver : "no driver");
	return SETUP_OK;
}

static enum setup_result setup_backing(struct repro *r)
{
	struct bt_backing_opts bo = {
		.pci = &r->pci,
		.iommu = r->o->iommu,
		.bar = r->o->bar,
		.size = r->o->size,
	};
	const char *why = "";
	int ret;

	ret = __bt_backing_init(&r->bk, r->o->backing, &bo, &why);
	if (ret)
		return setup_fail(r, is_skip_errno(-ret) ? SETUP_SKIP : SETUP_ERROR,
				  "%s backing: %s: %s", r->o->backing->name,
				  why, strerror(-ret));
	atomic_store(&r->enabled, true);
	if (r->o->offset + r->o->width > r->bk.size)
		return setup_fail(r, SETUP_ERROR,
				  "--offset=0x%" PRIx64 " is outside the %" PRIu64 "-byte BAR",
				  r->o->offset, r->bk.size);
	if (r->bk.size > BT_GUEST_MAPPED_LIMIT - BAR_GPA)
		return setup_fail(r, SETUP_SKIP,
				  "a %" PRIu64 "-byte BAR does not fit below 4 GiB at 0x%llx",
				  r->bk.size, BAR_GPA);
	r->expected = 0;
	if (bar_access((uint8_t *)r->bk.hva + r->o->offset, &r->expected,
		       r->o->width, false))
		return setup_fail(r, SETUP_ERROR,
				  "reading the BAR at 0x%" PRIx64 " faulted while enabled",
				  r->o->offset);
	r->ones = bt_ur_ones(r->o->width);
	if (r->expected == r->ones)
		bt_warn("the BAR reads all ones at 0x%" PRIx64 " even while enabled: "
			"UR reads cannot be told apart (choose another --offset)",
			r->o->offset);
	return SETUP_OK;
}

static enum setup_result setup_vm(struct repro *r)
{
	unsigned int i, entry;
	int ret;

	ret = __bt_vm_init(&r->vm);
	if (ret == -ENOENT)
		return setup_fail(r, SETUP_SKIP, "/dev/kvm does not exist");
	if (ret == -EACCES || ret == -EPERM)
		return setup_fail(r, SETUP_SKIP, "no permission to open /dev/kvm");
	if (ret)
		return setup_fail(r, SETUP_ERROR, "creating a KVM VM: %s",
				  strerror(-ret));
	r->memory_fault_info = bt_kvm_check_cap(&r->vm, KVM_CAP_MEMORY_FAULT_INFO);

	ret = __bt_vm_set_slot(&r->vm, BAR_SLOT, BAR_GPA, r->bk.size, r->bk.hva);
	if (ret)
		return setup_fail(r, SETUP_ERROR,
				  "KVM_SET_USER_MEMORY_REGION for the BAR: %s",
				  strerror(-ret));
	bt_vm_map_uc(&r->vm, BAR_GPA, r->bk.size);
	bt_vm_load_code(&r->vm, bt_guest_start, bt_guest_end - bt_guest_start);
	r->guest_data = bt_vm_gpa_to_hva(&r->vm, BT_GUEST_DATA_GPA);

	entry = r->o->access * 4 + __builtin_ctz(r->o->width);
	for (i = 0; i < r->o->vcpus; i++) {
		uint64_t counters = GUEST_DATA_VCPU0 + i * GUEST_VCPU_STRIDE;
		struct kvm_regs regs = {
			.rip = BT_GUEST_CODE_GPA + bt_guest_entries[entry],
			.rbx = BAR_GPA + r->o->offset,
			.r12 = BT_GUEST_DATA_GPA,
			.r13 = BT_GUEST_DATA_GPA + counters,
			.r14 = r->expected,
			.r15 = r->ones,
		};

		r->vcpus[i].r = r;
		r->vcpus[i].counters = r->guest_data + counters;
		bt_vcpu_init(&r->vm, &r->vcpus[i].vcpu, i, &regs);
	}
	return SETUP_OK;
}

enum setup_result setup(struct repro *r)
{
	enum setup_result res = SETUP_OK;

	if (r->o->backing->needs_device)
		res = setup_device(r);
	if (res == SETUP_OK)
		res = setup_backing(r);
	if (res == SETUP_OK)
		res = setup_vm(r);
	return res;
}

void cleanup(struct repro *r)
{
	unsigned int i;

	for (i = 0; i < r->o->vcpus; i++)
		if (r->vcpus[i].r)
			bt_vcpu_cleanup(&r->vcpus[i].vcpu);
	bt_vm_cleanup(&r->vm);
	bt_backing_cleanup(&r->bk);
}
