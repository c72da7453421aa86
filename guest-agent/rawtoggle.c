// SPDX-License-Identifier: GPL-2.0
/*
 * bt-rawtoggle: the ceiling for `make bench`. Toggles PCI_COMMAND.MEM through
 * sysfs config with nothing else going on: pread once, then pwrite off/on.
 *   bt-rawtoggle BDF CYCLES  ->  "raw <cycles> <seconds> <cycles/s>"
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bartoggle/bdf.h"
#include "bartoggle/parse.h"
#include "bartoggle/pcicfg.h"
#include "bartoggle/stats.h"

int main(int argc, char **argv)
{
	struct bt_pcicfg cfg;
	char path[96];
	uint64_t cycles, i, t0, ns;
	uint16_t orig;
	struct bt_bdf bdf;
	int fd;

	if (argc != 3 || bt_bdf_parse(argv[1], &bdf) ||
	    bt_parse_u64(argv[2], 1, 1ULL << 40, &cycles)) {
		fprintf(stderr, "usage: bt-rawtoggle BDF CYCLES\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", argv[1]);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	bt_pcicfg_init_fd(&cfg, fd, 0);
	if (bt_pcicfg_command_read(&cfg)) {
		perror("read PCI_COMMAND");
		return 1;
	}
	orig = cfg.command;
	t0 = bt_now_ns();
	for (i = 0; i < cycles; i++) {
		if (bt_pcicfg_set_mem(&cfg, false) || bt_pcicfg_set_mem(&cfg, true)) {
			perror("write PCI_COMMAND");
			return 1;
		}
	}
	ns = bt_now_ns() - t0;
	bt_pcicfg_write16(&cfg, BT_PCI_COMMAND, orig);
	printf("raw %llu %.3f %.0f\n", (unsigned long long)cycles, ns / 1e9,
	       bt_per_s(cycles, ns));
	return 0;
}
