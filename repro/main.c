// SPDX-License-Identifier: GPL-2.0
/*
 * bartoggle-repro: the disabled-BAR fault without QEMU.
 *
 * A BAR (a real vfio-pci BAR, or a stand-in whose fault handler also
 * declines) is registered as a KVM memslot and stays registered while the
 * backing is disabled: the window an unfixed VMM leaves open between the
 * config write and its memory-map update, held open for good. Guest vCPUs
 * access it; every KVM_RUN result is decoded and classified. Where KVM hands
 * the access back (KVM_EXIT_MMIO or KVM_EXIT_MEMORY_FAULT) this program acts
 * as a fixed VMM and completes it as an Unsupported Request.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bartoggle/backing.h"
#include "bartoggle/bdf.h"
#include "bartoggle/compat.h"
#include "bartoggle/kvm.h"
#include "bartoggle/log.h"
#include "bartoggle/outcome.h"
#include "bartoggle/record.h"
#include "bartoggle/stats.h"
#include "bartoggle/urinsn.h"
#include "bartoggle/version.h"
#include "guest.h"
#include "options.h"

/* Where a PCI hole would put it: above guest RAM, below 4 GiB. */
#define BAR_GPA			0xc0000000ULL
#define BAR_SLOT		1
#define HELD_PHASE_TIMEOUT_S	10
#define JOIN_GRACE_NS		5000000000ULL
#define PROGRESS_AFTER_NS	2000000000ULL
#define PROGRESS_EVERY_NS	1000000000ULL

#define COUNT(x)	__atomic_store_n(&(x), (x) + 1, __ATOMIC_RELAXED)
#define PEEK(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)

enum step { STEP_CONTINUE, STEP_SYNC, STEP_DONE, STEP_STOP };

struct repro;

struct vcpu_state {
	struct repro *r;
	struct bt_vcpu vcpu;
	pthread_t thread;
	bool started;
	uint64_t kinds[BT_RUN_NR];
	uint64_t window_hits;	/* host-observed accesses while disabled */
	uint64_t ur_served;	/* reads completed as all ones */
	uint64_t writes_dropped;
	uint64_t forwarded;	/* MMIO exits while enabled, done on the backing */
	uint64_t failures;	/* fatal KVM_RUN results */
	enum bt_outcome outcome;
	char signature[256];
	uint8_t *counters;	/* this vCPU's counters in the guest data page */
};

struct repro {
	struct repro_opts *o;
	struct bt_vm vm;
	struct bt_backing bk;
	struct bt_pci_dev pci;
	struct vcpu_state vcpus[REPRO_MAX_VCPUS];
	uint8_t *guest_data;
	uint64_t expected;
	uint64_t ones;
	int memory_fault_info;
	pthread_mutex_t lock;	/* backing state vs. VMM accesses to it */
	atomic_bool enabled;
	atomic_bool stop;	/* end the toggling: failure or signal */
	atomic_bool abort_vcpus;
	atomic_int vcpus_running;
	atomic_uint_fast64_t cycles;
	atomic_uint_fast64_t toggles;
	atomic_uint_fast64_t first_fail_ns;	/* since start_ns; 0: none */
	atomic_uint_fast64_t first_fail_cycle;
	int toggle_error;
	uint64_t start_ns;
	uint64_t end_ns;
	char reason[256];	/* why a run is an ERROR/SKIP */
};

static volatile sig_atomic_t interrupted;
static __thread sigjmp_buf *bar_fault_jmp;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void on_kick(int sig)
{
	(void)sig;
}

