/* SPDX-License-Identifier: GPL-2.0 */
#ifndef BARTOGGLE_VERSION_H
#define BARTOGGLE_VERSION_H

/* "0.1.0-<git describe>", set at build time in lib/version.c only. */
extern const char bt_version[];

#endif
