// SPDX-License-Identifier: GPL-2.0
/* The command line: options over the INI file over the defaults. */
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

enum { OPT_CONFIG = 1000, OPT_RESTORE, OPT_JOURNAL, OPT_JOURNAL_DIR, OPT_PREFLIGHT,
       OPT_SET, OPT_QUIET, OPT_HELP };

void run_usage(FILE *out)
{
	fprintf(out,
		"Usage: bartoggle-run [--config FILE] [options]\n"
		"       bartoggle-run --restore [--bdf BDF | --journal FILE] [--results DIR]\n"
		"       bartoggle-run report [--help] [DIR|FILE...]\n"
		"       bartoggle-run status [--json] [--help] [DIR...]\n\n"
		"Boots QEMU with the device assigned (or QEMU's emulated edu), runs\n"
		"bartoggle-agent in the guest to toggle PCI_COMMAND.MEM while hammering the BAR,\n"
		"and classifies how each VM ends. Results: <results>/<UTC>-<host>/, or a named\n"
		"soak's <results>/<soak>/, resumed there when it is started again.\n\n"
		"  --config=FILE          INI file ([device] [qemu] [guest] [stress] [results])\n"
		"  --set=SECTION.KEY=V    any INI key from the command line\n"
		"  --preflight            check the host and stop\n"
		"  --restore              after a killed run: stop its QEMU, put back the drivers of\n"
		"                         every journal no live runner holds (or --bdf's only),\n"
		"                         and record its unrecorded iterations under --results\n"
		"  --journal-dir=DIR      one restore journal and lock per device: DIR/<bdf>.json,\n"
		"                         DIR/<bdf>.lock, and QEMU pid files (default %s as\n"
		"                         root, else $XDG_RUNTIME_DIR/bartoggle or /tmp/bartoggle-UID)\n"
		"  --journal=FILE         this device's journal instead (the locks stay in DIR)\n"
		"  --quiet                no progress lines\n"
		"  --help                 this help\n"
		"Settings (command line over file over defaults):\n", RUN_RUNTIME_DIR);
	bt_config_usage(out);
	fprintf(out,
		"\nExit: 0 every run PASS, 1 any FAIL or ERROR, 2 usage, 3 results could not all be\n"
		"saved (the last line says which), 4 skip (host cannot run it, the device is unsafe\n"
		"to take, or another bartoggle-run holds it).\n");
}


int run_parse(int argc, char **argv, struct bt_config *c, struct args *a)
{
	int n = bt_config_nr_options(), i, opt, idx;
	struct option *longopts = calloc(n + 9, sizeof(*longopts));
	char err[512];
	int ret = 0;

	BT_ASSERT(longopts, "out of memory");
	for (i = 0; i < n; i++)
		longopts[i] = (struct option){ bt_config_option_name(i),
			bt_config_option_has_arg(i) ? required_argument : no_argument, NULL, i };
	longopts[n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	longopts[n++] = (struct option){ "restore", no_argument, NULL, OPT_RESTORE };
	longopts[n++] = (struct option){ "journal", required_argument, NULL, OPT_JOURNAL };
	longopts[n++] = (struct option){ "journal-dir", required_argument, NULL, OPT_JOURNAL_DIR };
	longopts[n++] = (struct option){ "preflight", no_argument, NULL, OPT_PREFLIGHT };
	longopts[n++] = (struct option){ "set", required_argument, NULL, OPT_SET };
	longopts[n++] = (struct option){ "quiet", no_argument, NULL, OPT_QUIET };
	longopts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };

	/* Pass 1: the file, so that the command line can override it. */
	opterr = 0;
	optind = 0;	/* glibc: a full restart (1 keeps its pointer into an earlier argv) */
	while ((opt = getopt_long(argc, argv, ":", longopts, &idx)) != -1) {
		if (opt == OPT_HELP) {
			run_usage(stdout);
			ret = 1;
			goto out;
		}
		if (opt == OPT_CONFIG)
			a->config = optarg;
	}
	if (a->config && bt_config_load(c, a->config, err, sizeof(err))) {
		bt_err("%s", err);
		ret = -EINVAL;
		goto out;
	}
	optind = 0;	/* glibc: a full restart (1 keeps its pointer into an earlier argv) */
	while ((opt = getopt_long(argc, argv, ":", longopts, &idx)) != -1) {
		char name[128], *eq;

		switch (opt) {
		case OPT_CONFIG:
			break;
		case OPT_RESTORE:
			a->restore = true;
			break;
		case OPT_JOURNAL:
			a->journal = optarg;
			break;
		case OPT_JOURNAL_DIR:
			a->journal_dir = optarg;
			break;
		case OPT_PREFLIGHT:
			a->preflight = true;
			break;
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_SET:
			snprintf(name, sizeof(name), "%s", optarg);
			eq = strchr(name, '=');
			if (!eq || !strchr(name, '.')) {
				bt_err("--set=%s: want SECTION.KEY=VALUE (try --help)", optarg);
				ret = -EINVAL;
				goto out;
			}
			*eq = '\0';
			if (bt_config_set_option(c, name, eq + 1, true, err, sizeof(err))) {
				bt_err("--set: %s", err);
				ret = -EINVAL;
				goto out;
			}
			break;
		case ':':
			bt_err("%s needs a value (try --help)", argv[optind - 1]);
			ret = -EINVAL;
			goto out;
		case '?':
			bt_err("unknown option '%s' (try --help)", argv[optind - 1]);
			ret = -EINVAL;
			goto out;
		default:
			if (bt_config_set_option(c, bt_config_option_name(opt),
						 optarg ? optarg : "", true, err, sizeof(err))) {
				bt_err("--%s: %s", bt_config_option_name(opt), err);
				ret = -EINVAL;
				goto out;
			}
		}
	}
	if (optind < argc) {
		bt_err("unexpected argument '%s' (try --help)", argv[optind]);
		ret = -EINVAL;
	}
out:
	free(longopts);
	return ret;
}
