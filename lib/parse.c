// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/parse.h"

static int parse_u64_suffix(const char *s, uint64_t min, uint64_t max,
			    uint64_t *out, bool allow_suffix)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;	/* also rejects "-1", " 1", "" */
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || end == s)
		return -EINVAL;
	if (allow_suffix && *end) {
		switch (*end++) {
		case 'k': case 'K': mult = 1ULL << 10; break;
		case 'm': case 'M': mult = 1ULL << 20; break;
		case 'g': case 'G': mult = 1ULL << 30; break;
		default: return -EINVAL;
		}
	}
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int bt_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return parse_u64_suffix(s, min, max, out, false);
}

int bt_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return parse_u64_suffix(s, min, max, out, true);
}

int bt_parse_seconds(const char *s, double min_exclusive, double max,
		     double *out)
{
	static const struct { char suffix; double scale; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	/* A soak's days read better as "2d" than as 172800. */
	for (i = 0; *end && !end[1] && i < sizeof(units) / sizeof(units[0]); i++) {
		if (*end == units[i].suffix) {
			v *= units[i].scale;
			end++;
			break;
		}
	}
	if (*end)
		return -EINVAL;
	if (!(v > min_exclusive) || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

const char *bt_next_field(const char *list, char sep, char *out, size_t len)
{
	size_t n;

	while (list && *list == sep)
		list++;
	if (!list || !*list)
		return NULL;
	for (n = 0; list[n] && list[n] != sep; n++)
		;
	snprintf(out, len, "%.*s", (int)n, list);
	return list + n;
}
