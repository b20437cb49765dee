// SPDX-License-Identifier: GPL-2.0
/*
 * kiobufs: user memory pinned into a container with KIOVEC_IOC_ADD_USER, checked through
 * KIOVEC_IOC_COPY_OUT (which pages were pinned, at which offsets), VmPin, RLIMIT_MEMLOCK,
 * fork, exit and SCM_RIGHTS. Every bad input has its exact errno.
 */
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "kiovec_test.h"

#define NOBODY 65534

static long add_user(int fd, const struct iovec *iov, unsigned int cnt, unsigned int flags,
		     struct kiovec_add_user *out)
{
	struct kiovec_add_user req = {
		.iov = (uintptr_t)iov,
		.iovcnt = cnt,
		.flags = flags,
	};
	long ret = ioctl(fd, KIOVEC_IOC_ADD_USER, &req);

	if (out)
		*out = req;
	return ret;
}

static long add_one(int fd, void *base, size_t len, unsigned int flags)
{
	struct iovec iov = { base, len };

	return add_user(fd, &iov, 1, flags, NULL);
}

static long copy_out(int fd, __u64 offset, void *buf, size_t len)
{
	struct kiovec_copy_out req = {
		.offset = offset,
		.buf = (uintptr_t)buf,
		.len = len,
	};

	return ioctl(fd, KIOVEC_IOC_COPY_OUT, &req);
}

/* The shared counter of pins taken and not released (kiovec_test.h). */
#define pins_outstanding kiovec_pins_outstanding

/* Becomes user nobody with RLIMIT_MEMLOCK = limit bytes; false if that is not possible. */
static bool become_nobody(rlim_t limit)
{
	struct rlimit rl = { limit, limit };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return false;
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return false;
	return geteuid() == NOBODY;
}

FIXTURE(kiobuf)
{
	int fd;
	long pagesz;
	unsigned char *buf;	/* 8 pages, patterned */
	size_t buflen;
};

FIXTURE_SETUP(kiobuf)
{
	self->pagesz = sysconf(_SC_PAGESIZE);
	self->fd = kiovec_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->fd);
	self->buflen = 8 * self->pagesz;
	self->buf = mmap(NULL, self->buflen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	kiovec_fill(self->buf, self->buflen, 3);
}

FIXTURE_TEARDOWN(kiobuf)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, self->buflen);
}

TEST_F(kiobuf, pins_pages_in_place)
{
	struct kiovec_add_user out;
	struct kiovec_stat st;
	struct iovec iov = { self->buf, 3 * self->pagesz };
	unsigned char *back = malloc(iov.iov_len);
	long pin0 = kiovec_vm_pin_kb();

	ASSERT_NE(NULL, back);
	ASSERT_EQ(0, add_user(self->fd, &iov, 1, 0, &out));
	EXPECT_EQ(0, out.offset);
	EXPECT_EQ(iov.iov_len, out.bytes);
	EXPECT_EQ(3, out.segments);
	EXPECT_EQ(3, out.pinned_pages);
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(iov.iov_len, st.bytes);
	EXPECT_EQ(3, st.segments);
	EXPECT_EQ(3, st.pinned_pages);
	EXPECT_EQ(0, st.owned_pages);
	if (pin0 >= 0)
		EXPECT_EQ(pin0 + 3 * self->pagesz / 1024, kiovec_vm_pin_kb());

	ASSERT_EQ((long)iov.iov_len, copy_out(self->fd, 0, back, iov.iov_len));
	EXPECT_EQ(0, memcmp(back, self->buf, iov.iov_len));
	/* Pinned in place, not copied: a later store shows through the container. */
	self->buf[5] ^= 0xff;
	ASSERT_EQ(1, copy_out(self->fd, 5, back, 1));
	EXPECT_EQ(self->buf[5], back[0]);

	ASSERT_EQ(0, ioctl(self->fd, KIOVEC_IOC_RESET, 0));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.pinned_pages);
	if (pin0 >= 0)
		EXPECT_EQ(pin0, kiovec_vm_pin_kb());
	free(back);
}

