// SPDX-License-Identifier: GPL-2.0
/*
 * bartoggle-run: the reporter's scenario on the user's host. Preflight, safe
 * bind to vfio-pci (journaled, restored on every exit path), a guest image
 * with the agent, then for every QEMU binary and iteration: boot, toggle,
 * classify, record. It never dies mid-soak: every failure is an outcome.
 */
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
#include "bartoggle/recover.h"
#include "bartoggle/stats.h"
#include "bartoggle/sysfs.h"
#include "bartoggle/version.h"
#include "runner.h"

volatile int run_interrupted;

/* Which signal stopped the run: named in the interrupted record. */
static void on_signal(int sig)
{
	run_interrupted = sig;
}

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} subcommands[] = {
	{ "report", report_main },
	{ "status", status_main },
};

int main(int argc, char **argv)
{
	static struct bt_config cfg;
	static struct run_env env;
	struct sigaction sa = { .sa_handler = on_signal };
	struct bt_host_paths hp;
	struct bt_bind_plan plan = { 0 };
	struct args a = { 0 };
	char rundir[PATH_MAX];
	struct bt_journal_lock lock = { .n = 0 };
	char journal[PATH_MAX];
	struct totals t = { 0 };
	char err[512], host[64] = "host", path[PATH_MAX + 64];
	static struct soak soak;
	struct iteration it;
	const char *verdict;
	struct bt_ktap k;
	bool bound = false, more;
	FILE *ktap;
	size_t i;
	int ret;

	bt_log_init(argv[0], BT_LOG_INFO);
	for (i = 0; argc > 1 && i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].main(argc - 1, argv + 1);
	bt_config_default(&cfg);
	ret = run_parse(argc, argv, &cfg, &a);
	if (ret)
		return ret > 0 ? BT_EXIT_PASS : BT_EXIT_USAGE;
	bt_record_set_argv(argc, argv);
	bt_host_paths_default(&hp);
	if (a.journal_dir) {
		snprintf(rundir, sizeof(rundir), "%s", a.journal_dir);
		mkdir(rundir, 0700);
	} else {
		runtime_dir(rundir, sizeof(rundir));
	}
	a.journal_dir = rundir;
	if (a.restore) {
		/* Whatever a killed runner left: its QEMU, its driver binding
		 * and its unrecorded iterations. */
		if (bt_recover_tree(cfg.results, "restore", stderr) < 0)
			bt_warn("could not close the unrecorded runs under %s", cfg.results);
		return restore_all(&hp, a.journal_dir, cfg.bdf[0] ? cfg.bdf : getenv("BARTOGGLE_BDF"),
				   a.journal);
	}
	if (!cfg.bdf[0] && !cfg.emulated[0] && getenv("BARTOGGLE_BDF"))
		snprintf(cfg.bdf, sizeof(cfg.bdf), "%s", getenv("BARTOGGLE_BDF"));
	if (bt_config_validate(&cfg, err, sizeof(err))) {
		bt_err("%s (try --help)", err);
		return BT_EXIT_USAGE;
	}
	env.cfg = &cfg;
	env.quiet = a.quiet;
	find_scripts(env.scripts, sizeof(env.scripts));

	if (preflight(&env, &hp, &plan)) {
		bt_err("preflight failed: nothing was changed");
		return BT_EXIT_SKIP;
	}
	if (a.preflight)
		return BT_EXIT_PASS;

	gethostname(host, sizeof(host) - 1);
	snprintf(env.host, sizeof(env.host), "%s", cfg.host[0] ? cfg.host : host);
	bt_record_set_host_name(env.host);
	ret = soak_begin(&env, &soak, &t);
	if (ret)
		return ret;
	/* A soak started again after its end (a reboot, an enabled unit):
	 * its summary is written again, nothing is bound or booted. */
	more = soak_has_more(&env);
	if (!more)
		bt_info("soak %s is over (%d run(s) recorded): nothing left to run", cfg.soak, t.runs);

	/* Iterations an earlier runner started and never recorded. */
	if (bt_recover_tree(cfg.results, "runner", stderr) < 0)
		bt_warn("could not close the unrecorded runs under %s", cfg.results);

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Every run, emulated too: where --restore finds this run's QEMU. */
	qemu_pidfile_path(rundir, env.pidfile, sizeof(env.pidfile));

	if (!cfg.emulated[0] && more) {
		if (a.journal)
			snprintf(journal, sizeof(journal), "%s", a.journal);
		else
			bt_journal_path(a.journal_dir, cfg.bdf, journal, sizeof(journal));
		make_dir_for(journal);
		/* One runner per device: held until this process ends. */
		if (bt_journal_lock(a.journal_dir, &plan, &lock, err, sizeof(err))) {
			bt_err("%s", err);
			return BT_EXIT_SKIP;
		}
		if (bt_bind_apply(&hp, &plan, journal, stderr, err, sizeof(err))) {
			bt_err("%s", err);
			restore(&hp, journal);
			bt_journal_unlock(&lock);
			return BT_EXIT_FAIL;
		}
		bound = true;
	}

	ret = more ? build_image(&env) : 0;
	if (ret)
		goto out;

	service_ready(&env);
	soak_beat(&env, NULL, 0);
	/* A run streams its KTAP as it goes, to be followed live; at the end
	 * every KTAP is written again from the records, so that the plan and
	 * the results agree even when the run was stopped early. A soak's is
	 * written only then: one document over every restart. */
	ktap = NULL;
	if (!cfg.soak[0]) {
		snprintf(path, sizeof(path), "%s/ktap.txt", env.dir);
		ktap = fopen(path, "w");
		if (!ktap) {
			note_unsaved(&t, path, -errno);
			ktap = stderr;
		}
		bt_ktap_init(&k, ktap, cfg.nqemu * (int)cfg.iterations);
		bt_ktap_diag(&k, "bartoggle-run %s: %s", bt_version, bt_record_command());
	}
	snprintf(path, sizeof(path), "%s/records.jsonl", env.dir);
	bt_info("results in %s", env.dir);

	while (soak_next(&env, &it)) {
		mkdir(it.dir, 0755);
		write_pending(&env, &it);
		run_iteration(&env, &it);
		judge(&env, &it);
		record_iteration(&env, &it, path, &t);
		if (ktap)
			bt_ktap_result(&k, it.verdict, "%s %s run%d: %s, %llu cycles, %llu window hits",
				       cfg.qemu[it.qemu], env.qemu_version[it.qemu], it.number,
				       bt_outcome_name(it.outcome),
				       (unsigned long long)it.counts.cycles,
				       (unsigned long long)it.counts.window_hits);
		if (ktap && it.signature[0])
			bt_ktap_diag(&k, "%s", it.signature);
		bt_info("%s run%d: %s %s%s%s", env.qemu_version[it.qemu], it.number,
			bt_verdict_name(it.verdict), bt_outcome_name(it.outcome),
			it.signature[0] ? ": " : "", it.signature);
		totals_add(&t, it.outcome, it.verdict, &it.counts, it.duration_s);
		soak_after_iteration(&env, &it);
		json_object_put(it.events);
		json_object_put(it.kmsg);
		json_object_put(it.hello);
		json_object_put(it.forensics);
		json_object_put(it.console);
	}
	if (ktap) {
		bt_ktap_totals(&k);
		if (ktap != stderr && (ferror(ktap) | fclose(ktap))) {
			snprintf(path, sizeof(path), "%s/ktap.txt", env.dir);
			note_unsaved(&t, path, -(errno ? errno : EIO));
		}
	}
	write_ktap_from_records(&env, &t);
	write_summary(&env, &t);
	verdict = run_verdict(&env, &t);
	ret = strcmp(verdict, "PASS") ? BT_EXIT_FAIL : BT_EXIT_PASS;
	if (run_interrupted)
		bt_warn("interrupted: %d run(s) recorded, results kept%s", t.runs,
			cfg.soak[0] ? "; the soak resumes where it stopped when started again" : "");
	soak_end(&env, run_interrupted ? "stopped" : "finished");
	service_stopping(run_interrupted ? "stopped by a signal" : verdict);
	/* Never a PASS whose evidence is missing. */
	fprintf(stderr, "\nverdict: %s (%s%d run(s): %d PASS, %d FAIL, %d other)\n",
		t.unsaved && !t.fail ? "ERROR" : verdict,
		t.unsaved && !t.fail ? "results not all saved; " : "", t.runs,
		t.pass, t.fail, t.other);
	if (t.evidence_saved)
		fprintf(stderr, "evidence: %s/evidence.txt\n", env.dir);
	if (t.unsaved) {
		ret = BT_EXIT_UNSAVED;
		fprintf(stderr, "results NOT saved: %s\n", t.unsaved_what);
	}
out:
	if (bound && restore(&hp, journal))
		ret = BT_EXIT_FAIL;
	bt_journal_unlock(&lock);
	return ret;
}
