// SPDX-License-Identifier: GPL-2.0
/* Preflight (every check printed, with its fix) and the guest image. */
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
#include "bartoggle/parse.h"
#include "bartoggle/qemubuild.h"
#include "bartoggle/record.h"
#include "bartoggle/stats.h"
#include "bartoggle/sysfs.h"
#include "bartoggle/version.h"
#include "runner.h"

static int check(bool ok, const char *what, const char *detail, const char *fix)
{
	fprintf(stderr, "preflight: %-4s %-26s %s\n", ok ? "ok" : "FAIL", what, detail);
	if (!ok && fix)
		fprintf(stderr, "preflight:      fix: %s\n", fix);
	return ok ? 0 : 1;
}

#define QEMU_LINE_MAX 256

/* First line of `cmd --version` into @line, its version number into @out. */
static void qemu_version(const char *qemu, char *line, char *out, size_t len)
{
	char cmd[PATH_MAX + 32];
	FILE *p;

	line[0] = '\0';

	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", qemu);
	p = popen(cmd, "r");
	if (p) {
		if (!fgets(line, QEMU_LINE_MAX, p))
			line[0] = '\0';
		pclose(p);
	}
	line[strcspn(line, "\n")] = '\0';
	/* "QEMU emulator version 7.2.22 (Debian ...)" -> "7.2.22" */
	if (sscanf(line, "QEMU emulator version %63s", out) != 1)
		snprintf(out, len, "%s", "");
}

/* Each [qemu] firmware directory must be one: QEMU says nothing of a wrong -L
 * until a file it wants is missing. The number of failed checks. */
static int check_firmware(const char *dirs)
{
	char detail[PATH_MAX + 32], dir[PATH_MAX];
	int fails = 0;

	while ((dirs = bt_next_field(dirs, ':', dir, sizeof(dir)))) {
		struct stat st;

		snprintf(detail, sizeof(detail), "-L %s", dir);
		fails += check(!stat(dir, &st) && S_ISDIR(st.st_mode), "QEMU firmware", detail,
			       "fix [qemu] firmware: directories that exist, colon-separated");
	}
	return fails;
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

int preflight(struct run_env *env, const struct bt_host_paths *hp,
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
		char line[QEMU_LINE_MAX];

		qemu_version(c->qemu[i], line, env->qemu_version[i], sizeof(env->qemu_version[i]));
		env->qemu_build[i] = bt_qemu_build(c->qemu[i], line);
		snprintf(detail, sizeof(detail), "%s %s", c->qemu[i],
			 env->qemu_version[i][0] ? env->qemu_version[i] : "(does not run)");
		fails += check(env->qemu_version[i][0], "QEMU", detail,
			       "apt-get install qemu-system-x86, or fix [qemu] binary");
	}
	fails += check_firmware(c->qemu_firmware);

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
		fails += check(mb >= RUN_MIN_FREE_MB, "disk for results", detail,
			       "free space or choose [results] dir");
	} else {
		fails += check(false, "disk for results", c->results, "create it or fix [results] dir");
	}
	return fails;
}

int build_image(struct run_env *env)
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
