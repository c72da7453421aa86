// SPDX-License-Identifier: GPL-2.0
/* Putting the host back: the QEMU a killed run left, and the drivers in the journal. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pci/pci.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bartoggle/bdf.h"
#include "bartoggle/bind.h"
#include "bartoggle/compat.h"
#include "bartoggle/config.h"
#include "bartoggle/kvm.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/stats.h"
#include "bartoggle/sysfs.h"
#include "bartoggle/version.h"
#include "runner.h"

void pidfile_for(const char *journal, char *out, size_t len)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", journal);
	snprintf(out, len, "%s/qemu.pid", dirname(dir));
}

int restore(const struct bt_host_paths *hp, const char *journal)
{
	char err[512], pidfile[PATH_MAX];
	int ret;

	/* vfio-pci cannot let go of a device a QEMU still holds. */
	pidfile_for(journal, pidfile, sizeof(pidfile));
	stop_orphan_qemu(pidfile);
	ret = bt_bind_restore(hp, journal, stderr, err, sizeof(err));

	if (ret == -ENOENT) {
		bt_info("%s", err);
		return BT_EXIT_PASS;
	}
	if (ret) {
		bt_err("restore: %s", err);
		return BT_EXIT_FAIL;
	}
	bt_info("restored the drivers recorded in %s", journal);
	return BT_EXIT_PASS;
}

void make_dir_for(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0700);
}
