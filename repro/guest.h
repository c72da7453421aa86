/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Contract between the reproducer and its guest code (guest.S), shared by
 * C and assembly: ports the guest signals on, and the layout of the data
 * page at BT_GUEST_DATA_GPA.
 *
 * Registers at entry (set by the host): RBX = BAR address accessed,
 * R12 = data page, R13 = this vCPU's counters, R14 = value expected while
 * the BAR decodes (also the value written), R15 = all ones of the width.
 */
#ifndef BARTOGGLE_REPRO_GUEST_H
#define BARTOGGLE_REPRO_GUEST_H

#define GUEST_PORT_SYNC		0x0ba0	/* held mode: one access done */
#define GUEST_PORT_VIOLATION	0x0ba1	/* read neither expected nor ones */
#define GUEST_PORT_DONE		0x0ba2	/* saw the stop flag */

#define GUEST_DATA_STOP		0x00	/* u64, host -> guest */
#define GUEST_DATA_SYNC_EACH	0x08	/* u64, host -> guest */
#define GUEST_DATA_VCPU0	0x40
#define GUEST_VCPU_STRIDE	0x40
#define GUEST_VCPU_ACCESSES	0x00	/* u64 counters, guest -> host */
#define GUEST_VCPU_ONES		0x08
#define GUEST_VCPU_VIOLATIONS	0x10
#define GUEST_VCPU_LAST_BAD	0x18

#define GUEST_MAX_VCPUS		8

/*
 * Race and control run accesses in batches: ACCESSES grows by a batch at a
 * time and the stop flag is polled once per batch. Where every guest
 * instruction costs (an emulating host, such as PVM), the instructions
 * between two accesses set the access rate; a batch has only the access
 * and, for reads, its compare. Held mode keeps one access per step.
 */
#define GUEST_BATCH		16

/* Entry points: index = access * 4 + log2(width) */
#define GUEST_ACCESS_READ	0
#define GUEST_ACCESS_WRITE	1
#define GUEST_ACCESS_RW		2
#define GUEST_NR_ENTRIES	12

#ifndef __ASSEMBLER__
#include <stdint.h>

extern const uint8_t bt_guest_start[], bt_guest_end[];
extern const uint64_t bt_guest_entries[GUEST_NR_ENTRIES];
#endif

#endif
