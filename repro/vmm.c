// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM loop: each vCPU runs KVM_RUN and every result is decoded and
 * classified; signals that end a run or kick a vCPU out of KVM_RUN.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bartoggle/log.h"
#include "bartoggle/stats.h"
#include "guest.h"
#include "repro.h"

volatile sig_atomic_t repro_interrupted;
static __thread sigjmp_buf *bar_fault_jmp;

static void on_interrupt(int sig)
{
	(void)sig;
	repro_interrupted = 1;
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

void install_signals(void)
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
int bar_access(void *addr, void *data, unsigned int len, bool write)
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

uint64_t guest_counter(struct vcpu_state *v, unsigned int off)
{
	return __atomic_load_n((uint64_t *)(v->counters + off),
			       __ATOMIC_RELAXED);
}

/* Remember the most severe thing this vCPU saw, with its evidence line. */
void observe(struct vcpu_state *v, enum bt_outcome outcome,
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

bool in_bar(struct repro *r, uint64_t gpa, uint64_t len)
{
	return gpa >= BAR_GPA && gpa - BAR_GPA + len <= r->bk.size;
}

enum step fatal(struct vcpu_state *v, enum bt_outcome outcome,
		       const char *what)
{
	observe(v, outcome, "%s", what);
	note_failure(v);
	return STEP_STOP;
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

enum step run_once(struct vcpu_state *v)
{
	struct bt_run_result res;
	char what[128];

	v->seq_at_entry = atomic_load(&v->r->backing_seq);
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

void *vcpu_thread(void *arg)
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

int set_backing(struct repro *r, bool enable)
{
	int ret;

	/* Odd while the backing changes: ur.c's on_mmio() says why. */
	atomic_fetch_add(&r->backing_seq, 1);
	ret = __bt_backing_set(&r->bk, enable);
	if (!ret)
		atomic_store(&r->enabled, enable);
	atomic_fetch_add(&r->backing_seq, 1);
	if (ret) {
		r->toggle_error = ret;
		snprintf(r->reason, sizeof(r->reason), "%s the backing: %s",
			 enable ? "enabling" : "disabling", strerror(-ret));
		return ret;
	}
	atomic_fetch_add(&r->toggles, 1);
	return 0;
}
