// SPDX-License-Identifier: GPL-2.0
/* A report row in words: its outcome and verdict lists, its evidence file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/jpath.h"
#include "bartoggle/log.h"
#include "bartoggle/qemubuild.h"
#include "bartoggle/record.h"
#include "bartoggle/reportevidence.h"
#include "bartoggle/reportfleet.h"
#include "bartoggle/version.h"

#define MAX_LISTED	3	/* distinct commands, files, builds in an evidence file */

/* "vm-stopped=5 efault=1", most severe first as the taxonomy orders them. */
void bt_report_outcome_list(const struct bt_report_row *row, FILE *out)
{
	bool first = true;
	int i;

	if (row->ur_fail_runs)
		fprintf(out, "UR-violation-FAIL=%u ", row->ur_fail_runs);
	for (i = BT_OUTCOME_NR - 1; i >= 0; i--) {
		if (!row->outcomes[i])
			continue;
		fprintf(out, "%s%s=%u", first ? "" : " ", bt_outcome_name(i), row->outcomes[i]);
		first = false;
	}
}

void bt_report_verdict_list(const struct bt_report_row *row, FILE *out)
{
	static const enum bt_verdict order[] = { BT_VERDICT_FAIL, BT_VERDICT_ERROR,
						 BT_VERDICT_PASS, BT_VERDICT_SKIP };
	const char *sep = "";
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!row->verdicts[order[i]])
			continue;
		fprintf(out, "%s%u %s", sep, row->verdicts[order[i]], bt_verdict_name(order[i]));
		sep = ", ";
	}
}

#define EVIDENCE_INDENT	"               "

typedef const char *(*run_value)(const struct bt_report_run *run, const char *path);

static const char *run_field(const struct bt_report_run *run, const char *path)
{
	return bt_jpath_str(run->rec, path, NULL);
}

static const char *run_file(const struct bt_report_run *run, const char *path)
{
	(void)path;
	return run->file;
}

/* The distinct values over a row's runs, one per line, MAX_LISTED at most. */
static void distinct(const struct bt_report *r, const struct bt_report_row *row,
		     run_value get, const char *path, FILE *out)
{
	const char *seen[MAX_LISTED];
	size_t nseen = 0, more = 0, i, k;

	for (i = 0; i < row->nruns; i++) {
		const char *v = get(&r->runs[row->runs[i]], path);

		if (!v)
			continue;
		for (k = 0; k < nseen && strcmp(seen[k], v); k++)
			;
		if (k < nseen)
			continue;
		if (nseen == MAX_LISTED) {
			more++;
			continue;
		}
		seen[nseen++] = v;
	}
	if (!nseen)
		fprintf(out, "unknown (not in these records)\n");
	for (k = 0; k < nseen; k++)
		fprintf(out, "%s%s\n", k ? EVIDENCE_INDENT : "", seen[k]);
	if (more)
		fprintf(out, EVIDENCE_INDENT "(and %zu more)\n", more);
}

static const char *iommu_of(struct json_object *rec)
{
	const char *backing = bt_jpath_str(rec, "backing", "");

	if (!strcmp(backing, "vfio"))
		return bt_jpath_str(rec, "device.iommu", bt_jpath_str(rec, "options.iommu",
			      "QEMU vfio-pci default (legacy container, type1)"));
	if (!strcmp(backing, "emulated"))
		return "none (QEMU's emulated device, no vfio)";
	return "none (userspace stand-in backing, no device)";
}

/* Each patch the KVM under test was built with, by name and full hash. */
static void patch_lines(struct json_object *patches, FILE *m)
{
	size_t i, n = json_object_is_type(patches, json_type_array) ?
		json_object_array_length(patches) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(patches, i);

		fprintf(m, "Patch:         %s sha256 %s\n", bt_jpath_str(p, "name", "?"),
			bt_jpath_str(p, "sha256", "?"));
	}
}

