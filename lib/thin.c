// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "bartoggle/log.h"
#include "bartoggle/record.h"
#include "bartoggle/thin.h"
#include "bartoggle/xalloc.h"

/* Keep a line when it is at least @factor x its age after the last kept one. */
static size_t select_with(const double *t, size_t n, double factor, unsigned char *keep)
{
	double last = t[0], end = t[n - 1];
	size_t i, kept = 1;

	memset(keep, 0, n);
	keep[0] = 1;
	for (i = 1; i + 1 < n; i++) {
		if (t[i] - last >= factor * (end - t[i])) {
			keep[i] = 1;
			last = t[i];
			kept++;
		}
	}
	if (n > 1) {
		keep[n - 1] = 1;
		kept++;
	}
	return kept;
}

size_t bt_thin_select(const double *t_ms, size_t n, size_t budget, unsigned char *keep)
{
	double lo = 0, hi = 1;
	size_t i;

	if (budget < 2)
		budget = 2;
	if (n <= budget) {
		memset(keep, 1, n);
		return n;
	}
	/* The kept count falls as the factor grows: find the smallest factor
	 * (the finest resolution) that fits the budget. */
	while (select_with(t_ms, n, hi, keep) > budget && hi < 1e12)
		hi *= 2;
	for (i = 0; i < 48; i++) {
		double mid = (lo + hi) / 2;

		if (select_with(t_ms, n, mid, keep) > budget)
			lo = mid;
		else
			hi = mid;
	}
	return select_with(t_ms, n, hi, keep);
}

struct lines {
	char **text;
	double *t;
	size_t n;
};

static void free_lines(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->text[i]);
	free(l->text);
	free(l->t);
}

static int read_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] != '\n')
			break;		/* cut short by a kill: not a line */
		l->text = bt_grow(l->text, l->n, sizeof(*l->text));
		l->t = bt_grow(l->t, l->n, sizeof(*l->t));
		l->text[l->n] = bt_xstrdup(line);
		l->t[l->n] = -1;
		l->n++;
	}
	free(line);
	fclose(f);
	return 0;
}

/* elapsed_ms of a progress line, or -1 for a line to keep whatever happens. */
static double progress_time(const char *line)
{
	struct json_object *o = json_tokener_parse(line), *v;
	double t = -1;

	if (o && json_object_object_get_ex(o, "type", &v) &&
	    !strcmp(json_object_get_string(v), "progress") &&
	    json_object_object_get_ex(o, "elapsed_ms", &v))
		t = json_object_get_double(v);
	json_object_put(o);
	return t;
}

int __bt_thin_progress(const char *path, size_t budget)
{
	struct lines l = { 0 };
	double *t = NULL;
	unsigned char *keep = NULL;
	size_t *idx = NULL, np = 0, i, k, total = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	int ret = read_lines(path, &l);

	if (ret)
		return ret;
	if (l.n <= budget) {
		ret = (int)l.n;
		goto out;
	}
	t = calloc(l.n, sizeof(*t));
	idx = calloc(l.n, sizeof(*idx));
	keep = calloc(l.n, 1);
	BT_ASSERT(t && idx && keep, "out of memory");
	for (i = 0; i < l.n; i++) {
		l.t[i] = progress_time(l.text[i]);
		if (l.t[i] >= 0 && (!np || l.t[i] >= t[np - 1])) {
			t[np] = l.t[i];
			idx[np++] = i;
		}
	}
	/* The other lines stay; the progress lines share what is left. */
	k = l.n - np < budget ? budget - (l.n - np) : 2;
	if (np)
		bt_thin_select(t, np, k, keep);
	m = open_memstream(&text, &len);
	BT_ASSERT(m, "out of memory");
	for (i = 0, k = 0; i < l.n; i++) {
		bool is_progress = k < np && idx[k] == i;

		if (!is_progress || keep[k]) {
			fputs(l.text[i], m);
			total++;
		}
		if (is_progress)
			k++;
	}
	fclose(m);
	ret = __bt_write_file_atomic(path, text);
	if (!ret)
		ret = (int)total;
	free(text);
out:
	free(t);
	free(idx);
	free(keep);
	free_lines(&l);
	return ret;
}

/* Read @len bytes at @off of @fd into a new string. */
static char *read_at(int fd, off_t off, size_t len)
{
	char *buf = malloc(len + 1);
	size_t got = 0;

	BT_ASSERT(buf, "out of memory");
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + got);

		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	return buf;
}

int __bt_cap_file(const char *path, size_t head, size_t tail)
{
	struct stat st;
	char *first, *last, *cut, *text;
	size_t dropped;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if ((size_t)st.st_size <= head + tail + 256) {
		close(fd);
		return 0;
	}
	first = read_at(fd, 0, head);
	last = read_at(fd, st.st_size - tail, tail);
	close(fd);
	/* Whole lines on both sides of the cut. */
	cut = strrchr(first, '\n');
	if (cut)
		cut[1] = '\0';
	cut = strchr(last, '\n');
	cut = cut ? cut + 1 : last;
	dropped = st.st_size - strlen(first) - strlen(cut);
	text = bt_xasprintf("%s%s[bartoggle: %zu bytes cut here: this log keeps its first %zu and "
			    "last %zu bytes]\n%s", first,
			    *first && first[strlen(first) - 1] != '\n' ? "\n" : "", dropped,
			    strlen(first), strlen(cut), cut);
	ret = __bt_write_file_atomic(path, text);
	free(text);
	free(first);
	free(last);
	return ret ? ret : 1;
}
