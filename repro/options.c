// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#include "bartoggle/bdf.h"
#include "bartoggle/log.h"
#include "bartoggle/parse.h"
#include "options.h"

enum {
	OPT_HELP = 'h', OPT_BACKING = 'b', OPT_MODE = 'm', OPT_CYCLES = 'c',
	OPT_DURATION = 'd', OPT_JSON = 'j', OPT_QUIET = 'q', OPT_VERBOSE = 'v',
	OPT_VCPUS = 256, OPT_ACCESS, OPT_WIDTH, OPT_OFFSET, OPT_SIZE,
	OPT_DWELL_OFF, OPT_DWELL_ON, OPT_ON_FAULT, OPT_IOMMU, OPT_BAR, OPT_UNTIL_HIT,
};

static const struct {
	struct option opt;
	const char *arg;
	const char *help;
} table[] = {
	{ { "backing", required_argument, NULL, OPT_BACKING }, "vfio|pfnmap|shmem|mprotect",
	  "what backs the BAR memslot (default: vfio with a BDF, else shmem); pfnmap: the helper module (kmod/), the vfio path with no device" },
	{ { "mode", required_argument, NULL, OPT_MODE }, "held|race|control",
	  "held: one access with the BAR disabled; race: toggle while hammering; control: hammer, never toggle (default held)" },
	{ { "cycles", required_argument, NULL, OPT_CYCLES }, "N",
	  "race: stop after N disable/enable cycles (default 100000 unless --duration)" },
	{ { "duration", required_argument, NULL, OPT_DURATION }, "S",
	  "race: stop after S seconds (with --cycles: whichever comes first); control: run S seconds (default 2)" },
	{ { "vcpus", required_argument, NULL, OPT_VCPUS }, "N",
	  "race/control: vCPUs hammering the BAR, 1-8 (default 1)" },
	{ { "access", required_argument, NULL, OPT_ACCESS }, "read|write|rw",
	  "guest access kind (default read: safe on any device)" },
	{ { "width", required_argument, NULL, OPT_WIDTH }, "1|2|4|8",
	  "access width in bytes (default 4)" },
	{ { "offset", required_argument, NULL, OPT_OFFSET }, "OFF",
	  "BAR offset accessed, width-aligned; pick a register with a stable value (default 0)" },
	{ { "dwell-off-us", required_argument, NULL, OPT_DWELL_OFF }, "US",
	  "race: time the BAR stays disabled per cycle (default 0)" },
	{ { "dwell-on-us", required_argument, NULL, OPT_DWELL_ON }, "US",
	  "race: time the BAR stays enabled per cycle (default 0)" },
	{ { "on-fault", required_argument, NULL, OPT_ON_FAULT }, "stop|continue",
	  "race: on a fatal KVM_RUN result stop, or count it and go on (default stop)" },
	{ { "until-hit", no_argument, NULL, OPT_UNTIL_HIT }, NULL,
	  "race: end at the first access that hits the disabled window (or the first failure); "
	  "--cycles/--duration bound a trial that never hits (inconclusive: ERROR)" },
	{ { "iommu", required_argument, NULL, OPT_IOMMU }, "type1|type1v2|iommufd",
	  "vfio: IOMMU backend (default type1v2)" },
	{ { "bar", required_argument, NULL, OPT_BAR }, "N",
	  "vfio: BAR index, 0-5 (default 0)" },
	{ { "size", required_argument, NULL, OPT_SIZE }, "BYTES",
	  "pfnmap/shmem/mprotect: BAR size, page multiple, K/M/G suffix (default 1M)" },
	{ { "json", required_argument, NULL, OPT_JSON }, "FILE",
	  "append one JSON record (fsync'd) to FILE" },
	{ { "quiet", no_argument, NULL, OPT_QUIET }, NULL,
	  "no progress or notes on stderr" },
	{ { "verbose", no_argument, NULL, OPT_VERBOSE }, NULL,
	  "more detail on stderr" },
	{ { "help", no_argument, NULL, OPT_HELP }, NULL, "this help" },
};

#define NR_OPTS (sizeof(table) / sizeof(table[0]))

void repro_usage(FILE *out, const char *prog)
{
	size_t i;

	fprintf(out,
		"Usage: %s [options] [BDF]\n"
		"QEMU-free reproducer: a KVM guest touches a BAR memslot whose backing is\n"
		"disabled (PCI_COMMAND.MEM cleared, or a stand-in), and the result of KVM_RUN\n"
		"is classified. BDF (DDDD:BB:DD.F, bound to vfio-pci) may also come from $%s.\n\n",
		prog, REPRO_BDF_ENV);
	for (i = 0; i < NR_OPTS; i++) {
		char lhs[64];

		snprintf(lhs, sizeof(lhs), "%c%c%c --%s%s%s",
			 table[i].opt.val < 256 ? '-' : ' ',
			 table[i].opt.val < 256 ? table[i].opt.val : ' ',
			 table[i].opt.val < 256 ? ',' : ' ',
			 table[i].opt.name, table[i].arg ? "=" : "",
			 table[i].arg ? table[i].arg : "");
		fprintf(out, "  %-38s %s\n", lhs, table[i].help);
	}
	fprintf(out,
		"\nstdout: KTAP. stderr: progress and diagnostics.\n"
		"Exit: 0 PASS, 1 FAIL or ERROR, 2 usage error, 4 SKIP (no /dev/kvm, device,\n"
		"permission).\n");
}

