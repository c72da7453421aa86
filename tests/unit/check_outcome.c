// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_RUN decoding from raw kvm_run images, the outcome taxonomy, verdicts
 * and the UR instruction decoder.
 */
#include <errno.h>
#include <string.h>

#include "bartoggle/compat.h"
#include "bartoggle/kvm.h"
#include "bartoggle/outcome.h"
#include "bartoggle/urinsn.h"
#include "check_main.h"

/* A run page: struct kvm_run followed by room for IO data. */
static union {
	struct kvm_run run;
	uint8_t bytes[4096];
} page;

static struct kvm_run *fresh_run(void)
{
	memset(&page, 0, sizeof(page));
	page.run.exit_reason = BT_EXIT_REASON_SENTINEL;
	return &page.run;
}

/* What a previous KVM_EXIT_MMIO leaves in the page. */
static struct kvm_run *stale_mmio_run(void)
{
	struct kvm_run *run = fresh_run();

	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xc0000000;
	run->mmio.len = 4;
	return run;
}

START_TEST(efault_untouched)
{
	struct bt_run_result r;

	bt_kvm_decode(-1, EFAULT, fresh_run(), &r);
	ck_assert_int_eq(r.kind, BT_RUN_EFAULT);
	ck_assert(r.exit_reason_untouched);
	ck_assert_int_eq(r.err, EFAULT);
	ck_assert_int_eq(bt_run_kind_outcome(r.kind), BT_OUTCOME_EFAULT);
}
END_TEST

START_TEST(efault_stale_union)
{
	struct bt_run_result r;

	/* exit_reason untouched by the failing call, but not our sentinel
	 * either: a stale MMIO exit must not be read as an MMIO exit. */
	bt_kvm_decode(-1, EFAULT, stale_mmio_run(), &r);
	ck_assert_int_eq(r.kind, BT_RUN_EFAULT);
	ck_assert(!r.exit_reason_untouched);
	ck_assert_uint_eq(r.exit_reason, KVM_EXIT_MMIO);
}
END_TEST

START_TEST(memory_fault_exit)
{
	struct kvm_run *run = stale_mmio_run();
	struct bt_memory_fault *mf = (struct bt_memory_fault *)&run->hw;
	struct bt_run_result r;

	run->exit_reason = KVM_EXIT_MEMORY_FAULT;
	mf->flags = 0;
	mf->gpa = 0xc0001000;
	mf->size = 0x1000;
	bt_kvm_decode(-1, EFAULT, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_MEMORY_FAULT);
	ck_assert_uint_eq(r.memory_fault.gpa, 0xc0001000);
	ck_assert_uint_eq(r.memory_fault.size, 0x1000);
	ck_assert_uint_eq(r.memory_fault.flags, 0);
	ck_assert_int_eq(bt_run_kind_outcome(r.kind),
			 BT_OUTCOME_MEMORY_FAULT_EXIT);

	mf->flags = KVM_MEMORY_EXIT_FLAG_PRIVATE;
	bt_kvm_decode(-1, EHWPOISON, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_MEMORY_FAULT);
	ck_assert_uint_eq(r.memory_fault.flags, KVM_MEMORY_EXIT_FLAG_PRIVATE);

	/* The union offset the compat accessor relies on. */
	ck_assert_uint_eq((uintptr_t)bt_run_memory_fault(run) - (uintptr_t)run,
			  32);
}
END_TEST

START_TEST(mmio_exit)
{
	struct kvm_run *run = stale_mmio_run();
	struct bt_run_result r;

	run->mmio.is_write = 1;
	run->mmio.len = 8;
	bt_kvm_decode(0, 0, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_MMIO);
	ck_assert_uint_eq(r.mmio.gpa, 0xc0000000);
	ck_assert_uint_eq(r.mmio.len, 8);
	ck_assert(r.mmio.is_write);
	ck_assert_ptr_eq(r.mmio.data, run->mmio.data);
	ck_assert_int_eq(bt_run_kind_outcome(r.kind), BT_OUTCOME_MMIO_EXIT);
}
END_TEST

