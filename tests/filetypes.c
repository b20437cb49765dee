// SPDX-License-Identifier: GPL-2.0
/*
 * KIOVEC_IOC_ADD_FILE over every kind of "regular" file, as mm/gup_longterm.c runs each case
 * over every backing: what comes out of the container (transmit and copy-out) is byte for
 * byte what read(2) gives, whether the page cache is referenced (tmpfs, ext4) or the file is
 * read once into pages of the container's own (procfs, sysfs, overlayfs, hugetlbfs), and
 * files that must never be held (memfd_secret) or cannot be read by the kernel are refused
 * with EINVAL, never an oops.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kiovec_test.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

enum backing { TMPFS, EXT4, PROCFS, SYSFS, OVERLAY, HUGETLB, VNG_ETC };

FIXTURE(ft)
{
	int dev;
	int fd;
	char dir[64];
	bool mounted_ext4, mounted_ovl;
	unsigned char *expect;
	size_t len;
};

FIXTURE_VARIANT(ft)
{
	enum backing backing;
	bool referenced;	/* page cache referenced, not copied */
};

FIXTURE_VARIANT_ADD(ft, tmpfs) { .backing = TMPFS, .referenced = true };
FIXTURE_VARIANT_ADD(ft, ext4) { .backing = EXT4, .referenced = true };
FIXTURE_VARIANT_ADD(ft, procfs) { .backing = PROCFS };
FIXTURE_VARIANT_ADD(ft, sysfs) { .backing = SYSFS };
FIXTURE_VARIANT_ADD(ft, overlayfs) { .backing = OVERLAY };
FIXTURE_VARIANT_ADD(ft, hugetlb_memfd) { .backing = HUGETLB };
FIXTURE_VARIANT_ADD(ft, vng_etc_hostname) { .backing = VNG_ETC };

/* Reads all of fd from offset 0, as a user would; the length in *len. */
static unsigned char *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);
	ssize_t r;

	while (buf && (r = pread(fd, buf + n, cap - n, n)) > 0) {
		n += r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	*len = n;
	return buf;
}

static bool write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

FIXTURE_SETUP(ft)
{
	size_t len = 3 * 4096 + 123;
	unsigned char *data = malloc(len);
	char path[256];
	struct stat st;

	self->fd = -1;
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
	ASSERT_NE(NULL, data);
	kiovec_fill(data, len, 77);

	switch (variant->backing) {
	case TMPFS:
		self->fd = memfd_create("kiovec-ft", MFD_CLOEXEC);
		ASSERT_EQ((ssize_t)len, pwrite(self->fd, data, len, 0));
		break;
	case EXT4:
		if (kiovec_mount_ext4(self->dir))
			SKIP(return, "cannot make an ext4 file system (needs root, mkfs.ext4, loop)");
		self->mounted_ext4 = true;
		snprintf(path, sizeof(path), "%s/f", self->dir);
		ASSERT_TRUE(write_file(path, data, len));
		self->fd = open(path, O_RDONLY | O_CLOEXEC);
		break;
	case PROCFS:
		/* A seq_file with read_iter (/proc/<pid>/maps has only ->read: EINVAL, as for
		 * sendfile; see refuse.procfs_read_only_op_einval). */
		self->fd = open("/proc/version", O_RDONLY | O_CLOEXEC);
		break;
	case SYSFS:
		/* 5 bytes or so by read(2); st_size says 4096. */
		self->fd = open("/sys/kernel/uevent_seqnum", O_RDONLY | O_CLOEXEC);
		break;
	case OVERLAY:
		strcpy(self->dir, "/tmp/kiovec-ovl-XXXXXX");
		ASSERT_NE(NULL, mkdtemp(self->dir));
		/* The layers on a tmpfs of their own: vng's /tmp may itself be an overlay or 9p,
		 * which an upper layer cannot be on. */
		if (mount("tmpfs", self->dir, "tmpfs", 0, "size=16m"))
			SKIP(return, "cannot mount a tmpfs (%s)", strerror(errno));
		snprintf(path, sizeof(path), "mkdir -p %s/l %s/u %s/w %s/m", self->dir, self->dir,
			 self->dir, self->dir);
		ASSERT_EQ(0, system(path));
		snprintf(path, sizeof(path), "%s/l/f", self->dir);
		ASSERT_TRUE(write_file(path, data, len));
		{
			char opts[512], m[128];

			snprintf(opts, sizeof(opts), "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w",
				 self->dir, self->dir, self->dir);
			snprintf(m, sizeof(m), "%s/m", self->dir);
			if (mount("overlay", m, "overlay", 0, opts))
				SKIP(return, "cannot mount an overlay (%s)", strerror(errno));
		}
		self->mounted_ovl = true;
		snprintf(path, sizeof(path), "%s/m/f", self->dir);
		self->fd = open(path, O_RDONLY | O_CLOEXEC);
		break;
	case HUGETLB: {
		int h = open("/proc/sys/vm/nr_hugepages", O_WRONLY | O_CLOEXEC);
		void *p;

		if (h >= 0) {
			if (write(h, "4", 1) != 1)
				TH_LOG("cannot reserve huge pages");
			close(h);
		}
		self->fd = memfd_create("kiovec-ft-huge", MFD_CLOEXEC | MFD_HUGETLB);
		if (self->fd < 0)
			SKIP(return, "no hugetlb memfd (%s)", strerror(errno));
		/* hugetlbfs files are written through a mapping; the size is a huge page. */
		if (ftruncate(self->fd, 2 << 20))
			SKIP(return, "no huge page for the memfd (%s)", strerror(errno));
		p = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
		if (p == MAP_FAILED)
			SKIP(return, "no huge page to map (%s)", strerror(errno));
		memcpy(p, data, len);
		munmap(p, 2 << 20);
		break;
	}
	case VNG_ETC:
		if (statfs_is_overlay("/etc") <= 0)
			SKIP(return, "/etc is not an overlay here");
		self->fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		break;
	}
	ASSERT_LE(0, self->fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, fstat(self->fd, &st));
	ASSERT_TRUE(S_ISREG(st.st_mode));
	self->expect = read_all(self->fd, &self->len);
	ASSERT_NE(NULL, self->expect);
	ASSERT_LT(0, self->len);
	free(data);
}

