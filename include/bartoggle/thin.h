/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bounded disk for long soaks: the agent's progress lines thinned with age
 * (their counters are cumulative, so a dropped line loses resolution, never
 * a total), and logs capped to their first and last part.
 */
#ifndef BARTOGGLE_THIN_H
#define BARTOGGLE_THIN_H

#include <stddef.h>

/*
 * Which of @n lines at times @t_ms (non-decreasing) to keep, at most
 * @budget (>= 2) of them: the first and the last always, and between them
 * a spacing that grows with a line's age (the distance to the last line),
 * so the recent past keeps its full resolution and the far past thins out.
 * @keep[i] is set for a kept line. The number kept.
 */
size_t bt_thin_select(const double *t_ms, size_t n, size_t budget, unsigned char *keep);

/*
 * Rewrite a progress.jsonl (the agent's progress and done lines) keeping
 * at most @budget lines by bt_thin_select() on their elapsed_ms; a line
 * that is not progress (done, or unparsable) is kept as it is. Via a temp
 * file and rename. The number of lines now in the file, or -errno.
 */
int __bt_thin_progress(const char *path, size_t budget);

/*
 * Cap a log to its first @head and last @tail bytes, cut at line ends,
 * with one line in between saying how much was cut. Via a temp file and
 * rename: only for a file nobody writes any more. 1 when it was cut, 0 when
 * it was small enough, -errno.
 */
int __bt_cap_file(const char *path, size_t head, size_t tail);

#endif
