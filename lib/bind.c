// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bartoggle/bdf.h"
#include "bartoggle/bind.h"
#include "bartoggle/inuse.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/sysfs.h"

static void check_group(const struct bt_host_paths *h, const struct bt_pci_dev *dev,
			bool force_group, struct bt_bind_plan *plan, char *why,
			size_t len)
{
	char path[PATH_MAX + 64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices", h->sys,
		 dev->iommu_group);
	d = opendir(path);
	if (!d) {
		bt_why_add(why, len, "cannot list IOMMU group %d", dev->iommu_group);
		return;
	}
	while ((de = readdir(d))) {
		struct bt_pci_dev member;
		struct bt_bdf bdf;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, dev->bdf_str) ||
		    bt_bdf_parse(de->d_name, &bdf) ||
		    bt_pci_dev_init(&member, h->sys, &bdf))
			continue;
		if (!member.driver[0] || !strcmp(member.driver, "vfio-pci"))
			continue;
		if (!force_group) {
			bt_why_add(why, len,
				   "shares IOMMU group %d with %s, bound to %s (bind it to vfio-pci, or --force-group)",
				   dev->iommu_group, member.bdf_str, member.driver);
		} else if (plan->n < BT_BIND_MAX) {
			strcpy(plan->bdf[plan->n++], member.bdf_str);
		}
	}
	closedir(d);
}

int bt_bind_check(const struct bt_host_paths *h, const char *bdf_str,
		  bool force_group, struct bt_bind_plan *plan, char *why,
		  size_t len)
{
	struct bt_pci_dev dev;
	char real[PATH_MAX];
	struct bt_bdf bdf;

	why[0] = '\0';
	plan->n = 0;
	if (bt_bdf_parse(bdf_str, &bdf)) {
		bt_why_add(why, len, "'%s' is not a PCI address", bdf_str);
		return -EINVAL;
	}
	if (bt_pci_dev_init(&dev, h->sys, &bdf)) {
		bt_why_add(why, len, "no PCI device %s", bdf_str);
		return -ENOENT;
	}
	strcpy(plan->bdf[plan->n++], dev.bdf_str);
	if (!realpath(dev.path, real)) {
		bt_why_add(why, len, "cannot resolve %s", dev.path);
		return -ENOENT;
	}

	bt_device_in_use(h, &dev, why, len);
	if (dev.iommu_group < 0)
		bt_why_add(why, len, "has no IOMMU group: the IOMMU is off (intel_iommu=on or amd_iommu=on)");
	else
		check_group(h, &dev, force_group, plan, why, len);
	return why[0] ? -EPERM : 0;
}

