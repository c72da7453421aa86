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
#include "bartoggle/stats.h"
#include "bartoggle/sysfs.h"
#include "bartoggle/version.h"
#include "runner.h"

#define DEFAULT_JOURNAL	"/run/bartoggle/journal.json"
#define MIN_FREE_MB	200

volatile int run_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	run_interrupted = 1;
}

enum { OPT_CONFIG = 1000, OPT_RESTORE, OPT_JOURNAL, OPT_PREFLIGHT, OPT_SET,
       OPT_QUIET, OPT_HELP };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: bartoggle-run [--config FILE] [options]\n"
		"       bartoggle-run --restore [--journal FILE]\n"
		"       bartoggle-run report [--help] [DIR|FILE...]\n\n"
		"Boots QEMU with the device assigned (or QEMU's emulated edu), runs\n"
		"bartoggle-agent in the guest to toggle PCI_COMMAND.MEM while hammering the BAR,\n"
		"and classifies how each VM ends. Results: <results>/<UTC>-<host>/.\n\n"
		"  --config=FILE          INI file ([device] [qemu] [guest] [stress] [results])\n"
		"  --set=SECTION.KEY=V    any INI key from the command line\n"
		"  --preflight            check the host and stop\n"
		"  --restore              put back the drivers recorded in the journal\n"
		"  --journal=FILE         restore journal (default %s)\n"
		"  --quiet                no progress lines\n"
		"  --help                 this help\n"
		"Settings (command line over file over defaults):\n", DEFAULT_JOURNAL);
	bt_config_usage(out);
	fprintf(out,
		"\nExit: 0 every run PASS, 1 any FAIL or ERROR, 2 usage, 4 skip (host cannot run\n"
		"it, or the device is unsafe to take).\n");
}

struct args {
	const char *config;
	const char *journal;
	bool restore;
	bool preflight;
	bool quiet;
};

static int parse(int argc, char **argv, struct bt_config *c, struct args *a)
{
	int n = bt_config_nr_options(), i, opt, idx;
	struct option *longopts = calloc(n + 8, sizeof(*longopts));
	char err[512];
	int ret = 0;

	BT_ASSERT(longopts, "out of memory");
	for (i = 0; i < n; i++)
		longopts[i] = (struct option){ bt_config_option_name(i),
			bt_config_option_has_arg(i) ? required_argument : no_argument, NULL, i };
	longopts[n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	longopts[n++] = (struct option){ "restore", no_argument, NULL, OPT_RESTORE };
	longopts[n++] = (struct option){ "journal", required_argument, NULL, OPT_JOURNAL };
	longopts[n++] = (struct option){ "preflight", no_argument, NULL, OPT_PREFLIGHT };
	longopts[n++] = (struct option){ "set", required_argument, NULL, OPT_SET };
	longopts[n++] = (struct option){ "quiet", no_argument, NULL, OPT_QUIET };
	longopts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };

	/* Pass 1: the file, so that the command line can override it. */
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", longopts, &idx)) != -1) {
		if (opt == OPT_HELP) {
			usage(stdout);
			ret = 1;
			goto out;
		}
		if (opt == OPT_CONFIG)
			a->config = optarg;
	}
	if (a->config && bt_config_load(c, a->config, err, sizeof(err))) {
		bt_err("%s", err);
		ret = -EINVAL;
		goto out;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", longopts, &idx)) != -1) {
		char name[128], *eq;

		switch (opt) {
		case OPT_CONFIG:
			break;
		case OPT_RESTORE:
			a->restore = true;
			break;
		case OPT_JOURNAL:
			a->journal = optarg;
			break;
		case OPT_PREFLIGHT:
			a->preflight = true;
			break;
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_SET:
			snprintf(name, sizeof(name), "%s", optarg);
			eq = strchr(name, '=');
			if (!eq || !strchr(name, '.')) {
				bt_err("--set=%s: want SECTION.KEY=VALUE (try --help)", optarg);
				ret = -EINVAL;
				goto out;
			}
			*eq = '\0';
			if (bt_config_set_option(c, name, eq + 1, true, err, sizeof(err))) {
				bt_err("--set: %s", err);
				ret = -EINVAL;
				goto out;
			}
			break;
		case ':':
			bt_err("%s needs a value (try --help)", argv[optind - 1]);
			ret = -EINVAL;
			goto out;
		case '?':
			bt_err("unknown option '%s' (try --help)", argv[optind - 1]);
			ret = -EINVAL;
			goto out;
		default:
			if (bt_config_set_option(c, bt_config_option_name(opt),
						 optarg ? optarg : "", true, err, sizeof(err))) {
				bt_err("--%s: %s", bt_config_option_name(opt), err);
				ret = -EINVAL;
				goto out;
			}
		}
	}
	if (optind < argc) {
		bt_err("unexpected argument '%s' (try --help)", argv[optind]);
		ret = -EINVAL;
	}
