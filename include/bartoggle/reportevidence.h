/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A report row in words: the lists the table and the evidence share, and
 * the evidence file (evidence-<slug>.txt), which is what a Tested-by: cites.
 */
#ifndef BARTOGGLE_REPORTEVIDENCE_H
#define BARTOGGLE_REPORTEVIDENCE_H

#include <stdio.h>

#include "bartoggle/report.h"

/* "vm-stopped=5 efault=1", most severe first as the taxonomy orders them. */
void bt_report_outcome_list(const struct bt_report_row *row, FILE *out);
/* "2 FAIL, 1 PASS". */
void bt_report_verdict_list(const struct bt_report_row *row, FILE *out);
/* The row's evidence, a new string. */
char *bt_report_evidence_text(const struct bt_report *r, const struct bt_report_row *row);

#endif
