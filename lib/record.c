// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bartoggle/compat.h"
#include "bartoggle/kvm.h"
#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/version.h"

void bt_utc_now(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void set(struct json_object *o, const char *key, struct json_object *v)
{
	BT_ASSERT(v, "json-c allocation for \"%s\"", key);
	BT_ASSERT(!json_object_object_add(o, key, v), "json-c add \"%s\"", key);
}

void bt_json_set_str(struct json_object *o, const char *key, const char *v)
{
	if (!v) {
		bt_json_set_null(o, key);
		return;
	}
	set(o, key, json_object_new_string(v));
}

void bt_json_set_u64(struct json_object *o, const char *key, uint64_t v)
{
	set(o, key, json_object_new_uint64(v));
}

void bt_json_set_double(struct json_object *o, const char *key, double v)
{
	/* Fixed precision: json-c would otherwise print 17 digits. */
	char buf[64];

	snprintf(buf, sizeof(buf), "%.6g", v);
	set(o, key, json_object_new_double_s(v, buf));
}

void bt_json_set_bool(struct json_object *o, const char *key, bool v)
{
	set(o, key, json_object_new_boolean(v));
}

void bt_json_set_null(struct json_object *o, const char *key)
{
	BT_ASSERT(!json_object_object_add(o, key, NULL), "json-c add \"%s\"",
		  key);
}

struct json_object *bt_json_set_obj(struct json_object *o, const char *key)
{
	struct json_object *child = json_object_new_object();

	set(o, key, child);
	return child;
}

static char command[4096];
static char host_name[64];

void bt_record_set_host_name(const char *name)
{
	snprintf(host_name, sizeof(host_name), "%s", name ? name : "");
}

void bt_record_set_argv(int argc, char **argv)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789_@%+=:,./-";
	size_t n = 0;
	int i;

	for (i = 0; i < argc && n + 4 < sizeof(command); i++) {
		const char *a = argv[i];
		bool plain = *a && strspn(a, safe) == strlen(a);

		if (i)
			command[n++] = ' ';
		if (!plain)
			command[n++] = '\'';
		for (; *a && n + 6 < sizeof(command); a++) {
			if (*a == '\'' && !plain) {
				memcpy(command + n, "'\\''", 4);
				n += 4;
			} else {
				command[n++] = *a;
			}
		}
		if (!plain)
			command[n++] = '\'';
	}
	command[n] = '\0';
}

const char *bt_record_command(void)
{
	return command;
}

void bt_json_set_outcome_counts(struct json_object *o, const char *key,
				const unsigned *counts)
{
	struct json_object *child = bt_json_set_obj(o, key);
	int i;

	for (i = 0; i < BT_OUTCOME_NR; i++)
		if (counts[i])
			bt_json_set_u64(child, bt_outcome_name(i), counts[i]);
}

struct json_object *bt_record_new(const char *tool)
{
	struct json_object *rec = json_object_new_object(), *host;
	char now[32], hostname[256] = "";
	const char *variant;
	struct utsname uts;
	int mfi;

	BT_ASSERT(rec, "json-c allocation");
	bt_utc_now(now, sizeof(now));
	bt_json_set_str(rec, "schema", BT_RECORD_SCHEMA);
	bt_json_set_str(rec, "tool", tool);
	bt_json_set_str(rec, "version", bt_version);
	bt_json_set_str(rec, "time", now);

	host = bt_json_set_obj(rec, "host");
	gethostname(hostname, sizeof(hostname) - 1);
	bt_json_set_str(host, "hostname", hostname);
	/* The fleet's name for it: several "hosts" may share one machine. */
	bt_json_set_str(host, "name", host_name[0] ? host_name : hostname);
	if (uname(&uts)) {
		bt_json_set_str(host, "kernel", "unknown");
		bt_json_set_null(host, "kernel_build");
	} else {
		bt_json_set_str(host, "kernel", uts.release);
		bt_json_set_str(host, "kernel_build", uts.version);
	}
	mfi = bt_kvm_probe_cap(KVM_CAP_MEMORY_FAULT_INFO);
	if (mfi < 0)
		bt_json_set_null(host, "memory_fault_info");
	else
		bt_json_set_u64(host, "memory_fault_info", mfi);
	/* Set where the KVM under test is not the one the running kernel
	 * shipped with (the nested lane's rebuilt or patched modules): the
	 * release alone would not tell them apart. */
	variant = getenv("BARTOGGLE_KERNEL_VARIANT");
	if (variant && *variant)
		bt_json_set_str(host, "kernel_variant", variant);
	bt_json_set_str(rec, "command", command[0] ? command : NULL);
	return rec;
}

