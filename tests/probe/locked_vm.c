// SPDX-License-Identifier: GPL-2.0
/*
 * Run by scripts/guest-tests after every test, with the module still loaded: is user
 * nobody's locked memory (what kiovec charges containers to) back to where it started?
 * As nobody with RLIMIT_MEMLOCK = 64 pages, a container must pin exactly 64 pages, and not
 * one more. Prints "locked_vm ok" or the step that failed; exit status 0 only when ok.
 */
#include "../kiovec_test.h"

int main(void)
{
	enum { PAGES = 64 };
	long pg = sysconf(_SC_PAGESIZE);
	int ret;

	if (!kiovec_become_user(65534, PAGES * pg)) {
		printf("locked_vm: cannot become nobody\n");
		return 2;
	}
	ret = kiovec_memlock_is_free(PAGES);
	if (ret == 2)
		printf("locked_vm: nobody cannot pin %d pages within RLIMIT_MEMLOCK: charges leaked\n", PAGES);
	else if (ret == 3)
		printf("locked_vm: nobody pinned past RLIMIT_MEMLOCK: charges went negative\n");
	else if (ret)
		printf("locked_vm: probe failed (%d)\n", ret);
	else
		printf("locked_vm ok\n");
	return ret ? 1 : 0;
}
