// SPDX-License-Identifier: GPL-2.0
/*
 * Strings from a command line or a config value: the first byte picks the
 * parser, the rest is its input. For the two command lines (the repro's,
 * the agent's), NUL bytes split the rest into arguments.
 */
#include <getopt.h>
#include <stdio.h>

#include "bartoggle/bdf.h"
#include "bartoggle/config.h"
#include "bartoggle/parse.h"
#include "bartoggle/pcisel.h"
#include "agent.h"
#include "options.h"
#include "fuzz.h"

#define MAX_ARGS	32

static int split_args(char *s, size_t len, char **argv)
{
	int argc = 0;
	size_t i = 0;

	argv[argc++] = "fuzz";
	while (i <= len && argc < MAX_ARGS - 1) {
		argv[argc++] = s + i;
		i += strlen(s + i) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

static void config_option(const char *s)
{
	static struct bt_config c;
	const char *eq = strchr(s, '=');
	char name[64], err[256];

	if (!eq || (size_t)(eq - s) >= sizeof(name))
		return;
	memcpy(name, s, eq - s);
	name[eq - s] = '\0';
	bt_config_default(&c);
	if (!bt_config_set_option(&c, name, eq + 1, true, err, sizeof(err)))
		bt_config_validate(&c, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *argv[MAX_ARGS], err[512], field[64];
	const char *rest;
	struct repro_opts ro;
	struct agent_opts ao;
	struct bt_bdf bdf;
	uint16_t vendor, device;
	uint64_t u;
	double d;

	if (!size)
		return 0;
	s = fuzz_string(data + 1, size - 1);
	switch (data[0] % 8) {
	case 0:
		if (!bt_bdf_parse(s, &bdf)) {
			char buf[32];

			bt_bdf_format(&bdf, buf);
		}
		break;
	case 1:
		bt_parse_u64(s, 0, UINT64_MAX, &u);
		bt_parse_size(s, 4096, 1ULL << 40, &u);
		break;
	case 2:
		bt_parse_seconds(s, 0, 30 * 86400, &d);
		break;
	case 3:
		bt_pci_id_parse(s, &vendor, &device);
		break;
	case 4:
		for (rest = s; (rest = bt_next_field(rest, ':', field, sizeof(field)));)
			;
		break;
	case 5:
		config_option(s);
		break;
	case 6:
		opterr = 0;
		repro_parse_options(split_args(s, size - 1, argv), argv, &ro, err, sizeof(err));
		break;
	case 7:
		agent_opts_default(&ao, 2);
		if (agent_parse_args(split_args(s, size - 1, argv), argv, &ao, err, sizeof(err)) ==
		    AGENT_OK)
			agent_validate(&ao, 2, err, sizeof(err));
		break;
	}
	free(s);
	/* Parsed again once the first argv is gone: getopt must keep nothing
	 * of it (it did: optind = 1 left glibc's pointer into the old one). */
	if (data[0] % 8 == 6) {
		char *none[] = { "fuzz", "--quiet", NULL };

		repro_parse_options(2, none, &ro, err, sizeof(err));
	} else if (data[0] % 8 == 7) {
		char *none[] = { "fuzz", "--quiet", NULL };

		agent_opts_default(&ao, 2);
		agent_parse_args(2, none, &ao, err, sizeof(err));
	}
	return 0;
}
