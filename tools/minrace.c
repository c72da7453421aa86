// SPDX-License-Identifier: GPL-2.0
/*
 * bt-minrace: the ceiling for bartoggle-repro's race and control modes, the
 * smallest KVM program that does the same job. One vCPU in long mode (as
 * the repro's guest: its 8-byte accesses need it; identity map of 2 MiB
 * pages, nothing of the repro's setup shared) loops "write the BAR, read it
 * back, count" over a one-page memfd memslot;
 * in race mode a host thread truncates the memfd to 0 and back as fast as it
 * can. Every KVM_EXIT_MMIO is an access that found the backing gone: a
 * window hit, completed as the VMM's UR (reads all ones, writes dropped).
 * `make bench` runs it beside bartoggle-repro and prints the ratio: if the
 * repro falls far behind this, the repro is wasting the machine.
 *
 *   bt-minrace [--mode race|control] [--seconds S] [--pages N]
 * stdout: one JSON object; stderr: one human line. Exit 0, 1 on a KVM
 * failure, 2 on a usage error, 4 without /dev/kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define RAM_SIZE	0x10000ULL
#define CODE_GPA	0x1000ULL
#define COUNTER_GPA	0x2000ULL
#define PML4_GPA	0x3000ULL	/* then PDPT, PD for 0-1G, PD for 3-4G */
#define PTE_P_RW	0x3ULL
#define PTE_PS		0x80ULL
#define BAR_GPA		0xc0000000ULL
#define PAGE		4096ULL

/* The loop of issue 15's measurement, byte for byte. */
static const unsigned char guest_code[] = {
	0x88, 0x03,				/* 1: mov %al,(%rbx) */
	0xfe, 0xc0,				/* inc %al */
	0x8a, 0x0b,				/* mov (%rbx),%cl */
	0x48, 0xff, 0x04, 0x25, 0x00, 0x20, 0x00, 0x00, /* incq 0x2000 */
	0xeb, 0xf0,				/* jmp 1b */
};

struct minrace {
	int vm, vcpu, memfd;
	struct kvm_run *run;
	uint8_t *ram;
	off_t bar_size;
	atomic_bool stop;
	atomic_ullong toggles;
	unsigned long long exits, mmio_exits;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int fail(const char *what)
{
	fprintf(stderr, "bt-minrace: %s: %s\n", what, strerror(errno));
	return -1;
}

static int set_slot(struct minrace *m, unsigned int slot, unsigned long long gpa,
		    unsigned long long size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (unsigned long)hva,
	};

	return ioctl(m->vm, KVM_SET_USER_MEMORY_REGION, &r) ?
	       fail("KVM_SET_USER_MEMORY_REGION") : 0;
}

static void flat_segment(struct kvm_segment *s, unsigned int selector,
			 unsigned int type)
{
	bool code = type & 8;

	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector,
		.type = type, .present = 1, .s = 1, .g = 1,
		.l = code, .db = !code,
	};
}

/* Guest RAM at 0 and the BAR at 3 GiB, each in one 2 MiB page. */
static void map_identity(uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + PML4_GPA), *pdpt = pml4 + 512;
	uint64_t *pd_low = pdpt + 512, *pd_bar = pd_low + 512;

	pml4[0] = (PML4_GPA + 0x1000) | PTE_P_RW;
	pdpt[0] = (PML4_GPA + 0x2000) | PTE_P_RW;
	pdpt[BAR_GPA >> 30] = (PML4_GPA + 0x3000) | PTE_P_RW;
	pd_low[0] = 0 | PTE_P_RW | PTE_PS;
	pd_bar[(BAR_GPA >> 21) & 511] = BAR_GPA | PTE_P_RW | PTE_PS;
}

static int setup(struct minrace *m, int kvm)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = CODE_GPA, .rbx = BAR_GPA, .rflags = 2 };
	void *bar;
	int size;

	m->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (m->vm < 0)
		return fail("KVM_CREATE_VM");
	m->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->ram == MAP_FAILED)
		return fail("mmap guest RAM");
	memcpy(m->ram + CODE_GPA, guest_code, sizeof(guest_code));
	map_identity(m->ram);
	if (set_slot(m, 0, 0, RAM_SIZE, m->ram))
		return -1;

	m->memfd = memfd_create("bt-minrace-bar", MFD_CLOEXEC);
	if (m->memfd < 0)
		return fail("memfd_create");
	if (ftruncate(m->memfd, m->bar_size))
		return fail("ftruncate");
	bar = mmap(NULL, m->bar_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   m->memfd, 0);
	if (bar == MAP_FAILED)
		return fail("mmap the BAR memfd");
	if (set_slot(m, 1, BAR_GPA, m->bar_size, bar))
		return -1;

	m->vcpu = ioctl(m->vm, KVM_CREATE_VCPU, 0);
	if (m->vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	m->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->vcpu, 0);
	if (m->run == MAP_FAILED)
		return fail("mmap kvm_run");
	if (ioctl(m->vcpu, KVM_GET_SREGS, &sregs))
		return fail("KVM_GET_SREGS");
	flat_segment(&sregs.cs, 0x8, 11);
	flat_segment(&sregs.ds, 0x10, 3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x80000011;	/* PG ET PE */
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 0x20;	/* PAE */
	sregs.efer = 0x500;	/* LMA LME */
	if (ioctl(m->vcpu, KVM_SET_SREGS, &sregs))
		return fail("KVM_SET_SREGS");
	if (ioctl(m->vcpu, KVM_SET_REGS, &regs))
		return fail("KVM_SET_REGS");
	return 0;
}

