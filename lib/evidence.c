// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bartoggle/evidence.h"

static const struct {
	const char *needle;
	const char *meaning;
} qemu_signatures[] = {
	{ "kvm run failed Bad address",
	  "KVM_RUN returned -EFAULT and QEMU gave up on the vCPU" },
	{ "Convert non guest_memfd",
	  "KVM_EXIT_MEMORY_FAULT reached a QEMU that only converts guest_memfd memory" },
	{ "KVM_EXIT_MEMORY_FAULT: Unknown flag",
	  "KVM_EXIT_MEMORY_FAULT with flags this QEMU does not know" },
	{ "kvm run failed",
	  "KVM_RUN failed and QEMU gave up on the vCPU" },
	{ "vfio_region_read(",
	  "a trapped BAR read failed (vfio returns -EIO while MEM is off)" },
	{ "vfio_region_write(",
	  "a trapped BAR write failed (vfio returns -EIO while MEM is off)" },
	{ "KVM internal error",
	  "KVM reported an internal error" },
	{ "terminating on signal",
	  "QEMU was stopped by a signal" },
};

const char *bt_qemu_signature(const char *line)
{
	size_t i;

	for (i = 0; i < sizeof(qemu_signatures) / sizeof(qemu_signatures[0]); i++)
		if (strstr(line, qemu_signatures[i].needle))
			return qemu_signatures[i].meaning;
	return NULL;
}

/* First match wins; the exceptions come first. */
static const struct {
	const char *needle;
	const char *kind;	/* NULL: known harmless */
} kmsg_patterns[] = {
	{ "AER: Corrected error", NULL },
	{ "Cannot reset device", NULL },
	{ "WARNING:", "warning" },
	{ "BUG:", "bug" },
	{ "kernel BUG", "bug" },
	{ "Oops", "oops" },
	{ "general protection fault", "oops" },
	{ "watchdog: BUG: soft lockup", "lockup" },
	{ "hard LOCKUP", "lockup" },
	{ "rcu: INFO: rcu_sched", "rcu-stall" },
	{ "self-detected stall", "rcu-stall" },
	{ "blocked for more than", "hung-task" },
	{ "AER:", "aer" },
	{ "DMAR:", "dmar" },
	{ "DMAR-IR:", "dmar" },
	{ "AMD-Vi:", "iommu" },
	{ "Machine check", "mce" },
	{ "mce:", "mce" },
	{ "MCE:", "mce" },
	{ "vfio_pci_mmap_huge_fault", "vfio-fault" },
	{ "vfio_pci_mmap_fault", "vfio-fault" },
};

const char *bt_kmsg_error_kind(const char *text)
{
	size_t i;

	for (i = 0; i < sizeof(kmsg_patterns) / sizeof(kmsg_patterns[0]); i++)
		if (strstr(text, kmsg_patterns[i].needle))
			return kmsg_patterns[i].kind;
	return NULL;
}

int bt_kmsg_parse(const char *record, char *text, size_t len, int *level)
{
	const char *semi = strchr(record, ';');
	unsigned long prio;
	char *end;
	size_t n;

	if (!semi || record[0] == ' ')
		return -EINVAL;
	errno = 0;
	prio = strtoul(record, &end, 10);
	if (errno || end == record || (*end != ',' && *end != ';'))
		return -EINVAL;
	*level = prio & 7;
	n = strcspn(semi + 1, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(text, semi + 1, n);
	text[n] = '\0';
	return 0;
}

enum bt_outcome bt_exit_outcome(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
		return WEXITSTATUS(status) ? BT_OUTCOME_VMM_CRASHED : BT_OUTCOME_SURVIVED;
	}
	if (WIFSIGNALED(status)) {
		snprintf(buf, len, "killed by SIG%s%s", sigabbrev_np(WTERMSIG(status)) ?
			 sigabbrev_np(WTERMSIG(status)) : "?",
			 WCOREDUMP(status) ? " (core dumped)" : "");
		return WTERMSIG(status) == SIGBUS ? BT_OUTCOME_SIGBUS : BT_OUTCOME_VMM_CRASHED;
	}
	snprintf(buf, len, "status 0x%x", status);
	return BT_OUTCOME_VMM_CRASHED;
}

int bt_kmsg_open(struct bt_kmsg *k)
{
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0)
		return -errno;
	/* Only what happens from now on concerns this run. */
	lseek(k->fd, 0, SEEK_END);
	return 0;
}

int bt_kmsg_next(struct bt_kmsg *k, char *text, size_t len, int *level)
{
	char rec[2048];
	ssize_t n;

	for (;;) {
		n = read(k->fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten while we read: skip ahead */
		if (n < 0)
			return -errno;
		rec[n] = '\0';
		if (!bt_kmsg_parse(rec, text, len, level))
			return 1;
	}
}

void bt_kmsg_close(struct bt_kmsg *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}
