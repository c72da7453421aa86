// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "bartoggle/urinsn.h"

static const struct {
	uint8_t bytes[BT_INSN_MAX_LEN];
	struct bt_ur_insn insn;
} ur_insns[] = {
	{ { 0x0f, 0xb6, 0x03 }, { 3, 1, false } },	/* movzbl (%rbx),%eax */
	{ { 0x0f, 0xb7, 0x03 }, { 3, 2, false } },	/* movzwl (%rbx),%eax */
	{ { 0x8b, 0x03 },       { 2, 4, false } },	/* mov (%rbx),%eax */
	{ { 0x48, 0x8b, 0x03 }, { 3, 8, false } },	/* mov (%rbx),%rax */
	{ { 0x88, 0x03 },       { 2, 1, true } },	/* mov %al,(%rbx) */
	{ { 0x66, 0x89, 0x03 }, { 3, 2, true } },	/* mov %ax,(%rbx) */
	{ { 0x89, 0x03 },       { 2, 4, true } },	/* mov %eax,(%rbx) */
	{ { 0x48, 0x89, 0x03 }, { 3, 8, true } },	/* mov %rax,(%rbx) */
};

int bt_ur_decode(const uint8_t *bytes, size_t avail, struct bt_ur_insn *insn)
{
	size_t i;

	for (i = 0; i < sizeof(ur_insns) / sizeof(ur_insns[0]); i++) {
		const struct bt_ur_insn *c = &ur_insns[i].insn;

		if (c->len <= avail &&
		    !memcmp(bytes, ur_insns[i].bytes, c->len)) {
			*insn = *c;
			return 0;
		}
	}
	return -EINVAL;
}

void bt_ur_complete(const struct bt_ur_insn *insn, uint64_t *rax,
		    uint64_t *rip)
{
	if (!insn->is_write)
		*rax = bt_ur_ones(insn->width);
	*rip += insn->len;
}
