/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A runner results directory's ktap.txt, written from its records.jsonl:
 * one test per record ("<qemu> <version> run<N>: <outcome>, ..."), so that
 * the plan always matches what was recorded, also after a kill (the
 * recovery that closes the cut iteration writes it again).
 */
#ifndef BARTOGGLE_KTAPRECORDS_H
#define BARTOGGLE_KTAPRECORDS_H

/* DIR/ktap.txt (temp + rename) with @title as its first diagnostic line. 0 or -errno. */
int __bt_ktap_from_records(const char *dir, const char *title);

#endif
