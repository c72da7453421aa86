// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <unistd.h>

#include "bartoggle/pcicfg.h"

static int fd_read(struct bt_pcicfg *cfg, uint32_t off, void *buf, size_t len)
{
	ssize_t n = pread(cfg->fd, buf, len, cfg->base + off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int fd_write(struct bt_pcicfg *cfg, uint32_t off, const void *buf,
		    size_t len)
{
	ssize_t n = pwrite(cfg->fd, buf, len, cfg->base + off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static const struct bt_pcicfg_ops fd_ops = {
	.read = fd_read,
	.write = fd_write,
};

void bt_pcicfg_init_fd(struct bt_pcicfg *cfg, int fd, off_t base)
{
	*cfg = (struct bt_pcicfg){ .ops = &fd_ops, .fd = fd, .base = base };
}

/* Config space is little-endian whatever the host. */
int bt_pcicfg_read16(struct bt_pcicfg *cfg, uint32_t off, uint16_t *val)
{
	uint16_t le;
	int ret;

	ret = cfg->ops->read(cfg, off, &le, sizeof(le));
	if (!ret)
		*val = le16toh(le);
	return ret;
}

int bt_pcicfg_write16(struct bt_pcicfg *cfg, uint32_t off, uint16_t val)
{
	uint16_t le = htole16(val);

	return cfg->ops->write(cfg, off, &le, sizeof(le));
}

int bt_pcicfg_command_read(struct bt_pcicfg *cfg)
{
	return bt_pcicfg_read16(cfg, BT_PCI_COMMAND, &cfg->command);
}

int bt_pcicfg_set_mem(struct bt_pcicfg *cfg, bool enable)
{
	uint16_t cmd = bt_pcicfg_command_with_mem(cfg->command, enable);
	int ret;

	ret = bt_pcicfg_write16(cfg, BT_PCI_COMMAND, cmd);
	if (!ret)
		cfg->command = cmd;
	return ret;
}