/* A true scatter-gather list: each segment has its own offset and length. */
TEST_F(kiobuf, unaligned_base_and_length)
{
	struct kiovec_add_user out;
	struct kiovec_stat st;
	unsigned char back[3 * 4096 + 64];
	struct iovec iov[] = {
		{ self->buf + 100, self->pagesz + 17 },		/* 2 pages: 100..end, 0..117 */
		{ self->buf + 5 * self->pagesz - 1, 2 },	/* straddles a boundary: 2 pages */
		{ self->buf + 7 * self->pagesz + 4000, 96 },	/* ends exactly on the page end */
	};
	size_t total = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len, at = 0;

	ASSERT_LE(total, sizeof(back));
	ASSERT_EQ(0, add_user(self->fd, iov, 3, 0, &out));
	EXPECT_EQ(total, out.bytes);
	EXPECT_EQ(5, out.segments);
	EXPECT_EQ(5, out.pinned_pages);
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(5, st.segments);
	ASSERT_EQ((long)total, copy_out(self->fd, 0, back, sizeof(back)));
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(0, memcmp(back + at, iov[i].iov_base, iov[i].iov_len)) TH_LOG("iov %d", i);
		at += iov[i].iov_len;
	}
	/* A copy from the middle of the second range, across its page boundary. */
	ASSERT_EQ(2, copy_out(self->fd, iov[0].iov_len, back, 2));
	EXPECT_EQ(0, memcmp(back, iov[1].iov_base, 2));
}

/* Header bytes from write() and pinned memory keep their order. */
TEST_F(kiobuf, write_and_pins_interleave_in_order)
{
	char hdr[] = "HDR:", mid[] = "|MID|";
	unsigned char back[64];
	struct kiovec_add_user out;

	ASSERT_EQ(4, write(self->fd, hdr, 4));
	ASSERT_EQ(0, add_user(self->fd, &(struct iovec){ self->buf + 10, 20 }, 1, 0, &out));
	EXPECT_EQ(4, out.offset);
	ASSERT_EQ(5, write(self->fd, mid, 5));
	ASSERT_EQ(0, add_user(self->fd, &(struct iovec){ self->buf + 3000, 7 }, 1, 0, &out));
	EXPECT_EQ(29, out.offset);
	ASSERT_EQ(36, copy_out(self->fd, 0, back, sizeof(back)));
	EXPECT_EQ(0, memcmp(back, hdr, 4));
	EXPECT_EQ(0, memcmp(back + 4, self->buf + 10, 20));
	EXPECT_EQ(0, memcmp(back + 24, mid, 5));
	EXPECT_EQ(0, memcmp(back + 29, self->buf + 3000, 7));
}

TEST_F(kiobuf, null_base_efault)
{
	struct kiovec_stat st;

	EXPECT_EQ(-1, add_one(self->fd, NULL, 10, 0));
	EXPECT_EQ(EFAULT, errno);
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.segments);
}

/* Documented: an iovec of length 0 is skipped, whatever its base (as readv does). */
TEST_F(kiobuf, zero_length_is_skipped)
{
	struct kiovec_add_user out;
	struct iovec iov[] = { { NULL, 0 }, { self->buf, 10 }, { (void *)1, 0 } };

	ASSERT_EQ(0, add_user(self->fd, iov, 3, 0, &out));
	EXPECT_EQ(10, out.bytes);
	EXPECT_EQ(1, out.segments);
	EXPECT_EQ(1, out.pinned_pages);
	ASSERT_EQ(0, add_user(self->fd, iov, 1, 0, &out));
	EXPECT_EQ(0, out.bytes);
	EXPECT_EQ(0, out.segments);
}

