/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small JSON Lines codec for the guest agent, which links nothing but libc.
 * The writer escapes every string (control characters as \u00XX, non-ASCII
 * bytes as '?', so a line is always valid JSON). The reader accepts one
 * object per line and returns its top-level members flat: nested values are
 * validated and skipped, so unknown fields of any shape are ignored.
 */
#ifndef BARTOGGLE_JSONL_H
#define BARTOGGLE_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_JSONL_MAX_LINE	4096
#define BT_JSONL_MAX_DEPTH	16

struct bt_jw {
	char buf[BT_JSONL_MAX_LINE + 1];
	size_t len;
	bool overflow;		/* the line would exceed the limit */
	bool first[BT_JSONL_MAX_DEPTH];
	int depth;
};

void bt_jw_begin(struct bt_jw *w);			/* { */
void bt_jw_obj(struct bt_jw *w, const char *key);	/* "key":{ */
void bt_jw_end(struct bt_jw *w);			/* } */
void bt_jw_str(struct bt_jw *w, const char *key, const char *v);
void bt_jw_u64(struct bt_jw *w, const char *key, uint64_t v);
void bt_jw_double(struct bt_jw *w, const char *key, double v);
void bt_jw_bool(struct bt_jw *w, const char *key, bool v);
/* The finished line with '\n', or NULL when it overflowed or is unbalanced. */
const char *bt_jw_line(struct bt_jw *w, size_t *len);

enum bt_jtype { BT_JSTRING, BT_JNUMBER, BT_JBOOL, BT_JNULL, BT_JNESTED };

struct bt_jfield {
	char key[64];
	enum bt_jtype type;
	char val[256];		/* decoded string, number text, true/false */
};

/*
 * Parse one line holding one object. Fills up to @max top-level members.
 * Returns the number of members, or -EINVAL with *err set (not JSON, not
 * an object, truncated, a key or string value too long, nesting too deep,
 * too many members, trailing data, a NUL byte).
 */
int bt_jsonl_parse(const char *line, size_t len, struct bt_jfield *fields,
		   int max, const char **err);

/* The member named @key, or NULL. */
const struct bt_jfield *bt_jsonl_get(const struct bt_jfield *fields, int n,
				     const char *key);

#endif
