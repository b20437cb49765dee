// SPDX-License-Identifier: GPL-2.0
/*
 * A module that WARNs when loaded with warn=1: proof that the test runner's guest log scan
 * turns a kernel warning into a red run (scripts/check-dmesg, `make check-scanner`).
 */
#include <linux/bug.h>
#include <linux/module.h>

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "WARN once at load time");

static int __init kiovec_warn_test_init(void)
{
	WARN(warn, "kiovec_warn_test: warning on request\n");
	return 0;
}

static void __exit kiovec_warn_test_exit(void)
{
}

module_init(kiovec_warn_test_init);
module_exit(kiovec_warn_test_exit);
MODULE_DESCRIPTION("kiovec test helper: WARN on request");
MODULE_LICENSE("GPL");