TEST_F(kiobuf, kernel_address_efault)
{
	EXPECT_EQ(-1, add_one(self->fd, (void *)0xffffffff81000000UL, 4096, 0));
	EXPECT_EQ(EFAULT, errno);
	/* Just below the top of user space, running into the kernel half. */
	EXPECT_EQ(-1, add_one(self->fd, (void *)0x7ffffffff000UL, 0x2000, 0));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(kiobuf, wrapping_range_eoverflow)
{
	EXPECT_EQ(-1, add_one(self->fd, (void *)0xfffffffffffff000UL, 0x2000, 0));
	EXPECT_EQ(EOVERFLOW, errno);
}

TEST_F(kiobuf, length_over_cap_e2big)
{
	struct kiovec_info info;

	ASSERT_EQ(0, ioctl(self->fd, KIOVEC_IOC_INFO, &info));
	EXPECT_EQ(-1, add_one(self->fd, self->buf, info.max_bytes + 1, 0));
	EXPECT_EQ(E2BIG, errno);
}

/* Ranges that fit one by one but not together: refused before anything is pinned. */
TEST_F(kiobuf, total_over_cap_e2big_before_pinning)
{
	struct kiovec_info info;
	struct iovec iov[2];
	long before = pins_outstanding();

	ASSERT_EQ(0, ioctl(self->fd, KIOVEC_IOC_INFO, &info));
	iov[0] = (struct iovec){ self->buf, info.max_bytes };
	iov[1] = (struct iovec){ self->buf, 1 };
	EXPECT_EQ(-1, add_user(self->fd, iov, 2, 0, NULL));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(before, pins_outstanding());
}

TEST_F(kiobuf, iov_count_einval)
{
	struct iovec iov[2] = { { self->buf, 1 }, { self->buf, 1 } };

	EXPECT_EQ(-1, add_user(self->fd, iov, 0, 0, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, add_user(self->fd, iov, IOV_MAX + 1, 0, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, add_user(self->fd, iov, UINT_MAX, 0, NULL));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(kiobuf, iov_count_at_max)
{
	struct iovec *iov = calloc(IOV_MAX, sizeof(*iov));
	struct kiovec_add_user out;

	ASSERT_NE(NULL, iov);
	for (int i = 0; i < IOV_MAX; i++)
		iov[i] = (struct iovec){ self->buf + (i % 8) * self->pagesz + i % 100, 1 };
	ASSERT_EQ(0, add_user(self->fd, iov, IOV_MAX, 0, &out));
	EXPECT_EQ(IOV_MAX, out.segments);
	free(iov);
}

TEST_F(kiobuf, bad_iov_pointer_efault)
{
	struct kiovec_add_user req = { .iov = 0, .iovcnt = 1 };
	char *p;

	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_ADD_USER, &req));
	EXPECT_EQ(EFAULT, errno);
	req.iov = 0xffffffff81000000UL;
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_ADD_USER, &req));
	EXPECT_EQ(EFAULT, errno);
	/* The array runs off the end of its mapping. */
	p = mmap(NULL, 2 * self->pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + self->pagesz, self->pagesz));
	*(struct iovec *)(p + self->pagesz - sizeof(struct iovec)) = (struct iovec){ self->buf, 1 };
	req.iov = (uintptr_t)(p + self->pagesz - sizeof(struct iovec));
	req.iovcnt = 2;
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_ADD_USER, &req));
	EXPECT_EQ(EFAULT, errno);
	munmap(p, self->pagesz);
	/* The request struct itself. */
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_ADD_USER, NULL));
	EXPECT_EQ(EFAULT, errno);
}

/* All or nothing: results that cannot be written back fail the call before any pin. */
TEST_F(kiobuf, readonly_request_efault_nothing_pinned)
{
	struct iovec iov = { self->buf, 3 * self->pagesz };
	struct kiovec_add_user *req = mmap(NULL, self->pagesz, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long before = pins_outstanding();
	struct kiovec_stat st;

	ASSERT_NE(MAP_FAILED, req);
	*req = (struct kiovec_add_user){ .iov = (uintptr_t)&iov, .iovcnt = 1 };
	ASSERT_EQ(0, mprotect(req, self->pagesz, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_ADD_USER, req));
	EXPECT_EQ(EFAULT, errno);
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.bytes);
	EXPECT_EQ(0, st.pinned_pages);
	EXPECT_EQ(before, pins_outstanding());
	munmap(req, self->pagesz);
}

TEST_F(kiobuf, unknown_flags_and_reserved_einval)
{
	struct iovec iov = { self->buf, 10 };
	struct kiovec_add_user req = { .iov = (uintptr_t)&iov, .iovcnt = 1 };

	req.flags = 1u << 31;
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_ADD_USER, &req));
	EXPECT_EQ(EINVAL, errno);
	req.flags = 0;
	req.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_ADD_USER, &req));
	EXPECT_EQ(EINVAL, errno);
}

/* All or nothing: a hole in the middle undoes the pins taken before it. */
TEST_F(kiobuf, hole_in_range_efault_and_undone)
{
	struct kiovec_stat st;
	long before = pins_outstanding(), pin0 = kiovec_vm_pin_kb();
	struct iovec iov[] = { { self->buf, self->pagesz }, { self->buf + self->pagesz, 3 * self->pagesz } };

	ASSERT_EQ(0, munmap(self->buf + 2 * self->pagesz, self->pagesz));
	EXPECT_EQ(-1, add_user(self->fd, iov, 2, 0, NULL));
	EXPECT_EQ(EFAULT, errno);
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.bytes);
	EXPECT_EQ(0, st.pinned_pages);
	EXPECT_EQ(before, pins_outstanding());
	EXPECT_EQ(pin0, kiovec_vm_pin_kb());
}

