// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/jpath.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/reportfleet.h"
#include "bartoggle/xalloc.h"

const char *bt_report_run_host(const struct bt_report_run *run)
{
	return bt_jpath_str(run->rec, "host.name",
			    bt_jpath_str(run->rec, "host.hostname", "?"));
}

char *bt_report_run_device(const struct bt_report_run *run)
{
	const char *bdf = bt_jpath_str(run->rec, "device.bdf", NULL);
	const char *soak = bt_jpath_str(run->rec, "options.results.soak", NULL);
	const char *logs = bt_jpath_str(run->rec, "logs", NULL);
	char *copy, *dir;

	if (bdf)
		return bt_xasprintf("%s %s", bt_report_run_host(run), bdf);
	if (soak)
		return bt_xasprintf("%s emulated %s", bt_report_run_host(run), soak);
	/* An emulated device outside a soak: one per run directory. */
	copy = bt_xstrdup(logs ? logs : "?");
	dir = dirname(copy);
	dir = bt_xasprintf("%s emulated %s", bt_report_run_host(run), basename(dir));
	free(copy);
	return dir;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* How many distinct strings in @v (sorted in place). */
static unsigned distinct(char **v, size_t n)
{
	unsigned count = 0;
	size_t i;

	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		count += !i || strcmp(v[i], v[i - 1]);
	return count;
}

void bt_report_fleet_count(struct bt_report *r)
{
	size_t i, k;

	for (i = 0; i < r->nrows; i++) {
		struct bt_report_row *row = &r->rows[i];
		char **hosts = calloc(row->nruns + 1, sizeof(*hosts));
		char **devices = calloc(row->nruns + 1, sizeof(*devices));

		BT_ASSERT(hosts && devices, "out of memory");
		for (k = 0; k < row->nruns; k++) {
			hosts[k] = (char *)bt_report_run_host(&r->runs[row->runs[k]]);
			devices[k] = bt_report_run_device(&r->runs[row->runs[k]]);
		}
		row->hosts = distinct(hosts, row->nruns);
		row->devices = distinct(devices, row->nruns);
		row->device_hours = row->duration_s / 3600;
		for (k = 0; k < row->nruns; k++)
			free(devices[k]);
		free(devices);
		free(hosts);
	}
}

void bt_report_fleet_words(const struct bt_report_row *row, char *buf, size_t len)
{
	char words[320];
	int n;

	bt_survival_words(&row->stats, words, sizeof(words));
	n = snprintf(buf, len, "%u device%s on %u host%s, %.*f device-hours, %s", row->devices,
		     row->devices == 1 ? "" : "s", row->hosts, row->hosts == 1 ? "" : "s",
		     row->device_hours < 10 ? 2 : 0, row->device_hours, words);
	if (n < 0 && len)
		buf[0] = '\0';
}

static bool is_stop(const struct bt_report_run *run)
{
	return run->outcome == BT_OUTCOME_INTERRUPTED || run->outcome == BT_OUTCOME_HOST_RESET;
}

struct host_sum {
	const char *host;
	char **devices;
	size_t runs;
	uint64_t cycles;
	double device_s;
	unsigned verdicts[BT_VERDICT_ERROR + 1];
	unsigned outcomes[BT_OUTCOME_NR];
};

static struct host_sum *host_of(struct host_sum **sums, size_t *n, const char *host)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*sums)[i].host, host))
			return &(*sums)[i];
	*sums = bt_grow(*sums, *n, sizeof(**sums));
	(*sums)[*n] = (struct host_sum){ .host = host };
	return &(*sums)[(*n)++];
}

static struct json_object *stop_json(const struct bt_report_run *run)
{
	struct json_object *o = json_object_new_object();
	char *device = bt_report_run_device(run);
	uint64_t it = 0;

	bt_json_set_str(o, "host", bt_report_run_host(run));
	bt_json_set_str(o, "device", device);
	bt_json_set_str(o, "outcome", bt_outcome_name(run->outcome));
	if (bt_jpath_u64(run->rec, "iteration", &it))
		bt_json_set_u64(o, "iteration", it);
	bt_json_set_str(o, "time", bt_jpath_str(run->rec, "time", NULL));
	bt_json_set_str(o, "logs", bt_jpath_str(run->rec, "logs", NULL));
	free(device);
	return o;
}

struct json_object *bt_report_fleet_json(const struct bt_report *r,
					 const struct bt_report_row *row)
{
	struct json_object *o = json_object_new_object(), *hosts, *stops, *h, *x;
	struct host_sum *sums = NULL;
	size_t n = 0, i, k;
	int v;

	stops = json_object_new_array();
	for (k = 0; k < row->nruns; k++) {
		const struct bt_report_run *run = &r->runs[row->runs[k]];
		struct host_sum *s = host_of(&sums, &n, bt_report_run_host(run));
		uint64_t cycles = 0;
		double d = bt_jpath_num(run->rec, "duration_s");

		s->devices = bt_grow(s->devices, s->runs, sizeof(*s->devices));
		s->devices[s->runs++] = bt_report_run_device(run);
		if (bt_jpath_u64(run->rec, "counts.cycles", &cycles))
			s->cycles += cycles;
		s->device_s += isnan(d) ? 0 : d;
		s->verdicts[run->verdict]++;
		s->outcomes[run->outcome]++;
		if (is_stop(run))
			json_object_array_add(stops, stop_json(run));
	}
	hosts = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct host_sum *s = &sums[i];

		h = json_object_new_object();
		bt_json_set_str(h, "host", s->host);
		bt_json_set_u64(h, "devices", distinct(s->devices, s->runs));
		bt_json_set_u64(h, "runs", s->runs);
		bt_json_set_u64(h, "cycles", s->cycles);
		bt_json_set_double(h, "device_hours", s->device_s / 3600);
		x = bt_json_set_obj(h, "verdicts");
		for (v = 0; v <= BT_VERDICT_ERROR; v++)
			if (s->verdicts[v])
				bt_json_set_u64(x, bt_verdict_name(v), s->verdicts[v]);
		bt_json_set_outcome_counts(h, "outcomes", s->outcomes);
		json_object_array_add(hosts, h);
		for (k = 0; k < s->runs; k++)
			free(s->devices[k]);
		free(s->devices);
	}
	free(sums);
	json_object_object_add(o, "hosts", hosts);
	json_object_object_add(o, "stops", stops);
	return o;
}

void bt_report_fleet_stops(const struct bt_report *r, const struct bt_report_row *row,
			   const char *indent, FILE *out)
{
	size_t k;

	for (k = 0; k < row->nruns; k++) {
		const struct bt_report_run *run = &r->runs[row->runs[k]];
		char *device;
		uint64_t it = 0;

		if (!is_stop(run))
			continue;
		device = bt_report_run_device(run);
		bt_jpath_u64(run->rec, "iteration", &it);
		fprintf(out, "%s%s on %s: run %llu %s at %s (%s)\n", indent,
			bt_outcome_name(run->outcome), device, (unsigned long long)it,
			run->outcome == BT_OUTCOME_HOST_RESET ? "cut short by a reboot" :
			"cut short by a stop",
			bt_jpath_str(run->rec, "time", "?"), bt_jpath_str(run->rec, "logs", "?"));
		free(device);
	}
}
