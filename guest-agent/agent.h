/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BARTOGGLE_AGENT_H
#define BARTOGGLE_AGENT_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bartoggle/pcicfg.h"
#include "bartoggle/sysfs.h"

#define AGENT_PORT_NAME		"org.bartoggle.agent"
#define AGENT_DEFAULT_CYCLES	100000
#define AGENT_MAX_LINE		4096	/* a protocol line, either way */
#define AGENT_MAX_DEPTH		16	/* nesting in a host line */

struct json_object;

enum agent_access { AGENT_READ, AGENT_WRITE, AGENT_RW };

struct agent_opts {
	/* fixed for the agent's life */
	const char *device;
	bool have_id;
	uint16_t vendor, devid;
	uint64_t bar;
	const char *port;
	bool serve;
	bool stdio;
	bool quiet;
	bool allow_host;	/* take a device without the guest checks */
	/* may be changed by each "start" */
	enum agent_access access;
	uint64_t width;
	uint64_t offset;
	uint64_t dwell_off_us;
	uint64_t dwell_on_us;
	uint64_t cycles;	/* 0: until --duration */
	double duration_s;	/* 0: until --cycles */
	uint64_t seed;		/* 0: fixed dwell; else jitter in [0, 2*dwell] */
	int64_t hammer_cpu;	/* -1: not pinned */
	int64_t toggle_cpu;
	uint64_t interval_ms;
};

enum agent_parse { AGENT_OK, AGENT_HELP, AGENT_USAGE };

void agent_opts_default(struct agent_opts *o, int ncpus);
enum agent_parse agent_parse_args(int argc, char **argv, struct agent_opts *o,
				  char *err, size_t errlen);
/*
 * Apply a "start" message's members (the runtime options, by their long
 * names with '-' or '_'); unknown members are ignored, "type" is skipped.
 * 0, or -EINVAL with @err set; @o is unchanged on failure.
 */
int agent_apply_start(struct agent_opts *o, struct json_object *msg,
		      char *err, size_t errlen);
/* Cross-option checks: counts bound, CPUs exist, offset aligned. */
int agent_validate(struct agent_opts *o, int ncpus, char *err, size_t errlen);
void agent_usage(FILE *out, const char *prog);
const char *agent_access_name(enum agent_access a);

/*
 * safety.c: a bartoggle guest has the hypervisor CPUID bit and either the
 * agent's port or a device named on the command line; 0 or -EPERM with
 * @err. A device the machine uses (bartoggle/inuse.h) is refused: -EBUSY.
 */
int agent_check_machine(const struct agent_opts *o, bool have_port, char *err, size_t len);
int agent_check_device(const struct bt_pci_dev *dev, char *err, size_t len);

/* The device being hammered, as opened from sysfs. */
struct agent_dev {
	struct bt_pci_dev pci;
	int config_fd;
	struct bt_pcicfg cfg;
	uint16_t command_orig;
	int res_fd;
	uint8_t *bar;
	size_t bar_len;
	char unbound[64];	/* driver unbound at open, "" if none */
	char channel_bdf[16];
};

/* Unbinds a driver, enables MEM, maps the BAR. 0 or -errno with @err. */
int agent_dev_open(struct agent_dev *d, const char *root,
		   const struct agent_opts *o, char *err, size_t errlen);
/* Restores the command register as found and unmaps. */
void agent_dev_close(struct agent_dev *d);

struct agent_counts {
	uint64_t cycles, toggles, accesses, window_hits, ur_reads, ur_violations,
		 faults;
};

enum agent_stop { AGENT_STOP_NONE, AGENT_STOP_CYCLES, AGENT_STOP_DURATION,
		  AGENT_STOP_REQUEST, AGENT_STOP_ERROR };

struct agent_run {
	const struct agent_opts *o;
	struct agent_dev *d;
	pthread_t hammer, toggler;
	atomic_uint_fast64_t seq;	/* odd: MEM is off */
	atomic_bool stop;
	atomic_int reason;
	volatile struct agent_counts hc;	/* hammer's */
	volatile struct agent_counts tc;	/* toggler's */
	uint64_t write_value;
	uint64_t start_ns;
	uint64_t end_ns;
	char error[160];
};

int agent_run_start(struct agent_run *r, const struct agent_opts *o,
		    struct agent_dev *d, char *err, size_t errlen);
bool agent_run_done(struct agent_run *r);
void agent_run_stop(struct agent_run *r, enum agent_stop why);
void agent_run_join(struct agent_run *r);
void agent_run_counts(struct agent_run *r, struct agent_counts *c);
const char *agent_stop_name(enum agent_stop why);

/* A protocol line to send: JSON, '\n'-terminated. */
struct agent_line {
	char buf[AGENT_MAX_LINE + 1];
	size_t len;
};

/* Protocol lines, in @w's buffer; NULL when one would exceed the limit. */
const char *agent_msg_hello(struct agent_line *w, const struct agent_dev *d,
			    const char *channel, size_t *len);
const char *agent_msg_progress(struct agent_line *w, const struct agent_counts *c,
			       uint64_t elapsed_ns, size_t *len);
const char *agent_msg_done(struct agent_line *w, const struct agent_opts *o,
			   const struct agent_counts *c, uint64_t elapsed_ns,
			   const char *reason, const char *error, size_t *len);
const char *agent_msg_error(struct agent_line *w, const char *reason, size_t *len);

enum agent_cmd { AGENT_CMD_START, AGENT_CMD_STOP };
/*
 * Decode one host line: one JSON object (json-c, strict, at most
 * AGENT_MAX_DEPTH deep, nothing after it). 0 with *cmd and *msg (the
 * caller puts it), or -EINVAL with @err saying what was wrong.
 */
int agent_parse_cmd(const char *line, size_t len, enum agent_cmd *cmd,
		    struct json_object **msg, char *err, size_t errlen);

/* Bounded line splitter for the host channel. */
struct agent_lines {
	char buf[AGENT_MAX_LINE + 1];
	size_t len;
	bool discarding;	/* inside a line that was too long */
};

/*
 * Feed @n bytes; calls @line for every complete line (without '\n') and
 * @too_long once for every line over AGENT_MAX_LINE bytes.
 */
void agent_lines_feed(struct agent_lines *l, const char *data, size_t n,
		      void (*line)(void *ctx, const char *s, size_t len),
		      void (*too_long)(void *ctx), void *ctx);

#endif
