// SPDX-License-Identifier: GPL-2.0
/*
 * The hammer and the toggler. The toggler publishes MEM's state in a
 * sequence counter (odd: off) *inside* the interval in which the device has
 * memory decoding off: odd after the "off" config write returned, even
 * before the "on" write starts. The hammer reads the counter before and
 * after each access; an access with the same odd value on both sides landed
 * while decoding was off for certain, and is a window hit.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bartoggle/pcisel.h"
#include "bartoggle/stats.h"
#include "agent.h"

static int fail(char *err, size_t errlen, int ret, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(-ret));
	return ret;
}

int agent_dev_open(struct agent_dev *d, const char *root,
		   const struct agent_opts *o, char *err, size_t errlen)
{
	struct bt_pcisel sel = {
		.bdf = o->device,
		.have_id = o->have_id,
		.vendor = o->vendor,
		.device = o->devid,
		.bar = o->bar,
		.exclude = d->channel_bdf[0] ? d->channel_bdf : NULL,
	};
	char path[PATH_MAX + 32];
	int ret, fd;

	d->config_fd = d->res_fd = -1;
	d->bar = MAP_FAILED;
	ret = bt_pcisel_find(root, &sel, &d->pci, err, errlen);
	if (ret)
		return ret;

	/* Before anything changes: a device this machine uses is not ours. */
	ret = agent_check_device(&d->pci, err, errlen);
	if (ret)
		return ret;
	if (d->pci.driver[0]) {
		/* A driver owns the BAR (iomem_is_exclusive): mmap would fail. */
		snprintf(path, sizeof(path), "%s/driver/unbind", d->pci.path);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, d->pci.bdf_str, strlen(d->pci.bdf_str)) < 0) {
			ret = -errno;
			if (fd >= 0)
				close(fd);
			return fail(err, errlen, ret, "unbinding the guest driver");
		}
		close(fd);
		snprintf(d->unbound, sizeof(d->unbound), "%s", d->pci.driver);
	}

	snprintf(path, sizeof(path), "%s/config", d->pci.path);
	d->config_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->config_fd < 0)
		return fail(err, errlen, -errno, "opening sysfs config");
	bt_pcicfg_init_fd(&d->cfg, d->config_fd, 0);
	ret = bt_pcicfg_command_read(&d->cfg);
	if (ret)
		return fail(err, errlen, ret, "reading PCI_COMMAND");
	d->command_orig = d->cfg.command;
	ret = bt_pcicfg_set_mem(&d->cfg, true);
	if (ret)
		return fail(err, errlen, ret, "enabling PCI_COMMAND.MEM");

	snprintf(path, sizeof(path), "%s/resource%llu", d->pci.path,
		 (unsigned long long)o->bar);
	d->res_fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (d->res_fd < 0)
		return fail(err, errlen, -errno, "opening the BAR's sysfs resource");
	d->bar_len = bt_pci_bar_size(&d->pci, o->bar);
	d->bar = mmap(NULL, d->bar_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->res_fd, 0);
	if (d->bar == MAP_FAILED)
		return fail(err, errlen, -errno,
			    "mmap of the BAR (kernel lockdown, or a driver still owns it?)");
	return 0;
}

void agent_dev_close(struct agent_dev *d)
{
	if (d->bar != MAP_FAILED)
		munmap(d->bar, d->bar_len);
	if (d->config_fd >= 0)
		bt_pcicfg_write16(&d->cfg, BT_PCI_COMMAND, d->command_orig);
	if (d->res_fd >= 0)
		close(d->res_fd);
	if (d->config_fd >= 0)
		close(d->config_fd);
	d->bar = MAP_FAILED;
	d->res_fd = d->config_fd = -1;
}

static const char *const stop_names[] = {
	[AGENT_STOP_NONE] = "running", [AGENT_STOP_CYCLES] = "cycles",
	[AGENT_STOP_DURATION] = "duration", [AGENT_STOP_REQUEST] = "stop",
	[AGENT_STOP_ERROR] = "error",
};

const char *agent_stop_name(enum agent_stop why)
{
	return stop_names[why];
}

void agent_run_stop(struct agent_run *r, enum agent_stop why)
{
	int none = AGENT_STOP_NONE;

	atomic_compare_exchange_strong(&r->reason, &none, why);
	atomic_store(&r->stop, true);
}