out:
	free(longopts);
	return ret;
}

void find_scripts(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *env = getenv("BARTOGGLE_SCRIPTS");

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	self[n > 0 ? n : 0] = '\0';
	snprintf(out, len, "%s/../scripts", dirname(self));
}

static int check(bool ok, const char *what, const char *detail, const char *fix)
{
	fprintf(stderr, "preflight: %-4s %-26s %s\n", ok ? "ok" : "FAIL", what, detail);
	if (!ok && fix)
		fprintf(stderr, "preflight:      fix: %s\n", fix);
	return ok ? 0 : 1;
}

/* First line of `cmd --version`. */
static void qemu_version(const char *qemu, char *out, size_t len)
{
	char cmd[PATH_MAX + 32], line[256] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", qemu);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(line, sizeof(line), p))
			line[0] = '\0';
		pclose(p);
	}
	line[strcspn(line, "\n")] = '\0';
	/* "QEMU emulator version 7.2.22 (Debian ...)" -> "7.2.22" */
	if (sscanf(line, "QEMU emulator version %63s", out) != 1)
		snprintf(out, len, "%s", "");
}

static bool host_is_pvm(void)
{
	struct stat st;

	return !stat("/sys/module/kvm_pvm", &st);
}

/* Vendor/device name through libpci's ID database, for the evidence. */
static void pci_name(uint16_t vendor, uint16_t device, char *out, size_t len)
{
	struct pci_access *pacc = pci_alloc();

	out[0] = '\0';
	if (!pacc)
		return;
	pci_init(pacc);
	pci_lookup_name(pacc, out, len, PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE,
			vendor, device);
	pci_cleanup(pacc);
}

static int mkdir_p(const char *path)
{
	char p[PATH_MAX], *s;

	snprintf(p, sizeof(p), "%s", path);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(p, 0755) && errno != EEXIST ? -errno : 0;
}

static int preflight(struct run_env *env, const struct bt_host_paths *hp,
		     struct bt_bind_plan *plan)
{
	struct bt_config *c = env->cfg;
	char detail[1100], why[1024];
	struct statvfs vfs;
	struct utsname uts;
	int fails = 0, kvm, i;

	uname(&uts);
	check(true, "host kernel", uts.release, NULL);
	kvm = bt_kvm_probe_cap(KVM_CAP_MEMORY_FAULT_INFO);
	env->memory_fault_info = kvm < 0 ? -1 : kvm;
	if (kvm < 0)
		snprintf(detail, sizeof(detail), "%s", strerror(-kvm));
	else
		snprintf(detail, sizeof(detail), "usable, KVM_CAP_MEMORY_FAULT_INFO=%d", kvm);
	if (!c->emulated[0])
		fails += check(kvm >= 0, "/dev/kvm", detail,
			       "load kvm_intel or kvm_amd and run as root");
	else
		check(true, "/dev/kvm", kvm >= 0 ? detail : "absent (TCG will be used)", NULL);

	if (!strcmp(c->accel, "auto"))
		snprintf(env->accel, sizeof(env->accel), "%s",
			 kvm >= 0 && !host_is_pvm() ? "kvm" : "tcg");
	else
		snprintf(env->accel, sizeof(env->accel), "%s", c->accel);
	snprintf(detail, sizeof(detail), "%s%s", env->accel,
		 host_is_pvm() && !strcmp(c->accel, "auto") ?
		 " (PVM host: stock guest kernels do not run under its KVM)" : "");
	check(true, "accelerator", detail, NULL);
	if (!strcmp(env->accel, "kvm") && kvm < 0)
		fails += check(false, "accelerator", "kvm asked for, /dev/kvm unusable",
			       "--accel=tcg, or make /dev/kvm usable");

	for (i = 0; i < c->nqemu; i++) {
		qemu_version(c->qemu[i], env->qemu_version[i], sizeof(env->qemu_version[i]));
		snprintf(detail, sizeof(detail), "%s %s", c->qemu[i],
			 env->qemu_version[i][0] ? env->qemu_version[i] : "(does not run)");
		fails += check(env->qemu_version[i][0], "QEMU", detail,
			       "apt-get install qemu-system-x86, or fix [qemu] binary");
	}