START_TEST(io_out)
{
	struct kvm_run *run = fresh_run();
	struct bt_run_result r;

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.port = 0xba1;
	run->io.size = 4;
	run->io.count = 1;
	run->io.data_offset = 1024;
	memcpy(page.bytes + 1024, &(uint32_t){ 0xdeadbeef }, 4);
	bt_kvm_decode(0, 0, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_IO);
	ck_assert_uint_eq(r.io.port, 0xba1);
	ck_assert_uint_eq(r.io.value, 0xdeadbeef);
}
END_TEST

START_TEST(other_results)
{
	struct kvm_run *run;
	struct bt_run_result r;

	bt_kvm_decode(-1, EINTR, stale_mmio_run(), &r);
	ck_assert_int_eq(r.kind, BT_RUN_INTR);
	bt_kvm_decode(-1, EIO, fresh_run(), &r);
	ck_assert_int_eq(r.kind, BT_RUN_ERRNO);
	ck_assert_int_eq(bt_run_kind_outcome(r.kind), BT_OUTCOME_HOST_ERROR);

	run = fresh_run();
	run->exit_reason = KVM_EXIT_SHUTDOWN;
	bt_kvm_decode(0, 0, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_SHUTDOWN);
	ck_assert_int_eq(bt_run_kind_outcome(r.kind), BT_OUTCOME_GUEST_PANIC);

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	bt_kvm_decode(0, 0, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_INTERNAL_ERROR);
	ck_assert_uint_eq(r.suberror, KVM_INTERNAL_ERROR_EMULATION);
	ck_assert_int_eq(bt_run_kind_outcome(r.kind), BT_OUTCOME_VM_STOPPED);

	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason = 0x21;
	bt_kvm_decode(0, 0, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_FAIL_ENTRY);
	ck_assert_uint_eq(r.hw_reason, 0x21);

	run->exit_reason = KVM_EXIT_HLT;
	bt_kvm_decode(0, 0, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_HLT);

	run->exit_reason = 1234;
	bt_kvm_decode(0, 0, run, &r);
	ck_assert_int_eq(r.kind, BT_RUN_OTHER_EXIT);
}
END_TEST

START_TEST(run_kind_names_unique)
{
	int i, j;

	for (i = 0; i < BT_RUN_NR; i++) {
		ck_assert_ptr_nonnull(bt_run_kind_name(i));
		for (j = 0; j < i; j++)
			ck_assert_str_ne(bt_run_kind_name(i),
					 bt_run_kind_name(j));
	}
}
END_TEST

static const char *const stable_names[BT_OUTCOME_NR] = {
	"survived", "memory-fault-exit", "mmio-exit", "efault", "sigbus",
	"vm-stopped", "vmm-crashed", "guest-hang", "agent-stalled", "guest-panic",
	"host-error",
	"setup-error", "skipped", "interrupted", "host-reset",
};

START_TEST(outcome_names_round_trip)
{
	enum bt_outcome o;

	ck_assert_str_eq(bt_outcome_name(_i), stable_names[_i]);
	ck_assert_int_eq(bt_outcome_parse(stable_names[_i], &o), 0);
	ck_assert_int_eq(o, _i);
	ck_assert_int_eq(bt_outcome_parse("Survived", &o), -EINVAL);
}
END_TEST

START_TEST(worst_outcome_wins)
{
	ck_assert_int_eq(bt_outcome_worse(BT_OUTCOME_MMIO_EXIT, BT_OUTCOME_EFAULT),
			 BT_OUTCOME_EFAULT);
	ck_assert_int_eq(bt_outcome_worse(BT_OUTCOME_EFAULT, BT_OUTCOME_MMIO_EXIT),
			 BT_OUTCOME_EFAULT);
	ck_assert_int_eq(bt_outcome_worse(BT_OUTCOME_SURVIVED,
					  BT_OUTCOME_MEMORY_FAULT_EXIT),
			 BT_OUTCOME_MEMORY_FAULT_EXIT);
	ck_assert_int_eq(bt_outcome_worse(BT_OUTCOME_HOST_ERROR,
					  BT_OUTCOME_SURVIVED),
			 BT_OUTCOME_HOST_ERROR);
}
END_TEST

