// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kiovec as a device: open makes an independent container, the info ioctl reports the
 * ABI and limits, write() appends, stat and reset work, and every bad input gets its errno.
 */
#include <limits.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "kiovec_test.h"

FIXTURE(dev)
{
	int fd;
	long pagesz;
};

FIXTURE_SETUP(dev)
{
	self->pagesz = sysconf(_SC_PAGESIZE);
	self->fd = kiovec_open();
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, info_reports_abi_and_limits)
{
	struct kiovec_info info;

	memset(&info, 0xff, sizeof(info));
	ASSERT_EQ(0, ioctl(self->fd, KIOVEC_IOC_INFO, &info));
	EXPECT_EQ(KIOVEC_ABI_VERSION, info.abi_version);
	EXPECT_EQ(self->pagesz, info.page_size);
	EXPECT_EQ(IOV_MAX, info.max_iovecs);
	EXPECT_LE(64ULL << 20, info.max_bytes);
	EXPECT_LE(info.max_bytes / info.page_size, info.max_segments);
	EXPECT_EQ(KIOVEC_FEAT_WRITE, info.features & KIOVEC_FEAT_WRITE);
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0, info.reserved[i]);
}

TEST_F(dev, info_bad_pointer_efault)
{
	void *ro;

	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_INFO, (void *)1));
	EXPECT_EQ(EFAULT, errno);
	/* A kernel address. */
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_INFO, (void *)0xffffffff81000000UL));
	EXPECT_EQ(EFAULT, errno);
	/* Mapped but not writable. */
	ro = mmap(NULL, self->pagesz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_INFO, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, self->pagesz);
}

TEST_F(dev, info_straddling_unmapped_page_efault)
{
	char *p = mmap(NULL, 2 * self->pagesz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + self->pagesz, self->pagesz));
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_INFO, p + self->pagesz - 8));
	EXPECT_EQ(EFAULT, errno);
	munmap(p, self->pagesz);
}

TEST_F(dev, unknown_ioctl_enotty)
{
	struct kiovec_info info;
	const unsigned long bad[] = {
		_IO(KIOVEC_IOC_MAGIC, 0x7f),			/* unused number */
		_IOR('x', 0x00, struct kiovec_info),		/* other magic */
		_IOW(KIOVEC_IOC_MAGIC, 0x00, struct kiovec_info), /* INFO, wrong direction */
		_IOR(KIOVEC_IOC_MAGIC, 0x00, __u64),		/* INFO, wrong size */
		_IOR(KIOVEC_IOC_MAGIC, 0x01, struct kiovec_info), /* STAT, wrong size */
		_IOR(KIOVEC_IOC_MAGIC, 0x02, __u32),		/* RESET with a size */
		0,
	};

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, bad[i], &info)) TH_LOG("cmd %#lx", bad[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", bad[i]);
	}
}

TEST_F(dev, new_container_is_empty)
{
	struct kiovec_stat st;

	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.bytes);
	EXPECT_EQ(0, st.segments);
	EXPECT_EQ(0, st.owned_pages);
	EXPECT_EQ(0, st.pinned_pages);
	EXPECT_EQ(0, st.file_pages);
	EXPECT_EQ(0, st.charged_pages);
	EXPECT_EQ(0, st.copied_pages);
	EXPECT_EQ(0, st.reserved0);
	for (int i = 0; i < 2; i++)
		EXPECT_EQ(0, st.reserved[i]);
}

TEST_F(dev, stat_bad_pointer_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_STAT, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, small_writes_pack_into_one_segment)
{
	struct kiovec_stat st;
	char hdr[] = "HTTP/1.1 200 OK\r\n";

	for (int i = 0; i < 3; i++)
		ASSERT_EQ((ssize_t)strlen(hdr), write(self->fd, hdr, strlen(hdr)));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(3 * strlen(hdr), st.bytes);
	EXPECT_EQ(1, st.segments);
	EXPECT_EQ(1, st.owned_pages);
}

TEST_F(dev, write_spanning_pages)
{
	struct kiovec_stat st;
	size_t len = 2 * self->pagesz + 100;
	unsigned char *buf = malloc(len);

	ASSERT_NE(NULL, buf);
	kiovec_fill(buf, len, 1);
	ASSERT_EQ((ssize_t)len, write(self->fd, buf, len));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(len, st.bytes);
	EXPECT_EQ(3, st.owned_pages);
	/* A segment never crosses a page: one per page. */
	EXPECT_EQ(3, st.segments);
	free(buf);
}

TEST_F(dev, writev_gathers)
{
	struct kiovec_stat st;
	char a[10], b[5000], c[1];
	struct iovec iov[] = {
		{ a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) },
	};

	ASSERT_EQ((ssize_t)(sizeof(a) + sizeof(b) + sizeof(c)), writev(self->fd, iov, 3));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(sizeof(a) + sizeof(b) + sizeof(c), st.bytes);
	EXPECT_EQ(2, st.owned_pages);
	EXPECT_EQ(2, st.segments);
}

