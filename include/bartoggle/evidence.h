/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the runner reads besides QMP: QEMU's stderr, the host kernel log and
 * QEMU's exit status, each turned into evidence by a table of patterns.
 * "kvm run failed Bad address" alone is not enough to convict a kernel (a
 * huge-fault OOM in vfio-pci prints it too), which is why the kernel log is
 * read alongside.
 */
#ifndef BARTOGGLE_EVIDENCE_H
#define BARTOGGLE_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "bartoggle/outcome.h"

/* A QEMU stderr line we know, or NULL: what it means. */
const char *bt_qemu_signature(const char *line);

/*
 * One /dev/kmsg record ("prio,seq,usec,flags;text"): the text into @text,
 * the syslog level into *level. 0, or -EINVAL for a malformed record.
 * Continuation lines (" KEY=value") are -EINVAL too: not a record.
 */
int bt_kmsg_parse(const char *record, char *text, size_t len, int *level);

/* Host-kernel trouble worth a host-error: the matching kind, or NULL. */
const char *bt_kmsg_error_kind(const char *text);

/*
 * QEMU's wait status: "exited 0", "killed by SIGBUS (core dumped)". The
 * outcome it implies on its own: sigbus for SIGBUS (the VMM touched a zapped
 * mapping), vmm-crashed otherwise, survived for a clean exit.
 */
enum bt_outcome bt_exit_outcome(int status, char *buf, size_t len);

/* /dev/kmsg, from now on. */
struct bt_kmsg {
	int fd;
};

int bt_kmsg_open(struct bt_kmsg *k);		/* 0 or -errno */
/* Next record's text: 1, 0 when none is waiting, -errno. */
int bt_kmsg_next(struct bt_kmsg *k, char *text, size_t len, int *level);
void bt_kmsg_close(struct bt_kmsg *k);

#endif