/* One sysfs write, echoed first (set -x would not show the redirect). */
static int sysfs_write(FILE *echo, const char *path, const char *value)
{
	int fd, ret = 0;

	if (!*value)
		value = "\n";	/* clears driver_override */
	if (echo)
		fprintf(echo, "+ echo '%s' > %s\n", value[0] == '\n' ? "" : value, path);
	/* O_TRUNC as the shell's redirect does: sysfs ignores it. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int write_journal(const char *journal, struct json_object *j)
{
	char tmp[PATH_MAX];
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", journal);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s) || fsync(fd))
		ret = -errno ? -errno : -EIO;
	close(fd);
	if (!ret && rename(tmp, journal))
		ret = -errno;
	return ret;
}

int bt_bind_apply(const struct bt_host_paths *h, const struct bt_bind_plan *plan,
		  const char *journal, FILE *echo, char *err, size_t len)
{
	struct json_object *j = json_object_new_object(), *arr = json_object_new_array();
	char path[PATH_MAX + 64], override[64];
	struct bt_pci_dev dev[BT_BIND_MAX];
	char now[32];
	int i, ret;

	bt_utc_now(now, sizeof(now));
	bt_json_set_str(j, "schema", "bartoggle.journal/1");
	bt_json_set_str(j, "time", now);
	json_object_object_add(j, "devices", arr);
	for (i = 0; i < plan->n; i++) {
		struct json_object *d = json_object_new_object();
		struct bt_bdf bdf;

		bt_bdf_parse(plan->bdf[i], &bdf);
		if (bt_pci_dev_init(&dev[i], h->sys, &bdf)) {
			snprintf(err, len, "%s vanished", plan->bdf[i]);
			json_object_put(j);
			return -ENOENT;
		}
		snprintf(path, sizeof(path), "%s/driver_override", dev[i].path);
		if (bt_sysfs_read(path, override, sizeof(override)) || !strcmp(override, "(null)"))
			override[0] = '\0';
		bt_json_set_str(d, "bdf", dev[i].bdf_str);
		bt_json_set_str(d, "driver", dev[i].driver[0] ? dev[i].driver : NULL);
		bt_json_set_str(d, "driver_override", override);
		json_object_array_add(arr, d);
	}
	ret = write_journal(journal, j);
	json_object_put(j);
	if (ret) {
		snprintf(err, len, "writing the restore journal %s: %s", journal, strerror(-ret));
		return ret;
	}

	for (i = 0; i < plan->n; i++) {
		if (!strcmp(dev[i].driver, "vfio-pci"))
			continue;
		snprintf(path, sizeof(path), "%s/driver_override", dev[i].path);
		ret = sysfs_write(echo, path, "vfio-pci");
		if (!ret && dev[i].driver[0]) {
			snprintf(path, sizeof(path), "%s/driver/unbind", dev[i].path);
			ret = sysfs_write(echo, path, dev[i].bdf_str);
		}
		if (!ret) {
			snprintf(path, sizeof(path), "%s/bus/pci/drivers_probe", h->sys);
			ret = sysfs_write(echo, path, dev[i].bdf_str);
		}
		if (ret) {
			snprintf(err, len, "binding %s to vfio-pci: %s", dev[i].bdf_str,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int bt_bind_restore(const struct bt_host_paths *h, const char *journal,
		    FILE *echo, char *err, size_t len)
{
	struct json_object *j, *arr;
	char path[PATH_MAX + 64];
	int i, n, ret = 0;

	if (access(journal, F_OK)) {
		snprintf(err, len, "no restore journal at %s: nothing to restore", journal);
		return -ENOENT;
	}
	j = json_object_from_file(journal);
	if (!j || !json_object_object_get_ex(j, "devices", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		snprintf(err, len, "%s is not a bartoggle journal", journal);
		json_object_put(j);
		return -EINVAL;
	}
	n = json_object_array_length(arr);
	for (i = n - 1; i >= 0; i--) {
		struct json_object *d = json_object_array_get_idx(arr, i);
		const char *bdf_str = json_object_get_string(json_object_object_get(d, "bdf"));
		const char *driver = json_object_get_string(json_object_object_get(d, "driver"));
		const char *override = json_object_get_string(json_object_object_get(d, "driver_override"));
		struct bt_pci_dev dev;
		struct bt_bdf bdf;
		int r;

		if (!bdf_str || bt_bdf_parse(bdf_str, &bdf) || bt_pci_dev_init(&dev, h->sys, &bdf)) {
			snprintf(err, len, "journal names %s, which is gone", bdf_str ? bdf_str : "?");
			ret = -ENOENT;
			continue;
		}
		snprintf(path, sizeof(path), "%s/driver_override", dev.path);
		r = sysfs_write(echo, path, override ? override : "");
		if (!r && dev.driver[0] && (!driver || strcmp(dev.driver, driver))) {
			snprintf(path, sizeof(path), "%s/driver/unbind", dev.path);
			r = sysfs_write(echo, path, dev.bdf_str);
		}
		if (!r && driver && strcmp(dev.driver, driver)) {
			snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s/bind", h->sys, driver);
			r = sysfs_write(echo, path, dev.bdf_str);
		}
		if (r) {
			snprintf(err, len, "restoring %s: %s", dev.bdf_str, strerror(-r));
			ret = r;
		}
	}
	json_object_put(j);
	if (!ret && unlink(journal))
		ret = -errno;
	return ret;
}

void bt_journal_path(const char *dir, const char *bdf, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.json", dir, bdf);
}

/* <dir>/<name>.lock, held: 0, -EBUSY with the holder said, or -errno. */
static int lock_file(const char *path, const char *what, int *fdp, char *err, size_t len)
{
	char pid[32] = "";
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, len, "cannot open the lock %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e != EWOULDBLOCK) {
			snprintf(err, len, "cannot lock %s: %s", path, strerror(e));
			return -e;
		}
		snprintf(err, len, "%s is in use by another bartoggle-run%s%s (lock %s): refused, "
			 "nothing was changed", what, pid[0] ? ", PID " : "", pid, path);
		return -EBUSY;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0)
		bt_debug("%s: cannot note the holder: %s", path, strerror(errno));
	*fdp = fd;
	return 0;
}

void bt_journal_unlock(struct bt_journal_lock *l)
{
	while (l->n > 0)
		close(l->fd[--l->n]);	/* closing drops the flock */
}

int bt_journal_lock(const char *dir, const struct bt_bind_plan *plan,
		    struct bt_journal_lock *l, char *err, size_t len)
{
	char path[PATH_MAX];
	int i, ret;

	l->n = 0;
	for (i = 0; i < plan->n; i++) {
		snprintf(path, sizeof(path), "%s/%s.lock", dir, plan->bdf[i]);
		ret = lock_file(path, plan->bdf[i], &l->fd[l->n], err, len);
		if (ret) {
			bt_journal_unlock(l);
			return ret;
		}
		l->n++;
	}
	return 0;
}

int bt_journal_devices(const char *journal, struct bt_bind_plan *plan)
{
	struct json_object *j = json_object_from_file(journal), *arr;
	int i, n;

	plan->n = 0;
	if (!j || !json_object_object_get_ex(j, "devices", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(j);
		return -EINVAL;
	}
	n = json_object_array_length(arr);
	for (i = 0; i < n && plan->n < BT_BIND_MAX; i++) {
		const char *bdf = json_object_get_string(json_object_object_get(
			json_object_array_get_idx(arr, i), "bdf"));
		struct bt_bdf parsed;

		if (bdf && !bt_bdf_parse(bdf, &parsed))
			snprintf(plan->bdf[plan->n++], sizeof(plan->bdf[0]), "%s", bdf);
	}
	json_object_put(j);
	return 0;
}
