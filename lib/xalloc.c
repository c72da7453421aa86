// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bartoggle/log.h"
#include "bartoggle/xalloc.h"

void *bt_grow(void *p, size_t n, size_t size)
{
	p = realloc(p, (n + 1) * size);
	BT_ASSERT(p, "out of memory");
	return p;
}

char *bt_xstrdup(const char *s)
{
	char *d = strdup(s);

	BT_ASSERT(d, "out of memory");
	return d;
}

char *bt_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	BT_ASSERT(n >= 0, "out of memory");
	return s;
}
