// SPDX-License-Identifier: GPL-2.0
/* An iteration's record and verdict; the run's summary.json and evidence.txt. */
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

#include "bartoggle/ktaprecords.h"
#include "bartoggle/bdf.h"
#include "bartoggle/bind.h"
#include "bartoggle/compat.h"
#include "bartoggle/config.h"
#include "bartoggle/jpath.h"
#include "bartoggle/kvm.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/recover.h"
#include "bartoggle/stats.h"
#include "bartoggle/sysfs.h"
#include "bartoggle/version.h"
#include "runner.h"

struct json_object *make_record(const struct run_env *env, const struct iteration *it)
{
	const struct bt_config *c = env->cfg;
	struct json_object *rec = bt_record_new("run"), *o;
	char id[8];

	o = bt_json_set_obj(rec, "qemu");
	bt_json_set_str(o, "binary", c->qemu[it->qemu]);
	bt_json_set_str(o, "version", env->qemu_version[it->qemu]);
	bt_json_set_str(o, "accel", env->accel);
	json_object_object_add(o, "build", json_object_get(env->qemu_build[it->qemu]));
	if (it->memory_fault_retries >= 0)
		bt_json_set_u64(o, "memory_fault_retries", it->memory_fault_retries);
	else
		bt_json_set_null(o, "memory_fault_retries");
	o = bt_json_set_obj(rec, "device");
	bt_json_set_str(o, "bdf", c->emulated[0] ? NULL : c->bdf);
	snprintf(id, sizeof(id), "%04x", env->vendor);
	bt_json_set_str(o, "vendor", id);
	snprintf(id, sizeof(id), "%04x", env->device);
	bt_json_set_str(o, "device", id);
	bt_json_set_str(o, "name", env->device_name);
	bt_json_set_u64(o, "bar", 0);
	bt_json_set_u64(o, "bar_size", it->hello ? json_object_get_uint64(json_object_object_get(
				json_object_object_get(it->hello, "device"), "bar_size")) : 0);
	bt_json_set_str(rec, "backing", c->emulated[0] ? "emulated" : "vfio");
	bt_json_set_str(rec, "mode", c->no_mmap ? "race-no-mmap" : "race");
	json_object_object_add(rec, "options", bt_config_json(c));
	bt_record_set_outcome(rec, it->outcome, it->verdict);
	bt_record_set_counts(rec, &it->counts, (uint64_t)(it->duration_s * 1e9));
	json_object_object_add(json_object_object_get(rec, "counts"), "faults",
			       json_object_new_uint64(it->faults));
	bt_record_set_first_failure(rec, it->fail_ms >= 0, it->fail_cycle, it->fail_ms);
	bt_json_set_str(rec, "signature", it->signature[0] ? it->signature : NULL);
	bt_json_set_str(rec, "cause", it->cause[0] ? it->cause : NULL);
	bt_json_set_u64(rec, "iteration", it->number);
	bt_json_set_str(rec, "guest_kernel", env->guest_kernel);
	bt_json_set_str(rec, "ur_check", c->ur_check);
	bt_json_set_bool(rec, "agent_finished", it->finished);
	bt_json_set_str(rec, "vm_status", it->stop_status[0] ? it->stop_status : NULL);
	bt_json_set_str(rec, "qemu_exit", it->qemu_exit[0] ? it->qemu_exit : NULL);
	bt_json_set_str(rec, "error", it->agent_error[0] ? it->agent_error : NULL);
	json_object_object_add(rec, "qmp_events", json_object_get(it->events));
	json_object_object_add(rec, "kmsg", json_object_get(it->kmsg));
	json_object_object_add(rec, "guest_console", json_object_get(it->console));
	json_object_object_add(rec, "forensics", json_object_get(it->forensics));
	bt_json_set_str(rec, "logs", it->dir);
	return rec;
}

