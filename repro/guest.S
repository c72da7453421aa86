/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reproducer's guest: 64-bit, position independent, copied to
 * BT_GUEST_CODE_GPA. One entry per (access, width); the BAR access
 * instructions are exactly those lib/urinsn.c decodes.
 *
 * Each entry picks one of two loops: held mode (SYNC_EACH set before the
 * first KVM_RUN) syncs with the host after every access; race and control
 * run unrolled batches of GUEST_BATCH accesses with nothing in between but
 * the check of each value read (guest.h says why). Values that are not the
 * expected one are classified out of line, in subsection 1, which still
 * lies between bt_guest_start and bt_guest_end (subsection 2).
 */
#include "guest.h"

	.text
	.code64
	.globl bt_guest_start, bt_guest_end

bt_guest_start:

/* RAX holds what was read: the expected value falls through. */
.macro LOAD_CHECKED load:vararg
	\load
	cmp	%r14, %rax
	jne	.Lodd\@
.Lnext\@:
	.subsection 1
.Lodd\@:
	cmp	%r15, %rax
	jne	7f
	incq	GUEST_VCPU_ONES(%r13)
	jmp	.Lnext\@
7:	incq	GUEST_VCPU_VIOLATIONS(%r13)
	mov	%rax, GUEST_VCPU_LAST_BAD(%r13)
	mov	$GUEST_PORT_VIOLATION, %dx
	out	%eax, (%dx)
	jmp	.Lnext\@
	.subsection 0
.endm

/* Every mode polls the stop flag: after each access, or each batch. */
.macro STOP_POLL loop
	cmpq	$0, GUEST_DATA_STOP(%r12)
	je	\loop
	mov	$GUEST_PORT_DONE, %dx
	out	%eax, (%dx)
	hlt
	jmp	\loop
.endm

/* One (access, width): the held loop, then the batch loop. */
.macro ACCESS_LOOPS name, kind, store, load:vararg
\name:
	cmpq	$0, GUEST_DATA_SYNC_EACH(%r12)
	je	3f
1:	.ifnc \kind, read
	mov	%r14, %rax
	\store
	.endif
	.ifnc \kind, write
	LOAD_CHECKED \load
	.endif
	.ifc \kind, rw
	addq	$2, GUEST_VCPU_ACCESSES(%r13)
	.else
	incq	GUEST_VCPU_ACCESSES(%r13)
	.endif
	mov	$GUEST_PORT_SYNC, %dx
	out	%eax, (%dx)
	STOP_POLL 1b

3:	.ifc \kind, write
	mov	%r14, %rax		/* a write never changes RAX */
	.endif
	.rept	GUEST_BATCH
	.ifc \kind, rw
	mov	%r14, %rax
	.endif
	.ifnc \kind, read
	\store
	.endif
	.ifnc \kind, write
	LOAD_CHECKED \load
	.endif
	.endr
	.ifc \kind, rw
	addq	$2 * GUEST_BATCH, GUEST_VCPU_ACCESSES(%r13)
	.else
	addq	$GUEST_BATCH, GUEST_VCPU_ACCESSES(%r13)
	.endif
	STOP_POLL 3b
.endm

	ACCESS_LOOPS	read1, read, "", movzbl (%rbx), %eax
	ACCESS_LOOPS	read2, read, "", movzwl (%rbx), %eax
	ACCESS_LOOPS	read4, read, "", mov (%rbx), %eax
	ACCESS_LOOPS	read8, read, "", mov (%rbx), %rax
	ACCESS_LOOPS	write1, write, "mov %al, (%rbx)"
	ACCESS_LOOPS	write2, write, "mov %ax, (%rbx)"
	ACCESS_LOOPS	write4, write, "mov %eax, (%rbx)"
	ACCESS_LOOPS	write8, write, "mov %rax, (%rbx)"
	ACCESS_LOOPS	rw1, rw, "mov %al, (%rbx)", movzbl (%rbx), %eax
	ACCESS_LOOPS	rw2, rw, "mov %ax, (%rbx)", movzwl (%rbx), %eax
	ACCESS_LOOPS	rw4, rw, "mov %eax, (%rbx)", mov (%rbx), %eax
	ACCESS_LOOPS	rw8, rw, "mov %rax, (%rbx)", mov (%rbx), %rax

	.subsection 2
bt_guest_end:
	.subsection 0

	.section .rodata
	.balign 8
	.globl bt_guest_entries
bt_guest_entries:
	.quad read1 - bt_guest_start, read2 - bt_guest_start
	.quad read4 - bt_guest_start, read8 - bt_guest_start
	.quad write1 - bt_guest_start, write2 - bt_guest_start
	.quad write4 - bt_guest_start, write8 - bt_guest_start
	.quad rw1 - bt_guest_start, rw2 - bt_guest_start
	.quad rw4 - bt_guest_start, rw8 - bt_guest_start

	.section .note.GNU-stack, "", @progbits
