// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/jpath.h"
#include "bartoggle/log.h"
#include "bartoggle/qemubuild.h"
#include "bartoggle/rowkey.h"
#include "bartoggle/xalloc.h"

char *bt_rowkey_kernel(struct json_object *rec)
{
	const char *release = bt_jpath_str(rec, "host.kernel", "?");
	const char *variant = bt_jpath_str(rec, "host.kernel_variant", NULL);

	/* A rebuilt KVM keeps the release: only the variant tells them apart. */
	return variant ? bt_xasprintf("%s [%s]", release, variant) : bt_xstrdup(release);
}

char *bt_rowkey_vmm(struct json_object *rec)
{
	const char *tool = bt_jpath_str(rec, "tool", "?");

	if (!strcmp(tool, "run")) {
		char *build = bt_qemu_build_label(bt_jpath(rec, "qemu.build"));
		char *vmm = bt_xasprintf("QEMU %s%s%s", bt_jpath_str(rec, "qemu.version", "?"),
					 build ? " " : "", build ? build : "");

		free(build);
		return vmm;
	}
	return bt_xasprintf("bartoggle-%s", tool);
}

char *bt_rowkey_device(struct json_object *rec)
{
	const char *vendor = bt_jpath_str(rec, "device.vendor", NULL);
	const char *device = bt_jpath_str(rec, "device.device", NULL);

	return vendor && device ? bt_xasprintf("%s:%s", vendor, device) : bt_xstrdup("-");
}

/* What was done to the device: backing and mode, then whatever differs from
 * the defaults (read, 4 bytes, no dwell, one vCPU, type1v2). */
char *bt_rowkey_arm(struct json_object *rec)
{
	const char *access = bt_record_option_str(rec, "access", "read");
	const char *iommu = bt_jpath_str(rec, "options.iommu", "type1v2");
	uint64_t width = bt_record_option_u64(rec, "width", 4);
	uint64_t vcpus = bt_record_option_u64(rec, "vcpus", 1);
	uint64_t off = bt_record_option_u64(rec, "dwell_off_us", 0);
	uint64_t on = bt_record_option_u64(rec, "dwell_on_us", 0);
	size_t len = 0;
	char *arm = NULL;
	FILE *m = open_memstream(&arm, &len);

	BT_ASSERT(m, "out of memory");
	fprintf(m, "%s %s", bt_jpath_str(rec, "backing", "?"), bt_jpath_str(rec, "mode", "?"));
	if (strcmp(access, "read") || width != 4)
		fprintf(m, " %s/%llu", access, (unsigned long long)width);
	if (off || on)
		fprintf(m, " dwell %llu/%llu us", (unsigned long long)off, (unsigned long long)on);
	if (vcpus > 1)
		fprintf(m, " %llu vCPUs", (unsigned long long)vcpus);
	if (strcmp(iommu, "type1v2"))
		fprintf(m, " %s", iommu);
	fclose(m);
	return arm;
}

char *bt_rowkey_slug(const char *kernel, const char *vmm, const char *device, const char *arm)
{
	char *s = bt_xasprintf("%s_%s_%s_%s", kernel, vmm, device, arm), *p;

	for (p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *p))
			*p = '-';
	return s;
}
