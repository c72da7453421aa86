/* SPDX-License-Identifier: GPL-2.0 */
/* One main() for every Check suite: each file defines make_suite(). */
#ifndef BARTOGGLE_CHECK_MAIN_H
#define BARTOGGLE_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BT_TEST_DATA
#define BT_TEST_DATA "tests/data"
#endif

Suite *make_suite(void);

/* A writable copy of a fake sysfs tree: tests write into it, never into
 * tests/data. @tree holds at least 64 bytes. */
static inline void bt_test_copy_tree(const char *src, char *tree)
{
	char cmd[512];

	snprintf(tree, 64, "/tmp/bt-tree-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tree));
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s/", src, tree);
	ck_assert_int_eq(system(cmd), 0);
}

static inline void bt_test_remove_tree(const char *tree)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
	ck_assert_int_eq(system(cmd), 0);
}

int main(void)
{
	SRunner *sr = srunner_create(make_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