void bt_record_set_outcome(struct json_object *rec, enum bt_outcome outcome,
			   enum bt_verdict verdict)
{
	bt_json_set_str(rec, "outcome", bt_outcome_name(outcome));
	bt_json_set_str(rec, "verdict", bt_verdict_name(verdict));
}

void bt_record_set_counts(struct json_object *rec,
			  const struct bt_counts *c, uint64_t duration_ns)
{
	struct json_object *counts = bt_json_set_obj(rec, "counts");
	struct json_object *rates = bt_json_set_obj(rec, "rates");

	bt_json_set_u64(counts, "cycles", c->cycles);
	bt_json_set_u64(counts, "toggles", c->toggles);
	bt_json_set_u64(counts, "accesses", c->accesses);
	bt_json_set_u64(counts, "window_hits", c->window_hits);
	bt_json_set_u64(counts, "ur_reads", c->ur_reads);
	bt_json_set_u64(counts, "ur_violations", c->ur_violations);
	bt_json_set_double(rates, "toggles_per_s",
			   bt_per_s(c->toggles, duration_ns));
	bt_json_set_double(rates, "accesses_per_s",
			   bt_per_s(c->accesses, duration_ns));
	bt_json_set_double(rec, "duration_s", duration_ns / 1e9);
}

void bt_record_set_first_failure(struct json_object *rec, bool have,
				 uint64_t cycle, double ms)
{
	struct json_object *ff;

	if (!have) {
		bt_json_set_null(rec, "first_failure");
		return;
	}
	ff = bt_json_set_obj(rec, "first_failure");
	bt_json_set_u64(ff, "cycle", cycle);
	bt_json_set_double(ff, "ms", ms);
}

char *bt_record_line(struct json_object *rec)
{
	const char *s = json_object_to_json_string_ext(rec,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(s);
	char *line = malloc(len + 2);

	BT_ASSERT(line, "out of memory");
	memcpy(line, s, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	return line;
}

int bt_append_line(const char *path, const char *line)
{
	size_t len = strlen(line);
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, line, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;	/* disk full mid-line: reported, not hidden */
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int __bt_write_file_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(text);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = errno ? -errno : -EIO;
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int bt_record_append(const char *path, struct json_object *rec)
{
	char *line = bt_record_line(rec);
	int ret = bt_append_line(path, line);

	free(line);
	return ret;
}

void bt_ktap_init(struct bt_ktap *k, FILE *out, int plan)
{
	*k = (struct bt_ktap){ .out = out };
	fprintf(out, "KTAP version 1\n1..%d\n", plan);
	fflush(out);
}

void bt_ktap_diag(struct bt_ktap *k, const char *fmt, ...)
{
	va_list ap;

	fputs("# ", k->out);
	va_start(ap, fmt);
	vfprintf(k->out, fmt, ap);
	va_end(ap);
	fputc('\n', k->out);
	fflush(k->out);
}

void bt_ktap_result(struct bt_ktap *k, enum bt_verdict verdict,
		    const char *fmt, ...)
{
	static const struct {
		const char *status;
		const char *directive;
		size_t counter;
	} points[] = {
		[BT_VERDICT_PASS]  = { "ok",     "",         offsetof(struct bt_ktap, pass) },
		[BT_VERDICT_FAIL]  = { "not ok", "",         offsetof(struct bt_ktap, fail) },
		[BT_VERDICT_SKIP]  = { "ok",     " # SKIP",  offsetof(struct bt_ktap, skip) },
		/* KTAP has no ERROR directive (kunit.py takes "# ERROR" for a
		 * comment of a failure): the line says not ok, a diagnostic
		 * after it says it is no verdict. */
		[BT_VERDICT_ERROR] = { "not ok", "",         offsetof(struct bt_ktap, error) },
	};
	va_list ap;

	(*(int *)((char *)k + points[verdict].counter))++;
	fprintf(k->out, "%s %d ", points[verdict].status, ++k->n);
	va_start(ap, fmt);
	vfprintf(k->out, fmt, ap);
	va_end(ap);
	fprintf(k->out, "%s\n", points[verdict].directive);
	if (verdict == BT_VERDICT_ERROR)
		fprintf(k->out, "# ERROR %d: no verdict, the run itself went wrong\n", k->n);
	fflush(k->out);
}

void bt_ktap_totals(struct bt_ktap *k)
{
	bt_ktap_diag(k, "Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:%d",
		     k->pass, k->fail, k->skip, k->error);
}
