// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bartoggle/sysfs.h"

const char *bt_sysfs_root(const char *root)
{
	const char *env;

	if (root)
		return root;
	env = getenv("BARTOGGLE_SYSFS_ROOT");
	return env && *env ? env : "/sys";
}

int bt_sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int bt_sysfs_read_hex(const char *path, uint64_t *val)
{
	char buf[64], *end;
	int ret;

	ret = bt_sysfs_read(path, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*val = strtoull(buf, &end, 16);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

int bt_sysfs_link_name(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n;

	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		buf[0] = '\0';
		return errno == ENOENT ? 0 : -errno;
	}
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, base);
	return 0;
}

int bt_pci_resource_parse(const char *line, struct bt_pci_resource *res)
{
	int consumed = 0;

	if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64 "%n", &res->start,
		   &res->end, &res->flags, &consumed) != 3)
		return -EINVAL;
	if (line[consumed] && line[consumed] != '\n')
		return -EINVAL;
	if (res->end < res->start && !(res->start == 0 && res->end == 0))
		return -EINVAL;
	return 0;
}

static int read_resources(struct bt_pci_dev *dev)
{
	char path[PATH_MAX + 16], line[128];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/resource", dev->path);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (i = 0; i < BT_PCI_NUM_BARS; i++) {
		if (!fgets(line, sizeof(line), f) ||
		    bt_pci_resource_parse(line, &dev->res[i])) {
			fclose(f);
			return -EINVAL;
		}
	}
	fclose(f);
	return 0;
}

static int read_attr_hex(struct bt_pci_dev *dev, const char *attr,
			 uint64_t max, uint64_t *val)
{
	char path[PATH_MAX + 16];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dev->path, attr);
	ret = bt_sysfs_read_hex(path, val);
	if (!ret && *val > max)
		ret = -EINVAL;
	return ret;
}

int bt_pci_dev_init(struct bt_pci_dev *dev, const char *root,
		    const struct bt_bdf *bdf)
{
	char path[PATH_MAX + 16], group[32], *end;
	uint64_t v;
	struct stat st;
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->bdf = *bdf;
	bt_bdf_format(bdf, dev->bdf_str);
	snprintf(dev->path, sizeof(dev->path), "%s/bus/pci/devices/%s",
		 bt_sysfs_root(root), dev->bdf_str);
	if (stat(dev->path, &st))
		return -errno;

	ret = read_attr_hex(dev, "vendor", 0xffff, &v);
	if (ret)
		return ret;
	dev->vendor = v;
	ret = read_attr_hex(dev, "device", 0xffff, &v);
	if (ret)
		return ret;
	dev->device = v;
	ret = read_attr_hex(dev, "class", 0xffffff, &v);
	if (ret)
		return ret;
	dev->class = v;

	snprintf(path, sizeof(path), "%s/driver", dev->path);
	ret = bt_sysfs_link_name(path, dev->driver, sizeof(dev->driver));
	if (ret)
		return ret;

	dev->iommu_group = -1;
	snprintf(path, sizeof(path), "%s/iommu_group", dev->path);
	ret = bt_sysfs_link_name(path, group, sizeof(group));
	if (ret)
		return ret;
	if (group[0]) {
		errno = 0;
		v = strtoul(group, &end, 10);
		if (errno || *end || v > INT32_MAX)
			return -EINVAL;
		dev->iommu_group = v;
	}
	return read_resources(dev);
}
