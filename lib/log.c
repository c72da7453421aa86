// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bartoggle/log.h"

static const char *log_prog = "bartoggle";
static enum bt_log_level log_level = BT_LOG_INFO;

void bt_log_init(const char *prog, enum bt_log_level level)
{
	const char *slash = strrchr(prog, '/');

	log_prog = slash ? slash + 1 : prog;
	log_level = level;
}

const char *bt_log_prog(void)
{
	return log_prog;
}

enum bt_log_level bt_log_level(void)
{
	return log_level;
}

static void vlog(const char *tag, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	/* One write per line so that lines from threads never interleave. */
	n = snprintf(buf, sizeof(buf), "%s: %s", log_prog, tag);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	fprintf(stderr, "%s\n", buf);
}

#define DEFINE_LOG(fn, tag, min)				\
void fn(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	if (log_level < (min))					\
		return;						\
	va_start(ap, fmt);					\
	vlog(tag, fmt, ap);					\
	va_end(ap);						\
}

DEFINE_LOG(bt_info, "", BT_LOG_INFO)
DEFINE_LOG(bt_debug, "debug: ", BT_LOG_DEBUG)
DEFINE_LOG(bt_warn, "warning: ", BT_LOG_QUIET)
DEFINE_LOG(bt_err, "error: ", BT_LOG_QUIET)

int bt_errf(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}

void bt_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(code == BT_EXIT_SKIP ? "skip: " : "error: ", fmt, ap);
	va_end(ap);
	exit(code);
}

void bt_assert_fail(const char *file, int line, const char *expr,
		    int saved_errno, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "==== Test Assertion Failure ====\n");
	fprintf(stderr, "  %s:%d: %s\n", file, line, expr);
	fprintf(stderr, "  pid=%d tid=%ld errno=%d - %s\n", getpid(),
		(long)syscall(SYS_gettid), saved_errno, strerror(saved_errno));
	fprintf(stderr, "  ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(BT_EXIT_FAIL);
}