FIXTURE_TEARDOWN(ft)
{
	char cmd[256];

	if (self->fd >= 0)
		close(self->fd);
	if (self->dev >= 0)
		close(self->dev);
	free(self->expect);
	if (self->mounted_ovl) {
		snprintf(cmd, sizeof(cmd), "%s/m", self->dir);
		umount(cmd);
	}
	if (variant->backing == OVERLAY && self->dir[0]) {
		umount(self->dir);
		rmdir(self->dir);
	}
	if (self->mounted_ext4)
		kiovec_umount_ext4(self->dir);
}

/* ADD_FILE, then transmit and copy out: both exactly what read(2) gave. */
TEST_F(ft, same_bytes_as_read)
{
	/* For a file whose size says nothing (procfs, sysfs), ask for more: the range ends
	 * where read(2) finds the end. */
	__u64 ask = variant->referenced ? self->len : self->len + 65536;
	struct kiovec_add_file req = { .fd = self->fd, .len = ask };
	struct kiovec_copy_out co;
	struct kiovec_stat st;
	unsigned char *got = malloc(self->len + 1);
	struct kiovec_reader r;
	struct kiovec_transmit tx = { .flags = KIOVEC_TX_NOSIGNAL };
	int a, b;

	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(self->len, req.len);
	KIOVEC_STAT(self->dev, st);
	ASSERT_EQ(self->len, st.bytes);
	if (variant->referenced) {
		EXPECT_EQ(0, req.copied);
		EXPECT_EQ(0, st.copied_pages);
		EXPECT_LT(0, st.file_pages);
	} else {
		EXPECT_EQ((self->len + 4095) / 4096, req.copied);
		EXPECT_EQ(req.copied, st.copied_pages);
		EXPECT_EQ(0, st.file_pages);
	}
	EXPECT_LE(st.file_pages + st.copied_pages, st.charged_pages);

	co = (struct kiovec_copy_out){ .buf = (uintptr_t)got, .len = self->len + 1 };
	ASSERT_EQ((long)self->len, ioctl(self->dev, KIOVEC_IOC_COPY_OUT, &co));
	EXPECT_EQ(0, memcmp(got, self->expect, self->len));

	ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
	ASSERT_EQ(0, kiovec_reader_start(&r, b, self->len));
	tx.fd = a;
	EXPECT_EQ((long)self->len, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &tx));
	close(a);
	kiovec_reader_join(&r);
	close(b);
	ASSERT_EQ(self->len, r.got);
	EXPECT_EQ(0, memcmp(r.buf, self->expect, self->len));
	free(r.buf);
	free(got);
}

/* A range that starts at or past the end of what the file has is EINVAL. */
TEST_F(ft, range_past_end_einval)
{
	struct kiovec_add_file req = { .fd = self->fd, .offset = self->len + 4096, .len = 10 };

	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(EINVAL, errno);
}

FIXTURE(refuse)
{
	int dev;
};

FIXTURE_SETUP(refuse)
{
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(refuse)
{
	if (self->dev >= 0)
		close(self->dev);
}

/* memfd_secret pages are off the direct map: they must never reach a socket. */
TEST_F(refuse, secretmem_einval)
{
	struct kiovec_add_file req = { .len = 1 };
	struct kiovec_stat st;
	int fd = syscall(__NR_memfd_secret, 0);
	void *p;

	if (fd < 0)
		SKIP(return, "no memfd_secret (%s)", strerror(errno));
	ASSERT_EQ(0, ftruncate(fd, 4096));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, 4096);
	req.fd = fd;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(EINVAL, errno);
	KIOVEC_STAT(self->dev, st);
	EXPECT_EQ(0, st.bytes);
	munmap(p, 4096);
	close(fd);
}

/*
 * A procfs file with only ->read (no read_iter), such as /proc/bus/pci/<bus>/<dev>: the
 * kernel cannot read it (sendfile gives EINVAL too). This oopsed when ADD_FILE called a
 * NULL read_folio.
 */
TEST_F(refuse, procfs_read_only_op_einval)
{
	struct kiovec_add_file req = { .len = 1 };
	FILE *p = popen("ls /proc/bus/pci/*/* 2>/dev/null | head -n 1", "r");
	char path[256] = "";

	if (!p || !fgets(path, sizeof(path), p) || !path[0])
		SKIP(return, "no /proc/bus/pci device file");
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	req.fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, req.fd) TH_LOG("%s", path);
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(EINVAL, errno);
	close(req.fd);
}

TEST_HARNESS_MAIN
