// SPDX-License-Identifier: GPL-2.0
/* Where this tree's scripts/ is: beside the build directory, or $BARTOGGLE_SCRIPTS. */
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

void find_scripts(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *env = getenv("BARTOGGLE_SCRIPTS");

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	self[n > 0 ? n : 0] = '\0';
	snprintf(out, len, "%s/../scripts", dirname(self));
}
