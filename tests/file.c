// SPDX-License-Identifier: GPL-2.0
/*
 * KIOVEC_IOC_ADD_FILE: page-cache ranges in a container, sent over loopback TCP and checked
 * byte for byte; bad sources with their errno; truncation and rewrites after the add.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "kiovec_test.h"

static long add_file(int dev, int fd, __u64 offset, __u64 len, struct kiovec_add_file *out)
{
	struct kiovec_add_file req = { .fd = fd, .offset = offset, .len = len };
	long ret = ioctl(dev, KIOVEC_IOC_ADD_FILE, &req);

	if (out)
		*out = req;
	return ret;
}

static long transmit(int dev, int sock, __u64 offset)
{
	struct kiovec_transmit req = { .fd = sock, .offset = offset, .flags = KIOVEC_TX_NOSIGNAL };

	return ioctl(dev, KIOVEC_IOC_TRANSMIT, &req);
}

/* Transmits the whole container from offset 0 and returns what the peer received. */
static unsigned char *send_all(int dev, size_t total, long *sent, size_t *got)
{
	struct kiovec_reader r = { 0 };
	int tx, rx;

	*sent = -1;
	*got = 0;
	if (kiovec_tcp_pair(&tx, &rx) || kiovec_reader_start(&r, rx, total))
		return r.buf;
	*sent = transmit(dev, tx, 0);
	close(tx);	/* the reader sees EOF after what was sent */
	kiovec_reader_join(&r);
	close(rx);
	*got = r.got;
	return r.buf;
}

/* A tmpfs file (memfd) of len patterned bytes. */
static int make_file(size_t len, unsigned int seed, unsigned char **data)
{
	int fd = memfd_create("kiovec-file", MFD_CLOEXEC);

	*data = malloc(len ? len : 1);
	if (fd < 0 || !*data)
		return -1;
	kiovec_fill(*data, len, seed);
	if (pwrite(fd, *data, len, 0) != (ssize_t)len)
		return -1;
	return fd;
}

FIXTURE(file)
{
	int dev;
	long pagesz;
};

FIXTURE_SETUP(file)
{
	self->pagesz = sysconf(_SC_PAGESIZE);
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(file)
{
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F(file, file_only)
{
	size_t len = 3 * self->pagesz;
	unsigned char *data, *got;
	struct kiovec_add_file out;
	int fd = make_file(len, 1, &data);
	size_t n;
	long sent;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, &out));
	EXPECT_EQ(0, out.at);
	EXPECT_EQ(3, out.segments);
	got = send_all(self->dev, len, &sent, &n);
	EXPECT_EQ((long)len, sent);
	ASSERT_EQ(len, n);
	EXPECT_EQ(0, memcmp(got, data, len));
	free(got);
	free(data);
	close(fd);
}

/*
 * One struct reused for several calls, as a server does: the out fields it carries from the
 * last call are ignored on input (they once made ADD_FILE EINVAL when `copied` was set, and
 * a zero-length add wrote the stale `copied` back).
 */
TEST_F(file, struct_reused_outputs_ignored)
{
	struct kiovec_add_file req = { 0 };
	struct kiovec_add_zero z = { .len = self->pagesz };
	unsigned char *data, *got;
	int fd = make_file(2 * self->pagesz, 3, &data);
	int proc = open("/proc/version", O_RDONLY | O_CLOEXEC);
	size_t len;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, proc);
	/* A procfs file is copied: the call sets copied, at, segments and len. */
	req = (struct kiovec_add_file){ .fd = proc, .len = 1 };
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(1, req.copied);
	EXPECT_EQ(1, req.segments);
	EXPECT_EQ(1, req.len);
	/* The same struct for a tmpfs range: referenced, so copied comes back 0. */
	req.fd = fd;
	req.offset = 10;
	req.len = self->pagesz;
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(1, req.at);
	EXPECT_EQ(0, req.copied);
	EXPECT_EQ(2, req.segments);
	EXPECT_EQ(self->pagesz, req.len);
	/* And for nothing: every out field is written, none is left from before. */
	req.copied = 7;
	req.len = 0;
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(0, req.copied);
	EXPECT_EQ(0, req.segments);
	EXPECT_EQ(0, req.len);
	/* ADD_ZERO twice with one struct. */
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_ZERO, &z));
	EXPECT_EQ(1 + self->pagesz, z.at);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_ZERO, &z));
	EXPECT_EQ(1 + 2 * self->pagesz, z.at);
	EXPECT_EQ(1, z.segments);
	/* The container holds those bytes, in order. */
	len = 1 + 3 * self->pagesz;
	got = malloc(len);
	ASSERT_NE(NULL, got);
	struct kiovec_copy_out co = { .offset = 1, .buf = (uintptr_t)got, .len = len };
	EXPECT_EQ((long)len - 1, ioctl(self->dev, KIOVEC_IOC_COPY_OUT, &co));
	EXPECT_EQ(0, memcmp(got, data + 10, self->pagesz));
	for (size_t i = self->pagesz; i < len - 1; i++)
		if (got[i]) {
			EXPECT_EQ(0, got[i]) TH_LOG("byte %zu of the zero pages", i);
			break;
		}
	free(got);
	free(data);
	close(proc);
	close(fd);
}

