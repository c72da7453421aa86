// SPDX-License-Identifier: GPL-2.0
/*
 * One table drives the command line, the host's "start" message and --help.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bartoggle/bdf.h"
#include "bartoggle/log.h"
#include "bartoggle/parse.h"
#include "bartoggle/pcisel.h"
#include "agent.h"

enum kind { K_U64, K_CPU, K_SECONDS, K_ACCESS, K_WIDTH, K_STR, K_ID, K_FLAG };

struct opt {
	const char *name;
	const char *arg;	/* NULL: a flag */
	enum kind kind;
	size_t off;
	uint64_t min, max;
	bool runtime;		/* "start" may set it */
	const char *help;
};

#define OFF(f) offsetof(struct agent_opts, f)

static const struct opt opts[] = {
	{ "device", "BDF", K_STR, OFF(device), 0, 0, false,
	  "the device to hammer (default: the only one with a mappable memory BAR)" },
	{ "id", "VENDOR:DEVICE", K_ID, 0, 0, 0, false, "the device by its ids" },
	{ "bar", "N", K_U64, OFF(bar), 0, 5, false, "BAR to hammer (default 0)" },
	{ "access", "read|write|rw", K_ACCESS, OFF(access), 0, 0, true,
	  "read (default), write (the value read at start), or write then read" },
	{ "width", "1|2|4|8", K_WIDTH, OFF(width), 1, 8, true, "access width (default 4)" },
	{ "offset", "OFF", K_U64, OFF(offset), 0, 1ULL << 40, true,
	  "BAR offset, width-aligned (default 0)" },
	{ "dwell-off-us", "US", K_U64, OFF(dwell_off_us), 0, 10000000, true,
	  "time MEM stays off per cycle (default 0)" },
	{ "dwell-on-us", "US", K_U64, OFF(dwell_on_us), 0, 10000000, true,
	  "time MEM stays on per cycle (default 0)" },
	{ "cycles", "N", K_U64, OFF(cycles), 1, 1ULL << 50, true,
	  "stop after N off/on cycles (default 100000 unless --duration)" },
	{ "duration", "S", K_SECONDS, OFF(duration_s), 0, 0, true,
	  "stop after S seconds (with --cycles: whichever first)" },
	{ "seed", "N", K_U64, OFF(seed), 0, UINT64_MAX, true,
	  "non-zero: dwell times drawn from [0, 2*dwell] by this seed" },
	{ "hammer-cpu", "CPU", K_CPU, OFF(hammer_cpu), 0, 4095, true,
	  "CPU the hammer thread is pinned to (default 0; -1: none)" },
	{ "toggle-cpu", "CPU", K_CPU, OFF(toggle_cpu), 0, 4095, true,
	  "CPU the toggler is pinned to (default 1; -1: none)" },
	{ "interval-ms", "MS", K_U64, OFF(interval_ms), 10, 600000, true,
	  "progress (and heartbeat) interval (default 500)" },
	{ "serve", NULL, K_FLAG, OFF(serve), 0, 0, false,
	  "say hello, then run on the host's \"start\" messages" },
	{ "port", "NAME", K_STR, OFF(port), 0, 0, false,
	  "virtio-serial port name (default " AGENT_PORT_NAME ")" },
	{ "stdio", NULL, K_FLAG, OFF(stdio), 0, 0, false,
	  "talk on stdin/stdout even when the port exists" },
	{ "quiet", NULL, K_FLAG, OFF(quiet), 0, 0, false, "no summary on stderr" },
	{ "allow-host", NULL, K_FLAG, OFF(allow_host), 0, 0, false,
	  "run even where the machine does not look like a bartoggle guest (no hypervisor "
	  "bit, or neither the port nor --device/--id); a device in use is still refused" },
	{ "help", NULL, K_FLAG, 0, 0, 0, false, "this help" },
};

#define NR_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const access_names[] = {
	[AGENT_READ] = "read", [AGENT_WRITE] = "write", [AGENT_RW] = "rw",
};

