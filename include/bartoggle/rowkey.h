/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The report's grouping: which row a record belongs to (kernel x VMM x
 * device x arm). Each returns a string the caller frees.
 */
#ifndef BARTOGGLE_ROWKEY_H
#define BARTOGGLE_ROWKEY_H

#include <json-c/json.h>

/* The release, and which build of its KVM when not the one it shipped
 * with (host.kernel_variant): "6.12.117+deb12-amd64 [kvm-rebuilt]". */
char *bt_rowkey_kernel(struct json_object *rec);
/* "QEMU 7.2.22" for the runner, "bartoggle-<tool>" otherwise. */
char *bt_rowkey_vmm(struct json_object *rec);
/* "vendor:device", or "-" for a stand-in backing. */
char *bt_rowkey_device(struct json_object *rec);
/* Backing and mode, then whatever differs from the defaults. */
char *bt_rowkey_arm(struct json_object *rec);
/* The four parts joined, file-name safe. */
char *bt_rowkey_slug(const char *kernel, const char *vmm, const char *device, const char *arm);

#endif