/* A header, ranges of two files at odd offsets across page boundaries, pinned memory. */
TEST_F(file, header_and_many_ranges)
{
	static const char hdr[] = "HTTP/1.1 200 OK\r\n\r\n";
	size_t len = 5 * self->pagesz, total = 0, n;
	unsigned char *a, *b, *expect = malloc(64 * 4096), *got, tail[333];
	struct { int fd; __u64 off, len; } r[4];
	struct iovec iov = { tail, sizeof(tail) };
	struct kiovec_add_user au = { .iov = (uintptr_t)&iov, .iovcnt = 1 };
	int fa = make_file(len, 2, &a), fb = make_file(len, 3, &b);
	long sent;

	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_NE(NULL, expect);
	r[0].fd = fa; r[0].off = 1;		r[0].len = self->pagesz;	/* 2 pages */
	r[1].fd = fb; r[1].off = 4095;		r[1].len = 2;			/* straddles */
	r[2].fd = fa; r[2].off = 2 * 4096;	r[2].len = 4096;		/* aligned */
	r[3].fd = fb; r[3].off = 3 * 4096 + 7;	r[3].len = 2 * 4096 - 7;	/* to EOF */
	ASSERT_EQ((ssize_t)strlen(hdr), write(self->dev, hdr, strlen(hdr)));
	memcpy(expect, hdr, strlen(hdr));
	total = strlen(hdr);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, add_file(self->dev, r[i].fd, r[i].off, r[i].len, NULL)) TH_LOG("range %d", i);
		memcpy(expect + total, (r[i].fd == fa ? a : b) + r[i].off, r[i].len);
		total += r[i].len;
	}
	kiovec_fill(tail, sizeof(tail), 9);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_USER, &au));
	memcpy(expect + total, tail, sizeof(tail));
	total += sizeof(tail);
	got = send_all(self->dev, total, &sent, &n);
	EXPECT_EQ((long)total, sent);
	ASSERT_EQ(total, n);
	EXPECT_EQ(0, memcmp(got, expect, total));
	free(got);
	free(expect);
	free(a);
	free(b);
	close(fa);
	close(fb);
}

/* Holes in a sparse file arrive as zeros. */
TEST_F(file, sparse_file_holes_are_zeros)
{
	size_t len = 8 * self->pagesz, n;
	unsigned char *got, *expect = calloc(1, len);
	int fd = memfd_create("kiovec-sparse", MFD_CLOEXEC);
	long sent;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, len));
	ASSERT_EQ(4, pwrite(fd, "data", 4, 5 * self->pagesz));
	memcpy(expect + 5 * self->pagesz, "data", 4);
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, NULL));
	got = send_all(self->dev, len, &sent, &n);
	EXPECT_EQ((long)len, sent);
	ASSERT_EQ(len, n);
	EXPECT_EQ(0, memcmp(got, expect, len));
	free(got);
	free(expect);
	close(fd);
}

/* The container holds its own reference on the file. */
TEST_F(file, fd_closed_after_add)
{
	size_t len = 2 * self->pagesz + 10, n;
	unsigned char *data, *got;
	int fd = make_file(len, 4, &data);
	long sent;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, NULL));
	ASSERT_EQ(0, close(fd));
	got = send_all(self->dev, len, &sent, &n);
	EXPECT_EQ((long)len, sent);
	ASSERT_EQ(len, n);
	EXPECT_EQ(0, memcmp(got, data, len));
	free(got);
	free(data);
}