/* A VMM touching a zapped BAR gets SIGBUS: that is an outcome, not a crash. */
static void on_bar_fault(int sig)
{
	if (bar_fault_jmp)
		siglongjmp(*bar_fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_kick;	/* no SA_RESTART: KVM_RUN returns EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_bar_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/* One device-width access; -EFAULT when the mapping faulted. */
static int bar_access(void *addr, void *data, unsigned int len, bool write)
{
	sigjmp_buf jmp;

	if (sigsetjmp(jmp, 1)) {
		bar_fault_jmp = NULL;
		return -EFAULT;
	}
	bar_fault_jmp = &jmp;
	switch (len) {
	case 1:
		if (write)
			*(volatile uint8_t *)addr = *(uint8_t *)data;
		else
			*(uint8_t *)data = *(volatile uint8_t *)addr;
		break;
	case 2:
		if (write)
			*(volatile uint16_t *)addr = *(uint16_t *)data;
		else
			*(uint16_t *)data = *(volatile uint16_t *)addr;
		break;
	case 4:
		if (write)
			*(volatile uint32_t *)addr = *(uint32_t *)data;
		else
			*(uint32_t *)data = *(volatile uint32_t *)addr;
		break;
	default:
		if (write)
			*(volatile uint64_t *)addr = *(uint64_t *)data;
		else
			*(uint64_t *)data = *(volatile uint64_t *)addr;
	}
	bar_fault_jmp = NULL;
	return 0;
}

static uint64_t guest_counter(struct vcpu_state *v, unsigned int off)
{
	return __atomic_load_n((uint64_t *)(v->counters + off),
			       __ATOMIC_RELAXED);
}

/* Remember the most severe thing this vCPU saw, with its evidence line. */
static void observe(struct vcpu_state *v, enum bt_outcome outcome,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void observe(struct vcpu_state *v, enum bt_outcome outcome,
		    const char *fmt, ...)
{
	enum bt_outcome worse = bt_outcome_worse(v->outcome, outcome);
	va_list ap;

	if (worse == v->outcome && v->signature[0])
		return;
	v->outcome = worse;
	va_start(ap, fmt);
	vsnprintf(v->signature, sizeof(v->signature), fmt, ap);
	va_end(ap);
}

static void note_failure(struct vcpu_state *v)
{
	struct repro *r = v->r;
	uint_fast64_t none = 0, now = bt_now_ns() - r->start_ns;

	COUNT(v->failures);
	if (atomic_compare_exchange_strong(&r->first_fail_ns, &none,
					   now ? now : 1))
		atomic_store(&r->first_fail_cycle, atomic_load(&r->cycles));
}

static bool in_bar(struct repro *r, uint64_t gpa, uint64_t len)
{
	return gpa >= BAR_GPA && gpa - BAR_GPA + len <= r->bk.size;
}

static enum step fatal(struct vcpu_state *v, enum bt_outcome outcome,
		       const char *what)
{
	observe(v, outcome, "%s", what);
	note_failure(v);
	return STEP_STOP;
}

static enum step on_mmio(struct vcpu_state *v, struct bt_run_result *res)
{
	struct repro *r = v->r;
	uint64_t off = res->mmio.gpa - BAR_GPA;
	char what[160];
	int ret = 0;

	if (!in_bar(r, res->mmio.gpa, res->mmio.len)) {
		snprintf(what, sizeof(what),
			 "KVM_EXIT_MMIO outside the BAR: gpa=0x%" PRIx64 " len=%u",
			 res->mmio.gpa, res->mmio.len);
		return fatal(v, BT_OUTCOME_VM_STOPPED, what);
	}

	pthread_mutex_lock(&r->lock);
	if (atomic_load(&r->enabled)) {
		/* Raced with re-enable, or KVM cached an MMIO SPTE: the BAR
		 * decodes, so the access goes to it. */
		ret = bar_access((uint8_t *)r->bk.hva + off, res->mmio.data,
				 res->mmio.len, res->mmio.is_write);
		pthread_mutex_unlock(&r->lock);
		COUNT(v->forwarded);
		if (ret)
			return fatal(v, BT_OUTCOME_SIGBUS,
				     "SIGBUS: the VMM's own access to the enabled BAR mapping faulted");
		return STEP_CONTINUE;
	}
	pthread_mutex_unlock(&r->lock);

	COUNT(v->window_hits);
	if (res->mmio.is_write) {
		COUNT(v->writes_dropped);
	} else {
		memset(res->mmio.data, 0xff, res->mmio.len);
		COUNT(v->ur_served);
	}
	observe(v, BT_OUTCOME_MMIO_EXIT,
		"KVM_EXIT_MMIO gpa=0x%" PRIx64 " len=%u %s while the BAR was disabled",
		res->mmio.gpa, res->mmio.len,
		res->mmio.is_write ? "write" : "read");
	return STEP_CONTINUE;
}

static enum step on_memory_fault(struct vcpu_state *v,
				 struct bt_run_result *res)
{
	struct repro *r = v->r;
	struct bt_ur_insn insn;
	struct kvm_regs regs;
	uint64_t rax, rip;
	char what[192];

	snprintf(what, sizeof(what),
		 "KVM_EXIT_MEMORY_FAULT gpa=0x%" PRIx64 " size=0x%" PRIx64
		 " flags=0x%" PRIx64, res->memory_fault.gpa,
		 res->memory_fault.size, res->memory_fault.flags);
	if (!in_bar(r, res->memory_fault.gpa, 1))
		return fatal(v, BT_OUTCOME_VM_STOPPED, what);

	bt_vcpu_get_regs(&v->vcpu, &regs);
	if (regs.rip < BT_GUEST_CODE_GPA ||
	    regs.rip + BT_INSN_MAX_LEN > BT_GUEST_CODE_GPA + BT_GUEST_CODE_MAX ||
	    bt_ur_decode(bt_vm_gpa_to_hva(&r->vm, regs.rip), BT_INSN_MAX_LEN,
			 &insn)) {
		strncat(what, ": no BAR access at RIP to complete",
			sizeof(what) - strlen(what) - 1);
		return fatal(v, BT_OUTCOME_VM_STOPPED, what);
	}
	rax = regs.rax;
	rip = regs.rip;
	bt_ur_complete(&insn, &rax, &rip);
	regs.rax = rax;
	regs.rip = rip;
	bt_vcpu_set_regs(&v->vcpu, &regs);

	COUNT(v->window_hits);
	if (insn.is_write)
		COUNT(v->writes_dropped);
	else
		COUNT(v->ur_served);
	observe(v, BT_OUTCOME_MEMORY_FAULT_EXIT, "%s", what);
	return STEP_CONTINUE;
}

static enum step on_efault(struct vcpu_state *v, struct bt_run_result *res)
{
	struct repro *r = v->r;
	char what[160];

	if (res->exit_reason_untouched)
		snprintf(what, sizeof(what),
			 "KVM_RUN: rc=-1 errno=%d (%s), exit_reason untouched",
			 res->err, strerror(res->err));
	else
		snprintf(what, sizeof(what),
			 "KVM_RUN: rc=-1 errno=%d (%s), stale exit_reason %u",
			 res->err, strerror(res->err), res->exit_reason);
	COUNT(v->window_hits);
	fatal(v, BT_OUTCOME_EFAULT, what);
	if (!r->o->on_fault_continue || r->o->mode == REPRO_HELD)
		return STEP_STOP;
	/* The vCPU is parked on the faulting access: re-run it once the
	 * backing decodes again, as re-enabling MEM lets a real guest go on. */
	while (!atomic_load(&r->enabled) && !atomic_load(&r->abort_vcpus))
		sched_yield();
	return STEP_CONTINUE;
}

static enum step on_io(struct vcpu_state *v, struct bt_run_result *res)
{
	char what[96];

	switch (res->io.port) {
	case GUEST_PORT_SYNC:
		return STEP_SYNC;
	case GUEST_PORT_DONE:
		return STEP_DONE;
	case GUEST_PORT_VIOLATION:
		bt_debug("vcpu%d: guest read 0x%x, neither 0x%" PRIx64
				 " nor all ones", v->vcpu.id, res->io.value,
				 v->r->expected);
		return STEP_CONTINUE;
	}
	snprintf(what, sizeof(what), "guest wrote to unknown port 0x%x",
		 res->io.port);
	return fatal(v, BT_OUTCOME_VM_STOPPED, what);
}

static enum step run_once(struct vcpu_state *v)
{
	struct bt_run_result res;
	char what[128];

	bt_vcpu_run(&v->vcpu, &res);
	COUNT(v->kinds[res.kind]);
	switch (res.kind) {
	case BT_RUN_IO:
		return on_io(v, &res);
	case BT_RUN_MMIO:
		return on_mmio(v, &res);
	case BT_RUN_MEMORY_FAULT:
		return on_memory_fault(v, &res);
	case BT_RUN_EFAULT:
		return on_efault(v, &res);
	case BT_RUN_INTR:
		return atomic_load(&v->r->abort_vcpus) ? STEP_STOP
						       : STEP_CONTINUE;
	case BT_RUN_HLT:
		return STEP_DONE;
	default:
		snprintf(what, sizeof(what),
			 "KVM_RUN: rc=%d errno=%d, %s (exit_reason %u)",
			 res.ret, res.err, bt_run_kind_name(res.kind),
			 res.exit_reason);
		return fatal(v, bt_run_kind_outcome(res.kind), what);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_state *v = arg;
	enum step step;

	do {
		step = run_once(v);
	} while (step == STEP_CONTINUE || step == STEP_SYNC);
	if (step == STEP_STOP && !v->r->o->on_fault_continue)
		atomic_store(&v->r->stop, true);
	atomic_fetch_sub(&v->r->vcpus_running, 1);
	return NULL;
}

static int set_backing(struct repro *r, bool enable)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = __bt_backing_set(&r->bk, enable);
	if (!ret)
		atomic_store(&r->enabled, enable);
	pthread_mutex_unlock(&r->lock);
	if (ret) {
		r->toggle_error = ret;
		snprintf(r->reason, sizeof(r->reason), "%s the backing: %s",
			 enable ? "enabling" : "disabling", strerror(-ret));
		return ret;
	}
	atomic_fetch_add(&r->toggles, 1);
	return 0;
}

static bool keep_going(struct repro *r)
{
	return !atomic_load(&r->stop) && !interrupted &&
	       atomic_load(&r->vcpus_running) > 0;
}

/* The negative control: the same guest hammering, the BAR never disabled. */
static void *idle_thread(void *arg)
{
	struct repro *r = arg;
	uint64_t deadline = r->start_ns + (uint64_t)(r->o->duration_s * 1e9);
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	while (keep_going(r) && bt_now_ns() < deadline)
		nanosleep(&ts, NULL);
	return NULL;
}

static void *toggler_thread(void *arg)
{
	struct repro *r = arg;
	uint64_t deadline = 0, n = 0;

	if (r->o->duration_s > 0)
		deadline = r->start_ns + (uint64_t)(r->o->duration_s * 1e9);
	while (keep_going(r)) {
		if (r->o->cycles && atomic_load(&r->cycles) >= r->o->cycles)
			break;
		if (deadline && !(n++ & 63) && bt_now_ns() >= deadline)
			break;
		if (set_backing(r, false))
			break;
		bt_dwell_us(r->o->dwell_off_us);
		if (set_backing(r, true))
			break;
		atomic_fetch_add(&r->cycles, 1);
		bt_dwell_us(r->o->dwell_on_us);
	}
	return NULL;
}

static void sum_counts(struct repro *r, struct bt_counts *c)
{
	unsigned int i;

	*c = (struct bt_counts){
		.cycles = atomic_load(&r->cycles),
		.toggles = atomic_load(&r->toggles),
	};
	for (i = 0; i < r->o->vcpus; i++) {
		struct vcpu_state *v = &r->vcpus[i];

		c->accesses += guest_counter(v, GUEST_VCPU_ACCESSES);
		c->ur_reads += guest_counter(v, GUEST_VCPU_ONES);
		c->ur_violations += guest_counter(v, GUEST_VCPU_VIOLATIONS);
		c->window_hits += PEEK(v->window_hits);
	}
}

static void progress(struct repro *r, uint64_t now)
{
	uint64_t ns = now - r->start_ns, failures = 0;
	struct bt_counts c;
	char of[32] = "";
	unsigned int i;

	sum_counts(r, &c);
	for (i = 0; i < r->o->vcpus; i++)
		failures += PEEK(r->vcpus[i].failures);
	if (r->o->cycles)
		snprintf(of, sizeof(of), "/%" PRIu64, r->o->cycles);
	bt_info("%s: %" PRIu64 "%s cycles, %.0f toggles/s, %.0f accesses/s, %"
		PRIu64 " window hits, %" PRIu64 " failures, %.1f s",
		repro_mode_name(r->o->mode), c.cycles, of, bt_per_s(c.toggles, ns), bt_per_s(c.accesses, ns),
		c.window_hits, failures, ns / 1e9);
}

static void start_vcpu(struct repro *r, unsigned int i)
{
	struct vcpu_state *v = &r->vcpus[i];
	int ret;

	atomic_fetch_add(&r->vcpus_running, 1);
	ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	errno = ret;
	BT_ASSERT(!ret, "pthread_create for vcpu%u", i);
	v->started = true;
}

/* Join the vCPUs; kick any still inside KVM_RUN after a grace period. */
static void join_vcpus(struct repro *r)
{
	uint64_t deadline = bt_now_ns() + JOIN_GRACE_NS;
	unsigned int i;

	while (atomic_load(&r->vcpus_running) > 0) {
		if (bt_now_ns() > deadline) {
			if (!atomic_exchange(&r->abort_vcpus, true))
				bt_warn("vCPUs did not stop within %llu s; kicking them",
					JOIN_GRACE_NS / 1000000000ULL);
			for (i = 0; i < r->o->vcpus; i++)
				if (r->vcpus[i].started)
					pthread_kill(r->vcpus[i].thread, SIGUSR1);
		}
		usleep(1000);
	}
	for (i = 0; i < r->o->vcpus; i++)
		if (r->vcpus[i].started)
			pthread_join(r->vcpus[i].thread, NULL);
}

static void run_race(struct repro *r)
{
	uint64_t now, last = 0;
	pthread_t toggler;
	unsigned int i;
	int ret;

	r->start_ns = bt_now_ns();
	for (i = 0; i < r->o->vcpus; i++)
		start_vcpu(r, i);
	ret = pthread_create(&toggler, NULL, r->o->mode == REPRO_CONTROL ?
			     idle_thread : toggler_thread, r);
	errno = ret;
	BT_ASSERT(!ret, "pthread_create for the toggler");

	for (;;) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (!pthread_tryjoin_np(toggler, NULL))
			break;
		nanosleep(&ts, NULL);
		now = bt_now_ns();
		if (!r->o->quiet && now - r->start_ns >= PROGRESS_AFTER_NS &&
		    now - last >= PROGRESS_EVERY_NS) {
			progress(r, now);
			last = now;
		}
	}
	if (!atomic_load(&r->enabled))
		set_backing(r, true);
	__atomic_store_n((uint64_t *)(r->guest_data + GUEST_DATA_STOP), 1,
			 __ATOMIC_SEQ_CST);
	join_vcpus(r);
	r->end_ns = bt_now_ns();
	if (!r->o->quiet && r->end_ns - r->start_ns >= PROGRESS_AFTER_NS)
		progress(r, r->end_ns);
}

/* Held mode: run the single vCPU until its next access has synced. */
static enum step held_step(struct repro *r)
{
	struct vcpu_state *v = &r->vcpus[0];
	enum step step;

	alarm(HELD_PHASE_TIMEOUT_S);
	do {
		step = run_once(v);
		if (step == STEP_CONTINUE && interrupted)
			step = STEP_STOP;
	} while (step == STEP_CONTINUE);
	alarm(0);
	return step;
}

static bool value_ok(struct vcpu_state *v, uint64_t ones_before,
		     uint64_t viol_before, bool want_ones)
{
	enum repro_access access = v->r->o->access;

	if (guest_counter(v, GUEST_VCPU_VIOLATIONS) != viol_before)
		return false;
	if (access == REPRO_WRITE)
		return true;
	return (guest_counter(v, GUEST_VCPU_ONES) != ones_before) == want_ones;
}

struct held_result {
	bool enabled_ok;
	bool disabled_completed;	/* the access completed (UR) */
	bool disabled_ur_ok;
	bool resumed_ok;
};

static void run_held(struct repro *r, struct held_result *h)
{
	struct vcpu_state *v = &r->vcpus[0];
	uint64_t ones, viol;

	r->start_ns = bt_now_ns();
	__atomic_store_n((uint64_t *)(r->guest_data + GUEST_DATA_SYNC_EACH), 1,
			 __ATOMIC_SEQ_CST);

	h->enabled_ok = held_step(r) == STEP_SYNC && value_ok(v, 0, 0, false);

	ones = guest_counter(v, GUEST_VCPU_ONES);
	viol = guest_counter(v, GUEST_VCPU_VIOLATIONS);
	if (!set_backing(r, false)) {
		r->start_ns = bt_now_ns();	/* time to failure from here */
		h->disabled_completed = held_step(r) == STEP_SYNC;
		h->disabled_ur_ok = h->disabled_completed &&
				    value_ok(v, ones, viol, true);
	}

	ones = guest_counter(v, GUEST_VCPU_ONES);
	viol = guest_counter(v, GUEST_VCPU_VIOLATIONS);
	if (!set_backing(r, true)) {
		atomic_store(&r->cycles, 1);
		h->resumed_ok = held_step(r) == STEP_SYNC &&
				value_ok(v, ones, viol, false);
	}
	r->end_ns = bt_now_ns();
}

enum setup_result { SETUP_OK, SETUP_SKIP, SETUP_ERROR };

static enum setup_result setup_fail(struct repro *r, enum setup_result res,
				    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum setup_result setup_fail(struct repro *r, enum setup_result res,
				    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return res;
}

/* Errors that say "this host cannot run the test", not "the test failed". */
static bool is_skip_errno(int err)
{
	switch (err) {
	case ENOENT: case ENODEV: case ENXIO: case EACCES: case EPERM:
	case ENOTSUP: case EBUSY:
		return true;
	}
	return false;
}

static enum setup_result setup_device(struct repro *r)
{
	struct bt_bdf bdf;
	int ret;

	bt_bdf_parse(r->o->bdf, &bdf);	/* validated with the options */
	ret = bt_pci_dev_init(&r->pci, NULL, &bdf);
	if (ret == -ENOENT)
		return setup_fail(r, SETUP_SKIP, "no PCI device %s", r->o->bdf);
	if (ret)
		return setup_fail(r, SETUP_ERROR, "reading %s from sysfs: %s",
				  r->o->bdf, strerror(-ret));
	if (!bt_pci_bar_size(&r->pci, r->o->bar))
		return setup_fail(r, SETUP_SKIP, "%s has no BAR%d",
				  r->o->bdf, r->o->bar);
	if (!bt_pci_bar_is_mem(&r->pci, r->o->bar))
		return setup_fail(r, SETUP_SKIP,
				  "%s BAR%d is not a memory BAR (choose one with --bar)",
				  r->o->bdf, r->o->bar);
	if (strcmp(r->pci.driver, "vfio-pci"))
		return setup_fail(r, SETUP_SKIP,
				  "%s is bound to %s, not vfio-pci (bartoggle-run binds it safely)",
				  r->o->bdf, r->pci.driver[0] ? r->pci.driver : "no driver");
	return SETUP_OK;
}

static enum setup_result setup_backing(struct repro *r)
{
	struct bt_backing_opts bo = {
		.pci = &r->pci,
		.iommu = r->o->iommu,
		.bar = r->o->bar,
		.size = r->o->size,
	};
	const char *why = "";
	int ret;

	ret = __bt_backing_init(&r->bk, r->o->backing, &bo, &why);
	if (ret)
		return setup_fail(r, is_skip_errno(-ret) ? SETUP_SKIP : SETUP_ERROR,
				  "%s backing: %s: %s", r->o->backing->name,
				  why, strerror(-ret));
	atomic_store(&r->enabled, true);
	if (r->o->offset + r->o->width > r->bk.size)
		return setup_fail(r, SETUP_ERROR,
				  "--offset=0x%" PRIx64 " is outside the %" PRIu64 "-byte BAR",
				  r->o->offset, r->bk.size);
	if (r->bk.size > BT_GUEST_MAPPED_LIMIT - BAR_GPA)
		return setup_fail(r, SETUP_SKIP,
				  "a %" PRIu64 "-byte BAR does not fit below 4 GiB at 0x%llx",
				  r->bk.size, BAR_GPA);
	r->expected = 0;
	if (bar_access((uint8_t *)r->bk.hva + r->o->offset, &r->expected,
		       r->o->width, false))
		return setup_fail(r, SETUP_ERROR,
				  "reading the BAR at 0x%" PRIx64 " faulted while enabled",
				  r->o->offset);
	r->ones = bt_ur_ones(r->o->width);
	if (r->expected == r->ones)
		bt_warn("the BAR reads all ones at 0x%" PRIx64 " even while enabled: "
			"UR reads cannot be told apart (choose another --offset)",
			r->o->offset);
	return SETUP_OK;
}

static enum setup_result setup_vm(struct repro *r)
{
	unsigned int i, entry;
	int ret;

	ret = __bt_vm_init(&r->vm);
	if (ret == -ENOENT)
		return setup_fail(r, SETUP_SKIP, "/dev/kvm does not exist");
	if (ret == -EACCES || ret == -EPERM)
		return setup_fail(r, SETUP_SKIP, "no permission to open /dev/kvm");
	if (ret)
		return setup_fail(r, SETUP_ERROR, "creating a KVM VM: %s",
				  strerror(-ret));
	r->memory_fault_info = bt_kvm_check_cap(&r->vm, KVM_CAP_MEMORY_FAULT_INFO);

	ret = __bt_vm_set_slot(&r->vm, BAR_SLOT, BAR_GPA, r->bk.size, r->bk.hva);
	if (ret)
		return setup_fail(r, SETUP_ERROR,
				  "KVM_SET_USER_MEMORY_REGION for the BAR: %s",
				  strerror(-ret));
	bt_vm_map_uc(&r->vm, BAR_GPA, r->bk.size);
	bt_vm_load_code(&r->vm, bt_guest_start, bt_guest_end - bt_guest_start);
	r->guest_data = bt_vm_gpa_to_hva(&r->vm, BT_GUEST_DATA_GPA);

	entry = r->o->access * 4 + __builtin_ctz(r->o->width);
	for (i = 0; i < r->o->vcpus; i++) {
		uint64_t counters = GUEST_DATA_VCPU0 + i * GUEST_VCPU_STRIDE;
		struct kvm_regs regs = {
			.rip = BT_GUEST_CODE_GPA + bt_guest_entries[entry],
			.rbx = BAR_GPA + r->o->offset,
			.r12 = BT_GUEST_DATA_GPA,
			.r13 = BT_GUEST_DATA_GPA + counters,
			.r14 = r->expected,
			.r15 = r->ones,
		};

		r->vcpus[i].r = r;
		r->vcpus[i].counters = r->guest_data + counters;
		bt_vcpu_init(&r->vm, &r->vcpus[i].vcpu, i, &regs);
	}
	return SETUP_OK;
}

static enum setup_result setup(struct repro *r)
{
	enum setup_result res = SETUP_OK;

	if (r->o->backing->needs_device)
		res = setup_device(r);
	if (res == SETUP_OK)
		res = setup_backing(r);
	if (res == SETUP_OK)
		res = setup_vm(r);
	return res;
}

static enum bt_outcome run_outcome(struct repro *r)
{
	enum bt_outcome outcome = BT_OUTCOME_SURVIVED;
	unsigned int i;

	for (i = 0; i < r->o->vcpus; i++)
		outcome = bt_outcome_worse(outcome, r->vcpus[i].outcome);
	if (r->toggle_error)
		outcome = bt_outcome_worse(outcome, BT_OUTCOME_SETUP_ERROR);
	return outcome;
}

/* The evidence line of the vCPU that saw the run's outcome. */
static const char *run_signature(struct repro *r, enum bt_outcome outcome)
{
	unsigned int i;

	for (i = 0; i < r->o->vcpus; i++)
		if (r->vcpus[i].outcome == outcome && r->vcpus[i].signature[0])
			return r->vcpus[i].signature;
	return NULL;
}

static void record_options(struct json_object *rec, const struct repro_opts *o)
{
	struct json_object *opts = bt_json_set_obj(rec, "options");

	bt_json_set_str(opts, "backing", o->backing->name);
	bt_json_set_str(opts, "mode", repro_mode_name(o->mode));
	bt_json_set_u64(opts, "vcpus", o->vcpus);
	bt_json_set_str(opts, "access", repro_access_name(o->access));
	bt_json_set_u64(opts, "width", o->width);
	bt_json_set_u64(opts, "offset", o->offset);
	if (o->backing->needs_device) {
		bt_json_set_str(opts, "bdf", o->bdf);
		bt_json_set_str(opts, "iommu", bt_vfio_mode_name(o->iommu));
		bt_json_set_u64(opts, "bar", o->bar);
	} else {
		bt_json_set_u64(opts, "size", o->size);
	}
	if (o->mode != REPRO_HELD) {
		bt_json_set_u64(opts, "cycles", o->cycles);
		bt_json_set_double(opts, "duration_s", o->duration_s);
		bt_json_set_u64(opts, "dwell_off_us", o->dwell_off_us);
		bt_json_set_u64(opts, "dwell_on_us", o->dwell_on_us);
		bt_json_set_str(opts, "on_fault",
				o->on_fault_continue ? "continue" : "stop");
	}
}

static void record_device(struct json_object *rec, struct repro *r)
{
	struct json_object *dev = bt_json_set_obj(rec, "device");
	char id[8];

	if (r->o->backing->needs_device && r->pci.path[0]) {
		bt_json_set_str(dev, "bdf", r->pci.bdf_str);
		snprintf(id, sizeof(id), "%04x", r->pci.vendor);
		bt_json_set_str(dev, "vendor", id);
		snprintf(id, sizeof(id), "%04x", r->pci.device);
		bt_json_set_str(dev, "device", id);
	} else {
		bt_json_set_null(dev, "bdf");
		bt_json_set_null(dev, "vendor");
		bt_json_set_null(dev, "device");
	}
	bt_json_set_u64(dev, "bar", r->o->backing->needs_device ? r->o->bar : 0);
	bt_json_set_u64(dev, "bar_size", r->bk.size);
}

static void record_vmm(struct json_object *rec, struct repro *r)
{
	struct json_object *kinds = bt_json_set_obj(rec, "kvm_run");
	struct json_object *vmm = bt_json_set_obj(rec, "vmm");
	uint64_t sum[BT_RUN_NR] = { 0 }, ur = 0, dropped = 0, fwd = 0, fail = 0;
	unsigned int i, k;

	for (i = 0; i < r->o->vcpus; i++) {
		struct vcpu_state *v = &r->vcpus[i];

		for (k = 0; k < BT_RUN_NR; k++)
			sum[k] += v->kinds[k];
		ur += v->ur_served;
		dropped += v->writes_dropped;
		fwd += v->forwarded;
		fail += v->failures;
	}
	for (k = 0; k < BT_RUN_NR; k++)
		bt_json_set_u64(kinds, bt_run_kind_name(k), sum[k]);
	bt_json_set_u64(vmm, "ur_reads_served", ur);
	bt_json_set_u64(vmm, "writes_dropped", dropped);
	bt_json_set_u64(vmm, "forwarded_while_enabled", fwd);
	bt_json_set_u64(vmm, "fatal_results", fail);
}

static int write_record(struct repro *r, enum bt_outcome outcome,
			enum bt_verdict verdict, const struct bt_counts *c)
{
	uint64_t ff = atomic_load(&r->first_fail_ns);
	struct json_object *rec;
	int ret;

	if (!r->o->json)
		return 0;
	rec = bt_record_new("repro");
	record_device(rec, r);
	bt_json_set_str(rec, "backing", r->o->backing->name);
	bt_json_set_str(rec, "mode", repro_mode_name(r->o->mode));
	record_options(rec, r->o);
	bt_record_set_outcome(rec, outcome, verdict);
	bt_record_set_counts(rec, c, r->end_ns - r->start_ns);
	bt_record_set_first_failure(rec, ff, atomic_load(&r->first_fail_cycle),
				    ff / 1e6);
	bt_json_set_str(rec, "signature", run_signature(r, outcome));
	if (r->vm.vm_fd >= 0 && r->vcpus[0].r)
		record_vmm(rec, r);
	bt_json_set_bool(rec, "interrupted", interrupted);
	bt_json_set_str(rec, "reason", r->reason[0] ? r->reason : NULL);
	ret = bt_record_append(r->o->json, rec);
	json_object_put(rec);
	if (ret)
		bt_err("could not append the record to %s: %s", r->o->json,
		       strerror(-ret));
	return ret;
}

static void report_held(struct repro *r, struct bt_ktap *k,
			const struct held_result *h, enum bt_outcome outcome)
{
	const char *sig = run_signature(r, outcome);
	bool pass = bt_verdict_of(outcome, 1, 0) == BT_VERDICT_PASS;

	bt_ktap_result(k, h->enabled_ok ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "enabled access returns 0x%" PRIx64, r->expected);
	bt_ktap_result(k, pass && h->disabled_ur_ok ? BT_VERDICT_PASS
						     : BT_VERDICT_FAIL,
		       "disabled access: %s", bt_outcome_name(outcome));
	if (sig)
		bt_ktap_diag(k, "%s", sig);
	if (h->disabled_completed && !h->disabled_ur_ok)
		bt_ktap_diag(k, "UR violated: the guest did not read all ones");
	bt_ktap_result(k, h->resumed_ok ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "re-enabled access resumes");
}

static void report_race(struct repro *r, struct bt_ktap *k,
			const struct bt_counts *c, enum bt_outcome outcome)
{
	const char *sig = run_signature(r, outcome);
	bool pass = bt_verdict_of(outcome, 1, 0) == BT_VERDICT_PASS;

	bt_ktap_result(k, c->window_hits ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "disabled window hit: %" PRIu64 " accesses in %" PRIu64
		       " cycles", c->window_hits, c->cycles);
	bt_ktap_result(k, pass ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "KVM_RUN results: %s", bt_outcome_name(outcome));
	if (sig)
		bt_ktap_diag(k, "%s", sig);
	bt_ktap_result(k, c->ur_violations ? BT_VERDICT_FAIL : BT_VERDICT_PASS,
		       "UR semantics: %" PRIu64 " all-ones reads, %" PRIu64
		       " violations", c->ur_reads, c->ur_violations);
}

static void report_control(struct repro *r, struct bt_ktap *k,
			   const struct bt_counts *c, enum bt_outcome outcome)
{
	const char *sig = run_signature(r, outcome);

	bt_ktap_result(k, c->accesses ? BT_VERDICT_PASS : BT_VERDICT_FAIL,
		       "no toggling: %" PRIu64 " accesses", c->accesses);
	bt_ktap_result(k, outcome == BT_OUTCOME_SURVIVED ? BT_VERDICT_PASS
							  : BT_VERDICT_FAIL,
		       "KVM_RUN results: %s", bt_outcome_name(outcome));
	if (sig)
		bt_ktap_diag(k, "%s", sig);
	bt_ktap_result(k, c->ur_violations || c->ur_reads ? BT_VERDICT_FAIL
							   : BT_VERDICT_PASS,
		       "every read returned 0x%" PRIx64 ": %" PRIu64
		       " all-ones reads, %" PRIu64 " violations", r->expected,
		       c->ur_reads, c->ur_violations);
}

/* A BAR that always decodes must give nothing but its own value. */
static enum bt_verdict control_verdict(enum bt_outcome outcome,
				       const struct bt_counts *c)
{
	if (outcome == BT_OUTCOME_SETUP_ERROR)
		return BT_VERDICT_ERROR;
	return outcome == BT_OUTCOME_SURVIVED && c->accesses &&
	       !c->ur_reads && !c->ur_violations ? BT_VERDICT_PASS
						  : BT_VERDICT_FAIL;
}

static void summary(struct repro *r, const struct bt_counts *c,
		    enum bt_outcome outcome, enum bt_verdict verdict)
{
	uint64_t ns = r->end_ns - r->start_ns, ff = atomic_load(&r->first_fail_ns);

	if (r->o->quiet)
		return;
	bt_info("%s/%s: %s, %s; %" PRIu64 " cycles, %" PRIu64 " accesses, %" PRIu64
		" window hits, %" PRIu64 " UR reads, %" PRIu64 " violations",
		r->o->backing->name, repro_mode_name(r->o->mode),
		bt_outcome_name(outcome), bt_verdict_name(verdict), c->cycles,
		c->accesses, c->window_hits, c->ur_reads, c->ur_violations);
	if (r->o->mode != REPRO_HELD)
		bt_info("rates: %.0f toggles/s, %.0f accesses/s over %.3f s",
			bt_per_s(c->toggles, ns), bt_per_s(c->accesses, ns),
			ns / 1e9);
	if (ff)
		bt_info("first failure after %.3f ms (cycle %" PRIu64 ")",
			ff / 1e6, (uint64_t)atomic_load(&r->first_fail_cycle));
}

static void cleanup(struct repro *r)
{
	unsigned int i;

	for (i = 0; i < r->o->vcpus; i++)
		if (r->vcpus[i].r)
			bt_vcpu_cleanup(&r->vcpus[i].vcpu);
	bt_vm_cleanup(&r->vm);
	bt_backing_cleanup(&r->bk);
	pthread_mutex_destroy(&r->lock);
}

static int finish_setup_failure(struct repro *r, enum setup_result res)
{
	static const struct bt_counts none;
	enum bt_outcome outcome = res == SETUP_SKIP ? BT_OUTCOME_SKIPPED
						    : BT_OUTCOME_SETUP_ERROR;
	enum bt_verdict verdict = bt_verdict_of(outcome, 0, 0);

	printf("KTAP version 1\n");
	if (res == SETUP_SKIP) {
		printf("1..0 # SKIP %s\n", r->reason);
	} else {
		printf("1..1\nnot ok 1 setup # ERROR %s\n", r->reason);
	}
	fflush(stdout);
	r->end_ns = r->start_ns = bt_now_ns();
	write_record(r, outcome, verdict, &none);
	if (res == SETUP_SKIP)
		bt_info("skip: %s", r->reason);
	else
		bt_err("%s", r->reason);
	return bt_verdict_exit_code(verdict);
}

int main(int argc, char **argv)
{
	static struct repro r = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.vm = { .kvm_fd = -1, .vm_fd = -1 },
	};
	struct repro_opts o;
	struct held_result held = { 0 };
	enum setup_result res;
	enum bt_outcome outcome;
	enum bt_verdict verdict;
	struct bt_counts counts;
	struct bt_ktap k;
	char err[256];
	int ret;

	bt_log_init(argv[0], BT_LOG_INFO);
	bt_record_set_argv(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (repro_parse_options(argc, argv, &o, err, sizeof(err))) {
	case REPRO_PARSE_HELP:
		repro_usage(stdout, bt_log_prog());
		return BT_EXIT_PASS;
	case REPRO_PARSE_USAGE:
		bt_err("%s (try --help)", err);
		return BT_EXIT_USAGE;
	case REPRO_PARSE_OK:
		break;
	}
	bt_log_init(argv[0], o.quiet ? BT_LOG_QUIET :
			     o.verbose ? BT_LOG_DEBUG : BT_LOG_INFO);
	r.o = &o;
	r.bk.hva = (void *)-1;
	r.bk.fd = -1;
	install_signals();

	res = setup(&r);
	if (res != SETUP_OK) {
		ret = finish_setup_failure(&r, res);
		cleanup(&r);
		return ret;
	}

	bt_ktap_init(&k, stdout, 4);
	bt_ktap_diag(&k, "bartoggle-repro %s: backing=%s (%s) mode=%s access=%s width=%u",
		     bt_version, o.backing->name, o.backing->disable_desc,
		     repro_mode_name(o.mode), repro_access_name(o.access), o.width);
	bt_ktap_diag(&k, "KVM_CAP_MEMORY_FAULT_INFO=%d; BAR at gpa 0x%llx, %" PRIu64
		     " bytes, expected value 0x%" PRIx64, r.memory_fault_info,
		     BAR_GPA, r.bk.size, r.expected);
	bt_ktap_result(&k, BT_VERDICT_PASS, "setup");

	if (o.mode == REPRO_HELD)
		run_held(&r, &held);
	else
		run_race(&r);

	sum_counts(&r, &counts);
	outcome = run_outcome(&r);
	verdict = bt_verdict_of(outcome, counts.window_hits, counts.ur_violations);
	switch (o.mode) {
	case REPRO_HELD:
		if (verdict == BT_VERDICT_PASS && !(held.enabled_ok && held.resumed_ok))
			verdict = BT_VERDICT_FAIL;
		report_held(&r, &k, &held, outcome);
		break;
	case REPRO_RACE:
		report_race(&r, &k, &counts, outcome);
		break;
	case REPRO_CONTROL:
		verdict = control_verdict(outcome, &counts);
		report_control(&r, &k, &counts, outcome);
		break;
	}
	if (verdict == BT_VERDICT_ERROR && !r.reason[0])
		snprintf(r.reason, sizeof(r.reason),
			 "the disabled window was never hit: inconclusive");
	if (interrupted)
		bt_ktap_diag(&k, "interrupted by a signal: counts cover the run so far");
	bt_ktap_diag(&k, "outcome=%s verdict=%s%s%s", bt_outcome_name(outcome),
		     bt_verdict_name(verdict), r.reason[0] ? " reason=" : "",
		     r.reason);
	bt_ktap_totals(&k);
	summary(&r, &counts, outcome, verdict);

	ret = bt_verdict_exit_code(verdict);
	if (write_record(&r, outcome, verdict, &counts))
		ret = BT_EXIT_FAIL;
	cleanup(&r);
	return ret;
}
