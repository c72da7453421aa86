/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c, make fuzz): the
 * input as a NUL-terminated string, and a file holding it for parsers that
 * read files (the config layer, the report's reader).
 */
#ifndef BARTOGGLE_FUZZ_H
#define BARTOGGLE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy (inner NULs kept: the parser sees up to the first). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* @data written to @path (created once per process, rewritten each input). */
int fuzz_write_file(const char *path, const uint8_t *data, size_t size);
/* A directory of this process's own, for such files. */
const char *fuzz_dir(void);

#endif