TEST_F(kiobuf, prot_none_efault)
{
	ASSERT_EQ(0, mprotect(self->buf, self->pagesz, PROT_NONE));
	EXPECT_EQ(-1, add_one(self->fd, self->buf, 10, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, add_one(self->fd, self->buf, 10, KIOVEC_ADD_WRITE));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(kiobuf, readonly_memory_write_pin_efault_read_pin_ok)
{
	unsigned char back[16];

	ASSERT_EQ(0, mprotect(self->buf, self->pagesz, PROT_READ));
	EXPECT_EQ(-1, add_one(self->fd, self->buf, 16, KIOVEC_ADD_WRITE));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, add_one(self->fd, self->buf, 16, 0));
	ASSERT_EQ(16, copy_out(self->fd, 0, back, 16));
	EXPECT_EQ(0, memcmp(back, self->buf, 16));
}

/* One memfd page mapped at two addresses: two segments, one page, both right. */
TEST_F(kiobuf, one_page_mapped_twice)
{
	int mfd = memfd_create("kiovec-test", MFD_CLOEXEC);
	unsigned char *a, *b, back[8];
	struct kiovec_add_user out;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, self->pagesz));
	a = mmap(NULL, self->pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	b = mmap(NULL, self->pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_NE(a, b);
	memcpy(a, "abcdefgh", 8);
	ASSERT_EQ(0, add_user(self->fd, (struct iovec[]){ { a, 4 }, { b + 4, 4 } }, 2, KIOVEC_ADD_WRITE, &out));
	EXPECT_EQ(2, out.segments);
	EXPECT_EQ(2, out.pinned_pages);
	ASSERT_EQ(8, copy_out(self->fd, 0, back, 8));
	EXPECT_EQ(0, memcmp(back, "abcdefgh", 8));
	b[1] = 'X';	/* seen through the first segment too: same page */
	ASSERT_EQ(2, copy_out(self->fd, 0, back, 2));
	EXPECT_EQ('X', back[1]);
	munmap(a, self->pagesz);
	munmap(b, self->pagesz);
	close(mfd);
}

/* shmem (memfd, tmpfs) has no dirty tracking, so 6.12 allows long-term write pins of it. */
TEST_F(kiobuf, shared_memfd_mapping_write_pin_ok)
{
	int mfd = memfd_create("kiovec-test", MFD_CLOEXEC);
	void *p;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 2 * self->pagesz));
	p = mmap(NULL, 2 * self->pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, add_one(self->fd, p, 2 * self->pagesz, KIOVEC_ADD_WRITE));
	munmap(p, 2 * self->pagesz);
	close(mfd);
}

/*
 * A file system that tracks dirty pages (ext4 on a loop device) would write back under a
 * long-term write pin: 6.12 refuses it (EFAULT); a read pin of the same mapping works.
 */
TEST_F(kiobuf, shared_ext4_mapping_write_pin_efault)
{
	char dir[64], path[96];
	unsigned char back[4];
	int ffd;
	void *p;

	if (kiovec_mount_ext4(dir))
		SKIP(return, "cannot mount ext4 on a loop device (needs root, mkfs.ext4)");
	snprintf(path, sizeof(path), "%s/f", dir);
	ffd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, ffd);
	ASSERT_EQ(4, pwrite(ffd, "ext4", 4, 0));
	ASSERT_EQ(0, ftruncate(ffd, self->pagesz));
	p = mmap(NULL, self->pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, add_one(self->fd, p, self->pagesz, KIOVEC_ADD_WRITE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, add_one(self->fd, p, 4, 0));
	EXPECT_EQ(4, copy_out(self->fd, 0, back, 4));
	EXPECT_EQ(0, memcmp(back, "ext4", 4));
	ASSERT_EQ(0, ioctl(self->fd, KIOVEC_IOC_RESET, 0));
	munmap(p, self->pagesz);
	close(ffd);
	EXPECT_EQ(0, kiovec_umount_ext4(dir));
}