TEST_F_TIMEOUT(file, large_body_64mib, 300)
{
	size_t len = 64UL << 20, n;
	unsigned char *data, *got;
	int fd = make_file(len, 5, &data);
	long sent;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, NULL));
	got = send_all(self->dev, len, &sent, &n);
	EXPECT_EQ((long)len, sent);
	ASSERT_EQ(len, n);
	EXPECT_EQ(0, memcmp(got, data, len));
	free(got);
	free(data);
	close(fd);
}

TEST_F(file, bad_sources)
{
	char dir[] = "/tmp/kiovec-dir-XXXXXX", path[64];
	int pfd[2], s, wfd, pathfd, dfd, mfd = memfd_create("kiovec-src", MFD_CLOEXEC);
	struct kiovec_add_file req = { .fd = mfd, .len = 10, .flags = 1 };

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 4096));
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	wfd = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(0, ftruncate(wfd, 4096));
	pathfd = open(path, O_PATH);
	ASSERT_LE(0, pathfd);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, pipe(pfd));
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, s);

	EXPECT_EQ(-1, add_file(self->dev, wfd, 0, 10, NULL));		/* O_WRONLY */
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, add_file(self->dev, pathfd, 0, 10, NULL));	/* O_PATH */
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, add_file(self->dev, -1, 0, 10, NULL));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, add_file(self->dev, dfd, 0, 10, NULL));		/* directory */
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, add_file(self->dev, pfd[0], 0, 10, NULL));	/* pipe */
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, add_file(self->dev, s, 0, 10, NULL));		/* socket */
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, add_file(self->dev, self->dev, 0, 10, NULL));	/* a kiovec */
	EXPECT_EQ(EINVAL, errno);
	/* Documented: a range past the end at add time is EINVAL, not clamped. */
	EXPECT_EQ(-1, add_file(self->dev, mfd, 4000, 97, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, add_file(self->dev, mfd, 1ULL << 63, 1ULL << 63, NULL));
	EXPECT_EQ(EOVERFLOW, errno);
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(EINVAL, errno);
	req.flags = 0;
	req.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	EXPECT_EQ(EINVAL, errno);
	/* A range ending exactly at EOF, and an empty one, are fine. */
	EXPECT_EQ(0, add_file(self->dev, mfd, 4000, 96, NULL));
	EXPECT_EQ(0, add_file(self->dev, mfd, 4096, 0, NULL));
	close(s);
	close(pfd[0]);
	close(pfd[1]);
	close(dfd);
	close(pathfd);
	close(wfd);
	close(mfd);
	unlink(path);
	rmdir(dir);
}

/* A rewrite after the add is sent: the container references the page cache, as sendfile. */
TEST_F(file, rewrite_after_add_sends_current_contents)
{
	size_t len = 2 * self->pagesz, n;
	unsigned char *data, *got;
	int fd = make_file(len, 6, &data);
	long sent;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, NULL));
	memset(data + 100, 'R', 50);
	ASSERT_EQ(50, pwrite(fd, data + 100, 50, 100));
	got = send_all(self->dev, len, &sent, &n);
	EXPECT_EQ((long)len, sent);
	ASSERT_EQ(len, n);
	EXPECT_EQ(0, memcmp(got, data, len));
	free(got);
	free(data);
	close(fd);
}

/*
 * A file truncated after the add: what lies before the new end goes out, then the transmit
 * stops short; resumed at that point, it fails with ENODATA. Never stale or freed memory.
 */
