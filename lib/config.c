// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "bartoggle/bdf.h"
#include "bartoggle/config.h"
#include "bartoggle/log.h"
#include "bartoggle/parse.h"
#include "bartoggle/record.h"

enum kind { K_STR, K_U64, K_BOOL, K_SECONDS, K_QEMU };

struct key {
	const char *section;
	const char *name;
	const char *option;	/* long option */
	enum kind kind;
	size_t off;
	size_t size;		/* strings */
	uint64_t min, max;
	const char *choices;	/* "a|b|c" for strings, or NULL */
	const char *help;
};

#define F(f) offsetof(struct bt_config, f), sizeof(((struct bt_config *)0)->f)

static const struct key keys[] = {
	{ "device", "bdf", "bdf", K_STR, F(bdf), 0, 0, NULL,
	  "real device to assign, DDDD:BB:DD.F (or $BARTOGGLE_BDF)" },
	{ "device", "emulated", "emulated", K_STR, F(emulated), 0, 0, "edu",
	  "no real device: QEMU's emulated edu (the demo)" },
	{ "device", "ur_check", "ur-check", K_STR, F(ur_check), 0, 0, "strict|record",
	  "strict: UR violations fail the run; record: counted only (default: strict, record for emulated)" },
	{ "device", "force_group", "force-group", K_BOOL, F(force_group), 0, 0, NULL,
	  "bind every member of the device's IOMMU group to vfio-pci" },
	{ "qemu", "binary", "qemu", K_QEMU, F(qemu), 0, 0, NULL,
	  "QEMU binary; repeat for a matrix (default qemu-system-x86_64)" },
	{ "qemu", "accel", "accel", K_STR, F(accel), 0, 0, "auto|kvm|tcg",
	  "accelerator (auto: KVM where it runs stock guests, else TCG)" },
	{ "qemu", "tcg_thread", "tcg-thread", K_STR, F(tcg_thread), 0, 0, "single|multi",
	  "TCG: one host thread for every vCPU, or one each (default single: see the README)" },
	{ "qemu", "extra_args", "qemu-args", K_STR, F(qemu_args), 0, 0, NULL,
	  "extra QEMU arguments, split on blanks" },
	{ "qemu", "firmware", "qemu-firmware", K_STR, F(qemu_firmware), 0, 0, NULL,
	  "directories QEMU looks in for its firmware first (-L), colon-separated: "
	  "for a binary in a build tree, e.g. /usr/share/qemu:/usr/share/seabios" },
	{ "qemu", "no_mmap", "no-mmap", K_BOOL, F(no_mmap), 0, 0, NULL,
	  "control arm: vfio-pci x-no-mmap=on, every BAR access trapped by QEMU" },
	{ "guest", "kernel", "kernel", K_STR, F(kernel), 0, 0, NULL,
	  "guest kernel: debian | host | path to a vmlinuz (default debian)" },
	{ "guest", "modroot", "modroot", K_STR, F(modroot), 0, 0, NULL,
	  "with a kernel path: the directory holding lib/modules/<release>" },
	{ "guest", "image", "image", K_STR, F(image), 0, 0, NULL,
	  "a guest image built beforehand (vmlinuz + initramfs.cpio.gz): kernel is not used" },
	{ "guest", "cmdline", "guest-cmdline", K_STR, F(guest_cmdline), 0, 0, NULL,
	  "appended to the guest kernel's command line (bt.stall_after=S: the agent is "
	  "frozen S s into its run, a test of the hang forensics)" },
	{ "guest", "smp", "smp", K_U64, F(smp), 2, 64, NULL, "guest vCPUs, >= 2 (default 2)" },
	{ "guest", "memory", "memory", K_U64, F(memory_mb), 128, 65536, NULL,
	  "guest memory in MiB (default 512)" },
	{ "guest", "boot_timeout", "boot-timeout", K_U64, F(boot_timeout_s), 5, 3600, NULL,
	  "seconds from QEMU start to the agent's hello (default 180)" },
	{ "stress", "cycles", "cycles", K_U64, F(cycles), 1, 1ULL << 50, NULL,
	  "MEM off/on cycles per iteration (default 20000 unless duration)" },
	{ "stress", "duration", "duration", K_SECONDS, F(duration_s), 0, 0, NULL,
	  "seconds per iteration (with cycles: whichever first)" },
	{ "stress", "iterations", "iterations", K_U64, F(iterations), 0, 1000000, NULL,
	  "VM boots, one record each (default 1; 0: until total_duration)" },
	{ "stress", "total_duration", "total-duration", K_SECONDS, F(total_duration_s), 0, 0, NULL,
	  "a soak's wall time from its first start, restarts included: iterations go on "
	  "until it is reached (a suffix s, m, h or d; default none)" },
	{ "stress", "dwell_off_us", "dwell-off-us", K_U64, F(dwell_off_us), 0, 10000000, NULL,
	  "time MEM stays off per cycle (default 0)" },
	{ "stress", "dwell_on_us", "dwell-on-us", K_U64, F(dwell_on_us), 0, 10000000, NULL,
	  "time MEM stays on per cycle (default 0)" },
	{ "stress", "access", "access", K_STR, F(access), 0, 0, "read|write|rw",
	  "guest BAR access (default read)" },
	{ "stress", "width", "width", K_U64, F(width), 1, 8, NULL, "access width (default 4)" },
	{ "stress", "seed", "seed", K_U64, F(seed), 0, UINT64_MAX, NULL,
	  "non-zero: dwell jitter seed" },
	{ "stress", "heartbeat", "heartbeat", K_U64, F(heartbeat_s), 1, 3600, NULL,
	  "seconds without agent progress that count as a hung guest (default 15)" },
	{ "results", "dir", "results", K_STR, F(results), 0, 0, NULL,
	  "results root (default results)" },
	{ "results", "soak", "soak", K_STR, F(soak), 0, 0, NULL,
	  "a named soak: results in <dir>/<name>, resumed there after a restart "
	  "(default: a new <UTC>-<host> directory per run)" },
	{ "results", "host", "host", K_STR, F(host), 0, 0, NULL,
	  "the host's name in records and reports (default the hostname)" },
	{ "results", "keep_runs", "keep-runs", K_U64, F(keep_runs), 1, 1000000, NULL,
	  "a soak keeps the newest N iteration directories as they are and packs older "
	  "ones into archive/*.tar.xz (default 8)" },
	{ "results", "archive_chunk", "archive-chunk", K_U64, F(archive_chunk), 1, 10000, NULL,
	  "iteration directories per archive/*.tar.xz (default 16)" },
};

