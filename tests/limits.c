// SPDX-License-Identifier: GPL-2.0
/*
 * What a user can make the kernel hold through /dev/kiovec, and who pays: every page a
 * container holds (written, pinned, referenced, copied, reserved) is charged to the opener's
 * locked memory, a folio once for all of its pages, and checked before it is taken; holes
 * of tmpfs files cost nothing. And the containers' own arrays reach their advertised limits
 * without a kernel warning (the log scan of scripts/run-tests judges that part).
 */
#include <sys/stat.h>

#include "kiovec_test.h"

#define NOBODY 65534

/* Shmem: from /proc/meminfo, in KiB, or -1. */
static long meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char name[64];
	long v, r = -1;

	while (f && fscanf(f, "%63[^:]: %ld kB\n", name, &v) == 2)
		if (!strcmp(name, key))
			r = v;
	if (f)
		fclose(f);
	return r;
}

FIXTURE(lim)
{
	int dev;
	struct kiovec_info info;
};

FIXTURE_SETUP(lim)
{
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_INFO, &self->info));
}

FIXTURE_TEARDOWN(lim)
{
	if (self->dev >= 0)
		close(self->dev);
}

/*
 * A 64 MiB sparse tmpfs file, added by a user with 64 KiB of locked memory: holes read as
 * zeros and allocate nothing (before, ADD_FILE filled the hole: Shmem grew by 64 MiB with
 * nothing charged); the same size of real data is ENOMEM.
 */
TEST_F_TIMEOUT(lim, tmpfs_holes_cost_nothing_data_is_charged, 120)
{
	size_t big = 64 << 20;
	int mfd = memfd_create("kiovec-sparse", MFD_CLOEXEC);
	int full = memfd_create("kiovec-full", MFD_CLOEXEC);
	unsigned char *buf = calloc(1, 1 << 20);
	pid_t pid;

	ASSERT_LE(0, mfd);
	ASSERT_LE(0, full);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, ftruncate(mfd, big));
	memset(buf, 0x33, 1 << 20);
	ASSERT_EQ(1 << 20, pwrite(full, buf, 1 << 20, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kiovec_add_file req = { .fd = mfd, .len = big };
		struct kiovec_copy_out co = { .offset = big - 4096, .buf = (uintptr_t)buf, .len = 4096 };
		struct kiovec_stat st;
		long shmem0 = meminfo_kb("Shmem");
		int dev;

		if (!kiovec_become_user(NOBODY, 64 << 10))
			_exit(10);
		dev = kiovec_open();
		if (dev < 0)
			_exit(11);
		if (ioctl(dev, KIOVEC_IOC_ADD_FILE, &req))
			_exit(12);
		if (ioctl(dev, KIOVEC_IOC_STAT, &st) || st.bytes != big || st.charged_pages != 0 ||
		    st.file_pages != 0)
			_exit(13);
		/* Allocated nothing: Shmem moved by far less than the 64 MiB. */
		if (meminfo_kb("Shmem") - shmem0 > 4096)
			_exit(14);
		memset(buf, 1, 4096);
		if (ioctl(dev, KIOVEC_IOC_COPY_OUT, &co) != 4096)
			_exit(15);
		for (int i = 0; i < 4096; i++)
			if (buf[i])
				_exit(16);
		/* 1 MiB of data is 256 pages: past 64 KiB of locked memory. */
		req = (struct kiovec_add_file){ .fd = full, .len = 1 << 20 };
		if (ioctl(dev, KIOVEC_IOC_ADD_FILE, &req) != -1 || errno != ENOMEM)
			_exit(17);
		if (ioctl(dev, KIOVEC_IOC_STAT, &st) || st.bytes != big)
			_exit(18);
		/* 8 pages of it fit. */
		req = (struct kiovec_add_file){ .fd = full, .len = 8 * 4096 };
		if (ioctl(dev, KIOVEC_IOC_ADD_FILE, &req))
			_exit(19);
		if (ioctl(dev, KIOVEC_IOC_STAT, &st) || st.charged_pages != 8 || st.file_pages != 8)
			_exit(20);
		_exit(0);
	}
	EXPECT_EQ(0, kiovec_wait(pid));
	free(buf);
	close(mfd);
	close(full);
}

