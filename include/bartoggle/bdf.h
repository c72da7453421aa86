/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BARTOGGLE_BDF_H
#define BARTOGGLE_BDF_H

#include <stdbool.h>
#include <stdint.h>

#define BT_BDF_STRLEN	sizeof("dddd:bb:dd.f")

struct bt_bdf {
	uint16_t domain;
	uint8_t bus;
	uint8_t dev;
	uint8_t fn;
};

/*
 * Parse "DDDD:BB:DD.F" or "BB:DD.F" (domain 0), hex, nothing trailing.
 * Returns 0 or -EINVAL.
 */
int bt_bdf_parse(const char *s, struct bt_bdf *bdf);

/* Canonical "dddd:bb:dd.f" into buf (BT_BDF_STRLEN bytes). */
const char *bt_bdf_format(const struct bt_bdf *bdf, char *buf);

/* BDF from the argument if given, else from the environment variable. */
const char *bt_bdf_from(const char *arg, const char *env_name);

#endif
