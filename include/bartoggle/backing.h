/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What sits behind the BAR memslot. Each backing's fault handler declines
 * while it is disabled, which is the condition the KVM fault path trips on:
 *   vfio      a real vfio-pci BAR; disable = clear PCI_COMMAND.MEM through
 *             the vfio config region (vfio-pci zaps the mmap)
 *   pfnmap    the helper module's VM_PFNMAP mapping (kmod/); disable = its
 *             ioctl, which zaps the PTEs and makes its fault handler decline:
 *             the vfio path in KVM, with no device
 *   shmem     memfd; disable = ftruncate to 0 (shmem_fault -> SIGBUS)
 *   mprotect  shared anonymous memory; disable = PROT_NONE
 */
#ifndef BARTOGGLE_BACKING_H
#define BARTOGGLE_BACKING_H

#include <stdbool.h>
#include <stdint.h>

#include "bartoggle/vfio.h"

struct bt_backing;
struct bt_pfnmap_stats;

struct bt_backing_opts {
	const struct bt_pci_dev *pci;	/* vfio only */
	const struct bt_vfio_mode *iommu;	/* vfio only */
	int bar;			/* vfio only */
	uint64_t size;			/* stand-ins only */
};

struct bt_backing_ops {
	const char *name;
	const char *disable_desc;	/* for humans: what "disabled" means */
	bool needs_device;
	/* 0 or -errno; *why names the failing step. */
	int (*init)(struct bt_backing *b, const struct bt_backing_opts *o,
		    const char **why);
	int (*enable)(struct bt_backing *b);
	int (*disable)(struct bt_backing *b);
	void (*cleanup)(struct bt_backing *b);
};

struct bt_backing {
	const struct bt_backing_ops *ops;
	void *hva;
	uint64_t size;
	int fd;
	bool enabled;
	struct bt_vfio_dev vfio;
};

/* NULL when unknown. */
const struct bt_backing_ops *bt_backing_find(const char *name);
const char *bt_backing_names(void);

int __bt_backing_init(struct bt_backing *b, const struct bt_backing_ops *ops,
		      const struct bt_backing_opts *o, const char **why);
int __bt_backing_set(struct bt_backing *b, bool enable);
void bt_backing_cleanup(struct bt_backing *b);
/* The helper module's counters; -EINVAL for another backing. */
int __bt_backing_pfnmap_stats(const struct bt_backing *b,
			      struct bt_pfnmap_stats *st);

#endif