#define NR_KEYS (int)(sizeof(keys) / sizeof(keys[0]))

void bt_config_default(struct bt_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->qemu[0], "qemu-system-x86_64");
	c->nqemu = 1;
	strcpy(c->accel, "auto");
	strcpy(c->tcg_thread, "single");
	strcpy(c->kernel, "debian");
	c->smp = 2;
	c->memory_mb = 512;
	c->boot_timeout_s = 180;
	strcpy(c->access, "read");
	c->width = 4;
	c->heartbeat_s = 15;
	strcpy(c->results, "results");
	c->keep_runs = 8;
	c->archive_chunk = 16;
}

#define fail(err, errlen, ...) bt_errf(err, errlen, -EINVAL, __VA_ARGS__)

static bool in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (p && *p) {
		if (!strncmp(p, v, n) && (p[n] == '|' || !p[n]))
			return true;
		p = strchr(p, '|');
		p = p ? p + 1 : NULL;
	}
	return false;
}

/* @fresh: the first --qemu of a command line replaces the file's list. */
static int set_key(struct bt_config *c, const struct key *k, const char *v,
		   bool *fresh, char *err, size_t errlen)
{
	char *field = (char *)c + k->off;
	uint64_t u;
	int ret;

	switch (k->kind) {
	case K_STR:
		if (k->choices && !in_choices(k->choices, v))
			return fail(err, errlen, "%s = %s: want %s", k->name, v, k->choices);
		if (strlen(v) >= k->size)
			return fail(err, errlen, "%s: value too long", k->name);
		strcpy(field, v);
		return 0;
	case K_QEMU:
		if (fresh && *fresh) {
			c->nqemu = 0;
			*fresh = false;
		}
		if (!*v || strlen(v) >= PATH_MAX)
			return fail(err, errlen, "%s: want a QEMU binary", k->name);
		if (c->nqemu == BT_CONFIG_MAX_QEMU)
			return fail(err, errlen, "%s: at most %d QEMU binaries", k->name,
				    BT_CONFIG_MAX_QEMU);
		strcpy(c->qemu[c->nqemu++], v);
		return 0;
	case K_U64:
		ret = bt_parse_u64(v, k->min, k->max, &u);
		if (ret == -ERANGE)
			return fail(err, errlen, "%s = %s: must be between %llu and %llu",
				    k->name, v, (unsigned long long)k->min,
				    (unsigned long long)k->max);
		if (ret)
			return fail(err, errlen, "%s = %s: not a number", k->name, v);
		*(uint64_t *)field = u;
		return 0;
	case K_SECONDS:
		if (bt_parse_seconds(v, 0, 30 * 86400, (double *)field))
			return fail(err, errlen, "%s = %s: want seconds, > 0", k->name, v);
		return 0;
	case K_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !*v)
			*(bool *)field = true;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
			*(bool *)field = false;
		else
			return fail(err, errlen, "%s = %s: want true or false", k->name, v);
		return 0;
	}
	return -EINVAL;
}

