/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BARTOGGLE_RUNNER_H
#define BARTOGGLE_RUNNER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "bartoggle/bind.h"
#include "bartoggle/config.h"
#include "bartoggle/liveness.h"
#include "bartoggle/outcome.h"
#include "bartoggle/qmp.h"
#include "bartoggle/stats.h"

#define RUN_AGENT_PORT		"org.bartoggle.agent"
#define RUN_MIN_FREE_MB		200
#define RUN_RUNTIME_DIR		"/run/bartoggle"
#define RUN_QEMU_NAME		"bartoggle-run-"	/* + the runner's PID: QEMU's -name */

/* What a whole run shares: resolved once, used by every iteration. */
struct run_env {
	struct bt_config *cfg;
	char dir[PATH_MAX];		/* results/<UTC>-<host> */
	char scripts[PATH_MAX];		/* scripts/ of this tree */
	char image[PATH_MAX];		/* guest image dir */
	char guest_kernel[64];
	char accel[8];
	char device_id[16];		/* "1234:11e8" for the agent */
	char device_name[128];
	uint16_t vendor, device;
	char qemu_version[BT_CONFIG_MAX_QEMU][64];
	struct json_object *qemu_build[BT_CONFIG_MAX_QEMU];	/* bt_qemu_build() */
	int memory_fault_info;		/* -1: unknown */
	char pidfile[PATH_MAX];		/* the running QEMU, for --restore */
	char host[64];			/* [results] host, or the hostname */
	struct soak *soak;		/* the run's heartbeat and resume state */
	bool quiet;
};

/* One VM boot driven to an outcome. */
struct iteration {
	int qemu;			/* index into cfg->qemu */
	int number;			/* 1-based */
	char dir[PATH_MAX];
	enum bt_outcome outcome;
	enum bt_verdict verdict;
	struct bt_counts counts;
	uint64_t faults;
	double run_for_s;		/* the agent's duration: [stress] duration, or
					 * what is left of total_duration; 0: none */
	unsigned progress_lines;	/* in progress.jsonl, since it was thinned */
	/* The VMM's kvm-memory-fault-retries over its vCPUs; -1: it has none */
	int64_t memory_fault_retries;
	bool have_counts;
	bool finished;			/* the agent said done */
	double duration_s;
	double fail_ms;			/* start sent -> failure seen; <0: none */
	uint64_t fail_cycle;
	char signature[512];		/* verbatim evidence line */
	char cause[160];
	char stop_status[32];
	char qemu_exit[64];
	char agent_error[256];
	struct json_object *events;	/* QMP events seen */
	struct json_object *kmsg;	/* host kernel lines of concern */
	struct json_object *hello;	/* the agent's hello */
	struct json_object *forensics;	/* what a silence left, or NULL */
	struct json_object *console;	/* the guest console's beats and trouble */
};

extern volatile int run_interrupted;

/* scripts.c: scripts/ beside the build directory holding this binary, or
 * $BARTOGGLE_SCRIPTS. */
void find_scripts(char *out, size_t len);

/* cli.c: what the command line asked for besides the configuration. */
struct args {
	const char *config;
	const char *journal;		/* NULL: <journal_dir>/<bdf>.json */
	const char *journal_dir;	/* NULL: runtime_dir() */
	bool restore;
	bool preflight;
	bool quiet;
};

void run_usage(FILE *out);
/* 0 to run, 1 when --help was printed, -EINVAL on a usage error (said). */
int run_parse(int argc, char **argv, struct bt_config *c, struct args *a);

/* preflight.c: the number of failed checks; fills @env. */
int preflight(struct run_env *env, const struct bt_host_paths *hp, struct bt_bind_plan *plan);
/* The guest image into <run>/image (or the configured one). 0 or an exit code. */
int build_image(struct run_env *env);

/* vmmstats.c: the fixed QEMU's retries summed over its vCPUs, or -1 (a
 * QEMU without them, or no answer). @other gets the lines meanwhile. */
int64_t vmm_memory_fault_retries(struct bt_qmp *qmp,
				 void (*other)(void *ctx, const char *line), void *ctx);

/* results.c */
struct totals {
	int runs, pass, fail, other;
	unsigned by_outcome[BT_OUTCOME_NR];
	uint64_t cycles, window_hits, ur_violations, failures;
	double device_s;		/* toggling time of the recorded runs */
	/* What could not be written: a failed write is a failed run. */
	int unsaved;
	char unsaved_what[1024];
	bool evidence_saved;
};

/* Note a result that could not be written (said on stderr at once). */
void note_unsaved(struct totals *t, const char *what, int err);
/*
 * The iteration's pending record (outcome interrupted) in its directory:
 * what a later reader records if this runner dies before it does.
 */
