// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bartoggle/pcisel.h"

#define PCI_CLASS_BRIDGE	0x06

bool bt_pci_bar_mappable(const struct bt_pci_dev *dev, int bar)
{
	char path[PATH_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/resource%d", dev->path, bar);
	return !stat(path, &st);
}

int bt_pci_id_parse(const char *s, uint16_t *vendor, uint16_t *device)
{
	unsigned int v, d;
	int n = 0;

	if (!s || strlen(s) != 9 || sscanf(s, "%4x:%4x%n", &v, &d, &n) != 2 ||
	    n != 9 || strspn(s, "0123456789abcdefABCDEF:") != 9)
		return -EINVAL;
	*vendor = v;
	*device = d;
	return 0;
}

/* Why @dev cannot be hammered, or NULL when it can. */
static const char *unusable(const struct bt_pci_dev *dev, int bar)
{
	if (!bt_pci_bar_size(dev, bar))
		return "does not exist";
	if (!bt_pci_bar_is_mem(dev, bar))
		return "is not a memory BAR";
	if (!bt_pci_bar_mappable(dev, bar))
		return "cannot be mmapped from sysfs (no resource file)";
	return NULL;
}

static bool is_channel(const struct bt_pci_dev *dev, const struct bt_pcisel *sel)
{
	return sel->exclude && !strcmp(dev->bdf_str, sel->exclude);
}

static bool wanted(const struct bt_pci_dev *dev, const struct bt_pcisel *sel)
{
	if (is_channel(dev, sel))
		return false;
	if (sel->have_id)
		return dev->vendor == sel->vendor && dev->device == sel->device;
	return dev->class >> 16 != PCI_CLASS_BRIDGE;
}

int bt_pcisel_find(const char *root, const struct bt_pcisel *sel,
		   struct bt_pci_dev *dev, char *err, size_t errlen)
{
	char path[PATH_MAX], list[512] = "";
	struct bt_pci_dev cand;
	struct dirent *de;
	struct bt_bdf bdf;
	const char *why;
	int found = 0;
	DIR *dir;

	if (sel->bdf) {
		if (bt_bdf_parse(sel->bdf, &bdf)) {
			snprintf(err, errlen, "'%s' is not a PCI address", sel->bdf);
			return -EINVAL;
		}
		if (bt_pci_dev_init(dev, root, &bdf)) {
			snprintf(err, errlen, "no PCI device %s", sel->bdf);
			return -ENOENT;
		}
		why = is_channel(dev, sel) ? "is the agent's own channel" : unusable(dev, sel->bar);
		if (why) {
			snprintf(err, errlen, "%s: BAR%d %s", dev->bdf_str, sel->bar, why);
			return -ENOENT;
		}
		return 0;
	}

	snprintf(path, sizeof(path), "%s/bus/pci/devices", bt_sysfs_root(root));
	dir = opendir(path);
	if (!dir) {
		snprintf(err, errlen, "cannot list %s: %s", path, strerror(errno));
		return -ENOENT;
	}
	while ((de = readdir(dir))) {
		size_t used = strlen(list);

		if (de->d_name[0] == '.' || bt_bdf_parse(de->d_name, &bdf) ||
		    bt_pci_dev_init(&cand, root, &bdf) || !wanted(&cand, sel) ||
		    unusable(&cand, sel->bar))
			continue;
		if (!found++)
			*dev = cand;
		snprintf(list + used, sizeof(list) - used, "%s%s (%04x:%04x)",
			 used ? ", " : "", cand.bdf_str, cand.vendor, cand.device);
	}
	closedir(dir);

	if (found == 1)
		return 0;
	if (!found) {
		if (sel->have_id)
			snprintf(err, errlen, "no device %04x:%04x with a mappable memory BAR%d",
				 sel->vendor, sel->device, sel->bar);
		else
			snprintf(err, errlen, "no device with a mappable memory BAR%d (besides the agent's channel)",
				 sel->bar);
		return -ENOENT;
	}
	snprintf(err, errlen, "%d devices qualify: %s; choose one with --device", found, list);
	return -EEXIST;
}

/* The PCI function in a resolved sysfs path: the last component that is a BDF. */
static int bdf_in_path(const char *path, char *bdf, size_t len)
{
	char copy[PATH_MAX], *tok, *save = NULL;
	struct bt_bdf b;
	int ret = -ENOENT;

	snprintf(copy, sizeof(copy), "%s", path);
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strlen(tok) == 12 && !bt_bdf_parse(tok, &b) && strlen(tok) < len) {
			strcpy(bdf, tok);
			ret = 0;
		}
	}
	return ret;
}

int bt_virtio_port_find(const char *root, const char *name, char *port,
			size_t portlen, char *bdf, size_t bdflen)
{
	char dirpath[PATH_MAX], path[PATH_MAX + 300], real[PATH_MAX], buf[128];
	struct dirent *de;
	int ret = -ENOENT;
	DIR *dir;

	snprintf(dirpath, sizeof(dirpath), "%s/class/virtio-ports", bt_sysfs_root(root));
	dir = opendir(dirpath);
	if (!dir)
		return -ENOENT;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/name", dirpath, de->d_name);
		if (bt_sysfs_read(path, buf, sizeof(buf)) || strcmp(buf, name) ||
		    strlen(de->d_name) >= portlen)
			continue;
		strcpy(port, de->d_name);
		bdf[0] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		if (realpath(path, real))
			bdf_in_path(real, bdf, bdflen);
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}