static void pin(int64_t cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* A SIGBUS on the BAR is data: counted, and the hammer goes on. */
static __thread sigjmp_buf *hammer_jmp;

static void on_sigbus(int sig)
{
	if (hammer_jmp)
		siglongjmp(*hammer_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

#define HAMMER_LOOP(type, DO)						\
	do {								\
		volatile type *p = (volatile type *)(r->d->bar + r->o->offset); \
		const type ones = (type)~(type)0;			\
		const type wv = (type)r->write_value;			\
		type v = 0;						\
									\
		(void)wv;						\
		while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) { \
			uint_fast64_t s1, s2;				\
									\
			s1 = atomic_load_explicit(&r->seq, memory_order_acquire); \
			DO;						\
			s2 = atomic_load_explicit(&r->seq, memory_order_acquire); \
			r->hc.accesses += r->o->access == AGENT_RW ? 2 : 1; \
			if (s1 == s2 && (s1 & 1)) {			\
				r->hc.window_hits++;			\
				if (r->o->access != AGENT_WRITE) {	\
					if (v == ones)			\
						r->hc.ur_reads++;	\
					else				\
						r->hc.ur_violations++;	\
				}					\
			}						\
		}							\
	} while (0)

#define HAMMER_WIDTH(type)						\
	do {								\
		switch (r->o->access) {					\
		case AGENT_READ:  HAMMER_LOOP(type, v = *p); break;	\
		case AGENT_WRITE: HAMMER_LOOP(type, *p = wv); break;	\
		case AGENT_RW:    HAMMER_LOOP(type, (*p = wv, v = *p)); break; \
		}							\
	} while (0)

static void *hammer_thread(void *arg)
{
	struct agent_run *r = arg;
	sigjmp_buf jmp;

	pin(r->o->hammer_cpu);
	/* No signal mask saved: SA_NODEFER leaves SIGBUS unblocked anyway,
	 * and the setjmp is paid once per fault, not per access. */
	if (sigsetjmp(jmp, 0))
		r->hc.faults++;
	hammer_jmp = &jmp;
	switch (r->o->width) {
	case 1: HAMMER_WIDTH(uint8_t); break;
	case 2: HAMMER_WIDTH(uint16_t); break;
	case 4: HAMMER_WIDTH(uint32_t); break;
	default: HAMMER_WIDTH(uint64_t); break;
	}
	hammer_jmp = NULL;
	return NULL;
}

/* xorshift64*: reproducible dwell jitter from --seed. */
static uint64_t next_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

/* Jittered by --seed: uniform in [0, 2*us], the same mean. */
static void dwell(uint64_t us, uint64_t *rng)
{
	if (us && *rng)
		us = next_rand(rng) % (2 * us + 1);
	bt_dwell_us(us);
}

static bool toggle(struct agent_run *r, bool on)
{
	int ret = bt_pcicfg_set_mem(&r->d->cfg, on);

	if (ret) {
		snprintf(r->error, sizeof(r->error), "config write (MEM %s): %s",
			 on ? "on" : "off", strerror(-ret));
		agent_run_stop(r, AGENT_STOP_ERROR);
		return false;
	}
	r->tc.toggles++;
	return true;
}

static void *toggler_thread(void *arg)
{
	struct agent_run *r = arg;
	const struct agent_opts *o = r->o;
	uint64_t deadline = 0, rng = o->seed;

	pin(o->toggle_cpu);
	if (o->duration_s > 0)
		deadline = r->start_ns + (uint64_t)(o->duration_s * 1e9);
	while (!atomic_load(&r->stop)) {
		if (o->cycles && r->tc.cycles >= o->cycles) {
			agent_run_stop(r, AGENT_STOP_CYCLES);
			break;
		}
		if (deadline && !(r->tc.cycles & 63) && bt_now_ns() >= deadline) {
			agent_run_stop(r, AGENT_STOP_DURATION);
			break;
		}
		if (!toggle(r, false))
			break;
		atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
		dwell(o->dwell_off_us, &rng);
		atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
		if (!toggle(r, true))
			break;
		r->tc.cycles++;
		dwell(o->dwell_on_us, &rng);
	}
	r->end_ns = bt_now_ns();
	return NULL;
}

/* Device registers want accesses of their own width, not memcpy's. */
static uint64_t read_width(const uint8_t *p, uint64_t width)
{
	switch (width) {
	case 1: return *(const volatile uint8_t *)p;
	case 2: return *(const volatile uint16_t *)p;
	case 4: return *(const volatile uint32_t *)p;
	default: return *(const volatile uint64_t *)p;
	}
}

int agent_run_start(struct agent_run *r, const struct agent_opts *o,
		    struct agent_dev *d, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_handler = on_sigbus, .sa_flags = SA_NODEFER };
	int ret;

	if (o->offset + o->width > d->bar_len) {
		snprintf(err, errlen, "offset 0x%llx is outside the %zu-byte BAR",
			 (unsigned long long)o->offset, d->bar_len);
		return -EINVAL;
	}
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->d = d;
	/* Writes put back what the register holds, so writing is harmless to
	 * the device state the hammer reads. */
	r->write_value = read_width(d->bar + o->offset, o->width);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);

	r->start_ns = bt_now_ns();
	ret = pthread_create(&r->hammer, NULL, hammer_thread, r);
	if (ret) {
		snprintf(err, errlen, "starting the hammer: %s", strerror(ret));
		return -ret;
	}
	ret = pthread_create(&r->toggler, NULL, toggler_thread, r);
	if (ret) {
		agent_run_stop(r, AGENT_STOP_ERROR);
		pthread_join(r->hammer, NULL);
		snprintf(err, errlen, "starting the toggler: %s", strerror(ret));
		return -ret;
	}
	return 0;
}

bool agent_run_done(struct agent_run *r)
{
	return atomic_load(&r->stop);
}

void agent_run_join(struct agent_run *r)
{
	agent_run_stop(r, AGENT_STOP_REQUEST);
	pthread_join(r->toggler, NULL);
	pthread_join(r->hammer, NULL);
	if (!r->end_ns)
		r->end_ns = bt_now_ns();
}

void agent_run_counts(struct agent_run *r, struct agent_counts *c)
{
	c->cycles = r->tc.cycles;
	c->toggles = r->tc.toggles;
	c->accesses = r->hc.accesses;
	c->window_hits = r->hc.window_hits;
	c->ur_reads = r->hc.ur_reads;
	c->ur_violations = r->hc.ur_violations;
	c->faults = r->hc.faults;
}
