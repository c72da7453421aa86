/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A device the machine uses is never taken: the boot VGA, a device backing a
 * mounted (or swapped-on, or stacked-on) block device, a device carrying a
 * network interface that is up. Read-only; libc only.
 */
#ifndef BARTOGGLE_INUSE_H
#define BARTOGGLE_INUSE_H

#include <stddef.h>

#include "bartoggle/sysfs.h"

struct bt_host_paths {
	const char *sys;	/* "/sys" */
	const char *proc;	/* "/proc" */
};

/* $BARTOGGLE_SYSFS_ROOT / $BARTOGGLE_PROC_ROOT or the real ones. */
void bt_host_paths_default(struct bt_host_paths *h);

/* Append one reason line to @why. */
void bt_why_add(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * 0 when @dev is free to take, -EBUSY with a line per use appended to @why
 * ("backs /dev/sda, which is mounted"), -ENOENT when it cannot be resolved.
 */
int bt_device_in_use(const struct bt_host_paths *h, const struct bt_pci_dev *dev,
		     char *why, size_t len);

#endif
