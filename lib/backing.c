// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bartoggle/backing.h"
#include "bartoggle_pfnmap.h"

#define MPROTECT_PATTERN	0xa5

/* b->size bytes of b->fd, shared: what a VMM maps for a BAR. */
static int map_shared(struct bt_backing *b, const char *what, const char **why)
{
	b->hva = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->fd, 0);
	if (b->hva == MAP_FAILED) {
		*why = what;
		return -errno;
	}
	return 0;
}

static int shmem_init(struct bt_backing *b, const struct bt_backing_opts *o,
		      const char **why)
{
	b->size = o->size;
	b->fd = memfd_create("bartoggle-bar", MFD_CLOEXEC);
	if (b->fd < 0) {
		*why = "memfd_create";
		return -errno;
	}
	if (ftruncate(b->fd, b->size)) {
		*why = "ftruncate";
		return -errno;
	}
	return map_shared(b, "mmap memfd", why);
}

/* Re-extending a truncated memfd gives zero pages: the enabled value is 0. */
static int shmem_enable(struct bt_backing *b)
{
	return ftruncate(b->fd, b->size) ? -errno : 0;
}

static int shmem_disable(struct bt_backing *b)
{
	return ftruncate(b->fd, 0) ? -errno : 0;
}

static int mprotect_init(struct bt_backing *b,
			 const struct bt_backing_opts *o, const char **why)
{
	b->size = o->size;
	b->hva = mmap(NULL, b->size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->hva == MAP_FAILED) {
		*why = "mmap";
		return -errno;
	}
	/* Contents survive PROT_NONE, so a non-zero pattern tells stale
	 * zero-page reads apart from the real data. */
	memset(b->hva, MPROTECT_PATTERN, b->size);
	return 0;
}

static int mprotect_set(struct bt_backing *b, int prot)
{
	return mprotect(b->hva, b->size, prot) ? -errno : 0;
}

static int mprotect_enable(struct bt_backing *b)
{
	return mprotect_set(b, PROT_READ | PROT_WRITE);
}

static int mprotect_disable(struct bt_backing *b)
{
	return mprotect_set(b, PROT_NONE);
}

static int pfnmap_init(struct bt_backing *b, const struct bt_backing_opts *o,
		       const char **why)
{
	uint64_t size = o->size;
	uint32_t version = 0;

	b->size = o->size;
	b->fd = open(BT_PFNMAP_DEVICE, O_RDWR | O_CLOEXEC);
	if (b->fd < 0) {
		*why = errno == ENOENT ?
			"no " BT_PFNMAP_DEVICE ": load the helper module (make kmod; insmod build/kmod/"
			BT_PFNMAP_MODULE ".ko)" : "open " BT_PFNMAP_DEVICE;
		return -errno;
	}
	if (ioctl(b->fd, BT_PFNMAP_IOC_VERSION, &version)) {
		*why = "BT_PFNMAP_IOC_VERSION";
		return -errno;
	}
	if (version != BT_PFNMAP_API_VERSION) {
		*why = "the loaded " BT_PFNMAP_MODULE " speaks another API version: rebuild and reload it";
		return -EPROTO;
	}
	if (ioctl(b->fd, BT_PFNMAP_IOC_SET_SIZE, &size)) {
		*why = "BT_PFNMAP_IOC_SET_SIZE (over the module's max_pages?)";
		return -errno;
	}
	return map_shared(b, "mmap " BT_PFNMAP_DEVICE, why);
}

static int pfnmap_enable(struct bt_backing *b)
{
	return ioctl(b->fd, BT_PFNMAP_IOC_ENABLE) ? -errno : 0;
}

static int pfnmap_disable(struct bt_backing *b)
{
	return ioctl(b->fd, BT_PFNMAP_IOC_DISABLE) ? -errno : 0;
}

