// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bartoggle/compat.h"
#include "bartoggle/vfio.h"

struct bt_vfio_mode {
	const char *name;
	unsigned long type1_type;	/* VFIO_SET_IOMMU argument, legacy */
	int (*open)(struct bt_vfio_dev *dev, const char **why);
};

static int fail(const char **why, const char *step)
{
	int err = -errno;

	*why = step;
	return err ? err : -EIO;
}

static int legacy_open(struct bt_vfio_dev *dev, const char **why)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];

	if (dev->pci.iommu_group < 0) {
		*why = "device has no IOMMU group (IOMMU off?)";
		return -ENODEV;
	}
	dev->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (dev->container_fd < 0)
		return fail(why, "open /dev/vfio/vfio");
	if (ioctl(dev->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return fail(why, "VFIO_GET_API_VERSION");
	if (ioctl(dev->container_fd, VFIO_CHECK_EXTENSION,
		  dev->mode->type1_type) <= 0) {
		*why = "VFIO_CHECK_EXTENSION: IOMMU type not supported";
		return -EOPNOTSUPP;
	}

	snprintf(path, sizeof(path), "/dev/vfio/%d", dev->pci.iommu_group);
	dev->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->group_fd < 0)
		return fail(why, "open /dev/vfio/<group> (bound to vfio-pci?)");
	if (ioctl(dev->group_fd, VFIO_GROUP_GET_STATUS, &status))
		return fail(why, "VFIO_GROUP_GET_STATUS");
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		*why = "IOMMU group not viable (bind every member to vfio-pci)";
		return -EBUSY;
	}
	if (ioctl(dev->group_fd, VFIO_GROUP_SET_CONTAINER, &dev->container_fd))
		return fail(why, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(dev->container_fd, VFIO_SET_IOMMU, dev->mode->type1_type))
		return fail(why, "VFIO_SET_IOMMU");
	dev->device_fd = ioctl(dev->group_fd, VFIO_GROUP_GET_DEVICE_FD,
			       dev->pci.bdf_str);
	if (dev->device_fd < 0)
		return fail(why, "VFIO_GROUP_GET_DEVICE_FD");
	return 0;
}

/* /sys/bus/pci/devices/<bdf>/vfio-dev/vfioN names the cdev. */
static int cdev_name(struct bt_vfio_dev *dev, char *buf, size_t len)
{
	char path[PATH_MAX + 16];
	struct dirent *de;
	DIR *dir;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "%s/vfio-dev", dev->pci.path);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, "vfio", 4) &&
		    strlen(de->d_name) < len) {
			strcpy(buf, de->d_name);
			ret = 0;
			break;
		}
	}
	closedir(dir);
	return ret;
}

static int iommufd_open(struct bt_vfio_dev *dev, const char **why)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char name[32], path[64];
	int ret;

	ret = cdev_name(dev, name, sizeof(name));
	if (ret) {
		*why = "no vfio-dev in sysfs (kernel without CONFIG_VFIO_DEVICE_CDEV, 6.6+)";
		return ret;
	}
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	dev->device_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->device_fd < 0 && errno == ENOENT) {
		/* 6.1-6.5 name the device in sysfs but have no cdev node. */
		*why = "no /dev/vfio/devices/vfioN (kernel without CONFIG_VFIO_DEVICE_CDEV, 6.6+)";
		return -ENOENT;
	}
	if (dev->device_fd < 0)
		return fail(why, "open /dev/vfio/devices/vfioN");
	dev->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (dev->iommufd < 0)
		return fail(why, "open /dev/iommu (CONFIG_IOMMUFD?)");
	bind.iommufd = dev->iommufd;
	if (ioctl(dev->device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return fail(why, "VFIO_DEVICE_BIND_IOMMUFD");
	if (ioctl(dev->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return fail(why, "IOMMU_IOAS_ALLOC");
	attach.pt_id = alloc.out_ioas_id;
	if (ioctl(dev->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return fail(why, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	return 0;
}

static const struct bt_vfio_mode vfio_modes[] = {
	{ "type1",	VFIO_TYPE1_IOMMU,	legacy_open },
	{ "type1v2",	VFIO_TYPE1v2_IOMMU,	legacy_open },
	{ "iommufd",	0,			iommufd_open },
};

const struct bt_vfio_mode *bt_vfio_mode_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(vfio_modes) / sizeof(vfio_modes[0]); i++)
		if (!strcmp(vfio_modes[i].name, name))
			return &vfio_modes[i];
	return NULL;
}

const char *bt_vfio_mode_name(const struct bt_vfio_mode *mode)
{
	return mode->name;
}

const char *bt_vfio_mode_names(void)
{
	return "type1|type1v2|iommufd";
}

static int region_info(struct bt_vfio_dev *dev, uint32_t index,
		       struct vfio_region_info *info)
{
	*info = (struct vfio_region_info){
		.argsz = sizeof(*info),
		.index = index,
	};
	return ioctl(dev->device_fd, VFIO_DEVICE_GET_REGION_INFO, info) ?
	       -errno : 0;
}

int __bt_vfio_dev_init(struct bt_vfio_dev *dev, const struct bt_pci_dev *pci,
		       const struct bt_vfio_mode *mode, int bar,
		       const char **why)
{
	struct vfio_region_info info;
	int ret;

	*dev = (struct bt_vfio_dev){
		.mode = mode,
		.pci = *pci,
		.container_fd = -1,
		.group_fd = -1,
		.iommufd = -1,
		.device_fd = -1,
		.bar = bar,
		.bar_map = MAP_FAILED,
	};
	ret = mode->open(dev, why);
	if (ret)
		return ret;

	ret = region_info(dev, VFIO_PCI_BAR0_REGION_INDEX + bar, &info);
	if (ret) {
		*why = "VFIO_DEVICE_GET_REGION_INFO (BAR)";
		return ret;
	}
	dev->bar_offset = info.offset;
	dev->bar_size = info.size;
	dev->bar_flags = info.flags;

	ret = region_info(dev, VFIO_PCI_CONFIG_REGION_INDEX, &info);
	if (ret) {
		*why = "VFIO_DEVICE_GET_REGION_INFO (config)";
		return ret;
	}
	dev->config_offset = info.offset;
	bt_pcicfg_init_fd(&dev->cfg, dev->device_fd, dev->config_offset);
	return 0;
}

int __bt_vfio_bar_map(struct bt_vfio_dev *dev)
{
	if (!dev->bar_size || !(dev->bar_flags & VFIO_REGION_INFO_FLAG_MMAP))
		return -ENOTSUP;
	dev->bar_map = mmap(NULL, dev->bar_size, PROT_READ | PROT_WRITE,
			    MAP_SHARED, dev->device_fd, dev->bar_offset);
	return dev->bar_map == MAP_FAILED ? -errno : 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void bt_vfio_dev_cleanup(struct bt_vfio_dev *dev)
{
	if (dev->bar_map != MAP_FAILED)
		munmap(dev->bar_map, dev->bar_size);
	dev->bar_map = MAP_FAILED;
	close_fd(&dev->device_fd);
	close_fd(&dev->iommufd);
	close_fd(&dev->group_fd);
	close_fd(&dev->container_fd);
}
