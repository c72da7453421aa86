/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The report across a fleet: each row's runs came from hosts and devices
 * (host.name, and the device's BDF, or an emulated device's soak), over
 * device-hours. The fleet-wide sentence, the per-host drill-down, and the
 * runs a restart or a reboot cut short, each named with its host.
 */
#ifndef BARTOGGLE_REPORTFLEET_H
#define BARTOGGLE_REPORTFLEET_H

#include <stdio.h>
#include <json-c/json.h>

#include "bartoggle/report.h"

/* host.name, else host.hostname, else "?". */
const char *bt_report_run_host(const struct bt_report_run *run);
/* "<host> <bdf>", or "<host> emulated <soak, or the run's directory>". */
char *bt_report_run_device(const struct bt_report_run *run);

/* Every row's hosts, devices and device-hours (after the grouping). */
void bt_report_fleet_count(struct bt_report *r);
/* "3 devices on 3 hosts, 0.2 device-hours, 0 VM-fatal events in ...". */
void bt_report_fleet_words(const struct bt_report_row *row, char *buf, size_t len);
/* {"hosts": [{host, devices, runs, cycles, device_hours, verdicts, outcomes}],
 *  "stops": [{host, device, outcome, iteration, time, logs}]} */
struct json_object *bt_report_fleet_json(const struct bt_report *r,
					 const struct bt_report_row *row);
/* The interrupted and host-reset runs, a line each with host and device. */
void bt_report_fleet_stops(const struct bt_report *r, const struct bt_report_row *row,
			   const char *indent, FILE *out);

#endif