static const char *const mode_names[] = {
	[REPRO_HELD] = "held", [REPRO_RACE] = "race", [REPRO_CONTROL] = "control",
};

const char *repro_mode_name(enum repro_mode mode)
{
	return mode_names[mode];
}

static const char *const access_names[] = {
	[REPRO_READ] = "read", [REPRO_WRITE] = "write", [REPRO_RW] = "rw",
};

const char *repro_access_name(enum repro_access access)
{
	return access_names[access];
}

#define usage_err(err, errlen, ...) bt_errf(err, errlen, REPRO_PARSE_USAGE, __VA_ARGS__)

static int number(const char *name, const char *arg, uint64_t min,
		  uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	int ret = bt_parse_u64(arg, min, max, out);

	if (ret == -ERANGE)
		return usage_err(err, errlen,
				 "--%s=%s: must be between %llu and %llu", name,
				 arg, (unsigned long long)min,
				 (unsigned long long)max);
	if (ret)
		return usage_err(err, errlen, "--%s=%s: not a number", name,
				 arg);
	return REPRO_PARSE_OK;
}

struct seen {
	bool cycles, duration, dwell, iommu, bar, size, on_fault, until_hit;
};

static int validate(struct repro_opts *o, const struct seen *seen,
		    char *err, size_t errlen)
{
	struct bt_bdf bdf;

	if (o->bdf && bt_bdf_parse(o->bdf, &bdf))
		return usage_err(err, errlen,
				 "'%s' is not a PCI address (want DDDD:BB:DD.F)",
				 o->bdf);
	if (!o->backing)
		o->backing = bt_backing_find(o->bdf ? "vfio" : "shmem");
	if (o->backing->needs_device && !o->bdf)
		return usage_err(err, errlen,
				 "--backing=vfio needs a BDF (argument or $%s)",
				 REPRO_BDF_ENV);
	if (!o->backing->needs_device && o->bdf)
		return usage_err(err, errlen,
				 "a BDF (%s) conflicts with --backing=%s",
				 o->bdf, o->backing->name);
	if (!o->backing->needs_device && (seen->iommu || seen->bar))
		return usage_err(err, errlen,
				 "--iommu and --bar only apply to --backing=vfio");
	if (o->backing->needs_device && seen->size)
		return usage_err(err, errlen,
				 "--size only applies to the pfnmap, shmem and mprotect backings");
	if (o->mode == REPRO_HELD &&
	    (seen->cycles || seen->duration || seen->dwell || seen->on_fault))
		return usage_err(err, errlen,
				 "--cycles, --duration, --dwell-*-us and --on-fault do not apply to --mode=held");
	if (o->mode == REPRO_CONTROL &&
	    (seen->cycles || seen->dwell || seen->on_fault))
		return usage_err(err, errlen,
				 "--cycles, --dwell-*-us and --on-fault do not apply to --mode=control");
	if (o->mode != REPRO_RACE && seen->until_hit)
		return usage_err(err, errlen, "--until-hit applies to --mode=race only");
	if (seen->until_hit && seen->on_fault && o->on_fault_continue)
		return usage_err(err, errlen,
				 "--until-hit ends at the first hit: --on-fault=continue has nothing to continue");
	if (o->mode == REPRO_HELD && o->vcpus > 1)
		return usage_err(err, errlen, "--mode=held runs one vCPU");
	if (o->offset % o->width)
		return usage_err(err, errlen,
				 "--offset=0x%llx is not aligned to --width=%u",
				 (unsigned long long)o->offset, o->width);
	if (!o->backing->needs_device && o->offset + o->width > o->size)
		return usage_err(err, errlen,
				 "--offset=0x%llx is outside the %llu-byte BAR",
				 (unsigned long long)o->offset,
				 (unsigned long long)o->size);
	if (o->mode == REPRO_RACE && !seen->cycles && !seen->duration)
		o->cycles = REPRO_DEFAULT_CYCLES;
	if (o->mode == REPRO_CONTROL && !seen->duration)
		o->duration_s = REPRO_CONTROL_DEFAULT_S;
	return REPRO_PARSE_OK;
}

static int pick(const char *name, const char *arg, const char *const *names,
		size_t n, int *out, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (names[i] && !strcmp(arg, names[i])) {
			*out = i;
			return REPRO_PARSE_OK;
		}
	}
	return usage_err(err, errlen, "--%s=%s: unknown value", name, arg);
}

