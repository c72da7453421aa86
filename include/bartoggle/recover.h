/* SPDX-License-Identifier: GPL-2.0 */
/*
 * No silent loss: a runner writes an iteration's record twice. First, when
 * the iteration starts, a pending record (outcome "interrupted") in the
 * iteration's directory; then, when it ends, the real one appended to
 * records.jsonl, after which the pending one is removed. An iteration whose
 * runner died in between (SIGKILL, a host reset) still has its pending
 * record: whoever sees it next (the runner, --restore, the report) closes it
 * with the counts of its progress.jsonl.
 */
#ifndef BARTOGGLE_RECOVER_H
#define BARTOGGLE_RECOVER_H

#include <stdio.h>
#include <json-c/json.h>

#define BT_PENDING_NAME		"pending-record.json"

/* /proc/sys/kernel/random/boot_id, or "" where it cannot be read. */
void bt_boot_id(char *out, size_t len);

/*
 * Mark @rec as pending: outcome interrupted, and "runner" {pid, boot_id}
 * of this process, by which a later reader tells a live run from a dead one.
 */
void bt_pending_prepare(struct json_object *rec);

/*
 * Close every iteration under @root (a results directory, searched
 * recursively) whose pending record outlived its runner: the record gets the
 * last counts of the iteration's progress.jsonl and the outcome
 * "interrupted" (ERROR), or "host-reset" (FAIL) when the host has booted
 * since (the boot id changed), and is appended to the records.jsonl beside
 * the iteration's directory, unless a record of that iteration is already
 * there. @by ("runner", "restore", "report") is recorded. Each closed
 * iteration is said on @log (may be NULL). The number closed, or -errno.
 */
int bt_recover_tree(const char *root, const char *by, FILE *log);

#endif