struct load_ctx {
	struct bt_config *c;
	bool qemu_fresh;
	char why[300];
	char key[64];		/* the key that @why is about */
};

/* inih reports the line of the first key a handler refused. */
static int on_ini_key(void *user, const char *section, const char *name,
		      const char *value)
{
	struct load_ctx *l = user;
	char why[256];
	int i;

	for (i = 0; i < NR_KEYS; i++) {
		if (strcmp(keys[i].section, section) || strcmp(keys[i].name, name))
			continue;
		if (set_key(l->c, &keys[i], value, &l->qemu_fresh, why, sizeof(why))) {
			if (!l->why[0]) {	/* inih goes on: keep the first */
				snprintf(l->why, sizeof(l->why), "[%s] %s", section, why);
				snprintf(l->key, sizeof(l->key), "%s", name);
			}
			return 0;
		}
		return 1;
	}
	if (!l->why[0]) {
		snprintf(l->why, sizeof(l->why), "unknown key [%s] %s", section, name);
		snprintf(l->key, sizeof(l->key), "%s", name);
	}
	return 0;
}

int bt_config_load(struct bt_config *c, const char *path, char *err,
		   size_t errlen)
{
	struct load_ctx l = { .c = c, .qemu_fresh = true };
	FILE *f = fopen(path, "r");
	char text[512] = "";
	int line, i;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -ENOENT;
	}
	line = ini_parse_file(f, on_ini_key, &l);
	if (!line) {
		fclose(f);
		return 0;
	}
	/* inih names the first bad line; our reason may be about a later one. */
	rewind(f);
	for (i = 0; i < line && fgets(text, sizeof(text), f); i++)
		;
	fclose(f);
	text[strcspn(text, "\n")] = '\0';
	if (l.why[0] && strstr(text, l.key))
		snprintf(err, errlen, "%s:%d: %s", path, line, l.why);
	else
		snprintf(err, errlen, "%s:%d: not an INI line: %s", path, line, text);
	return -EINVAL;
}

int bt_config_set_option(struct bt_config *c, const char *name,
			 const char *value, bool from_cli, char *err,
			 size_t errlen)
{
	static bool cli_qemu_fresh = true;
	const char *dot = strchr(name, '.');
	int i;

	for (i = 0; i < NR_KEYS; i++) {
		bool match = dot ? !strncmp(keys[i].section, name, dot - name) &&
				   !keys[i].section[dot - name] &&
				   !strcmp(keys[i].name, dot + 1)
				 : !strcmp(keys[i].option, name);

		if (match)
			return set_key(c, &keys[i], value,
				       from_cli ? &cli_qemu_fresh : NULL, err, errlen);
	}
	snprintf(err, errlen, "unknown setting '%s'", name);
	return -ENOENT;
}