/* write() pages are charged too: a user with 64 KiB of locked memory writes 64 KiB, no more. */
TEST_F(lim, written_pages_are_charged)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		static unsigned char buf[128 << 10];
		struct kiovec_stat st;
		ssize_t n;
		int dev;

		if (!kiovec_become_user(NOBODY, 64 << 10))
			_exit(10);
		dev = kiovec_open();
		if (dev < 0)
			_exit(11);
		n = write(dev, buf, sizeof(buf));
		if (n != -1 || errno != ENOMEM)
			_exit(12);
		if (write(dev, buf, 16 * 4096) != 16 * 4096)
			_exit(13);
		if (ioctl(dev, KIOVEC_IOC_STAT, &st) || st.charged_pages != 16 || st.owned_pages != 16)
			_exit(14);
		if (write(dev, buf, 1) != -1 || errno != ENOMEM)
			_exit(15);
		/* Closing gives it back: a new container can take all of it again. */
		close(dev);
		dev = kiovec_open();
		if (write(dev, buf, 16 * 4096) != 16 * 4096)
			_exit(16);
		_exit(0);
	}
	EXPECT_EQ(0, kiovec_wait(pid));
}

/*
 * One byte of a transparent huge page pinned: the whole 2 MiB folio stays pinned, so it is
 * charged whole (512 pages), as io_uring charges it; before, 1 page was charged.
 */
TEST_F(lim, pinned_huge_page_charged_whole)
{
	size_t huge = 2 << 20;
	char *area = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = (char *)(((uintptr_t)area + huge - 1) & ~(huge - 1));
	struct kiovec_iovec iov = { (uintptr_t)p + 100, 1 };
	struct kiovec_add_user req = { .iov = (uintptr_t)&iov, .iovcnt = 1 };
	struct kiovec_stat st;
	long anon_huge0 = meminfo_kb("AnonHugePages");

	ASSERT_NE(MAP_FAILED, area);
	/* The test kernels have THP "always"; ask as well, but do not rely on getting one. */
	madvise(p, huge, MADV_HUGEPAGE);
	memset(p, 7, huge);
	if (meminfo_kb("AnonHugePages") - anon_huge0 < 2048)
		SKIP(return, "the kernel gave no huge page here");
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_USER, &req));
	EXPECT_EQ(1, req.pinned_pages);
	KIOVEC_STAT(self->dev, st);
	EXPECT_EQ(1, st.pinned_pages);
	EXPECT_EQ(512, st.charged_pages);
	munmap(area, 2 * huge);
}

/*
 * Filled to exactly max_segments and max_bytes: 2 segments per iovec (a page's worth that
 * starts mid-page), so hundreds of thousands of appended ranges, whose arrays grow far past
 * what kmalloc can give (the 65 537th ADD_FILE used to WARN in the page allocator, a panic
 * with panic_on_warn). One more byte or segment is E2BIG.
 */
TEST_F_TIMEOUT(lim, fill_to_advertised_limits, 600)
{
	unsigned int n = self->info.max_iovecs, pg = self->info.page_size;
	unsigned int calls = self->info.max_segments / (2 * n);
	char *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kiovec_iovec *iov = calloc(n, sizeof(*iov));
	struct kiovec_add_user req;
	struct kiovec_stat st;
	unsigned char tail[16];
	struct kiovec_copy_out co = { .buf = (uintptr_t)tail, .len = sizeof(tail) };

	ASSERT_NE(NULL, iov);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ((__u64)calls * n * pg, self->info.max_bytes);
	kiovec_fill((unsigned char *)two, 2 * pg, 5);
	for (unsigned int i = 0; i < n; i++)
		iov[i] = (struct kiovec_iovec){ (uintptr_t)two + pg / 2, pg };
	for (unsigned int c = 0; c < calls; c++) {
		req = (struct kiovec_add_user){ .iov = (uintptr_t)iov, .iovcnt = n };
		ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_USER, &req))
			TH_LOG("call %u: %s", c, strerror(errno));
	}
	KIOVEC_STAT(self->dev, st);
	EXPECT_EQ(self->info.max_bytes, st.bytes);
	EXPECT_EQ(self->info.max_segments, st.segments);
	EXPECT_EQ(-1, write(self->dev, "x", 1));
	EXPECT_EQ(E2BIG, errno);
	req = (struct kiovec_add_user){ .iov = (uintptr_t)iov, .iovcnt = 1 };
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_ADD_USER, &req));
	EXPECT_EQ(E2BIG, errno);
	/* The last bytes are the second half of the first page and half of the second. */
	co.offset = self->info.max_bytes - sizeof(tail);
	EXPECT_EQ((long)sizeof(tail), ioctl(self->dev, KIOVEC_IOC_COPY_OUT, &co));
	EXPECT_EQ(0, memcmp(tail, two + pg + pg / 2 - sizeof(tail), sizeof(tail)));
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_RESET, 0));
	KIOVEC_STAT(self->dev, st);
	EXPECT_EQ(0, st.segments);
	free(iov);
	munmap(two, 2 * pg);
}

TEST_HARNESS_MAIN