void write_pending(const struct run_env *env, const struct iteration *it);
/* Append the iteration's record; then its pending record can go. */
void record_iteration(const struct run_env *env, const struct iteration *it,
		      const char *records, struct totals *t);

struct json_object *make_record(const struct run_env *env, const struct iteration *it);
/* The verdict from the outcome, the window hits and ur_check. */
void judge(const struct run_env *env, struct iteration *it);
void write_summary(const struct run_env *env, struct totals *t);
/* PASS, FAIL or ERROR of the whole run (a soak's over all its sessions). */
const char *run_verdict(const struct run_env *env, const struct totals *t);

void totals_add(struct totals *t, enum bt_outcome outcome, enum bt_verdict verdict,
		const struct bt_counts *counts, double duration_s);
/* ktap.txt anew from records.jsonl: one document over every session. */
void write_ktap_from_records(const struct run_env *env, struct totals *t);

/* soak.c */
struct soak {
	char status_path[PATH_MAX + 16];
	double first_start;		/* epoch s: the soak's clock, over restarts */
	double session_start;
	unsigned sessions;
	uint64_t pos;			/* the next iteration's place in the run */
	struct totals *t;
	const struct iteration *current;
	bool in_flight;
	double current_s;
	uint64_t last_status_ns;
	const char *state;		/* running | finished | stopped */
	int lock_fd;			/* one runner per soak */
};

/*
 * The run's directory: a new <results>/<UTC>-<host>, or a named soak's
 * <results>/<soak>, resumed: its unrecorded iteration closed, @t counted
 * from its records, the clock from its status.json. 0 or an exit code.
 */
int soak_begin(struct run_env *env, struct soak *s, struct totals *t);
/* Is anything left to run: iterations, time, no signal? */
bool soak_has_more(const struct run_env *env);
/* The next iteration into @it, unless the run is over. */
bool soak_next(const struct run_env *env, struct iteration *it);
/* From the VM loop: status.json every few seconds, the service watchdog. */
void soak_beat(const struct run_env *env, const struct iteration *it, double elapsed_s);
/* After an iteration's record: thin and pack what a soak keeps, beat. */
void soak_after_iteration(const struct run_env *env, const struct iteration *it);
/* A soak's verdict: interruptions are named, not judged. */
const char *soak_verdict(const struct totals *t);
void soak_end(const struct run_env *env, const char *state);

/* service.c: systemd's notify protocol; no-ops outside a service. */
void service_ready(const struct run_env *env);
void service_beat(const struct run_env *env, const struct iteration *it, double elapsed_s);
void service_stopping(const char *why);

/* restore.c */
/*
 * Where runners leave what --restore needs (QEMU pid files, journals, locks):
 * /run/bartoggle as root, else $XDG_RUNTIME_DIR/bartoggle, else
 * /tmp/bartoggle-<uid>; created.
 */
void runtime_dir(char *out, size_t len);
/* <dir>/qemu-<runner pid>.pid */
void qemu_pidfile_path(const char *dir, char *out, size_t len);
void write_qemu_pidfile(const char *pidfile, pid_t pid);
/* Stop every QEMU whose runner is gone (the pid files in @dir). */
void stop_orphans(const char *dir);
/* The runner's own journal, at its end: replay it. An exit code. */
int restore(const struct bt_host_paths *hp, const char *journal);
/*
 * --restore: stop QEMUs whose runner is gone, then replay @journal, or the
 * journal of @bdf, or every journal in @dir that no live runner holds.
 */
int restore_all(const struct bt_host_paths *hp, const char *dir, const char *bdf,
		const char *journal);
void make_dir_for(const char *path);

/* "bartoggle-run report ...": @argv[0] is "report". */
int report_main(int argc, char **argv);
/* "bartoggle-run status ...": status.c */
int status_main(int argc, char **argv);


/* What collect_forensics() found. */
struct hang_report {
	struct json_object *files;	/* names in <run>/forensics/ */
	char vm_status[32];		/* QMP query-status, "" when unanswered */
	bool answered_qmp;
	uint64_t sysrq_bytes;		/* the console after the sysrq keys */
	bool sysrq_answered;		/* the guest printed its dumps */
	uint64_t nmi_bytes;		/* its panic dump after an NMI */
	bool nmi_answered;
	int nmis;			/* NMIs sent */
};

/*
 * Before a silent VM is stopped: QMP status and vCPUs, registers, sysrq
 * t/w/l dumps, into <run_dir>/forensics/. QMP lines that are not answers to
 * these commands go to @other.
 */
void collect_forensics(struct bt_qmp *qmp, struct bt_console *con, const char *run_dir,
		       void (*other)(void *ctx, const char *line), void *ctx,
		       struct hang_report *out);

/* Boot, drive the agent, classify. Never exits the process. */
void run_iteration(const struct run_env *env, struct iteration *it);

#endif
