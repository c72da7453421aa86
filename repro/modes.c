// SPDX-License-Identifier: GPL-2.0
/*
 * The modes: held (MEM cleared, then one access: deterministic), race (a
 * host thread toggles while the vCPUs hammer) and control (the same
 * hammering, never toggled).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bartoggle/log.h"
#include "bartoggle/stats.h"
#include "guest.h"
#include "repro.h"

static uint64_t window_hits(struct repro *r)
{
	uint64_t hits = 0;
	unsigned int i;

	for (i = 0; i < r->o->vcpus; i++)
		hits += PEEK(r->vcpus[i].window_hits);
	return hits;
}

static bool keep_going(struct repro *r)
{
	return !atomic_load(&r->stop) && !repro_interrupted &&
	       atomic_load(&r->vcpus_running) > 0 &&
	       !(r->o->until_hit && window_hits(r));
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

void sum_counts(struct repro *r, struct bt_counts *c)
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
	}
	c->window_hits = window_hits(r);
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

void run_race(struct repro *r)
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
		if (step == STEP_CONTINUE && repro_interrupted)
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

void run_held(struct repro *r, struct held_result *h)
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
