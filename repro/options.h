/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BARTOGGLE_REPRO_OPTIONS_H
#define BARTOGGLE_REPRO_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bartoggle/backing.h"
#include "bartoggle/vfio.h"

#define REPRO_BDF_ENV		"BARTOGGLE_BDF"
#define REPRO_MAX_VCPUS		8
#define REPRO_DEFAULT_CYCLES	100000
#define REPRO_CONTROL_DEFAULT_S	2.0
#define REPRO_DEFAULT_SIZE	(1ULL << 20)	/* edu's BAR0 */

enum repro_mode { REPRO_HELD, REPRO_RACE, REPRO_CONTROL };
enum repro_access { REPRO_READ, REPRO_WRITE, REPRO_RW };

struct repro_opts {
	const char *bdf;		/* NULL for the stand-in backings */
	const struct bt_backing_ops *backing;
	const struct bt_vfio_mode *iommu;
	enum repro_mode mode;
	enum repro_access access;
	unsigned int vcpus;
	unsigned int width;
	int bar;
	uint64_t offset;
	uint64_t size;
	uint64_t dwell_off_us;
	uint64_t dwell_on_us;
	uint64_t cycles;		/* 0: bounded by duration only */
	double duration_s;		/* 0: bounded by cycles only */
	bool on_fault_continue;
	bool until_hit;			/* race: end at the first window hit */
	const char *json;
	bool quiet;
	bool verbose;
};

enum repro_parse_result {
	REPRO_PARSE_OK,
	REPRO_PARSE_HELP,	/* --help printed; exit 0 */
	REPRO_PARSE_USAGE,	/* message in err; exit 2 */
};

/*
 * Parse and validate. The BDF comes from the last positional argument or
 * $BARTOGGLE_BDF; the backing defaults to vfio with a BDF, else shmem.
 */
enum repro_parse_result repro_parse_options(int argc, char **argv,
					    struct repro_opts *o, char *err,
					    size_t errlen);
void repro_usage(FILE *out, const char *prog);

const char *repro_mode_name(enum repro_mode mode);
const char *repro_access_name(enum repro_access access);

#endif