void judge(const struct run_env *env, struct iteration *it)
{
	bool strict = !strcmp(env->cfg->ur_check, "strict");

	/* Stopped by a signal before the agent was done: the operator's
	 * doing, unless the VM had failed first. */
	if (run_interrupted && !it->finished && !bt_outcome_failing(it->outcome)) {
		it->outcome = BT_OUTCOME_INTERRUPTED;
		if (!it->signature[0])
			snprintf(it->signature, sizeof(it->signature),
				 "the runner was stopped by SIG%s during the run",
				 sigabbrev_np(run_interrupted) ?: "?");
	} else if (it->outcome == BT_OUTCOME_SURVIVED && !it->finished) {
		it->outcome = BT_OUTCOME_SETUP_ERROR;	/* cut short before done */
	}
	it->verdict = bt_verdict_of(it->outcome, it->counts.window_hits,
				    strict ? it->counts.ur_violations : 0);
}


void note_unsaved(struct totals *t, const char *what, int err)
{
	size_t len = strlen(t->unsaved_what);

	bt_err("could not write %s: %s", what, strerror(-err));
	snprintf(t->unsaved_what + len, sizeof(t->unsaved_what) - len, "%s%s (%s)",
		 len ? ", " : "", what, strerror(-err));
	t->unsaved++;
}

static bool write_or_note(struct totals *t, const char *path, const char *text)
{
	int ret = __bt_write_file_atomic(path, text);

	if (ret)
		note_unsaved(t, path, ret);
	return !ret;
}

void write_pending(const struct run_env *env, const struct iteration *it)
{
	struct json_object *rec = make_record(env, it);
	char path[PATH_MAX + 32];
	int ret;

	bt_pending_prepare(rec);
	snprintf(path, sizeof(path), "%s/%s", it->dir, BT_PENDING_NAME);
	ret = __bt_write_file_atomic(path, json_object_to_json_string_ext(rec,
				     JSON_C_TO_STRING_PRETTY));
	if (ret)
		bt_warn("cannot write %s: a kill during this run would leave no record: %s",
			path, strerror(-ret));
	json_object_put(rec);
}

