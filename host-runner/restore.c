// SPDX-License-Identifier: GPL-2.0
/* Putting the host back: the QEMU a killed run left, and the drivers in the journal. */
#include <dirent.h>
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

/*
 * Where a runner leaves what --restore needs: /run/bartoggle as root,
 * else $XDG_RUNTIME_DIR/bartoggle, else /tmp/bartoggle-<uid>.
 */
void runtime_dir(char *out, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (!geteuid())
		snprintf(out, len, "%s", RUN_RUNTIME_DIR);
	else if (xdg && *xdg)
		snprintf(out, len, "%s/bartoggle", xdg);
	else
		snprintf(out, len, "/tmp/bartoggle-%u", (unsigned)geteuid());
	mkdir(out, 0700);
}

void qemu_pidfile_path(const char *dir, char *out, size_t len)
{
	snprintf(out, len, "%s/qemu-%d.pid", dir, (int)getpid());
}

/* "QEMU_PID RUNNER_PID": whose QEMU it is, for a --restore run later. */
void write_qemu_pidfile(const char *pidfile, pid_t pid)
{
	char line[64];

	if (!pidfile[0])
		return;
	snprintf(line, sizeof(line), "%d %d\n", (int)pid, (int)getpid());
	if (__bt_write_file_atomic(pidfile, line))
		bt_warn("cannot write %s: --restore will not find QEMU %d", pidfile, (int)pid);
}

static bool cmdline_has(pid_t pid, const char *needle, size_t nlen)
{
	char path[64], cmd[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, cmd, sizeof(cmd));
	close(fd);
	return n > 0 && memmem(cmd, n, needle, nlen);
}

/*
 * Stop the QEMU of one pid file, if its runner is gone and the PID is still
 * that runner's QEMU (PIDs get reused): by its PID, never by name.
 */
static void stop_orphan_qemu(const char *pidfile)
{
	char name[64];
	int qemu = 0, runner = 0, n;
	FILE *f = fopen(pidfile, "r");

	if (!f)
		return;
	n = fscanf(f, "%d %d", &qemu, &runner);
	fclose(f);
	if (n == 2 && runner != getpid() && !kill(runner, 0) &&
	    cmdline_has(runner, "bartoggle-run", strlen("bartoggle-run"))) {
		bt_info("QEMU %d belongs to bartoggle-run %d, which is running: left alone",
			qemu, runner);
		return;
	}
	unlink(pidfile);
	if (n != 2 || qemu <= 1)
		return;
	/* -name's value, with the NUL that ends it on the command line */
	snprintf(name, sizeof(name), RUN_QEMU_NAME "%d", runner);
	if (!cmdline_has(qemu, name, strlen(name) + 1))
		return;
	bt_info("stopping QEMU %d left by bartoggle-run %d", qemu, runner);
	kill(qemu, SIGTERM);
	for (n = 0; n < 50 && !kill(qemu, 0); n++)
		usleep(100000);
	kill(qemu, SIGKILL);
	usleep(200000);
}

/* Every runner's QEMU whose runner is gone. */
void stop_orphans(const char *dir)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "qemu-", 5) || !strstr(e->d_name, ".pid"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		stop_orphan_qemu(path);
	}
	closedir(d);
}

int restore(const struct bt_host_paths *hp, const char *journal)
{
	char err[512];
	int ret = bt_bind_restore(hp, journal, stderr, err, sizeof(err));

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

/* One journal, unless a live runner holds one of its devices. */
static int restore_unheld(const struct bt_host_paths *hp, const char *dir,
			  const char *journal)
{
	struct bt_bind_plan plan;
	struct bt_journal_lock l;
	char err[512];
	int ret;

	if (access(journal, F_OK)) {
		bt_info("no restore journal at %s: nothing to restore", journal);
		return BT_EXIT_PASS;
	}
	if (bt_journal_devices(journal, &plan)) {
		bt_err("%s is not a bartoggle journal: left alone", journal);
		return BT_EXIT_FAIL;
	}
	ret = bt_journal_lock(dir, &plan, &l, err, sizeof(err));
	if (ret == -EBUSY) {
		bt_info("%s: left alone", err);
		return BT_EXIT_PASS;
	}
	if (ret) {
		bt_err("%s", err);
		return BT_EXIT_FAIL;
	}
	ret = restore(hp, journal);
	bt_journal_unlock(&l);
	return ret;
}

int restore_all(const struct bt_host_paths *hp, const char *dir, const char *bdf,
		const char *journal)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	int ret = BT_EXIT_PASS, n = 0;
	DIR *d;

	/* vfio-pci cannot let go of a device a QEMU still holds. */
	stop_orphans(dir);
	if (journal)
		return restore_unheld(hp, dir, journal);
	if (bdf && *bdf) {
		bt_journal_path(dir, bdf, path, sizeof(path));
		return restore_unheld(hp, dir, path);
	}
	d = opendir(dir);
	if (d) {
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);

			if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			n++;
			if (restore_unheld(hp, dir, path) != BT_EXIT_PASS)
				ret = BT_EXIT_FAIL;
		}
		closedir(d);
	}
	if (!n)
		bt_info("no restore journal in %s: nothing to restore", dir);
	return ret;
}

void make_dir_for(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0700);
}