	if (c->emulated[0]) {
		env->vendor = 0x1234;
		env->device = 0x11e8;
		snprintf(env->device_id, sizeof(env->device_id), "1234:11e8");
		snprintf(env->device_name, sizeof(env->device_name),
			 "QEMU edu (emulated, no vfio)");
		check(true, "device", "emulated edu 1234:11e8: nothing on the host is touched", NULL);
	} else {
		struct bt_pci_dev dev;
		struct bt_bdf bdf;
		char path[PATH_MAX];
		struct stat st;

		snprintf(path, sizeof(path), "%s/kernel/iommu_groups/0", hp->sys);
		fails += check(!stat(path, &st), "IOMMU", stat(path, &st) ? "no IOMMU groups" :
			       "enabled", "boot with intel_iommu=on (Intel) or amd_iommu=on, and VT-d/AMD-Vi on in firmware");
		bt_bdf_parse(c->bdf, &bdf);
		if (bt_pci_dev_init(&dev, hp->sys, &bdf)) {
			fails += check(false, "device", c->bdf, "lspci -D lists what exists");
		} else {
			env->vendor = dev.vendor;
			env->device = dev.device;
			snprintf(env->device_id, sizeof(env->device_id), "%04x:%04x",
				 dev.vendor, dev.device);
			pci_name(dev.vendor, dev.device, env->device_name, sizeof(env->device_name));
			snprintf(detail, sizeof(detail), "%s %s %s, driver %s, IOMMU group %d",
				 c->bdf, env->device_id, env->device_name,
				 dev.driver[0] ? dev.driver : "none", dev.iommu_group);
			check(true, "device", detail, NULL);
			if (bt_bind_check(hp, c->bdf, c->force_group, plan, why, sizeof(why))) {
				char *line, *save = NULL;

				for (line = strtok_r(why, "\n", &save); line;
				     line = strtok_r(NULL, "\n", &save))
					fails += check(false, "safe to take", line,
						       "choose another device; nothing was changed");
			} else {
				snprintf(detail, sizeof(detail), "%d device(s) to bind to vfio-pci",
					 plan->n);
				check(true, "safe to take", detail, NULL);
			}
		}
	}

	if (!mkdir_p(c->results) && !statvfs(c->results, &vfs)) {
		uint64_t mb = (uint64_t)vfs.f_bavail * vfs.f_frsize >> 20;

		snprintf(detail, sizeof(detail), "%llu MiB free in %s", (unsigned long long)mb,
			 c->results);
		fails += check(mb >= MIN_FREE_MB, "disk for results", detail,
			       "free space or choose [results] dir");
	} else {
		fails += check(false, "disk for results", c->results, "create it or fix [results] dir");
	}
	return fails;
}

static int build_image(struct run_env *env)
{
	const struct bt_config *c = env->cfg;
	char cmd[4 * PATH_MAX], agent[PATH_MAX], self[PATH_MAX], kernel[PATH_MAX];
	char modroot[PATH_MAX + 16] = "";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct utsname uts;
	FILE *f;
	int ret;

	self[n > 0 ? n : 0] = '\0';
	snprintf(agent, sizeof(agent), "%s/bartoggle-agent", dirname(self));
	snprintf(env->image, sizeof(env->image), "%s/image", env->dir);
	if (c->image[0]) {
		snprintf(env->image, sizeof(env->image), "%s", c->image);
		goto release;
	}
	snprintf(kernel, sizeof(kernel), "%s", c->kernel);
	if (!strcmp(c->kernel, "host")) {
		uname(&uts);
		snprintf(kernel, sizeof(kernel), "/boot/vmlinuz-%s", uts.release);
		snprintf(modroot, sizeof(modroot), "--modroot /");
	} else if (c->modroot[0]) {
		snprintf(modroot, sizeof(modroot), "--modroot '%s'", c->modroot);
	}
	snprintf(cmd, sizeof(cmd),
		 "'%s/guest-image.sh' --kernel '%s' %s --out '%s' --init '%s/guest/agent-init.sh' "
		 "--bin '%s' --module virtio_pci --module virtio_console --module pvpanic_pci "
		 ">'%s/image.log' 2>&1",
		 env->scripts, kernel, modroot, env->image, env->scripts, agent, env->dir);
	ret = system(cmd);
	if (!WIFEXITED(ret) || WEXITSTATUS(ret)) {
		bt_err("building the guest image failed (exit %d); see %s/image.log",
		       WIFEXITED(ret) ? WEXITSTATUS(ret) : -1, env->dir);
		return WIFEXITED(ret) && WEXITSTATUS(ret) == 4 ? BT_EXIT_SKIP : BT_EXIT_FAIL;
	}
release:
	snprintf(cmd, sizeof(cmd), "%s/kernel-release", env->image);
	f = fopen(cmd, "r");
	if (!f || !fgets(env->guest_kernel, sizeof(env->guest_kernel), f))
		snprintf(env->guest_kernel, sizeof(env->guest_kernel), "unknown");
	if (f)
		fclose(f);
	env->guest_kernel[strcspn(env->guest_kernel, "\n")] = '\0';
	return 0;
}