static void *toggler(void *arg)
{
	struct minrace *m = arg;

	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		if (ftruncate(m->memfd, 0) || ftruncate(m->memfd, m->bar_size)) {
			fail("ftruncate in the toggler");
			break;
		}
		atomic_fetch_add_explicit(&m->toggles, 2, memory_order_relaxed);
	}
	return NULL;
}

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* Until SIGALRM (only this thread takes it) kicks the vCPU out of KVM_RUN. */
static int run_vcpu(struct minrace *m)
{
	while (!timed_out) {
		if (ioctl(m->vcpu, KVM_RUN, 0) && errno != EINTR)
			return fail("KVM_RUN");
		m->exits++;
		if (m->run->exit_reason == KVM_EXIT_MMIO) {
			/* The backing was gone: the UR a fixed VMM answers. */
			if (!m->run->mmio.is_write)
				memset(m->run->mmio.data, 0xff, m->run->mmio.len);
			m->mmio_exits++;
		} else if (m->run->exit_reason != KVM_EXIT_INTR) {
			fprintf(stderr, "bt-minrace: unexpected exit_reason %u\n",
				m->run->exit_reason);
			return -1;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bt-minrace [--mode race|control] [--seconds S] [--pages N]\n"
		   "The ceiling of bartoggle-repro's race/control rates on this host:\n"
		   "one vCPU writing and reading a memfd BAR, a thread truncating it.\n"
		   "stdout: one JSON object; stderr: a human line.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 's' },
		{ "pages", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct minrace m = { .bar_size = PAGE };
	double seconds = 5, elapsed;
	unsigned long long start, pages = 1;
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval timer = { { 0, 0 }, { 0, 0 } };
	sigset_t alrm;
	bool race = true;
	pthread_t t = 0;
	uint64_t iterations;
	char *end;
	int c, kvm;

	while ((c = getopt_long(argc, argv, "m:s:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "race") && strcmp(optarg, "control")) {
				fprintf(stderr, "bt-minrace: --mode: race or control, not '%s'\n", optarg);
				return 2;
			}
			race = !strcmp(optarg, "race");
			break;
		case 's':
			errno = 0;
			seconds = strtod(optarg, &end);
			if (errno || *end || !(seconds > 0 && seconds <= 3600)) {
				fprintf(stderr, "bt-minrace: --seconds: 0 < S <= 3600, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'p':
			errno = 0;
			pages = strtoull(optarg, &end, 0);
			if (errno || *end || !pages || pages > 262144) {
				fprintf(stderr, "bt-minrace: --pages: 1 to 262144, not '%s'\n", optarg);
				return 2;
			}
			m.bar_size = pages * PAGE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "bt-minrace: SKIP: /dev/kvm: %s\n", strerror(errno));
		return 4;
	}
	if (setup(&m, kvm))
		return 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: KVM_RUN returns */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL);	/* the toggler inherits it */
	if (race && (errno = pthread_create(&t, NULL, toggler, &m))) {
		fail("pthread_create");
		return 1;
	}
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
	timer.it_value.tv_sec = (time_t)seconds;
	timer.it_value.tv_usec = (suseconds_t)((seconds - (time_t)seconds) * 1e6);
	start = now_ns();
	setitimer(ITIMER_REAL, &timer, NULL);
	c = run_vcpu(&m);
	elapsed = (now_ns() - start) / 1e9;
	atomic_store(&m.stop, true);
	if (t)
		pthread_join(t, NULL);
	if (c)
		return 1;
	memcpy(&iterations, m.ram + COUNTER_GPA, sizeof(iterations));
	printf("{\"tool\":\"bt-minrace\",\"mode\":\"%s\",\"pages\":%llu,\"seconds\":%.3f,"
	       "\"toggles\":%llu,\"iterations\":%" PRIu64 ",\"accesses\":%llu,\"window_hits\":%llu,"
	       "\"toggles_per_s\":%.0f,\"accesses_per_s\":%.0f,\"window_hits_per_s\":%.0f}\n",
	       race ? "race" : "control", pages, elapsed,
	       (unsigned long long)atomic_load(&m.toggles), iterations,
	       2ULL * iterations, m.mmio_exits, atomic_load(&m.toggles) / elapsed,
	       2 * iterations / elapsed, m.mmio_exits / elapsed);
	fprintf(stderr, "bt-minrace: %s: %.0f toggles/s, %.0f accesses/s, %.0f window hits/s over %.2f s\n",
		race ? "race" : "control", atomic_load(&m.toggles) / elapsed,
		2 * iterations / elapsed, m.mmio_exits / elapsed, elapsed);
	return 0;
}
