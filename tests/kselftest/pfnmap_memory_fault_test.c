// SPDX-License-Identifier: GPL-2.0
/*
 * pfnmap_memory_fault_test: KVM must report a guest access to a VM_PFNMAP
 * memslot whose fault handler declines as KVM_EXIT_MEMORY_FAULT (gpa inside
 * the slot), not as a bare -EFAULT with a stale exit reason: the fault a
 * guest hits when it clears PCI_COMMAND.MEM of an assigned device while
 * another vCPU touches the BAR. The declining mapping is the helper module
 * bartoggle_pfnmap (kmod/); pfnmap_memory_fault.sh loads and unloads it.
 *
 * In the shape of tools/testing/selftests/kvm (README, "The selftest
 * shape"): one file, KTAP on stdout, exit 0 pass, 1 fail, 4 skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bartoggle/compat.h"
#include "bartoggle/kvm.h"
#include "bartoggle_pfnmap.h"

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

#define BAR_GPA		0xc0000000ULL
#define BAR_SLOT	1
#define BAR_PAGES	4
#define BAR_SIZE	(BAR_PAGES * 4096ULL)
#define SYNC_PORT	0x0ba0
#define PAGES_LIVE	"/sys/module/" BT_PFNMAP_MODULE "/parameters/pages_live"

/*
 * 1: mov (%rbx),%eax   2: mov $SYNC_PORT,%dx; out %eax,(%dx)   3: jmp 1
 * Each pass reads the BAR once and reports the value through port IO.
 */
static const uint8_t guest_code[] = {
	0x8b, 0x03,
	0x66, 0xba, SYNC_PORT & 0xff, SYNC_PORT >> 8,
	0xef,
	0xeb, 0xf7,
};

static unsigned int test_nr, failed, skipped;

static void ksft_result(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ksft_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %u ", ok ? "" : "not ", ++test_nr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failed += !ok;
}

static void ksft_skip_rest(unsigned int planned, const char *why)
{
	while (test_nr < planned) {
		printf("ok %u # SKIP %s\n", ++test_nr, why);
		skipped++;
	}
}

static void ksft_print_msg(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void ksft_print_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(sigbus_jmp, 1);
}

/* A host read of the mapping; false when it raised SIGBUS. */
static bool host_read(volatile uint32_t *p, uint32_t *val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	bool ok = false;

	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(sigbus_jmp, 1)) {
		*val = *p;
		ok = true;
	}
	sigaction(SIGBUS, &old, NULL);
	return ok;
}

static void describe(const struct bt_run_result *res, char *buf, size_t len)
{
	if (res->ret >= 0)
		snprintf(buf, len, "KVM_RUN = %d, exit_reason %u (%s)", res->ret,
			 res->exit_reason, bt_run_kind_name(res->kind));
	else if (res->exit_reason_untouched)
		snprintf(buf, len, "KVM_RUN = -1, errno %d (%s), exit_reason untouched (%#x, set before the call)",
			 res->err, strerror(res->err), res->exit_reason);
	else if (res->exit_reason != KVM_EXIT_MEMORY_FAULT)
		snprintf(buf, len, "KVM_RUN = -1, errno %d (%s), stale exit_reason %u",
			 res->err, strerror(res->err), res->exit_reason);
	else
		snprintf(buf, len, "KVM_RUN = -1, errno %d (%s), exit_reason %u",
			 res->err, strerror(res->err), res->exit_reason);
}

/* One guest pass: an IO exit carrying what the guest read. */
static bool guest_read(struct bt_vcpu *vcpu, uint32_t *val, struct bt_run_result *res)
{
	do
		bt_vcpu_run(vcpu, res);
	while (res->kind == BT_RUN_INTR);
	if (res->kind != BT_RUN_IO || res->io.port != SYNC_PORT)
		return false;
	*val = res->io.value;
	return true;
}

