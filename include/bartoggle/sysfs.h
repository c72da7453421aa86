/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Read-only view of one PCI function in sysfs. The root is a parameter so
 * that unit tests run against fake trees (tests/data/sysfs-*); NULL means
 * $BARTOGGLE_SYSFS_ROOT, else "/sys".
 */
#ifndef BARTOGGLE_SYSFS_H
#define BARTOGGLE_SYSFS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "bartoggle/bdf.h"

#define BT_PCI_NUM_BARS		6

/* IORESOURCE_* bits of the sysfs "resource" file (include/linux/ioport.h) */
#define BT_IORESOURCE_IO	0x00000100
#define BT_IORESOURCE_MEM	0x00000200
#define BT_IORESOURCE_PREFETCH	0x00002000
#define BT_IORESOURCE_MEM_64	0x00100000

struct bt_pci_resource {
	uint64_t start;
	uint64_t end;
	uint64_t flags;
};

struct bt_pci_dev {
	struct bt_bdf bdf;
	char bdf_str[BT_BDF_STRLEN];
	char path[PATH_MAX];		/* <root>/bus/pci/devices/<bdf> */
	uint16_t vendor;
	uint16_t device;
	uint32_t class;
	char driver[64];		/* "" when unbound */
	int iommu_group;		/* -1 without an IOMMU */
	struct bt_pci_resource res[BT_PCI_NUM_BARS];
};

const char *bt_sysfs_root(const char *root);

/*
 * Fill @dev from sysfs. Returns 0, -ENOENT when the device does not exist,
 * -EIO/-EINVAL when an attribute is unreadable or malformed.
 */
int bt_pci_dev_init(struct bt_pci_dev *dev, const char *root,
		    const struct bt_bdf *bdf);

static inline uint64_t bt_pci_bar_size(const struct bt_pci_dev *dev, int bar)
{
	const struct bt_pci_resource *r = &dev->res[bar];

	return r->end > r->start ? r->end - r->start + 1 : 0;
}

static inline bool bt_pci_bar_is_mem(const struct bt_pci_dev *dev, int bar)
{
	return bt_pci_bar_size(dev, bar) &&
	       (dev->res[bar].flags & BT_IORESOURCE_MEM);
}

/* Parse one line of a sysfs "resource" file. 0 or -EINVAL. */
int bt_pci_resource_parse(const char *line, struct bt_pci_resource *res);

/* Read a whole small attribute file, trailing newline stripped. */
int bt_sysfs_read(const char *path, char *buf, size_t len);
int bt_sysfs_read_hex(const char *path, uint64_t *val);
/* Basename of a symlink's target, "" (and 0) if the link is absent. */
int bt_sysfs_link_name(const char *path, char *buf, size_t len);

#endif
