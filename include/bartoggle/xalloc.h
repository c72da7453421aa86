/* SPDX-License-Identifier: GPL-2.0 */
/* Allocations that cannot fail: out of memory is an assertion (log.h). */
#ifndef BARTOGGLE_XALLOC_H
#define BARTOGGLE_XALLOC_H

#include <stddef.h>

/* @p (n elements of @size) grown by one element. */
void *bt_grow(void *p, size_t n, size_t size);
char *bt_xstrdup(const char *s);
char *bt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