static struct json_object *make_record(const struct run_env *env, const struct iteration *it)
{
	const struct bt_config *c = env->cfg;
	struct json_object *rec = bt_record_new("run"), *o;
	char id[8];

	o = bt_json_set_obj(rec, "qemu");
	bt_json_set_str(o, "binary", c->qemu[it->qemu]);
	bt_json_set_str(o, "version", env->qemu_version[it->qemu]);
	bt_json_set_str(o, "accel", env->accel);
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

static void judge(const struct run_env *env, struct iteration *it)
{
	bool strict = !strcmp(env->cfg->ur_check, "strict");

	if (it->outcome == BT_OUTCOME_SURVIVED && !it->finished)
		it->outcome = BT_OUTCOME_SETUP_ERROR;	/* interrupted before done */
	it->verdict = bt_verdict_of(it->outcome, it->counts.window_hits,
				    strict ? it->counts.ur_violations : 0);
}

struct totals {
	int runs, pass, fail, other;
	unsigned by_outcome[BT_OUTCOME_NR];
	uint64_t cycles, window_hits, ur_violations, failures;
};

static void write_or_warn(const char *path, const char *text)
{
	int ret = __bt_write_file_atomic(path, text);

	if (ret)
		bt_err("cannot write %s: %s", path, strerror(-ret));
}

static void write_summary(const struct run_env *env, const struct totals *t)
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
	bt_json_set_str(s, "verdict", t->fail ? "FAIL" : t->other ? "ERROR" : "PASS");
	json_object_object_add(s, "config", bt_config_json(c));
	snprintf(path, sizeof(path), "%s/summary.json", env->dir);
	write_or_warn(path, json_object_to_json_string_ext(s, JSON_C_TO_STRING_PRETTY));
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
	fprintf(m, "Verdict:        %s\n", t->fail ? "FAIL" : t->other ? "ERROR" : "PASS");
	fprintf(m, "Date:           %s\n", now);
	fclose(m);
	snprintf(path, sizeof(path), "%s/evidence.txt", env->dir);
	write_or_warn(path, text);
	free(text);
}

static void pidfile_for(const char *journal, char *out, size_t len)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", journal);
	snprintf(out, len, "%s/qemu.pid", dirname(dir));
}

static int restore(const struct bt_host_paths *hp, const char *journal)
{
	char err[512], pidfile[PATH_MAX];
	int ret;

	/* vfio-pci cannot let go of a device a QEMU still holds. */
	pidfile_for(journal, pidfile, sizeof(pidfile));
	stop_orphan_qemu(pidfile);
	ret = bt_bind_restore(hp, journal, stderr, err, sizeof(err));

	if (ret == -ENOENT) {
		bt_info("%s", err);
		return BT_EXIT_PASS;
	}
	if (ret) {
		bt_err("restore: %s", err);
		return BT_EXIT_FAIL;
	}
	bt_info("restored the drivers recorded in %s", journal);
	return BT_EXIT_PASS;
}

static void make_dir_for(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0700);
}

