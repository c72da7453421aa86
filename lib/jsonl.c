// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bartoggle/jsonl.h"

static void put(struct bt_jw *w, const char *s, size_t n)
{
	if (w->overflow || w->len + n > BT_JSONL_MAX_LINE - 1) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void puts_(struct bt_jw *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_string(struct bt_jw *w, const char *s)
{
	char esc[8];

	put(w, "\"", 1);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			put(w, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		} else if (c >= 0x80) {
			put(w, "?", 1);
		} else {
			put(w, (const char *)&c, 1);
		}
	}
	put(w, "\"", 1);
}

static void member(struct bt_jw *w, const char *key)
{
	if (w->depth < 1 || w->depth >= BT_JSONL_MAX_DEPTH) {
		w->overflow = true;
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
	put_string(w, key);
	put(w, ":", 1);
}

static void open_obj(struct bt_jw *w)
{
	put(w, "{", 1);
	if (++w->depth < BT_JSONL_MAX_DEPTH)
		w->first[w->depth] = true;
	else
		w->overflow = true;
}

void bt_jw_begin(struct bt_jw *w)
{
	w->len = 0;
	w->overflow = false;
	w->depth = 0;
	open_obj(w);
}

void bt_jw_obj(struct bt_jw *w, const char *key)
{
	member(w, key);
	open_obj(w);
}

void bt_jw_end(struct bt_jw *w)
{
	put(w, "}", 1);
	w->depth--;
}

void bt_jw_str(struct bt_jw *w, const char *key, const char *v)
{
	member(w, key);
	if (v)
		put_string(w, v);
	else
		puts_(w, "null");
}

void bt_jw_u64(struct bt_jw *w, const char *key, uint64_t v)
{
	char num[24];

	member(w, key);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	puts_(w, num);
}

void bt_jw_double(struct bt_jw *w, const char *key, double v)
{
	char num[32];

	member(w, key);
	snprintf(num, sizeof(num), "%.6g", v);
	/* JSON has no NaN or infinity. */
	puts_(w, strpbrk(num, "ni") ? "null" : num);
}

void bt_jw_bool(struct bt_jw *w, const char *key, bool v)
{
	member(w, key);
	puts_(w, v ? "true" : "false");
}

const char *bt_jw_line(struct bt_jw *w, size_t *len)
{
	if (w->overflow || w->depth != 0)
		return NULL;
	w->buf[w->len] = '\n';
	w->buf[w->len + 1] = '\0';
	*len = w->len + 1;
	return w->buf;
}

struct reader {
	const char *p, *end;
	const char *err;
};

static void skip_ws(struct reader *r)
{
	while (r->p < r->end &&
	       (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
		r->p++;
}

static int fail(struct reader *r, const char *why)
{
	if (!r->err)
		r->err = why;
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string at r->p (opening quote); decoded into out (NULL: skip). */
static int read_string(struct reader *r, char *out, size_t outlen)
{
	size_t n = 0;

	r->p++;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = *r->p++;

		if (c < 0x20)
			return fail(r, "control character in a string");
		if (c == '\\') {
			if (r->p >= r->end)
				break;
			c = *r->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int i, v = 0;

				if (r->end - r->p < 4)
					return fail(r, "truncated \\u escape");
				for (i = 0; i < 4; i++) {
					int h = hexval(r->p[i]);

					if (h < 0)
						return fail(r, "bad \\u escape");
					v = v * 16 + h;
				}
				r->p += 4;
				c = v < 0x80 && v ? v : '?';
				break;
			}
			default:
				return fail(r, "bad escape in a string");
			}
		}
		if (out) {
			if (n + 1 >= outlen)
				return fail(r, "string too long");
			out[n++] = c;
		}
	}
	if (r->p >= r->end)
		return fail(r, "truncated string");
	r->p++;
	if (out)
		out[n] = '\0';
	return 0;
}

static int read_literal(struct reader *r, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n))
		return fail(r, "not JSON");
	r->p += n;
	return 0;
}

static int read_number(struct reader *r, char *out, size_t outlen)
{
	const char *start = r->p;
	size_t n;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return fail(r, "not JSON");
	while (r->p < r->end && strchr("0123456789.eE+-", *r->p))
		r->p++;
	n = r->p - start;
	if (out) {
		if (n >= outlen)
			return fail(r, "number too long");
		memcpy(out, start, n);
		out[n] = '\0';
	}
	return 0;
}