void record_iteration(const struct run_env *env, const struct iteration *it,
		      const char *records, struct totals *t)
{
	struct json_object *rec = make_record(env, it);
	char path[PATH_MAX + 32], what[PATH_MAX + 64];
	int ret = bt_record_append(records, rec);

	json_object_put(rec);
	if (ret) {
		/* The pending record stays: a later reader with space closes it. */
		snprintf(what, sizeof(what), "%s (run %d)", records, it->number);
		note_unsaved(t, what, ret);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", it->dir, BT_PENDING_NAME);
	unlink(path);
}

const char *run_verdict(const struct run_env *env, const struct totals *t)
{
	const char *v;

	if (!env->cfg->soak[0])
		return t->fail ? "FAIL" : t->other || !t->runs ? "ERROR" : "PASS";
	v = soak_verdict(t);
	return strcmp(v, "PENDING") ? v : "ERROR";
}

void write_ktap_from_records(const struct run_env *env, struct totals *t)
{
	char title[1024], path[PATH_MAX + 32];
	int ret;

	if (env->cfg->soak[0])
		snprintf(title, sizeof(title), "bartoggle-run %s: soak %s, %u session(s): %s",
			 bt_version, env->cfg->soak, env->soak ? env->soak->sessions : 1,
			 bt_record_command());
	else
		snprintf(title, sizeof(title), "bartoggle-run %s: %s", bt_version,
			 bt_record_command());
	ret = __bt_ktap_from_records(env->dir, title);
	if (ret) {
		snprintf(path, sizeof(path), "%s/ktap.txt", env->dir);
		note_unsaved(t, path, ret);
	}
}

void write_summary(const struct run_env *env, struct totals *t)
{
	const struct bt_config *c = env->cfg;
	struct json_object *s = json_object_new_object();
	char path[PATH_MAX + 32], *text = NULL, words[32], now[32];
	struct utsname uts;
	size_t len = 0;
	double upper;
	FILE *m;
	int i;

	bt_utc_now(now, sizeof(now));
	bt_json_set_str(s, "schema", "bartoggle.summary/1");
	bt_json_set_str(s, "time", now);
	bt_json_set_str(s, "command", bt_record_command());
	bt_json_set_u64(s, "runs", t->runs);
	bt_json_set_u64(s, "pass", t->pass);
	bt_json_set_u64(s, "fail", t->fail);
	bt_json_set_u64(s, "error_or_skip", t->other);
	bt_json_set_u64(s, "cycles", t->cycles);
	bt_json_set_u64(s, "window_hits", t->window_hits);
	bt_json_set_outcome_counts(s, "outcomes", t->by_outcome);
	bt_json_set_str(s, "verdict", run_verdict(env, t));
	bt_json_set_str(s, "host", env->host);
	bt_json_set_double(s, "device_s", t->device_s);
	bt_json_set_u64(s, "interrupted", t->by_outcome[BT_OUTCOME_INTERRUPTED]);
	bt_json_set_u64(s, "host_reset", t->by_outcome[BT_OUTCOME_HOST_RESET]);
	bt_json_set_str(s, "soak", c->soak[0] ? c->soak : NULL);
	if (env->soak)
		bt_json_set_u64(s, "sessions", env->soak->sessions);
	json_object_object_add(s, "config", bt_config_json(c));
	snprintf(path, sizeof(path), "%s/summary.json", env->dir);
	write_or_note(t, path, json_object_to_json_string_ext(s, JSON_C_TO_STRING_PRETTY));
	json_object_put(s);

	m = open_memstream(&text, &len);
	fprintf(m, "bartoggle %s evidence\n\n", bt_version);
	uname(&uts);
	fprintf(m, "Host kernel:    %s %s (KVM_CAP_MEMORY_FAULT_INFO=%d)\n", uts.release,
		uts.version, env->memory_fault_info);
	for (i = 0; i < c->nqemu; i++)
		fprintf(m, "QEMU:           %s %s (%s)\n", c->qemu[i], env->qemu_version[i], env->accel);
	fprintf(m, "Device:         %s %s %s\n", c->emulated[0] ? "emulated" : c->bdf,
		env->device_id, env->device_name);
	fprintf(m, "Guest kernel:   %s\n", env->guest_kernel);
	fprintf(m, "Command:        %s\n", bt_record_command());
	fprintf(m, "Arm:            %s, %s access, width %llu, dwell off/on %llu/%llu us\n",
		c->no_mmap ? "x-no-mmap (trapped)" : "mmap (memslot)", c->access,
		(unsigned long long)c->width, (unsigned long long)c->dwell_off_us,
		(unsigned long long)c->dwell_on_us);
	fprintf(m, "Runs:           %d (%d PASS, %d FAIL, %d other)\n", t->runs, t->pass,
		t->fail, t->other);
	fprintf(m, "Outcomes:      ");
	for (i = 0; i < BT_OUTCOME_NR; i++)
		if (t->by_outcome[i])
			fprintf(m, " %s=%u", bt_outcome_name(i), t->by_outcome[i]);
	fprintf(m, "\nCycles:         %llu, window hits %llu, UR violations %llu (%s)\n",
		(unsigned long long)t->cycles, (unsigned long long)t->window_hits,
		(unsigned long long)t->ur_violations,
		strcmp(c->ur_check, "strict") ? "recorded, not judged" : "judged");
	if (t->cycles) {
		upper = bt_binom_upper(t->failures, t->cycles, 0.95);
		bt_one_in(upper, words, sizeof(words));
		fprintf(m, "Bound:          %llu VM-fatal events in %llu cycles: per-cycle probability "
			"< %.3g (95%% upper, exact), fewer than 1 in %s cycles\n",
			(unsigned long long)t->failures, (unsigned long long)t->cycles, upper, words);
	}
	if (c->soak[0])
		fprintf(m, "Soak:           %s, %u session(s), %.1f device-hours, %u interrupted "
			"iteration(s) (named, not judged)\n", c->soak,
			env->soak ? env->soak->sessions : 1, t->device_s / 3600,
			t->by_outcome[BT_OUTCOME_INTERRUPTED]);
	fprintf(m, "Verdict:        %s\n", run_verdict(env, t));
	fprintf(m, "Date:           %s\n", now);
	fclose(m);
	snprintf(path, sizeof(path), "%s/evidence.txt", env->dir);
	t->evidence_saved = write_or_note(t, path, text);
	free(text);
}