/* The pin keeps the page: after munmap the data is still there, no use-after-free. */
TEST_F(kiobuf, munmap_after_pin)
{
	unsigned char expect[300], back[300];

	memcpy(expect, self->buf + 2 * self->pagesz - 100, sizeof(expect));
	ASSERT_EQ(0, add_one(self->fd, self->buf + 2 * self->pagesz - 100, sizeof(expect), 0));
	ASSERT_EQ(0, munmap(self->buf, self->buflen));
	self->buf = NULL;
	/* Reuse the address range with different contents. */
	ASSERT_NE(MAP_FAILED, mmap(NULL, 8 * self->pagesz, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
	ASSERT_EQ((long)sizeof(back), copy_out(self->fd, 0, back, sizeof(back)));
	EXPECT_EQ(0, memcmp(back, expect, sizeof(back)));
}

/* fork() after pinning: the child gets copies; its stores never reach the pinned pages. */
TEST_F(kiobuf, fork_child_writes_do_not_reach_pinned_pages)
{
	unsigned char expect[64], back[64];
	pid_t pid;

	ASSERT_EQ(0, add_one(self->fd, self->buf, 2 * self->pagesz, KIOVEC_ADD_WRITE));
	memcpy(expect, self->buf, sizeof(expect));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		memset(self->buf, 'C', 2 * self->pagesz);
		_exit(0);
	}
	ASSERT_EQ(0, kiovec_wait(pid));
	ASSERT_EQ((long)sizeof(back), copy_out(self->fd, 0, back, sizeof(back)));
	EXPECT_EQ(0, memcmp(back, expect, sizeof(back)));
	/* The parent still shares its pages with the container. */
	self->buf[0] = 'P';
	ASSERT_EQ(1, copy_out(self->fd, 0, back, 1));
	EXPECT_EQ('P', back[0]);
}

TEST_F(kiobuf, copy_out_bounds_and_errors)
{
	unsigned char back[32];
	struct kiovec_copy_out req = { .buf = (uintptr_t)back, .len = 8 };

	ASSERT_EQ(0, add_one(self->fd, self->buf, 20, 0));
	EXPECT_EQ(20, copy_out(self->fd, 0, back, sizeof(back)));	/* short at the end */
	EXPECT_EQ(5, copy_out(self->fd, 15, back, sizeof(back)));
	EXPECT_EQ(0, copy_out(self->fd, 20, back, sizeof(back)));	/* at the end */
	EXPECT_EQ(0, copy_out(self->fd, 1ULL << 62, back, sizeof(back)));
	EXPECT_EQ(0, copy_out(self->fd, 0, back, 0));
	EXPECT_EQ(-1, copy_out(self->fd, 0, NULL, 8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, copy_out(self->fd, 0, (void *)0xffffffff81000000UL, 8));
	EXPECT_EQ(EFAULT, errno);
	req.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_COPY_OUT, &req));
	EXPECT_EQ(EINVAL, errno);
	req.flags = 0;
	req.reserved0 = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_COPY_OUT, &req));
	EXPECT_EQ(EINVAL, errno);
	req.reserved0 = 0;
	req.reserved[0] = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_COPY_OUT, &req));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_COPY_OUT, NULL));
	EXPECT_EQ(EFAULT, errno);
}

/* Exiting with pins held releases them all (the container is closed at exit). */
TEST(exit_with_pins_held_releases_them)
{
	long before = pins_outstanding();
	pid_t pid;

	if (before == LONG_MIN)
		SKIP(return, "no foll_pin counters in /proc/vmstat");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		size_t len = 16 * 4096;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int fd = kiovec_open();

		if (p == MAP_FAILED || fd < 0 || add_one(fd, p, len, KIOVEC_ADD_WRITE))
			_exit(1);
		_exit(pins_outstanding() >= before + 16 ? 0 : 2);
	}
	ASSERT_EQ(0, kiovec_wait(pid));
	EXPECT_EQ(before, pins_outstanding());
}

