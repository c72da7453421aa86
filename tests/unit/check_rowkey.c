// SPDX-License-Identifier: GPL-2.0
/*
 * The report's row keys: a kernel whose KVM was rebuilt or patched keeps its
 * release, and only host.kernel_variant keeps the stock, control and fixed
 * runs of one release in rows of their own.
 */
#include <stdlib.h>
#include <string.h>

#include "bartoggle/rowkey.h"
#include "check_main.h"

static char *key_of(const char *json, char *(*key)(struct json_object *))
{
	struct json_object *rec = json_tokener_parse(json);
	char *k;

	ck_assert_ptr_nonnull(rec);
	k = key(rec);
	json_object_put(rec);
	return k;
}

START_TEST(kernel_variant_splits_rows)
{
	static const struct { const char *json, *want; } cases[] = {
		{ "{\"host\":{\"kernel\":\"6.12.117+deb12-amd64\"}}", "6.12.117+deb12-amd64" },
		{ "{\"host\":{\"kernel\":\"6.12.117+deb12-amd64\",\"kernel_variant\":\"kvm-rebuilt\"}}",
		  "6.12.117+deb12-amd64 [kvm-rebuilt]" },
		{ "{\"host\":{\"kernel\":\"6.12.117+deb12-amd64\","
		  "\"kernel_variant\":\"kvm-patched:fix.patch@9dc24dee83f5\"}}",
		  "6.12.117+deb12-amd64 [kvm-patched:fix.patch@9dc24dee83f5]" },
		{ "{\"host\":{\"kernel_variant\":\"kvm-rebuilt\"}}", "? [kvm-rebuilt]" },
		{ "{\"host\":{\"kernel\":\"6.1.0-57-amd64\",\"kernel_variant\":7}}", "6.1.0-57-amd64" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *k = key_of(cases[i].json, bt_rowkey_kernel);

		ck_assert_str_eq(k, cases[i].want);
		free(k);
	}
}
END_TEST

START_TEST(vmm_device_arm)
{
	static const struct {
		const char *json;
		char *(*key)(struct json_object *);
		const char *want;
	} cases[] = {
		{ "{\"tool\":\"run\",\"qemu\":{\"version\":\"7.2.22\"}}", bt_rowkey_vmm, "QEMU 7.2.22" },
		/* The VMM axis of the pair table: one row per build of one version. */
		{ "{\"tool\":\"run\",\"qemu\":{\"version\":\"7.2.22\",\"build\":{\"kind\":"
		  "\"distribution\",\"package\":\"Debian 1:7.2+dfsg-7+deb12u18\"}}}", bt_rowkey_vmm,
		  "QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)" },
		{ "{\"tool\":\"run\",\"qemu\":{\"version\":\"7.2.22\",\"build\":{\"kind\":"
		  "\"control\",\"key\":\"a2777dcb6dd8\"}}}", bt_rowkey_vmm, "QEMU 7.2.22 [control a2777dcb6dd8]" },
		{ "{\"tool\":\"run\",\"qemu\":{\"version\":\"7.2.22\",\"build\":{\"kind\":"
		  "\"patched\",\"key\":\"190cd4ddaacc\"}}}", bt_rowkey_vmm, "QEMU 7.2.22 [patched 190cd4ddaacc]" },
		{ "{\"tool\":\"run\",\"qemu\":{\"version\":\"8.2.0\",\"build\":{\"kind\":"
		  "\"mine\"}}}", bt_rowkey_vmm, "QEMU 8.2.0 [mine]" },
		{ "{\"tool\":\"run\",\"qemu\":{\"version\":\"7.2.22\",\"build\":{\"kind\":"
		  "\"unknown\"}}}", bt_rowkey_vmm, "QEMU 7.2.22" },
		{ "{\"tool\":\"repro\"}", bt_rowkey_vmm, "bartoggle-repro" },
		{ "{\"device\":{\"vendor\":\"1234\",\"device\":\"11e8\"}}", bt_rowkey_device, "1234:11e8" },
		{ "{\"device\":null}", bt_rowkey_device, "-" },
		{ "{\"backing\":\"vfio\",\"mode\":\"race\",\"options\":{\"stress\":"
		  "{\"dwell_off_us\":20,\"width\":8,\"access\":\"rw\"},\"iommu\":\"type1\"}}",
		  bt_rowkey_arm, "vfio race rw/8 dwell 20/0 us type1" },
	};
	size_t i;
	char *k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = key_of(cases[i].json, cases[i].key);
		ck_assert_str_eq(k, cases[i].want);
		free(k);
	}
	k = bt_rowkey_slug("6.12 [kvm-rebuilt]", "QEMU 7.2.22", "1234:11e8", "vfio race");
	ck_assert_str_eq(k, "6.12--kvm-rebuilt-_QEMU-7.2.22_1234-11e8_vfio-race");
	free(k);
}
END_TEST

Suite *make_suite(void)
{
	Suite *s = suite_create("rowkey");
	TCase *tc = tcase_create("rowkey");

	tcase_add_test(tc, kernel_variant_splits_rows);
	tcase_add_test(tc, vmm_device_arm);
	suite_add_tcase(s, tc);
	return s;
}
