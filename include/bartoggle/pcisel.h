/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which device the guest agent hammers: by BDF, by vendor:device, or the only
 * device with a mappable memory BAR that is not the agent's own channel and
 * not a bridge. Ambiguity is refused with the list of candidates.
 */
#ifndef BARTOGGLE_PCISEL_H
#define BARTOGGLE_PCISEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bartoggle/sysfs.h"

struct bt_pcisel {
	const char *bdf;	/* --device */
	bool have_id;		/* --id */
	uint16_t vendor;
	uint16_t device;
	int bar;
	const char *exclude;	/* BDF of the agent's channel, or NULL */
};

/*
 * 0 with *dev filled; -ENOENT when nothing qualifies, -EEXIST when several
 * do (the list is in @err), -EINVAL for a bad selector. @err always says
 * why on failure.
 */
int bt_pcisel_find(const char *root, const struct bt_pcisel *sel,
		   struct bt_pci_dev *dev, char *err, size_t errlen);

/* resource<bar> exists: the kernel lets userspace mmap the BAR. */
bool bt_pci_bar_mappable(const struct bt_pci_dev *dev, int bar);

/*
 * The virtio-serial port called @name (/sys/class/virtio-ports/<port>/name):
 * its device node name (e.g. "vport1p1") and the BDF of the PCI device
 * behind it. 0, or -ENOENT when there is no such port.
 */
int bt_virtio_port_find(const char *root, const char *name, char *port,
			size_t portlen, char *bdf, size_t bdflen);

/* "1234:11e8" -> vendor, device. 0 or -EINVAL. */
int bt_pci_id_parse(const char *s, uint16_t *vendor, uint16_t *device);

#endif