/* The QEMU build a run used (qemu.build, from lib/qemubuild.c). */
static void qemu_build_lines(struct json_object *build, FILE *m)
{
	const char *kind = bt_jpath_str(build, "kind", NULL);
	struct json_object *patches = bt_jpath(build, "patches");
	size_t i, n = json_object_is_type(patches, json_type_array) ?
		json_object_array_length(patches) : 0;

	if (!kind)
		return;
	if (!strcmp(kind, "distribution"))
		fprintf(m, "QEMU build:    the distribution's, %s\n", bt_jpath_str(build, "package", "?"));
	else if (!strcmp(kind, "unknown"))
		fprintf(m, "QEMU build:    unknown (no " BT_QEMU_BUILD_FILE " beside %s)\n",
			bt_jpath_str(build, "resolved", "the binary"));
	else
		fprintf(m, "QEMU build:    %s %s, from %s\n", kind, bt_jpath_str(build, "key", "?"),
			bt_jpath_str(build, "source", "?"));
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(patches, i);

		fprintf(m, "QEMU patch:    %s sha256 %s\n", bt_jpath_str(p, "name", "?"),
			bt_jpath_str(p, "sha256", "?"));
	}
}

/* A sum over the row's runs of a counter some records lack; false when none has it. */
static bool row_sum(const struct bt_report *r, const struct bt_report_row *row,
		    const char *path, uint64_t *sum)
{
	bool any = false;
	size_t i;
	uint64_t v;

	*sum = 0;
	for (i = 0; i < row->nruns; i++) {
		if (bt_jpath_u64(r->runs[row->runs[i]].rec, path, &v)) {
			*sum += v;
			any = true;
		}
	}
	return any;
}