const char *agent_access_name(enum agent_access a)
{
	return access_names[a];
}

void agent_opts_default(struct agent_opts *o, int ncpus)
{
	*o = (struct agent_opts){
		.port = AGENT_PORT_NAME,
		.access = AGENT_READ,
		.width = 4,
		.hammer_cpu = ncpus > 1 ? 0 : -1,
		.toggle_cpu = ncpus > 1 ? 1 : -1,
		.interval_ms = 500,
	};
}

void agent_usage(FILE *out, const char *prog)
{
	size_t i;

	fprintf(out,
		"Usage: %s [options]\n"
		"Inside a guest: hammers a PCI BAR (sysfs resourceN mmap) from one pinned thread\n"
		"while another toggles PCI_COMMAND.MEM through sysfs config, and counts what the\n"
		"hammer sees while memory decoding is off.\n\n", prog);
	for (i = 0; i < NR_OPTS; i++) {
		char lhs[48];

		snprintf(lhs, sizeof(lhs), "--%s%s%s", opts[i].name,
			 opts[i].arg ? "=" : "", opts[i].arg ? opts[i].arg : "");
		fprintf(out, "  %-30s %s\n", lhs, opts[i].help);
	}
	fprintf(out,
		"\nProtocol: JSON Lines on the virtio-serial port %s (else stdin/stdout):\n"
		"hello, progress (every --interval-ms), done, error; the host sends start {options}\n"
		"and stop. Standalone (without --serve) it runs at once: JSON lines on stdout, a\n"
		"summary on stderr. Exit: 0 done, 1 error, 2 usage.\n", AGENT_PORT_NAME);
}

#define fail(err, errlen, ...) bt_errf(err, errlen, -EINVAL, __VA_ARGS__)

static int set(struct agent_opts *o, const struct opt *opt, const char *v,
	       char *err, size_t errlen)
{
	char *field = (char *)o + opt->off;
	uint64_t u;
	size_t i;
	int ret;

	switch (opt->kind) {
	case K_U64:
	case K_WIDTH:
		ret = bt_parse_u64(v, opt->min, opt->max, &u);
		if (ret == -ERANGE)
			return fail(err, errlen, "%s=%s: must be between %llu and %llu",
				    opt->name, v, (unsigned long long)opt->min,
				    (unsigned long long)opt->max);
		if (ret)
			return fail(err, errlen, "%s=%s: not a number", opt->name, v);
		if (opt->kind == K_WIDTH && (u & (u - 1)))
			return fail(err, errlen, "%s=%s: want 1, 2, 4 or 8", opt->name, v);
		*(uint64_t *)field = u;
		return 0;
	case K_CPU:
		if (!strcmp(v, "-1")) {
			*(int64_t *)field = -1;
			return 0;
		}
		if (bt_parse_u64(v, opt->min, opt->max, &u))
			return fail(err, errlen, "%s=%s: want a CPU number or -1", opt->name, v);
		*(int64_t *)field = u;
		return 0;
	case K_SECONDS:
		if (bt_parse_seconds(v, 0, 7 * 86400, (double *)field))
			return fail(err, errlen, "%s=%s: want seconds, > 0 and <= 604800",
				    opt->name, v);
		return 0;
	case K_ACCESS:
		for (i = 0; i < 3; i++) {
			if (!strcmp(v, access_names[i])) {
				*(enum agent_access *)field = i;
				return 0;
			}
		}
		return fail(err, errlen, "%s=%s: want read, write or rw", opt->name, v);
	case K_STR:
		if (!*v)
			return fail(err, errlen, "%s: empty value", opt->name);
		*(const char **)field = v;
		return 0;
	case K_ID:
		if (bt_pci_id_parse(v, &o->vendor, &o->devid))
			return fail(err, errlen, "%s=%s: want VENDOR:DEVICE in hex, e.g. 1234:11e8",
				    opt->name, v);
		o->have_id = true;
		return 0;
	case K_FLAG:
		*(bool *)field = true;
		return 0;
	}
	return -EINVAL;
}

