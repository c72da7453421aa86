/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unsupported-Request emulation for the reproducer's own guest code.
 *
 * KVM_EXIT_MEMORY_FAULT reports gpa and size but not the instruction, so a
 * VMM that wants to complete the access as bare metal would (reads all ones,
 * writes dropped) must decode it. The reproducer's guest uses a fixed set of
 * BAR access instructions, all "mov" between RAX and (%rbx); this decodes
 * exactly those and refuses anything else.
 */
#ifndef BARTOGGLE_URINSN_H
#define BARTOGGLE_URINSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_INSN_MAX_LEN	3

struct bt_ur_insn {
	uint8_t len;
	uint8_t width;		/* bytes accessed */
	bool is_write;
};

/* 0 and *insn filled, or -EINVAL when @bytes is not a known access. */
int bt_ur_decode(const uint8_t *bytes, size_t avail, struct bt_ur_insn *insn);

/* All ones of @width bytes, zero-extended as the guest's loads do. */
static inline uint64_t bt_ur_ones(unsigned int width)
{
	return width >= 8 ? ~0ULL : (1ULL << (width * 8)) - 1;
}

/*
 * Complete @insn as an Unsupported Request on the register file: a load sets
 * RAX to all ones, a store is dropped, RIP moves past the instruction.
 */
void bt_ur_complete(const struct bt_ur_insn *insn, uint64_t *rax,
		    uint64_t *rip);

#endif
