/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One vfio-pci device opened for userspace: the IOMMU backend is picked
 * from a table of modes; region offsets are cached at init and always come
 * from VFIO_DEVICE_GET_REGION_INFO.
 */
#ifndef BARTOGGLE_VFIO_H
#define BARTOGGLE_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bartoggle/pcicfg.h"
#include "bartoggle/sysfs.h"

struct bt_vfio_mode;

struct bt_vfio_dev {
	const struct bt_vfio_mode *mode;
	struct bt_pci_dev pci;
	int container_fd;	/* /dev/vfio/vfio (legacy modes) */
	int group_fd;		/* /dev/vfio/<group> (legacy modes) */
	int iommufd;		/* /dev/iommu (cdev mode) */
	int device_fd;
	int bar;
	uint64_t bar_offset;	/* region offsets within device_fd */
	uint64_t bar_size;
	uint32_t bar_flags;
	uint64_t config_offset;
	void *bar_map;		/* MAP_FAILED until mapped */
	struct bt_pcicfg cfg;
};

/* NULL when @name is unknown. */
const struct bt_vfio_mode *bt_vfio_mode_find(const char *name);
const char *bt_vfio_mode_name(const struct bt_vfio_mode *mode);
/* "type1|type1v2|iommufd" for --help and errors. */
const char *bt_vfio_mode_names(void);

/*
 * Open @pci (already read from sysfs, bound to vfio-pci) with @mode and cache
 * the region info of @bar and of config space. Returns 0 or -errno; on
 * failure *why names the step that failed, for a skip message.
 */
int __bt_vfio_dev_init(struct bt_vfio_dev *dev, const struct bt_pci_dev *pci,
		       const struct bt_vfio_mode *mode, int bar,
		       const char **why);
/* mmap the BAR read/write, shared. 0 or -errno. */
int __bt_vfio_bar_map(struct bt_vfio_dev *dev);
void bt_vfio_dev_cleanup(struct bt_vfio_dev *dev);

#endif
