/* SPDX-License-Identifier: GPL-2.0 */
/* Strict number parsing for options and config: the whole string or -EINVAL. */
#ifndef BARTOGGLE_PARSE_H
#define BARTOGGLE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal or 0x-hex; rejects signs, blanks, trailing junk, and out of range
 * values (-ERANGE). */
int bt_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Like bt_parse_u64 with an optional K/M/G (binary) suffix. */
int bt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A finite decimal > @min_exclusive and <= @max, with an optional suffix
 * s, m, h or d. */
int bt_parse_seconds(const char *s, double min_exclusive, double max,
		     double *out);
/*
 * The next non-empty field of a @sep-separated list ("a:b::c") into @out:
 * where the rest starts, or NULL when no field is left. A field longer than
 * @len is cut.
 *	for (p = list; (p = bt_next_field(p, ':', dir, sizeof(dir))); )
 */
const char *bt_next_field(const char *list, char sep, char *out, size_t len);

#endif