enum repro_parse_result repro_parse_options(int argc, char **argv,
					    struct repro_opts *o, char *err,
					    size_t errlen)
{
	static const char *const on_fault[] = { "stop", "continue" };
	struct option longopts[NR_OPTS + 1];
	struct seen seen = { 0 };
	uint64_t v;
	size_t i;
	int c, ret = REPRO_PARSE_OK, choice = 0;

	*o = (struct repro_opts){
		.iommu = bt_vfio_mode_find("type1v2"),
		.mode = REPRO_HELD,
		.access = REPRO_READ,
		.vcpus = 1,
		.width = 4,
		.size = REPRO_DEFAULT_SIZE,
	};
	for (i = 0; i < NR_OPTS; i++)
		longopts[i] = table[i].opt;
	memset(&longopts[NR_OPTS], 0, sizeof(longopts[0]));

	optind = 0;	/* glibc: a full restart (1 keeps its pointer into an earlier argv) */
	opterr = 0;
	while (ret == REPRO_PARSE_OK &&
	       (c = getopt_long(argc, argv, ":hb:m:c:d:j:qv", longopts,
				NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			return REPRO_PARSE_HELP;
		case OPT_BACKING:
			o->backing = bt_backing_find(optarg);
			if (!o->backing)
				ret = usage_err(err, errlen,
						"--backing=%s: want %s", optarg,
						bt_backing_names());
			break;
		case OPT_MODE:
			ret = pick("mode", optarg, mode_names, 3, &choice, err,
				   errlen);
			o->mode = choice;
			break;
		case OPT_ACCESS:
			ret = pick("access", optarg, access_names, 3, &choice,
				   err, errlen);
			o->access = choice;
			break;
		case OPT_ON_FAULT:
			seen.on_fault = true;
			ret = pick("on-fault", optarg, on_fault, 2, &choice,
				   err, errlen);
			o->on_fault_continue = choice;
			break;
		case OPT_UNTIL_HIT:
			seen.until_hit = true;
			o->until_hit = true;
			break;
		case OPT_CYCLES:
			seen.cycles = true;
			ret = number("cycles", optarg, 1, 1ULL << 50,
				     &o->cycles, err, errlen);
			break;
		case OPT_DURATION:
			seen.duration = true;
			if (bt_parse_seconds(optarg, 0, 7 * 86400,
					     &o->duration_s))
				ret = usage_err(err, errlen,
						"--duration=%s: want seconds, > 0 and <= 604800",
						optarg);
			break;
		case OPT_VCPUS:
			ret = number("vcpus", optarg, 1, REPRO_MAX_VCPUS, &v,
				     err, errlen);
			o->vcpus = v;
			break;
		case OPT_WIDTH:
			ret = number("width", optarg, 1, 8, &v, err, errlen);
			if (!ret && (v & (v - 1)))
				ret = usage_err(err, errlen,
						"--width=%s: want 1, 2, 4 or 8",
						optarg);
			o->width = v;
			break;
		case OPT_OFFSET:
			ret = number("offset", optarg, 0, 1ULL << 40,
				     &o->offset, err, errlen);
			break;
		case OPT_DWELL_OFF:
			seen.dwell = true;
			ret = number("dwell-off-us", optarg, 0, 10000000,
				     &o->dwell_off_us, err, errlen);
			break;
		case OPT_DWELL_ON:
			seen.dwell = true;
			ret = number("dwell-on-us", optarg, 0, 10000000,
				     &o->dwell_on_us, err, errlen);
			break;
		case OPT_IOMMU:
			seen.iommu = true;
			o->iommu = bt_vfio_mode_find(optarg);
			if (!o->iommu)
				ret = usage_err(err, errlen,
						"--iommu=%s: want %s", optarg,
						bt_vfio_mode_names());
			break;
		case OPT_BAR:
			seen.bar = true;
			ret = number("bar", optarg, 0, 5, &v, err, errlen);
			o->bar = v;
			break;
		case OPT_SIZE:
			seen.size = true;
			if (bt_parse_size(optarg, 4096, 1ULL << 30, &o->size) ||
			    o->size % 4096)
				ret = usage_err(err, errlen,
						"--size=%s: want a multiple of 4096 from 4K to 1G",
						optarg);
			break;
		case OPT_JSON:
			o->json = optarg;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		case OPT_VERBOSE:
			o->verbose = true;
			break;
		case ':':
			ret = usage_err(err, errlen, "%s needs a value",
					argv[optind - 1]);
			break;
		default:
			ret = usage_err(err, errlen, "unknown option '%s'",
					argv[optind - 1]);
		}
	}
	if (ret != REPRO_PARSE_OK)
		return ret;
	if (argc - optind > 1)
		return usage_err(err, errlen,
				 "one BDF at most (got '%s' and '%s')",
				 argv[optind], argv[optind + 1]);
	/* $BARTOGGLE_BDF must not turn an explicit stand-in into a conflict. */
	if (optind < argc || !o->backing || o->backing->needs_device)
		o->bdf = bt_bdf_from(optind < argc ? argv[optind] : NULL,
				     REPRO_BDF_ENV);
	return validate(o, &seen, err, errlen);
}
