/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the kiovec kselftests: the harness from the kernel tree, the UAPI header, and
 * small helpers.
 */
#ifndef KIOVEC_TEST_H
#define KIOVEC_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kiovec.h>

#include "kselftest_harness.h"
#include "kiovec_loopback.h"

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

/* Receives up to len bytes, stopping at EOF or after timeout_ms without data; the count. */
static inline size_t kiovec_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* A thread that receives len bytes on fd, so that a blocking sender is never stuck. */
struct kiovec_reader {
	int fd;
	unsigned char *buf;
	size_t len, got;
	pthread_t thread;
};

static inline void *kiovec_reader_main(void *arg)
{
	struct kiovec_reader *r = arg;

	r->got = kiovec_recv_exact(r->fd, r->buf, r->len, 20000);
	return NULL;
}

static inline int kiovec_reader_start(struct kiovec_reader *r, int fd, size_t len)
{
	*r = (struct kiovec_reader){ .fd = fd, .len = len, .buf = malloc(len ? len : 1) };
	if (!r->buf)
		return -1;
	return pthread_create(&r->thread, NULL, kiovec_reader_main, r);
}

/* Joins the reader; its buffer stays for the caller to check and free. */
static inline int kiovec_reader_join(struct kiovec_reader *r)
{
	return pthread_join(r->thread, NULL);
}

/*
 * Makes an 8 MiB ext4 file system on a loop device and mounts it on a new directory; dir
 * gets its path. 0, or -1 (not root, no mkfs.ext4, no loop device) with nothing left behind.
 */
static inline int kiovec_mount_ext4(char dir[64])
{
	char cmd[256];

	strcpy(dir, "/tmp/kiovec-ext4-XXXXXX");
	if (geteuid() != 0 || !mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 8M %s.img && mkfs.ext4 -q -F %s.img && mount -o loop %s.img %s",
		 dir, dir, dir, dir);
	if (system(cmd) == 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -f %s.img", dir);
	system(cmd);
	rmdir(dir);
	return -1;
}

/*
 * nr_foll_pin_acquired - nr_foll_pin_released, system-wide, or LONG_MIN if /proc/vmstat has
 * no such counters. The counters are batched per CPU: as root, vm.stat_refresh folds the
 * batches in first; otherwise the difference is only approximate.
 */
static inline long kiovec_pins_outstanding(void)
{
	char name[64];
	long v, acq = -1, rel = -1;
	int rfd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	FILE *f;

	if (rfd >= 0) {
		if (write(rfd, "1", 1) != 1)
			acq = -2;
		close(rfd);
	}
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return LONG_MIN;
	while (fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	return acq < 0 || rel < 0 ? LONG_MIN : acq - rel;
}

/*
 * Becomes user and group uid, without supplementary groups, with RLIMIT_MEMLOCK = memlock
 * bytes (RLIM_INFINITY for none); false if that is not possible. The process stays
 * dumpable, so that its /proc/self files (fail-nth, ...) remain its own.
 */
static inline bool kiovec_become_user(uid_t uid, rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return false;
	if (uid != 0 && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
		return false;
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return geteuid() == uid;
}

/* VmPin of this process in kB (what the module adds to mm->pinned_vm), or -1. */
static inline long kiovec_vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * len bytes of private anonymous memory (zero-filled) that is only ever backed by small pages,
 * or NULL. A pinned page of a large folio is charged with its whole folio (a transparent huge
 * page: 512 pages for one byte), so a test that counts charges must not pin one. Seen in the
 * guest: a fresh mapping given MADV_NOHUGEPAGE right after mmap, next to other anonymous
 * mappings, still had pages in 512-page folios when pinned. Here the mapping is born
 * PROT_NONE between two guard pages (it can merge with no neighbour), gets MADV_NOHUGEPAGE
 * (checked) before any page of it exists, and only then becomes writable.
 */
static inline void *kiovec_map_small(size_t len)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, len + 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p + pg, len, MADV_NOHUGEPAGE) ||
	    mprotect(p + pg, len, PROT_READ | PROT_WRITE)) {
		munmap(p, len + 2 * pg);
		return NULL;
	}
	return p + pg;
}

/* Unmaps what kiovec_map_small(len) gave. */
static inline void kiovec_unmap_small(void *p, size_t len)
{
	size_t pg = sysconf(_SC_PAGESIZE);

	munmap((unsigned char *)p - pg, len + 2 * pg);
}

/*
 * Proof that the calling user's locked_vm is at zero: a fresh container pins exactly
 * limit_pages pages (RLIMIT_MEMLOCK) and not one page more. 0 if so; otherwise a step
 * number: 1 setup, 2 the limit itself was refused (something is still charged), 3 one
 * page past the limit was not ENOMEM (nothing is charged at all).
 */
static inline int kiovec_memlock_is_free(size_t limit_pages)
{
	size_t pg = sysconf(_SC_PAGESIZE), len = (limit_pages + 1) * pg;
	unsigned char *p = kiovec_map_small(len);
	struct kiovec_iovec iov[2] = {
		{ (uintptr_t)p, limit_pages * pg }, { (uintptr_t)p + limit_pages * pg, 1 },
	};
	struct kiovec_add_user req = { .iov = (uintptr_t)iov, .iovcnt = 1 };
	int fd = kiovec_open(), ret = 0;

	if (!p || fd < 0) {
		if (p)
			kiovec_unmap_small(p, len);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	memset(p, 1, len);
	if (ioctl(fd, KIOVEC_IOC_ADD_USER, &req))
		ret = 2;
	req = (struct kiovec_add_user){ .iov = (uintptr_t)&iov[1], .iovcnt = 1 };
	if (!ret && (ioctl(fd, KIOVEC_IOC_ADD_USER, &req) != -1 || errno != ENOMEM))
		ret = 3;
	close(fd);
	kiovec_unmap_small(p, len);
	return ret;
}

/* Unmounts what kiovec_mount_ext4 made and removes it; 0 on success. */
static inline int kiovec_umount_ext4(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "umount %s && rmdir %s && rm -f %s.img", dir, dir, dir);
	return system(cmd);
}

/* 1 if path is on an overlay file system, 0 if not, -1 if statfs fails. */
static inline int statfs_is_overlay(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf))
		return -1;
	return sf.f_type == 0x794c7630 /* OVERLAYFS_SUPER_MAGIC */;
}

#endif /* KIOVEC_TEST_H */