int bt_config_validate(struct bt_config *c, char *err, size_t errlen)
{
	struct bt_bdf bdf;

	if (!c->bdf[0] && !c->emulated[0])
		return fail(err, errlen,
			    "no device: give [device] bdf (or --bdf, $BARTOGGLE_BDF) or emulated = edu");
	if (c->bdf[0] && c->emulated[0])
		return fail(err, errlen, "[device] bdf and emulated are exclusive");
	if (c->bdf[0] && bt_bdf_parse(c->bdf, &bdf))
		return fail(err, errlen, "[device] bdf = %s: not a PCI address", c->bdf);
	if (c->no_mmap && c->emulated[0])
		return fail(err, errlen, "[qemu] no_mmap applies to an assigned device, not an emulated one");
	if (c->width & (c->width - 1))
		return fail(err, errlen, "[stress] width = %llu: want 1, 2, 4 or 8",
			    (unsigned long long)c->width);
	if (!c->cycles && c->duration_s <= 0)
		c->cycles = 20000;
	/* iterations = 0 is "until total_duration": unset, it is one run. */
	if (!c->iterations && c->total_duration_s <= 0)
		c->iterations = 1;
	if (c->total_duration_s > 0 && !c->soak[0])
		return fail(err, errlen, "[stress] total_duration needs a named soak ([results] soak "
			    "or --soak): its clock survives restarts there");
	if (c->soak[0] && (strchr(c->soak, '/') || c->soak[0] == '.'))
		return fail(err, errlen, "[results] soak = %s: want a plain name, not a path", c->soak);
	if (!c->ur_check[0])
		strcpy(c->ur_check, c->emulated[0] ? "record" : "strict");
	if (strcmp(c->kernel, "debian") && strcmp(c->kernel, "host") && !c->modroot[0] &&
	    !c->image[0])
		return fail(err, errlen, "[guest] kernel = %s needs [guest] modroot", c->kernel);
	return 0;
}

struct json_object *bt_config_json(const struct bt_config *c)
{
	struct json_object *root = json_object_new_object(), *sec = NULL;
	const char *cur = "";
	int i, q;

	for (i = 0; i < NR_KEYS; i++) {
		const struct key *k = &keys[i];
		const char *field = (const char *)c + k->off;

		if (strcmp(cur, k->section)) {
			sec = bt_json_set_obj(root, k->section);
			cur = k->section;
		}
		switch (k->kind) {
		case K_STR:
			bt_json_set_str(sec, k->name, *field ? field : NULL);
			break;
		case K_U64:
			bt_json_set_u64(sec, k->name, *(const uint64_t *)field);
			break;
		case K_SECONDS:
			bt_json_set_double(sec, k->name, *(const double *)field);
			break;
		case K_BOOL:
			bt_json_set_bool(sec, k->name, *(const bool *)field);
			break;
		case K_QEMU: {
			struct json_object *arr = json_object_new_array();

			for (q = 0; q < c->nqemu; q++)
				json_object_array_add(arr, json_object_new_string(c->qemu[q]));
			json_object_object_add(sec, k->name, arr);
			break;
		}
		}
	}
	return root;
}

int bt_config_nr_options(void)
{
	return NR_KEYS;
}

const char *bt_config_option_name(int i)
{
	return keys[i].option;
}

bool bt_config_option_has_arg(int i)
{
	return keys[i].kind != K_BOOL;
}

void bt_config_usage(FILE *out)
{
	int i;

	for (i = 0; i < NR_KEYS; i++) {
		char lhs[64];

		snprintf(lhs, sizeof(lhs), "--%s%s", keys[i].option,
			 keys[i].kind == K_BOOL ? "" : "=V");
		fprintf(out, "  %-22s [%s] %-13s %s\n", lhs, keys[i].section,
			keys[i].name, keys[i].help);
	}
}