TEST_F(file, truncate_before_transmit)
{
	static const char hdr[] = "HEADER";
	size_t len = 4 * self->pagesz, n;
	unsigned char *data, *got;
	int fd = make_file(len, 7, &data), tx, rx, dev;
	long sent;

	ASSERT_LE(0, fd);
	ASSERT_EQ(6, write(self->dev, hdr, 6));
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, NULL));
	ASSERT_EQ(0, ftruncate(fd, self->pagesz + 10));
	got = send_all(self->dev, 6 + len, &sent, &n);
	/* The header and the first page, which lie wholly before the new end. */
	EXPECT_EQ(6 + self->pagesz, sent);
	ASSERT_EQ((size_t)sent, n);
	EXPECT_EQ(0, memcmp(got, hdr, 6));
	EXPECT_EQ(0, memcmp(got + 6, data, self->pagesz));
	ASSERT_EQ(0, kiovec_tcp_pair(&tx, &rx));
	EXPECT_EQ(-1, transmit(self->dev, tx, sent));
	EXPECT_EQ(ENODATA, errno);
	close(tx);
	close(rx);
	/* A file truncated to nothing after the add: nothing of it at all. */
	dev = kiovec_open();
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, ftruncate(fd, len));
	ASSERT_EQ(0, add_file(dev, fd, 0, len, NULL));
	ASSERT_EQ(0, ftruncate(fd, 0));
	ASSERT_EQ(0, kiovec_tcp_pair(&tx, &rx));
	EXPECT_EQ(-1, transmit(dev, tx, 0));
	EXPECT_EQ(ENODATA, errno);
	close(tx);
	close(rx);
	close(dev);
	free(got);
	free(data);
	close(fd);
}

struct truncator {
	int fd;
	off_t to;
};

static void *truncate_soon(void *arg)
{
	struct truncator *t = arg;

	usleep(2000);
	ftruncate(t->fd, t->to);
	return NULL;
}

/*
 * Truncation racing with a transmit: whatever the interleaving, the peer gets a prefix of
 * the original file, every byte right, never bytes of other memory.
 */
TEST_F(file, truncate_during_transmit)
{
	size_t len = 4UL << 20, n;
	unsigned char *data, *got;
	int fd = make_file(len, 8, &data);
	struct truncator t = { .fd = fd, .to = 4096 };
	pthread_t th;
	long sent;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, NULL));
	ASSERT_EQ(0, pthread_create(&th, NULL, truncate_soon, &t));
	got = send_all(self->dev, len, &sent, &n);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_LE(0, sent);
	ASSERT_EQ((size_t)sent, n);
	EXPECT_EQ(0, memcmp(got, data, n));
	TH_LOG("%ld of %zu bytes went out before the truncation stopped it", sent, len);
	free(got);
	free(data);
	close(fd);
}

/* A file on a real disk file system: ext4 on a loop device, read through its page cache. */
TEST_F(file, ext4_file)
{
	char dir[64], path[96];
	size_t len = 3 * self->pagesz + 123, n;
	unsigned char *data = malloc(len), *got;
	int fd, dc;
	long sent;

	ASSERT_NE(NULL, data);
	if (kiovec_mount_ext4(dir))
		SKIP(return, "cannot mount ext4 on a loop device (needs root, mkfs.ext4)");
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	kiovec_fill(data, len, 11);
	ASSERT_EQ((ssize_t)len, pwrite(fd, data, len, 0));
	ASSERT_EQ(0, fsync(fd));
	/* Drop the clean cached pages so that the add reads them from the disk. */
	dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ASSERT_LE(0, dc);
	ASSERT_EQ(1, write(dc, "1", 1));
	close(dc);
	ASSERT_EQ(0, add_file(self->dev, fd, 0, len, NULL));
	close(fd);
	got = send_all(self->dev, len, &sent, &n);
	EXPECT_EQ((long)len, sent);
	ASSERT_EQ(len, n);
	EXPECT_EQ(0, memcmp(got, data, len));
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_RESET, 0));	/* lets go of the file */
	EXPECT_EQ(0, kiovec_umount_ext4(dir));
	free(got);
	free(data);
}

TEST_F(file, copy_out_reads_file_ranges)
{
	size_t len = 2 * self->pagesz;
	unsigned char *data, back[300];
	int fd = make_file(len, 12, &data);
	struct kiovec_copy_out req = { .offset = 3996, .buf = (uintptr_t)back, .len = sizeof(back) };

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, add_file(self->dev, fd, 100, len - 100, NULL));
	ASSERT_EQ((long)sizeof(back), ioctl(self->dev, KIOVEC_IOC_COPY_OUT, &req));
	EXPECT_EQ(0, memcmp(back, data + 100 + 3996, sizeof(back)));
	free(data);
	close(fd);
}

TEST_HARNESS_MAIN