/* An unprivileged user is held to RLIMIT_MEMLOCK, and closing gives the charge back. */
TEST(memlock_limit_enomem_and_released_on_close)
{
	const long limit_pages = 16;
	size_t pg = sysconf(_SC_PAGESIZE);
	unsigned char *p;
	int fd;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to an unprivileged user");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		long pin0;

		if (!become_nobody(limit_pages * pg))
			_exit(10);
		p = mmap(NULL, (limit_pages + 1) * pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		fd = kiovec_open();
		if (p == MAP_FAILED || fd < 0)
			_exit(11);
		pin0 = kiovec_vm_pin_kb();
		if (add_one(fd, p, limit_pages * pg, 0))
			_exit(12);		/* up to the limit: fine */
		if (add_one(fd, p + limit_pages * pg, 1, 0) != -1 || errno != ENOMEM)
			_exit(13);		/* one page past it: ENOMEM */
		close(fd);
		if (kiovec_vm_pin_kb() != pin0)
			_exit(14);		/* VmPin back to baseline */
		fd = kiovec_open();
		if (add_one(fd, p, limit_pages * pg, 0))
			_exit(15);		/* the charge came back: the whole limit again */
		_exit(0);
	}
	EXPECT_EQ(0, kiovec_wait(pid));
}

/*
 * The opener pays, as for an io_uring ring: a container opened by root (CAP_IPC_LOCK) and
 * inherited by user nobody pins past nobody's limit; nobody's own container cannot.
 */
TEST(memlock_charged_to_opener)
{
	size_t pg = sysconf(_SC_PAGESIZE), len = 16 * pg;
	int fd;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to an unprivileged user");
	fd = kiovec_open();
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int own;

		if (p == MAP_FAILED || !become_nobody(4 * pg))
			_exit(10);
		if (add_one(fd, p, len, 0))
			_exit(11);	/* root's container: not limited */
		own = kiovec_open();
		if (own < 0)
			_exit(12);
		if (add_one(own, p, len, 0) != -1 || errno != ENOMEM)
			_exit(13);	/* its own: 4 pages at most */
		_exit(0);
	}
	EXPECT_EQ(0, kiovec_wait(pid));
	close(fd);
}

/*
 * The charge goes back to the user that paid it, whoever closes the container: here user
 * nobody pins up to its limit and passes the container to root with SCM_RIGHTS; root
 * closes it; nobody can then pin its whole limit again.
 */
TEST(memlock_uncharged_to_payer_after_scm_rights)
{
	const long limit_pages = 16;
	size_t pg = sysconf(_SC_PAGESIZE);
	int sv[2], got = -1;
	char c = 0;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to an unprivileged user");
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec io = { &c, 1 };
		struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		void *p;
		int fd;

		close(sv[0]);
		if (!become_nobody(limit_pages * pg))
			_exit(10);
		p = mmap(NULL, limit_pages * pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		fd = kiovec_open();
		if (p == MAP_FAILED || fd < 0 || add_one(fd, p, limit_pages * pg, 0))
			_exit(11);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sv[1], &mh, 0) != 1)
			_exit(12);
		close(fd);
		/* Wait until root has closed it. */
		if (read(sv[1], &c, 1) != 1)
			_exit(13);
		fd = kiovec_open();
		if (add_one(fd, p, limit_pages * pg, 0))
			_exit(14);
		_exit(0);
	}
	close(sv[1]);
	{
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec io = { &c, 1 };
		struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct kiovec_stat st;

		ASSERT_EQ(1, recvmsg(sv[0], &mh, 0));
		ASSERT_NE(NULL, CMSG_FIRSTHDR(&mh));
		memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		KIOVEC_STAT(got, st);
		EXPECT_EQ(limit_pages, st.pinned_pages);
		ASSERT_EQ(0, close(got));
		ASSERT_EQ(1, write(sv[0], &c, 1));
	}
	EXPECT_EQ(0, kiovec_wait(pid));
	close(sv[0]);
}

/* 1 GiB by an unprivileged user at the default limit: a clean ENOMEM, nothing allocated. */
TEST(one_gib_unprivileged_enomem)
{
	size_t len = 1UL << 30;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to an unprivileged user");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *p;
		int fd;

		/* MLOCK_LIMIT, the kernel's default RLIMIT_MEMLOCK: 8 MiB. */
		if (!become_nobody(8UL << 20))
			_exit(10);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		fd = kiovec_open();
		if (p == MAP_FAILED || fd < 0)
			_exit(11);
		if (add_one(fd, p, len, 0) != -1 || errno != ENOMEM)
			_exit(12);
		_exit(0);
	}
	EXPECT_EQ(0, kiovec_wait(pid));
}

TEST_HARNESS_MAIN
