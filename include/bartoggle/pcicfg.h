/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI command-register helpers over an abstract config-space accessor, so
 * that the same read-modify-write serves the vfio config region, the sysfs
 * "config" file and (in the host runner) libpci.
 */
#ifndef BARTOGGLE_PCICFG_H
#define BARTOGGLE_PCICFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BT_PCI_COMMAND		0x04
#define BT_PCI_COMMAND_IO	0x0001
#define BT_PCI_COMMAND_MEMORY	0x0002

struct bt_pcicfg;

struct bt_pcicfg_ops {
	/* Both return 0 or -errno; a short transfer is -EIO. */
	int (*read)(struct bt_pcicfg *cfg, uint32_t off, void *buf, size_t len);
	int (*write)(struct bt_pcicfg *cfg, uint32_t off, const void *buf,
		     size_t len);
};

struct bt_pcicfg {
	const struct bt_pcicfg_ops *ops;
	int fd;			/* fd accessor: vfio device or sysfs config */
	off_t base;		/* offset of config space within fd */
	void *priv;		/* other accessors */
	uint16_t command;	/* last value read or written */
};

/* Config space at @base of @fd: the vfio config region or sysfs "config". */
void bt_pcicfg_init_fd(struct bt_pcicfg *cfg, int fd, off_t base);

int bt_pcicfg_read16(struct bt_pcicfg *cfg, uint32_t off, uint16_t *val);
int bt_pcicfg_write16(struct bt_pcicfg *cfg, uint32_t off, uint16_t val);

/* Reads the command register into cfg->command. */
int bt_pcicfg_command_read(struct bt_pcicfg *cfg);

/*
 * Set or clear PCI_COMMAND.MEM, preserving every other bit of the value
 * last read (bt_pcicfg_command_read() first). Skipping the read on each
 * toggle is what lets the toggler run at the config path's full rate.
 */
int bt_pcicfg_set_mem(struct bt_pcicfg *cfg, bool enable);

/* Pure helper: @cmd with MEM set or cleared. */
static inline uint16_t bt_pcicfg_command_with_mem(uint16_t cmd, bool enable)
{
	return enable ? cmd | BT_PCI_COMMAND_MEMORY
		      : cmd & (uint16_t)~BT_PCI_COMMAND_MEMORY;
}

#endif