enum agent_parse agent_parse_args(int argc, char **argv, struct agent_opts *o,
				  char *err, size_t errlen)
{
	struct option longopts[NR_OPTS + 1];
	int c, idx;
	size_t i;

	for (i = 0; i < NR_OPTS; i++)
		longopts[i] = (struct option){ opts[i].name,
			opts[i].arg ? required_argument : no_argument, NULL, (int)i };
	memset(&longopts[NR_OPTS], 0, sizeof(longopts[0]));
	optind = 0;	/* glibc: a full restart (1 keeps its pointer into an earlier argv) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, &idx)) != -1) {
		if (c == ':') {
			fail(err, errlen, "%s needs a value", argv[optind - 1]);
			return AGENT_USAGE;
		}
		if (c == '?' || c < 0 || (size_t)c >= NR_OPTS) {
			fail(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return AGENT_USAGE;
		}
		if (!strcmp(opts[c].name, "help"))
			return AGENT_HELP;
		if (set(o, &opts[c], optarg ? optarg : "", err, errlen))
			return AGENT_USAGE;
	}
	if (optind < argc) {
		fail(err, errlen, "unexpected argument '%s'", argv[optind]);
		return AGENT_USAGE;
	}
	if (o->device && o->have_id) {
		fail(err, errlen, "--device and --id both select the device: give one");
		return AGENT_USAGE;
	}
	return AGENT_OK;
}

int agent_apply_start(struct agent_opts *o, struct json_object *msg,
		      char *err, size_t errlen)
{
	struct agent_opts next = *o;
	bool cycles = false, duration = false;

	json_object_object_foreach(msg, key, val) {
		const char *text;
		char name[64];
		size_t j;

		snprintf(name, sizeof(name), "%s", key);
		for (j = 0; name[j]; j++)
			if (name[j] == '_')
				name[j] = '-';
		if (!strcmp(name, "duration-s"))
			strcpy(name, "duration");
		if (!strcmp(name, "type"))
			continue;
		for (j = 0; j < NR_OPTS; j++)
			if (!strcmp(opts[j].name, name))
				break;
		if (j == NR_OPTS)
			continue;	/* unknown members are ignored */
		if (!opts[j].runtime)
			return fail(err, errlen, "%.60s cannot change after hello", key);
		/* A number as the host wrote it (json-c keeps a double's
		 * text): the option parsers judge it, as on the command line. */
		if (json_object_is_type(val, json_type_string))
			text = json_object_get_string(val);
		else if (json_object_is_type(val, json_type_int) ||
			 json_object_is_type(val, json_type_double))
			text = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
		else
			return fail(err, errlen, "%.60s: want a number or a string", key);
		if (set(&next, &opts[j], text, err, errlen))
			return -EINVAL;
		cycles |= !strcmp(name, "cycles");
		duration |= !strcmp(name, "duration");
	}
	/* A start that bounds the run one way drops the other bound. */
	if (cycles && !duration)
		next.duration_s = 0;
	if (duration && !cycles)
		next.cycles = 0;
	*o = next;
	return 0;
}

int agent_validate(struct agent_opts *o, int ncpus, char *err, size_t errlen)
{
	if (!o->cycles && o->duration_s <= 0)
		o->cycles = AGENT_DEFAULT_CYCLES;
	if (o->offset % o->width)
		return fail(err, errlen, "offset 0x%llx is not aligned to width %llu",
			    (unsigned long long)o->offset, (unsigned long long)o->width);
	if (o->hammer_cpu >= ncpus || o->toggle_cpu >= ncpus)
		return fail(err, errlen, "CPU %lld does not exist (the guest has %d)",
			    (long long)(o->hammer_cpu >= ncpus ? o->hammer_cpu : o->toggle_cpu),
			    ncpus);
	if (o->hammer_cpu >= 0 && o->hammer_cpu == o->toggle_cpu)
		return fail(err, errlen,
			    "hammer and toggler pinned to the same CPU %lld: the race needs two",
			    (long long)o->hammer_cpu);
	return 0;
}
