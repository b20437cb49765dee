/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the kiovec kselftests: the harness from the kernel tree, the UAPI header, and
 * small helpers.
 */
#ifndef KIOVEC_TEST_H
#define KIOVEC_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kiovec.h>

#include "kselftest_harness.h"

#define KIOVEC_DEV "/dev/kiovec"

/* Opens a container; -1 with errno set on failure. */
static inline int kiovec_open(void)
{
	return open(KIOVEC_DEV, O_RDWR | O_CLOEXEC);
}

/* The container's counts; aborts the test on failure. */
#define KIOVEC_STAT(fd, st)						\
	do {								\
		memset(&(st), 0xa5, sizeof(st));			\
		ASSERT_EQ(0, ioctl((fd), KIOVEC_IOC_STAT, &(st)));	\
	} while (0)

/* The module's reference count from sysfs, or -1. */
static inline long kiovec_module_refcnt(void)
{
	FILE *f = fopen("/sys/module/kiovec/refcnt", "r");
	long n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/*
 * Waits for a child: its exit status, or 128 + the signal that killed it, or -1 if waitpid
 * failed. Children report which step failed through distinct exit codes.
 */
static inline int kiovec_wait(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Fills buf with a pattern that depends on the seed and the position. */
static inline void kiovec_fill(unsigned char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12));
}

#endif /* KIOVEC_TEST_H */