int __bt_backing_pfnmap_stats(const struct bt_backing *b,
			      struct bt_pfnmap_stats *st)
{
	if (!b->ops || b->ops->init != pfnmap_init || b->fd < 0)
		return -EINVAL;
	return ioctl(b->fd, BT_PFNMAP_IOC_STATS, st) ? -errno : 0;
}

static int vfio_init(struct bt_backing *b, const struct bt_backing_opts *o,
		     const char **why)
{
	int ret;

	ret = __bt_vfio_dev_init(&b->vfio, o->pci, o->iommu, o->bar, why);
	if (ret)
		return ret;
	ret = __bt_vfio_bar_map(&b->vfio);
	if (ret) {
		*why = "BAR is not mmappable through vfio";
		return ret;
	}
	ret = bt_pcicfg_command_read(&b->vfio.cfg);
	if (ret) {
		*why = "read PCI_COMMAND through the vfio config region";
		return ret;
	}
	b->hva = b->vfio.bar_map;
	b->size = b->vfio.bar_size;
	return 0;
}

static int vfio_enable(struct bt_backing *b)
{
	return bt_pcicfg_set_mem(&b->vfio.cfg, true);
}

static int vfio_disable(struct bt_backing *b)
{
	return bt_pcicfg_set_mem(&b->vfio.cfg, false);
}

static void vfio_cleanup(struct bt_backing *b)
{
	bt_vfio_dev_cleanup(&b->vfio);
	b->hva = MAP_FAILED;
}

static const struct bt_backing_ops backings[] = {
	{
		.name = "vfio",
		.disable_desc = "PCI_COMMAND.MEM cleared via the vfio config region",
		.needs_device = true,
		.init = vfio_init,
		.enable = vfio_enable,
		.disable = vfio_disable,
		.cleanup = vfio_cleanup,
	}, {
		.name = "pfnmap",
		.disable_desc = "helper module's VM_PFNMAP mapping zapped, its fault handler declining",
		.init = pfnmap_init,
		.enable = pfnmap_enable,
		.disable = pfnmap_disable,
	}, {
		.name = "shmem",
		.disable_desc = "memfd truncated to 0",
		.init = shmem_init,
		.enable = shmem_enable,
		.disable = shmem_disable,
	}, {
		.name = "mprotect",
		.disable_desc = "mapping PROT_NONE",
		.init = mprotect_init,
		.enable = mprotect_enable,
		.disable = mprotect_disable,
	},
};

const struct bt_backing_ops *bt_backing_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(backings) / sizeof(backings[0]); i++)
		if (!strcmp(backings[i].name, name))
			return &backings[i];
	return NULL;
}

const char *bt_backing_names(void)
{
	return "vfio|pfnmap|shmem|mprotect";
}

int __bt_backing_init(struct bt_backing *b, const struct bt_backing_ops *ops,
		      const struct bt_backing_opts *o, const char **why)
{
	int ret;

	*b = (struct bt_backing){ .ops = ops, .hva = MAP_FAILED, .fd = -1 };
	ret = ops->init(b, o, why);
	if (ret)
		return ret;
	ret = __bt_backing_set(b, true);
	if (ret)
		*why = "enable the backing";
	return ret;
}

int __bt_backing_set(struct bt_backing *b, bool enable)
{
	int ret = enable ? b->ops->enable(b) : b->ops->disable(b);

	if (!ret)
		b->enabled = enable;
	return ret;
}

void bt_backing_cleanup(struct bt_backing *b)
{
	if (!b->ops)
		return;
	/* Leave a real device decoding memory, as it was found. */
	if (b->hva != MAP_FAILED && !b->enabled)
		__bt_backing_set(b, true);
	if (b->ops->cleanup) {
		b->ops->cleanup(b);
	} else if (b->hva != MAP_FAILED) {
		munmap(b->hva, b->size);
	}
	if (b->fd >= 0)
		close(b->fd);
	b->hva = MAP_FAILED;
	b->fd = -1;
}