TEST_F(dev, write_zero_bytes)
{
	struct kiovec_stat st;

	EXPECT_EQ(0, write(self->fd, "", 0));
	/* A zero-length write does not look at the pointer, as for regular files. */
	EXPECT_EQ(0, write(self->fd, (void *)1, 0));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.bytes);
	EXPECT_EQ(0, st.segments);
}

TEST_F(dev, write_bad_pointer_efault)
{
	struct kiovec_stat st;

	EXPECT_EQ(-1, write(self->fd, (void *)1, 100));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, write(self->fd, (void *)0xffffffff81000000UL, 100));
	EXPECT_EQ(EFAULT, errno);
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.bytes);
	EXPECT_EQ(0, st.segments);
}

/* A fault partway gives a short count: what was taken is kept, nothing is duplicated. */
TEST_F(dev, write_faulting_midway_is_short)
{
	struct kiovec_stat st;
	char *p = mmap(NULL, 2 * self->pagesz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	memset(p, 'x', self->pagesz);
	ASSERT_EQ(0, munmap(p + self->pagesz, self->pagesz));
	EXPECT_EQ(self->pagesz, write(self->fd, p, 2 * self->pagesz));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(self->pagesz, st.bytes);
	munmap(p, self->pagesz);
}

TEST_F(dev, reset_empties)
{
	struct kiovec_stat st;
	char buf[6000] = { 0 };

	ASSERT_EQ((ssize_t)sizeof(buf), write(self->fd, buf, sizeof(buf)));
	ASSERT_EQ(0, ioctl(self->fd, KIOVEC_IOC_RESET, 0));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(0, st.bytes);
	EXPECT_EQ(0, st.segments);
	EXPECT_EQ(0, st.owned_pages);
	/* Usable again. */
	ASSERT_EQ(3, write(self->fd, "abc", 3));
	KIOVEC_STAT(self->fd, st);
	EXPECT_EQ(3, st.bytes);
}

TEST_F(dev, reset_with_argument_einval)
{
	EXPECT_EQ(-1, ioctl(self->fd, KIOVEC_IOC_RESET, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, read_is_not_supported)
{
	char c;

	EXPECT_EQ(-1, read(self->fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, readonly_open_cannot_write)
{
	int ro = open(KIOVEC_DEV, O_RDONLY);

	ASSERT_LE(0, ro);
	EXPECT_EQ(-1, write(ro, "x", 1));
	EXPECT_EQ(EBADF, errno);
	close(ro);
}

TEST(containers_are_independent)
{
	struct kiovec_stat st;
	int a = kiovec_open(), b;

	if (a < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	b = kiovec_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(5, write(a, "hello", 5));
	KIOVEC_STAT(b, st);
	EXPECT_EQ(0, st.bytes);
	KIOVEC_STAT(a, st);
	EXPECT_EQ(5, st.bytes);
	close(a);
	close(b);
}

/* An open container pins the module (fops owner), so rmmod cannot pull code from under it. */
TEST(open_container_holds_module_reference)
{
	long before = kiovec_module_refcnt(), during;
	int fd;

	if (before < 0)
		SKIP(return, "no /sys/module/kiovec/refcnt");
	fd = kiovec_open();
	ASSERT_LE(0, fd);
	during = kiovec_module_refcnt();
	close(fd);
	EXPECT_EQ(before + 1, during);
	EXPECT_EQ(before, kiovec_module_refcnt());
}

/*
 * rmmod while a container is open fails: delete_module() sees the reference the open file
 * holds and answers EWOULDBLOCK (EAGAIN), which rmmod reports as "in use".
 */
TEST(rmmod_while_open_fails)
{
	int fd = kiovec_open();

	if (fd < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, fd);
	if (geteuid() != 0) {
		close(fd);
		SKIP(return, "needs root to call delete_module");
	}
	EXPECT_EQ(-1, syscall(SYS_delete_module, "kiovec", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* Still there and working. */
	EXPECT_EQ(3, write(fd, "abc", 3));
	close(fd);
}

/* Containers with data go away with the process: kmemleak and the page counters check. */
TEST(many_containers_released_on_close)
{
	int fds[64];
	char buf[5000] = { 1 };

	for (int i = 0; i < 64; i++) {
		fds[i] = kiovec_open();
		if (fds[i] < 0 && errno == ENOENT)
			SKIP(return, "kiovec module not loaded");
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ((ssize_t)sizeof(buf), write(fds[i], buf, sizeof(buf)));
	}
	for (int i = 0; i < 64; i++)
		ASSERT_EQ(0, close(fds[i]));
}

TEST_HARNESS_MAIN