static long pages_live(void)
{
	FILE *f = fopen(PAGES_LIVE, "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

#define PLANNED 7

int main(int argc, char **argv)
{
	const uint32_t pattern = BT_PFNMAP_PATTERN(0);
	struct kvm_regs regs = { .rbx = BAR_GPA };
	struct bt_pfnmap_stats st;
	struct bt_run_result res;
	struct bt_vcpu vcpu;
	struct bt_vm vm;
	uint64_t size = BAR_SIZE;
	uint32_t version = 0, val = 0;
	char what[160];
	void *bar;
	int fd, ret;
	bool ok;

	if (argc > 1) {
		fprintf(stderr, "usage: %s (no arguments; run as root with %s loaded)\n"
			"KTAP on stdout. Exit 0 pass, 1 fail, 4 skip.\n", argv[0], BT_PFNMAP_MODULE);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	printf("KTAP version 1\n");
	fd = open(BT_PFNMAP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		/* One skipped test, not "1..0 # SKIP": kunit.py rejects a
		 * document that runs no test. */
		printf("1..1\nok 1 pfnmap_memory_fault # SKIP %s: %s (load %s.ko)\n",
		       BT_PFNMAP_DEVICE, strerror(errno), BT_PFNMAP_MODULE);
		return KSFT_SKIP;
	}
	ret = __bt_vm_init(&vm);
	if (ret) {
		printf("1..1\nok 1 pfnmap_memory_fault # SKIP /dev/kvm: %s\n", strerror(-ret));
		return KSFT_SKIP;
	}
	printf("1..%d\n", PLANNED);
	ksft_print_msg("KVM_CAP_MEMORY_FAULT_INFO: %d",
		       bt_kvm_check_cap(&vm, KVM_CAP_MEMORY_FAULT_INFO));

	ok = !ioctl(fd, BT_PFNMAP_IOC_VERSION, &version) && version == BT_PFNMAP_API_VERSION;
	ksft_result(ok, "helper_api_version");
	if (!ok) {
		ksft_print_msg("module API %u, test built for %u", version, BT_PFNMAP_API_VERSION);
		ksft_skip_rest(PLANNED, "helper module of another API version");
		return KSFT_FAIL;
	}
	if (ioctl(fd, BT_PFNMAP_IOC_SET_SIZE, &size) ||
	    (bar = mmap(NULL, BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		ksft_result(false, "helper_declines_when_disabled");
		ksft_print_msg("sizing or mapping the helper: %s", strerror(errno));
		ksft_skip_rest(PLANNED, "no mapping");
		return KSFT_FAIL;
	}

	/* The helper itself: PTEs while enabled, SIGBUS while disabled. */
	ok = host_read(bar, &val) && val == pattern;
	ioctl(fd, BT_PFNMAP_IOC_DISABLE);
	ok = ok && !host_read(bar, &val);
	ioctl(fd, BT_PFNMAP_IOC_ENABLE);
	ok = ok && !ioctl(fd, BT_PFNMAP_IOC_STATS, &st) && st.declined == 1 && st.zaps == 1;
	ksft_result(ok, "helper_declines_when_disabled");

	bt_vm_set_slot(&vm, BAR_SLOT, BAR_GPA, BAR_SIZE, bar);
	bt_vm_map_uc(&vm, BAR_GPA, BAR_SIZE);
	bt_vm_load_code(&vm, guest_code, sizeof(guest_code));
	regs.rip = BT_GUEST_CODE_GPA;
	bt_vcpu_init(&vm, &vcpu, 0, &regs);

	ok = guest_read(&vcpu, &val, &res) && val == pattern;
	describe(&res, what, sizeof(what));
	if (!ok)
		ksft_print_msg("enabled read: %s, value %#x (want %#x)", what, val, pattern);
	ksft_result(ok, "guest_reads_enabled_bar");

	/* The fault under test: KVM maps the slot through hva_to_pfn_remapped(). */
	ioctl(fd, BT_PFNMAP_IOC_DISABLE);
	ok = !guest_read(&vcpu, &val, &res) && res.kind == BT_RUN_MEMORY_FAULT &&
	     res.memory_fault.gpa >= BAR_GPA &&
	     res.memory_fault.gpa + res.memory_fault.size <= BAR_GPA + BAR_SIZE &&
	     !(res.memory_fault.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE);
	describe(&res, what, sizeof(what));
	if (res.kind == BT_RUN_MEMORY_FAULT)
		ksft_print_msg("disabled read: %s: KVM_EXIT_MEMORY_FAULT gpa %#" PRIx64
			       " size %#" PRIx64 " flags %#" PRIx64, what,
			       res.memory_fault.gpa, res.memory_fault.size,
			       res.memory_fault.flags);
	else
		ksft_print_msg("disabled read: %s; want KVM_RUN = -1 errno EFAULT with "
			       "exit_reason KVM_EXIT_MEMORY_FAULT (%d) and the gpa in [%#llx, %#llx)",
			       what, KVM_EXIT_MEMORY_FAULT, BAR_GPA, BAR_GPA + BAR_SIZE);
	ksft_result(ok, "disabled_bar_exits_memory_fault");

	/* What a VMM does next: decoding back on, the same access completes. */
	ioctl(fd, BT_PFNMAP_IOC_ENABLE);
	ok = guest_read(&vcpu, &val, &res) && val == pattern;
	describe(&res, what, sizeof(what));
	if (!ok)
		ksft_print_msg("re-enabled read: %s, value %#x", what, val);
	ksft_result(ok, "guest_resumes_after_enable");

	/* Unload must be refused while a VM's memslot and a mapping use it. */
	errno = 0;
	ret = syscall(SYS_delete_module, BT_PFNMAP_MODULE, O_NONBLOCK);
	if (ret && errno == EPERM) {
		printf("ok %u helper_unload_refused_while_mapped # SKIP no CAP_SYS_MODULE\n", ++test_nr);
		skipped++;
	} else {
		ok = ret && (errno == EWOULDBLOCK || errno == EBUSY);
		if (!ok)
			ksft_print_msg("delete_module: %d, errno %d (%s)", ret, errno, strerror(errno));
		ksft_result(ok, "helper_unload_refused_while_mapped");
	}

	/* Unmapped and closed, the pages go even while the VM keeps the slot. */
	munmap(bar, BAR_SIZE);
	close(fd);
	ok = pages_live() == 0;
	if (!ok)
		ksft_print_msg("%s = %ld after munmap and close", PAGES_LIVE, pages_live());
	ksft_result(ok, "helper_frees_pages_while_vm_lives");

	bt_vcpu_cleanup(&vcpu);
	bt_vm_cleanup(&vm);
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       test_nr - failed - skipped, failed, skipped);
	return failed ? KSFT_FAIL : KSFT_PASS;
}