int main(int argc, char **argv)
{
	static struct bt_config cfg;
	static struct run_env env;
	struct sigaction sa = { .sa_handler = on_signal };
	struct bt_host_paths hp;
	struct bt_bind_plan plan = { 0 };
	struct args a = { .journal = DEFAULT_JOURNAL };
	struct totals t = { 0 };
	char err[512], host[64] = "host", now[32], path[PATH_MAX + 64];
	struct bt_ktap k;
	bool bound = false;
	FILE *ktap;
	int ret, i, q;

	bt_log_init(argv[0], BT_LOG_INFO);
	if (argc > 1 && !strcmp(argv[1], "report"))
		return report_main(argc - 1, argv + 1);
	bt_config_default(&cfg);
	ret = parse(argc, argv, &cfg, &a);
	if (ret)
		return ret > 0 ? BT_EXIT_PASS : BT_EXIT_USAGE;
	bt_record_set_argv(argc, argv);
	bt_host_paths_default(&hp);
	if (a.restore)
		return restore(&hp, a.journal);
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
	bt_utc_now(now, sizeof(now));
	for (i = 0; now[i]; i++)
		if (now[i] == ':' || now[i] == '-')
			memmove(now + i, now + i + 1, strlen(now + i));
	snprintf(env.dir, sizeof(env.dir), "%s/%s-%s", cfg.results, now, host);
	if (mkdir(env.dir, 0755) && errno != EEXIST) {
		bt_err("cannot create %s: %s", env.dir, strerror(errno));
		return BT_EXIT_FAIL;
	}

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!cfg.emulated[0]) {
		make_dir_for(a.journal);
		pidfile_for(a.journal, env.pidfile, sizeof(env.pidfile));
		if (bt_bind_apply(&hp, &plan, a.journal, stderr, err, sizeof(err))) {
			bt_err("%s", err);
			restore(&hp, a.journal);
			return BT_EXIT_FAIL;
		}
		bound = true;
	}

	ret = build_image(&env);
	if (ret)
		goto out;

	snprintf(path, sizeof(path), "%s/ktap.txt", env.dir);
	ktap = fopen(path, "w");
	if (!ktap)
		ktap = stderr;
	bt_ktap_init(&k, ktap, cfg.nqemu * (int)cfg.iterations);
	bt_ktap_diag(&k, "bartoggle-run %s: %s", bt_version, bt_record_command());
	snprintf(path, sizeof(path), "%s/records.jsonl", env.dir);
	bt_info("results in %s", env.dir);

	for (q = 0; q < cfg.nqemu && !run_interrupted; q++) {
		for (i = 1; i <= (int)cfg.iterations && !run_interrupted; i++) {
			struct iteration it = { .qemu = q, .number = i };
			struct json_object *rec;

			snprintf(it.dir, sizeof(it.dir), "%s/qemu%d-run%d", env.dir, q + 1, i);
			run_iteration(&env, &it);
			judge(&env, &it);
			rec = make_record(&env, &it);
			if (bt_record_append(path, rec))
				bt_err("could not append to %s: %s", path, strerror(errno));
			json_object_put(rec);
			bt_ktap_result(&k, it.verdict, "%s %s #%d: %s, %llu cycles, %llu window hits",
				       cfg.qemu[q], env.qemu_version[q], i,
				       bt_outcome_name(it.outcome),
				       (unsigned long long)it.counts.cycles,
				       (unsigned long long)it.counts.window_hits);
			if (it.signature[0])
				bt_ktap_diag(&k, "%s", it.signature);
			bt_info("%s #%d: %s %s%s%s", env.qemu_version[q], i,
				bt_verdict_name(it.verdict), bt_outcome_name(it.outcome),
				it.signature[0] ? ": " : "", it.signature);
			t.runs++;
			t.by_outcome[it.outcome]++;
			t.cycles += it.counts.cycles;
			t.window_hits += it.counts.window_hits;
			t.ur_violations += it.counts.ur_violations;
			t.failures += it.verdict == BT_VERDICT_FAIL;
			if (it.verdict == BT_VERDICT_PASS)
				t.pass++;
			else if (it.verdict == BT_VERDICT_FAIL)
				t.fail++;
			else
				t.other++;
			json_object_put(it.events);
			json_object_put(it.kmsg);
			json_object_put(it.hello);
			json_object_put(it.forensics);
			json_object_put(it.console);
		}
	}
	bt_ktap_totals(&k);
	if (ktap != stderr)
		fclose(ktap);
	write_summary(&env, &t);
	ret = t.fail || t.other || !t.runs ? BT_EXIT_FAIL : BT_EXIT_PASS;
	if (run_interrupted)
		bt_warn("interrupted: %d run(s) recorded, results kept", t.runs);
	fprintf(stderr, "\nverdict: %s (%d run(s): %d PASS, %d FAIL, %d other)\n",
		t.fail ? "FAIL" : t.other || !t.runs ? "ERROR" : "PASS", t.runs, t.pass,
		t.fail, t.other);
	fprintf(stderr, "evidence: %s/evidence.txt\n", env.dir);
out:
	if (bound && restore(&hp, a.journal))
		ret = BT_EXIT_FAIL;
	return ret;
}
