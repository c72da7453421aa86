/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bartoggle-run's configuration: one table of keys drives the INI file
 * (inih), the long options that override it, --help, and the JSON dump of
 * the effective configuration written into every record.
 * Precedence: built-in defaults < --config FILE < command line.
 */
#ifndef BARTOGGLE_CONFIG_H
#define BARTOGGLE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#define BT_CONFIG_MAX_QEMU	8

struct bt_config {
	/* [device] */
	char bdf[16];
	char emulated[16];		/* "edu": no real device */
	char ur_check[8];		/* strict | record */
	bool force_group;
	/* [qemu] */
	char qemu[BT_CONFIG_MAX_QEMU][PATH_MAX];
	int nqemu;
	char accel[8];			/* auto | kvm | tcg */
	char tcg_thread[8];		/* single | multi */
	char qemu_args[512];
	char qemu_firmware[PATH_MAX];	/* -L directories, colon-separated */
	bool no_mmap;
	/* [guest] */
	char kernel[PATH_MAX];		/* debian | host | path to a vmlinuz */
	char modroot[PATH_MAX];		/* with a kernel path */
	char guest_cmdline[512];	/* appended to the guest's kernel command line */
	char image[PATH_MAX];		/* a prebuilt guest image: no build */
	uint64_t smp;
	uint64_t memory_mb;
	uint64_t boot_timeout_s;
	/* [stress] */
	uint64_t cycles;
	double duration_s;
	uint64_t iterations;		/* 0: until total_duration_s */
	double total_duration_s;	/* a soak's wall time, restarts included */
	uint64_t dwell_off_us;
	uint64_t dwell_on_us;
	char access[8];
	uint64_t width;
	uint64_t seed;
	uint64_t heartbeat_s;
	/* [results] */
	char results[PATH_MAX];
	char soak[64];			/* a named, resumable soak: <results>/<soak> */
	char host[64];			/* the host's name in records; "" = hostname */
	uint64_t keep_runs;		/* newest iteration dirs a soak keeps unpacked */
	uint64_t archive_chunk;		/* iteration dirs per archive tarball */
};

void bt_config_default(struct bt_config *c);

/* Load an INI file over @c. 0, or -EINVAL/-ENOENT with "file:line: why". */
int bt_config_load(struct bt_config *c, const char *path, char *err,
		   size_t errlen);

/*
 * Set one key from the command line by its long option name ("cycles",
 * "qemu", ...), or by "section.key" (--set). 0, -ENOENT for an unknown
 * name, -EINVAL for a bad value; @err says which.
 */
int bt_config_set_option(struct bt_config *c, const char *name,
			 const char *value, bool from_cli, char *err,
			 size_t errlen);

/* Cross-key checks after everything is applied. */
int bt_config_validate(struct bt_config *c, char *err, size_t errlen);

/* {"device": {...}, "qemu": {...}, ...}: the effective configuration. */
struct json_object *bt_config_json(const struct bt_config *c);

/* Long options for getopt_long, NULL-terminated, and their help lines. */
int bt_config_nr_options(void);
const char *bt_config_option_name(int i);
bool bt_config_option_has_arg(int i);
void bt_config_usage(FILE *out);

#endif
