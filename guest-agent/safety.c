// SPDX-License-Identifier: GPL-2.0
/*
 * The agent unbinds drivers and turns memory decoding off: on the wrong
 * machine that is the NIC or the disk controller going away. It refuses a
 * machine that does not look like a bartoggle guest, and a device the
 * machine uses, before it changes anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "bartoggle/inuse.h"
#include "agent.h"

/*
 * CPUID.1:ECX[31], set by every common hypervisor. Not proof of a test
 * guest (production hosts are VMs too), only its absence is telling.
 * $BARTOGGLE_HYPERVISOR=0 makes it absent, for tests; nothing makes it
 * present.
 */
static bool hypervisor_bit(void)
{
	const char *force = getenv("BARTOGGLE_HYPERVISOR");
	unsigned int a = 0, b = 0, c = 0, d = 0;

	if (force && !strcmp(force, "0"))
		return false;
#if defined(__x86_64__) || defined(__i386__)
	if (__get_cpuid(1, &a, &b, &c, &d))
		return c & (1u << 31);
#endif
	(void)a, (void)b, (void)c, (void)d;
	return false;
}

int agent_check_machine(const struct agent_opts *o, bool have_port, char *err, size_t len)
{
	bool named = o->device || o->have_id;

	if (o->allow_host)
		return 0;
	if (!hypervisor_bit()) {
		snprintf(err, len, "refused: no hypervisor CPUID bit, this looks like a host, not a "
			 "bartoggle guest (--allow-host to take a device here anyway)");
		return -EPERM;
	}
	if (!have_port && !named) {
		snprintf(err, len, "refused: no %s port and no --device/--id: not a bartoggle guest, "
			 "and the device would be guessed (name it, or --allow-host)", o->port);
		return -EPERM;
	}
	return 0;
}

int agent_check_device(const struct bt_pci_dev *dev, char *err, size_t len)
{
	struct bt_host_paths h;
	char why[1024] = "";
	int ret;

	bt_host_paths_default(&h);
	ret = bt_device_in_use(&h, dev, why, sizeof(why));
	if (ret == -EBUSY) {
		for (char *nl = strchr(why, '\n'); nl; nl = strchr(nl, '\n'))
			*nl = ';';
		snprintf(err, len, "refused: %s %s; nothing was changed", dev->bdf_str, why);
	} else if (ret) {
		snprintf(err, len, "refused: %s: %s", dev->bdf_str, why);
	}
	return ret;
}
