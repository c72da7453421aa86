/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bartoggle-repro's parts: the VMM loop (vmm.c), UR emulation of disabled
 * accesses (ur.c), the held/race/control modes (modes.c), setup (setup.c)
 * and the KTAP, record and summary output (output.c); main.c ties them.
 */
#ifndef BARTOGGLE_REPRO_H
#define BARTOGGLE_REPRO_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bartoggle/backing.h"
#include "bartoggle/kvm.h"
#include "bartoggle/outcome.h"
#include "bartoggle/record.h"
#include "bartoggle/sysfs.h"
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
	uint_fast64_t seq_at_entry;	/* backing_seq when KVM_RUN began */
	uint64_t window_hits;	/* host-observed accesses while disabled */
	uint64_t ur_served;	/* reads completed as all ones */
	uint64_t writes_dropped;
	uint64_t forwarded;	/* MMIO exits while enabled, done on the backing */
	uint64_t window_forwarded;	/* of those, window hits re-enabled since */
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
	atomic_uint_fast64_t backing_seq;	/* odd while the backing changes */
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


/* Set by SIGINT/SIGTERM: the run ends early, its counts are kept. */
extern volatile sig_atomic_t repro_interrupted;

struct held_result {
	bool enabled_ok;
	bool disabled_completed;	/* the access completed (UR) */
	bool disabled_ur_ok;
	bool resumed_ok;
};

enum setup_result { SETUP_OK, SETUP_SKIP, SETUP_ERROR };

/* vmm.c: signals, the vCPU loop, the backing switch */
void install_signals(void);
/* One device-width access; -EFAULT when the mapping faulted. */
int bar_access(void *addr, void *data, unsigned int len, bool write);
uint64_t guest_counter(struct vcpu_state *v, unsigned int off);
void observe(struct vcpu_state *v, enum bt_outcome outcome, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool in_bar(struct repro *r, uint64_t gpa, uint64_t len);
enum step fatal(struct vcpu_state *v, enum bt_outcome outcome, const char *what);
enum step run_once(struct vcpu_state *v);
void *vcpu_thread(void *arg);
int set_backing(struct repro *r, bool enable);

/* ur.c: a disabled access handed back by KVM, completed as a UR */
enum step on_mmio(struct vcpu_state *v, struct bt_run_result *res);
enum step on_memory_fault(struct vcpu_state *v, struct bt_run_result *res);

/* modes.c */
void run_race(struct repro *r);
void run_held(struct repro *r, struct held_result *h);
void sum_counts(struct repro *r, struct bt_counts *c);

/* setup.c */
enum setup_result setup(struct repro *r);
void cleanup(struct repro *r);

/* output.c */
enum bt_outcome run_outcome(struct repro *r);
int write_record(struct repro *r, enum bt_outcome outcome, enum bt_verdict verdict,
		 const struct bt_counts *c);
void report_held(struct repro *r, struct bt_ktap *k, const struct held_result *h,
		 enum bt_outcome outcome);
void report_race(struct repro *r, struct bt_ktap *k, const struct bt_counts *c,
		 enum bt_outcome outcome);
void report_control(struct repro *r, struct bt_ktap *k, const struct bt_counts *c,
		    enum bt_outcome outcome);
enum bt_verdict control_verdict(enum bt_outcome outcome, const struct bt_counts *c);
void summary(struct repro *r, const struct bt_counts *c, enum bt_outcome outcome,
	     enum bt_verdict verdict);
int finish_setup_failure(struct repro *r, enum setup_result res);

#endif
