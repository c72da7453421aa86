/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reproducer's guest: 64-bit, position independent, copied to
 * BT_GUEST_CODE_GPA. One loop per (access, width); the BAR access
 * instructions are exactly those lib/urinsn.c decodes.
 */
#include "guest.h"

	.text
	.code64
	.globl bt_guest_start, bt_guest_end

/* After each access: held mode syncs, every mode polls the stop flag. */
.macro TAIL loop
	cmpq	$0, GUEST_DATA_SYNC_EACH(%r12)
	je	9f
	mov	$GUEST_PORT_SYNC, %dx
	out	%eax, (%dx)
9:	cmpq	$0, GUEST_DATA_STOP(%r12)
	je	\loop
	mov	$GUEST_PORT_DONE, %dx
	out	%eax, (%dx)
	hlt
	jmp	\loop
.endm

/* RAX holds what was read; classify it. */
.macro CHECK
	cmp	%r14, %rax
	je	8f
	cmp	%r15, %rax
	jne	7f
	incq	GUEST_VCPU_ONES(%r13)
	jmp	8f
7:	incq	GUEST_VCPU_VIOLATIONS(%r13)
	mov	%rax, GUEST_VCPU_LAST_BAD(%r13)
	mov	$GUEST_PORT_VIOLATION, %dx
	out	%eax, (%dx)
8:
.endm

.macro READ_LOOP name, load:vararg
\name:
1:	\load
	incq	GUEST_VCPU_ACCESSES(%r13)
	CHECK
	TAIL	1b
.endm

.macro WRITE_LOOP name, store:vararg
\name:
1:	mov	%r14, %rax
	\store
	incq	GUEST_VCPU_ACCESSES(%r13)
	TAIL	1b
.endm

.macro RW_LOOP name, store, load:vararg
\name:
1:	mov	%r14, %rax
	\store
	\load
	addq	$2, GUEST_VCPU_ACCESSES(%r13)
	CHECK
	TAIL	1b
.endm

bt_guest_start:
	READ_LOOP	read1, movzbl (%rbx), %eax
	READ_LOOP	read2, movzwl (%rbx), %eax
	READ_LOOP	read4, mov (%rbx), %eax
	READ_LOOP	read8, mov (%rbx), %rax
	WRITE_LOOP	write1, mov %al, (%rbx)
	WRITE_LOOP	write2, mov %ax, (%rbx)
	WRITE_LOOP	write4, mov %eax, (%rbx)
	WRITE_LOOP	write8, mov %rax, (%rbx)
	RW_LOOP		rw1, "mov %al, (%rbx)", movzbl (%rbx), %eax
	RW_LOOP		rw2, "mov %ax, (%rbx)", movzwl (%rbx), %eax
	RW_LOOP		rw4, "mov %eax, (%rbx)", mov (%rbx), %eax
	RW_LOOP		rw8, "mov %rax, (%rbx)", mov (%rbx), %rax
bt_guest_end:

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