START_TEST(verdicts)
{
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_MMIO_EXIT, 5, 0), BT_VERDICT_PASS);
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_MEMORY_FAULT_EXIT, 1, 0),
			 BT_VERDICT_PASS);
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_SURVIVED, 1, 0), BT_VERDICT_PASS);
	/* never hit the window: proves nothing */
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_SURVIVED, 0, 0), BT_VERDICT_ERROR);
	/* UR violated */
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_MMIO_EXIT, 5, 1), BT_VERDICT_FAIL);
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_EFAULT, 1, 0), BT_VERDICT_FAIL);
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_VM_STOPPED, 0, 0), BT_VERDICT_FAIL);
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_SKIPPED, 0, 0), BT_VERDICT_SKIP);
	ck_assert_int_eq(bt_verdict_of(BT_OUTCOME_SETUP_ERROR, 0, 0),
			 BT_VERDICT_ERROR);
	ck_assert_int_eq(bt_verdict_exit_code(BT_VERDICT_PASS), 0);
	ck_assert_int_eq(bt_verdict_exit_code(BT_VERDICT_FAIL), 1);
	ck_assert_int_eq(bt_verdict_exit_code(BT_VERDICT_ERROR), 1);
	ck_assert_int_eq(bt_verdict_exit_code(BT_VERDICT_SKIP), 4);
	ck_assert_str_eq(bt_verdict_name(BT_VERDICT_ERROR), "ERROR");
}
END_TEST

START_TEST(ur_decode)
{
	static const struct {
		uint8_t bytes[4];
		int len, width;
		bool write;
	} cases[] = {
		{ { 0x0f, 0xb6, 0x03 }, 3, 1, false },
		{ { 0x0f, 0xb7, 0x03 }, 3, 2, false },
		{ { 0x8b, 0x03, 0x90 }, 2, 4, false },
		{ { 0x48, 0x8b, 0x03 }, 3, 8, false },
		{ { 0x88, 0x03 }, 2, 1, true },
		{ { 0x66, 0x89, 0x03 }, 3, 2, true },
		{ { 0x89, 0x03 }, 2, 4, true },
		{ { 0x48, 0x89, 0x03 }, 3, 8, true },
	};
	struct bt_ur_insn insn;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(bt_ur_decode(cases[i].bytes, 3, &insn), 0);
		ck_assert_int_eq(insn.len, cases[i].len);
		ck_assert_int_eq(insn.width, cases[i].width);
		ck_assert_int_eq(insn.is_write, cases[i].write);
	}
	ck_assert_int_eq(bt_ur_decode((uint8_t[]){ 0x8b, 0x07 }, 2, &insn), -EINVAL);
	ck_assert_int_eq(bt_ur_decode((uint8_t[]){ 0x48, 0x8b }, 2, &insn), -EINVAL);
	ck_assert_int_eq(bt_ur_decode((uint8_t[]){ 0x90, 0x90, 0x90 }, 3, &insn),
			 -EINVAL);
}
END_TEST

START_TEST(ur_complete)
{
	struct bt_ur_insn load2 = { 3, 2, false }, store8 = { 3, 8, true };
	uint64_t rax = 0x1234, rip = 0x10000;

	bt_ur_complete(&load2, &rax, &rip);
	ck_assert_uint_eq(rax, 0xffff);
	ck_assert_uint_eq(rip, 0x10003);
	rax = 0x55;
	bt_ur_complete(&store8, &rax, &rip);
	ck_assert_uint_eq(rax, 0x55);
	ck_assert_uint_eq(rip, 0x10006);
	ck_assert_uint_eq(bt_ur_ones(1), 0xff);
	ck_assert_uint_eq(bt_ur_ones(4), 0xffffffff);
	ck_assert_uint_eq(bt_ur_ones(8), ~0ULL);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("outcome");
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, efault_untouched);
	tcase_add_test(tc, efault_stale_union);
	tcase_add_test(tc, memory_fault_exit);
	tcase_add_test(tc, mmio_exit);
	tcase_add_test(tc, io_out);
	tcase_add_test(tc, other_results);
	tcase_add_test(tc, run_kind_names_unique);
	suite_add_tcase(s, tc);
	tc = tcase_create("taxonomy");
	tcase_add_loop_test(tc, outcome_names_round_trip, 0, BT_OUTCOME_NR);
	tcase_add_test(tc, worst_outcome_wins);
	tcase_add_test(tc, verdicts);
	suite_add_tcase(s, tc);
	tc = tcase_create("ur");
	tcase_add_test(tc, ur_decode);
	tcase_add_test(tc, ur_complete);
	suite_add_tcase(s, tc);
	return s;
}
