// SPDX-License-Identifier: GPL-2.0
/*
 * Is a PCI device in use by the machine it is in? Shared by the host runner
 * (before it binds a device to vfio-pci) and the guest agent (before it
 * unbinds a guest driver): libc only, so that the static agent links it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/inuse.h"
#include "bartoggle/sysfs.h"

void bt_host_paths_default(struct bt_host_paths *h)
{
	const char *proc = getenv("BARTOGGLE_PROC_ROOT");

	h->sys = bt_sysfs_root(NULL);
	h->proc = proc && *proc ? proc : "/proc";
}

void bt_why_add(char *why, size_t len, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	if (used && used + 2 < len)
		strcat(why, "\n");
	used = strlen(why);
	va_start(ap, fmt);
	vsnprintf(why + used, len - used, fmt, ap);
	va_end(ap);
}

/* Does the sysfs node @link (a symlink) resolve below the device @devpath? */
static bool below(const char *link, const char *devpath)
{
	char real[PATH_MAX];
	size_t n = strlen(devpath);

	return realpath(link, real) && !strncmp(real, devpath, n) &&
	       (real[n] == '/' || !real[n]);
}

static bool file_mentions(const char *path, const char *dev)
{
	char line[1024], word[256];
	size_t n = strlen(dev);
	bool hit = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s", word) != 1)
			continue;
		/* /dev/sda, /dev/sda1, /dev/nvme0n1p2 */
		hit = !strncmp(word, "/dev/", 5) && !strncmp(word + 5, dev, n) &&
		      (!word[5 + n] || (word[5 + n] >= '0' && word[5 + n] <= '9') ||
		       word[5 + n] == 'p');
	}
	fclose(f);
	return hit;
}

static bool has_holders(const char *dir)
{
	struct dirent *de;
	bool any = false;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)))
		any |= de->d_name[0] != '.';
	if (d)
		closedir(d);
	return any;
}

static void check_block(const struct bt_host_paths *h, const char *devpath,
			char *why, size_t len)
{
	char path[PATH_MAX], mounts[PATH_MAX], swaps[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/block", h->sys);
	snprintf(mounts, sizeof(mounts), "%s/mounts", h->proc);
	snprintf(swaps, sizeof(swaps), "%s/swaps", h->proc);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char link[PATH_MAX + 300], holders[PATH_MAX + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/block/%s/device", h->sys, de->d_name);
		if (!below(link, devpath))
			continue;
		snprintf(holders, sizeof(holders), "%s/block/%s/holders", h->sys, de->d_name);
		if (file_mentions(mounts, de->d_name))
			bt_why_add(why, len, "backs /dev/%s, which is mounted", de->d_name);
		else if (file_mentions(swaps, de->d_name))
			bt_why_add(why, len, "backs /dev/%s, which is in use as swap", de->d_name);
		else if (has_holders(holders))
			bt_why_add(why, len, "backs /dev/%s, which holds other block devices (LVM, RAID, dm)",
				   de->d_name);
	}
	if (d)
		closedir(d);
}

static void check_net(const struct bt_host_paths *h, const char *devpath,
		      char *why, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/class/net", h->sys);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char link[PATH_MAX + 300];
		uint64_t flags;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/class/net/%s/device", h->sys, de->d_name);
		if (!below(link, devpath))
			continue;
		snprintf(link, sizeof(link), "%s/class/net/%s/flags", h->sys, de->d_name);
		if (!bt_sysfs_read_hex(link, &flags) && (flags & 1))	/* IFF_UP */
			bt_why_add(why, len, "carries network interface %s, which is up",
				   de->d_name);
	}
	if (d)
		closedir(d);
}

int bt_device_in_use(const struct bt_host_paths *h, const struct bt_pci_dev *dev,
		     char *why, size_t len)
{
	char path[PATH_MAX + 32], real[PATH_MAX], buf[16];
	size_t before = strlen(why);

	if (!realpath(dev->path, real)) {
		bt_why_add(why, len, "cannot resolve %s", dev->path);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/boot_vga", dev->path);
	if (!bt_sysfs_read(path, buf, sizeof(buf)) && !strcmp(buf, "1"))
		bt_why_add(why, len, "is the boot VGA device (the console would go with it)");
	check_block(h, real, why, len);
	check_net(h, real, why, len);
	return strlen(why) != before ? -EBUSY : 0;
}