static int read_value(struct reader *r, struct bt_jfield *f, int depth);

/* An object or array, validated and skipped. */
static int skip_container(struct reader *r, int depth)
{
	char close = *r->p == '{' ? '}' : ']';
	bool object = close == '}', first = true;

	if (depth >= BT_JSONL_MAX_DEPTH)
		return fail(r, "nested too deep");
	r->p++;
	for (;;) {
		skip_ws(r);
		if (r->p >= r->end)
			return fail(r, "truncated");
		if (*r->p == close && first) {
			r->p++;
			return 0;
		}
		if (object) {
			if (*r->p != '"' || read_string(r, NULL, 0))
				return fail(r, "expected a key");
			skip_ws(r);
			if (r->p >= r->end || *r->p++ != ':')
				return fail(r, "expected ':'");
		}
		if (read_value(r, NULL, depth + 1))
			return -EINVAL;
		first = false;
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		return fail(r, r->p >= r->end ? "truncated" : "expected ',' or a closing bracket");
	}
}

static int read_value(struct reader *r, struct bt_jfield *f, int depth)
{
	char *val = f ? f->val : NULL;
	size_t vlen = f ? sizeof(f->val) : 0;
	enum bt_jtype type;
	int ret;

	skip_ws(r);
	if (r->p >= r->end)
		return fail(r, "truncated");
	switch (*r->p) {
	case '"':
		type = BT_JSTRING;
		ret = read_string(r, val, vlen);
		break;
	case '{': case '[':
		type = BT_JNESTED;
		ret = skip_container(r, depth);
		if (val)
			val[0] = '\0';
		break;
	case 't': case 'f': {
		const char *lit = *r->p == 't' ? "true" : "false";

		type = BT_JBOOL;
		ret = read_literal(r, lit);
		if (!ret && val)
			snprintf(val, vlen, "%s", lit);
		break;
	}
	case 'n':
		type = BT_JNULL;
		ret = read_literal(r, "null");
		if (val)
			val[0] = '\0';
		break;
	default:
		type = BT_JNUMBER;
		ret = read_number(r, val, vlen);
	}
	if (f)
		f->type = type;
	return ret;
}

int bt_jsonl_parse(const char *line, size_t len, struct bt_jfield *fields,
		   int max, const char **err)
{
	struct reader r = { .p = line, .end = line + len };
	int n = 0;

	*err = NULL;
	if (memchr(line, '\0', len)) {
		*err = "NUL byte in the line";
		return -EINVAL;
	}
	skip_ws(&r);
	if (r.p >= r.end || *r.p != '{') {
		*err = r.p >= r.end ? "empty line" : "not a JSON object";
		return -EINVAL;
	}
	r.p++;
	skip_ws(&r);
	if (r.p < r.end && *r.p == '}') {
		r.p++;
		goto tail;
	}
	for (;;) {
		struct bt_jfield scratch, *f = n < max ? &fields[n] : &scratch;

		skip_ws(&r);
		if (r.p >= r.end || *r.p != '"') {
			fail(&r, r.p >= r.end ? "truncated" : "expected a key");
			break;
		}
		if (read_string(&r, f->key, sizeof(f->key)))
			break;
		skip_ws(&r);
		if (r.p >= r.end || *r.p++ != ':') {
			fail(&r, "expected ':'");
			break;
		}
		if (read_value(&r, f, 1))
			break;
		if (n >= max) {
			fail(&r, "too many members");
			break;
		}
		n++;
		skip_ws(&r);
		if (r.p < r.end && *r.p == ',') {
			r.p++;
			continue;
		}
		if (r.p < r.end && *r.p == '}') {
			r.p++;
			goto tail;
		}
		fail(&r, r.p >= r.end ? "truncated" : "expected ',' or '}'");
		break;
	}
	*err = r.err;
	return -EINVAL;
tail:
	skip_ws(&r);
	if (r.p != r.end) {
		*err = "trailing data after the object";
		return -EINVAL;
	}
	return n;
}

const struct bt_jfield *bt_jsonl_get(const struct bt_jfield *fields, int n,
				     const char *key)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(fields[i].key, key))
			return &fields[i];
	return NULL;
}
