// SPDX-License-Identifier: GPL-2.0
/*
 * bartoggle-run report: every records.jsonl under the given directories (or
 * the given files) into results/report/: summary.txt, summary.json, one
 * evidence file per row, KTAP, and gnuplot's plots.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bartoggle/log.h"
#include "bartoggle/recover.h"
#include "bartoggle/report.h"
#include "runner.h"

#define DEFAULT_RESULTS	"results"
#define DEFAULT_OUT	"results/report"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: bartoggle-run report [--out DIR] [--no-plots] [--quiet] [DIR|FILE...]\n\n"
		"Reads every records.jsonl under each DIR (default %s) and each FILE given,\n"
		"groups the records per kernel x VMM x device x arm and writes to --out:\n"
		"summary.txt (the table, verdict first), summary.json, evidence-<row>.txt\n"
		"(plain text for a patch email), ktap.txt, and PNG + SVG plots: survival.*\n"
		"(Kaplan-Meier, runs alive vs cycles), ttf.* (time to first failure), rate.*\n"
		"(toggle rate over time of the longest runs). Bad lines are reported as\n"
		"file:line and skipped. KTAP on stdout, the table on stderr.\n\n"
		"  --out=DIR      where to write (default %s)\n"
		"  --no-plots     skip gnuplot\n"
		"  --quiet        no table on stderr\n"
		"  --help         this help\n\n"
		"Exit: 0 report written (verdicts are in it), 1 a file could not be written or\n"
		"plotted, 2 usage, 4 no records found.\n", DEFAULT_RESULTS, DEFAULT_OUT);
}

/* gnuplot and jq in a script: stdout is ours (KTAP), theirs goes to stderr. */
static int plot(const char *outdir)
{
	char scripts[PATH_MAX], script[PATH_MAX + 32];
	int status;
	pid_t pid;

	find_scripts(scripts, sizeof(scripts));
	snprintf(script, sizeof(script), "%s/report-plots.sh", scripts);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execl(script, script, outdir, (char *)NULL);
		bt_err("cannot run %s: %s", script, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int report_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "no-plots", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char *const default_inputs[] = { DEFAULT_RESULTS };
	const char *outdir = DEFAULT_OUT;
	const char *const *inputs;
	int ninputs;
	bool plots = true, quiet = false;
	struct bt_report r;
	int opt, ret, i;

	optind = 0;	/* glibc: a full restart (1 keeps its pointer into an earlier argv) */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			outdir = optarg;
			break;
		case 'n':
			plots = false;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return BT_EXIT_PASS;
		case ':':
			bt_err("%s needs a value (try --help)", argv[optind - 1]);
			return BT_EXIT_USAGE;
		default:
			bt_err("unknown option '%s' (try report --help)", argv[optind - 1]);
			return BT_EXIT_USAGE;
		}
	}

	if (optind == argc) {
		inputs = default_inputs;
		ninputs = 1;
	} else {
		inputs = (const char *const *)argv + optind;
		ninputs = argc - optind;
	}
	bt_report_init(&r, stderr);
	for (i = 0; i < ninputs; i++) {
		const char *in = inputs[i];
		struct stat st;

		if (stat(in, &st)) {
			bt_err("%s: %s", in, strerror(errno));
			bt_report_cleanup(&r);
			return BT_EXIT_USAGE;
		}
		/* A run whose runner died is closed first, so that it counts. */
		if (S_ISDIR(st.st_mode) && bt_recover_tree(in, "report", stderr) < 0)
			bt_warn("%s: could not close the unrecorded runs", in);
		if (S_ISDIR(st.st_mode))
			__bt_report_add_dir(&r, in);
		else
			__bt_report_add_file(&r, in);
	}
	bt_report_finish(&r);
	if (!r.nruns) {
		bt_err("no usable records in %zu file(s): nothing to report (make demo or "
		       "make check write some)", r.nfiles);
		bt_report_cleanup(&r);
		return BT_EXIT_SKIP;
	}
	ret = __bt_report_write_all(&r, outdir);
	if (ret) {
		bt_err("cannot write the report in %s: %s", outdir, strerror(-ret));
		bt_report_cleanup(&r);
		return BT_EXIT_FAIL;
	}
	bt_report_print_ktap(&r, stdout);
	if (!quiet) {
		fputc('\n', stderr);
		bt_report_print_table(&r, stderr);
		fputc('\n', stderr);
	}
	ret = plots ? plot(outdir) : 0;
	if (ret == BT_EXIT_SKIP)
		bt_warn("no plots: gnuplot or jq is missing (make deps installs them)");
	else if (ret)
		bt_err("plotting failed (exit %d)", ret);
	fprintf(stderr, "verdict: %s (%zu rows, %zu records, %zu lines skipped)\n"
		"report: %s/summary.txt\n", bt_verdict_name(bt_report_verdict(&r)), r.nrows,
		r.nruns, r.nissues, outdir);
	bt_report_cleanup(&r);
	return ret && ret != BT_EXIT_SKIP ? BT_EXIT_FAIL : BT_EXIT_PASS;
}
