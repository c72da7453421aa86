/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Human-facing diagnostics go to stderr; stdout is reserved for machine
 * output (KTAP, JSON Lines).
 *
 * Asserting wrappers follow the KVM/VFIO selftest convention: __foo()
 * returns -errno, foo() asserts. An assertion prints the expression, both
 * observed values, errno and (for ioctls) the request *name*, then exits 1
 * (kselftest FAIL). Missing prerequisites exit 4 (kselftest SKIP).
 */
#ifndef BARTOGGLE_LOG_H
#define BARTOGGLE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_EXIT_PASS	0
#define BT_EXIT_FAIL	1
#define BT_EXIT_USAGE	2
#define BT_EXIT_UNSAVED	3	/* the runner: results could not all be written */
#define BT_EXIT_SKIP	4

enum bt_log_level { BT_LOG_QUIET, BT_LOG_INFO, BT_LOG_DEBUG };

void bt_log_init(const char *prog, enum bt_log_level level);
const char *bt_log_prog(void);
enum bt_log_level bt_log_level(void);

void bt_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bt_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format a reason into @err and return @ret: parsers report this way. */
int bt_errf(char *err, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* One clear line, then exit with the kselftest code. */
void bt_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

void bt_assert_fail(const char *file, int line, const char *expr,
		    int saved_errno, const char *fmt, ...)
	__attribute__((format(printf, 5, 6), noreturn));

#define BT_ASSERT(cond, fmt, ...) do {					\
	if (!(cond))							\
		bt_assert_fail(__FILE__, __LINE__, #cond, errno,	\
			       fmt, ##__VA_ARGS__);			\
} while (0)

#define BT_ASSERT_EQ(a, b) do {						\
	uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);		\
	if (__a != __b)							\
		bt_assert_fail(__FILE__, __LINE__, #a " == " #b, errno,	\
			       "observed 0x%llx != 0x%llx",		\
			       (unsigned long long)__a,			\
			       (unsigned long long)__b);		\
} while (0)

/* ioctl that must succeed; the request is reported by name. */
#define BT_IOCTL(fd, req, arg) ({					\
	int __r = ioctl((fd), (req), (arg));				\
	if (__r < 0)							\
		bt_assert_fail(__FILE__, __LINE__,			\
			       "ioctl(" #fd ", " #req ") >= 0", errno,	\
			       "%s failed, rc=%d", #req, __r);		\
	__r;								\
})

#endif
