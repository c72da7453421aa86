/* SPDX-License-Identifier: GPL-2.0 */
/* One main() for every Check suite: each file defines make_suite(). */
#ifndef BARTOGGLE_CHECK_MAIN_H
#define BARTOGGLE_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#ifndef BT_TEST_DATA
#define BT_TEST_DATA "tests/data"
#endif

Suite *make_suite(void);

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
