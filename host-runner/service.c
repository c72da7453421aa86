// SPDX-License-Identifier: GPL-2.0
/*
 * The runner under systemd (contrib/systemd/bartoggle-soak@.service,
 * Type=notify): READY=1 once the device is bound and the image built, a
 * STATUS= line that `systemctl status` shows, WATCHDOG=1 from the loop that
 * drives the VM (a runner stuck anywhere stops pinging and is restarted),
 * STOPPING=1 at the end. Without $NOTIFY_SOCKET every call is a no-op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "bartoggle/log.h"
#include "bartoggle/stats.h"
#include "runner.h"

static uint64_t watchdog_ns;		/* 0: no watchdog asked for */
static uint64_t last_ping_ns;

void service_ready(const struct run_env *env)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		watchdog_ns = usec * 1000;
	sd_notifyf(0, "READY=1\nSTATUS=soaking %s: results in %s",
		   env->cfg->emulated[0] ? env->cfg->emulated : env->cfg->bdf, env->dir);
}

void service_beat(const struct run_env *env, const struct iteration *it, double elapsed_s)
{
	uint64_t now = bt_now_ns(), every = 1000000000ULL;

	/* A ping (and status line) each second, or four per watchdog period
	 * when that is shorter. */
	if (watchdog_ns && watchdog_ns / 4 < every)
		every = watchdog_ns / 4;
	if (last_ping_ns && now - last_ping_ns < every)
		return;
	last_ping_ns = now;
	if (it)
		sd_notifyf(0, "WATCHDOG=1\nSTATUS=%s run%d: %llu cycles in %.0f s, %s so far",
			   env->qemu_version[it->qemu], it->number,
			   (unsigned long long)it->counts.cycles, elapsed_s,
			   bt_outcome_name(it->outcome));
	else
		sd_notify(0, "WATCHDOG=1");
}

void service_stopping(const char *why)
{
	sd_notifyf(0, "STOPPING=1\nSTATUS=%s", why);
}
