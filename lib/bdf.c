// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/bdf.h"

/* Exactly @n hex digits at *s; advances *s. */
static int hex_field(const char **s, int n, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)(*s)[i];

		if (!isxdigit(c))
			return -EINVAL;
		v = v * 16 + (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	*s += n;
	*out = v;
	return 0;
}

int bt_bdf_parse(const char *s, struct bt_bdf *bdf)
{
	unsigned int domain = 0, bus, dev, fn;
	const char *p = s;

	if (!s)
		return -EINVAL;
	if (strlen(s) == sizeof("dddd:bb:dd.f") - 1) {
		if (hex_field(&p, 4, &domain) || *p++ != ':')
			return -EINVAL;
	}
	if (hex_field(&p, 2, &bus) || *p++ != ':' ||
	    hex_field(&p, 2, &dev) || *p++ != '.' ||
	    hex_field(&p, 1, &fn) || *p)
		return -EINVAL;
	if (dev > 0x1f || fn > 7)
		return -EINVAL;

	bdf->domain = domain;
	bdf->bus = bus;
	bdf->dev = dev;
	bdf->fn = fn;
	return 0;
}

const char *bt_bdf_format(const struct bt_bdf *bdf, char *buf)
{
	snprintf(buf, BT_BDF_STRLEN, "%04x:%02x:%02x.%x", bdf->domain,
		 bdf->bus, bdf->dev & 0x1f, bdf->fn & 7);
	return buf;
}

const char *bt_bdf_from(const char *arg, const char *env_name)
{
	const char *env;

	if (arg && *arg)
		return arg;
	env = env_name ? getenv(env_name) : NULL;
	return env && *env ? env : NULL;
}