char *bt_report_evidence_text(const struct bt_report *r, const struct bt_report_row *row)
{
	struct json_object *first = r->runs[row->runs[0]].rec;
	const struct bt_survival *s = &row->stats;
	size_t len = 0, i;
	char *text = NULL, words[320], fleet[512], now[32], bar[64] = "";
	const char *t0 = NULL, *t1 = NULL;
	uint64_t bar_size = 0, ur_reads, retries;
	bool has_ur, has_retries;
	FILE *m = open_memstream(&text, &len);

	BT_ASSERT(m, "out of memory");
	for (i = 0; i < row->nruns; i++) {
		const char *t = bt_jpath_str(r->runs[row->runs[i]].rec, "time", NULL);

		if (t && (!t0 || strcmp(t, t0) < 0))
			t0 = t;
		if (t && (!t1 || strcmp(t, t1) > 0))
			t1 = t;
	}
	if (bt_jpath_u64(first, "device.bar_size", &bar_size) && bar_size)
		snprintf(bar, sizeof(bar), ", BAR%llu %llu KiB",
			 (unsigned long long)bt_record_option_u64(first, "bar", 0),
			 (unsigned long long)bar_size / 1024);
	bt_utc_now(now, sizeof(now));
	bt_survival_words(s, words, sizeof(words));

	has_ur = row_sum(r, row, "counts.ur_reads", &ur_reads);
	has_retries = row_sum(r, row, "qemu.memory_fault_retries", &retries);
	fprintf(m, "bartoggle %s report, row R%d\n\n", bt_version, row->id);
	/* The sentence a Tested-by: cites; the lines below back it. */
	fprintf(m, "Tested:        %s with %s on %s (%s): %zu run%s, %llu MEM off/on cycles, "
		"%llu window hits", row->kernel, row->vmm, row->device, row->arm, row->nruns,
		row->nruns == 1 ? "" : "s", (unsigned long long)s->cycles,
		(unsigned long long)row->window_hits);
	if (has_ur)
		fprintf(m, " (%llu reads all ones, %llu UR violations)",
			(unsigned long long)ur_reads, (unsigned long long)row->ur_violations);
	if (has_retries)
		fprintf(m, ", %llu memory-fault exits retried by the VMM", (unsigned long long)retries);
	if (row->hosts > 1 || row->devices > 1)
		fprintf(m, " on %u devices on %u hosts over %.*f device-hours", row->devices,
			row->hosts, row->device_hours < 10 ? 2 : 0, row->device_hours);
	fprintf(m, "; %s\n", words);
	fprintf(m, "Verdict:       %s (", bt_verdict_name(row->verdict));
	bt_report_verdict_list(row, m);
	fprintf(m, ")\nKernel:        %s\nKernel build:  ", row->kernel);
	distinct(r, row, run_field, "host.kernel_build", m);
	if (bt_jpath_str(first, "host.kernel_variant", NULL))
		fprintf(m, "KVM modules:   %s%s%s\n", bt_jpath_str(first, "host.kernel_variant", ""),
			bt_jpath_str(first, "lane.kvm_build.source", NULL) ? ", built from " : "",
			bt_jpath_str(first, "lane.kvm_build.source", ""));
	patch_lines(bt_jpath(first, "lane.kvm_build.patches"), m);
	fprintf(m, "KVM memory-fault info: %s\n",
		!bt_jpath(first, "host.memory_fault_info") ? "unknown" :
		json_object_get_int(bt_jpath(first, "host.memory_fault_info")) ?
		"KVM_CAP_MEMORY_FAULT_INFO supported" : "KVM_CAP_MEMORY_FAULT_INFO absent");
	if (!strcmp(bt_jpath_str(first, "tool", ""), "run")) {
		fprintf(m, "QEMU:          %s %s (accel %s), guest kernel %s\n",
			bt_jpath_str(first, "qemu.binary", "?"), bt_jpath_str(first, "qemu.version", "?"),
			bt_jpath_str(first, "qemu.accel", "?"), bt_jpath_str(first, "guest_kernel", "?"));
		qemu_build_lines(bt_jpath(first, "qemu.build"), m);
		if (has_retries)
			fprintf(m, "VMM retries:   %llu KVM_EXIT_MEMORY_FAULTs after which QEMU entered the guest again\n",
				(unsigned long long)retries);
	} else
		fprintf(m, "VMM:           %s (raw KVM ioctls, no QEMU)\n", row->vmm);
	if (!strcmp(row->device, "-"))
		fprintf(m, "Device:        none (a %s stand-in%s)\n", bt_jpath_str(first, "backing", "?"), bar);
	else
		fprintf(m, "Device:        %s %s%s%s%s\n", row->device,
			bt_jpath_str(first, "device.name", ""),
			bt_jpath_str(first, "device.bdf", NULL) ? " at " : "",
			bt_jpath_str(first, "device.bdf", ""), bar);
	fprintf(m, "IOMMU:         %s\n", iommu_of(first));
	fprintf(m, "Arm:           %s\n", row->arm);
	fprintf(m, "Command:       ");
	distinct(r, row, run_field, "command", m);
	fprintf(m, "Runs:          %zu\n", row->nruns);
	bt_report_fleet_words(row, fleet, sizeof(fleet));
	fprintf(m, "Fleet:         %s\n", fleet);
	bt_report_fleet_stops(r, row, "Cut short:     ", m);
	fprintf(m, "Cycles:        %llu, window hits %llu, UR violations %llu\n",
		(unsigned long long)s->cycles,
		(unsigned long long)row->window_hits, (unsigned long long)row->ur_violations);
	fprintf(m, "Duration:      %.1f s of runs\n", row->duration_s);
	fprintf(m, "Outcomes:      ");
	bt_report_outcome_list(row, m);
	fprintf(m, "\n");
	if (s->ttf_n)
		fprintf(m, "First failure: median %.3g ms, p95 %.3g ms, max %.3g ms (%zu runs)\n",
			s->ttf_median_ms, s->ttf_p95_ms, s->ttf_max_ms, s->ttf_n);
	for (i = 0; i < row->nruns; i++) {
		const char *sig = bt_jpath_str(r->runs[row->runs[i]].rec, "signature", NULL);

		if (sig && bt_outcome_failing(r->runs[row->runs[i]].outcome)) {
			fprintf(m, "Signature:     %s\n", sig);
			break;
		}
	}
	fprintf(m, "Bound:         %s\n", words);
	fprintf(m, "Dates:         runs %s to %s; report %s\n", t0 ? t0 : "?", t1 ? t1 : "?", now);
	fprintf(m, "Records:       ");
	distinct(r, row, run_file, NULL, m);
	fclose(m);
	return text;
}
