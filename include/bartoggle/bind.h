/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Safe binding of a host device to vfio-pci, and putting it back.
 *
 * Refused, with nothing changed: the boot VGA, a device backing a mounted
 * (or swapped-on, or stacked-on) block device, a device carrying a network
 * interface that is up, a device without an IOMMU group, and a device whose
 * group holds others bound to a driver other than vfio-pci (unless
 * force_group, which binds them all). A journal of the original drivers is
 * written, fsync'd, before the first sysfs write; every write is echoed.
 */
#ifndef BARTOGGLE_BIND_H
#define BARTOGGLE_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bartoggle/inuse.h"

#define BT_BIND_MAX	16


struct bt_bind_plan {
	char bdf[BT_BIND_MAX][16];	/* the device first, then group members */
	int n;
};

/*
 * Safe to bind @bdf? 0 with @plan filled, or -EPERM / -ENOENT with every
 * reason in @why (one per line). Reads only.
 */
int bt_bind_check(const struct bt_host_paths *h, const char *bdf,
		  bool force_group, struct bt_bind_plan *plan, char *why,
		  size_t len);

/* Journal, then bind every device of @plan to vfio-pci. 0 or -errno. */
int bt_bind_apply(const struct bt_host_paths *h, const struct bt_bind_plan *plan,
		  const char *journal, FILE *echo, char *err, size_t len);

/* Replay @journal: original driver_override and driver back, journal gone.
 * 0, -ENOENT when there is no journal, -errno. */
int bt_bind_restore(const struct bt_host_paths *h, const char *journal,
		    FILE *echo, char *err, size_t len);

/*
 * One journal per device, <dir>/<bdf>.json, and one lock per device,
 * <dir>/<bdf>.lock: two runners on one host (the fleet case: one per
 * device) never share or overwrite a journal, and a second runner on a
 * device (or on a member of its IOMMU group) is refused.
 */
void bt_journal_path(const char *dir, const char *bdf, char *out, size_t len);

struct bt_journal_lock {
	int fd[BT_BIND_MAX];
	int n;
};

/*
 * flock every device of @plan in @dir, without waiting; the holder's PID
 * goes into the lock file. 0, or -EBUSY with who holds which device in
 * @err (and nothing held), or -errno.
 */
int bt_journal_lock(const char *dir, const struct bt_bind_plan *plan,
		    struct bt_journal_lock *l, char *err, size_t len);
/* The devices @journal names, as a plan to lock. 0 or -EINVAL. */
int bt_journal_devices(const char *journal, struct bt_bind_plan *plan);
void bt_journal_unlock(struct bt_journal_lock *l);

#endif
