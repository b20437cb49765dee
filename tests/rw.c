// SPDX-License-Identifier: GPL-2.0
/*
 * rw_kiovec: a kiovec read from and written to regular files, block devices and sockets —
 * from user space (KIOVEC_IOC_RW) and from a driver (tests/modules/kiovec_consumer.ko, which
 * uses include/linux/kiovec.h alone, asynchronously) — byte for byte, with the write
 * protection rules (a read never writes a page cache or write() bytes), alignment errors,
 * completions in hard-IRQ context (null_blk irqmode=2), references held past the
 * container's close, and module dependencies.
 */
#include <sys/stat.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "kiovec_test.h"

struct kiovec_consumer_req {
	__s32 kv_fd;
	__s32 target_fd;
	__u32 dir;
	__u32 mode;
	__u64 pos, offset, len;
	__u32 hold;
	__u32 in_irq;
	__s64 result;
	__u64 kv_len;
	__s32 nr_bvecs;
	__u32 reserved;
};

#define KC_RW		_IOWR('k', 1, struct kiovec_consumer_req)
#define KC_RELEASE	_IO('k', 2)

#define PG 4096

static long rw(int dev, int fd, __u32 dir, __u64 pos, __u64 offset, __u64 len)
{
	struct kiovec_rw req = { .fd = fd, .dir = dir, .pos = pos, .offset = offset, .len = len };

	return ioctl(dev, KIOVEC_IOC_RW, &req);
}

static int add_zero(int dev, __u64 len)
{
	struct kiovec_add_zero req = { .len = len };

	return ioctl(dev, KIOVEC_IOC_ADD_ZERO, &req);
}

static long copy_out(int dev, __u64 offset, void *buf, size_t len)
{
	struct kiovec_copy_out req = { .offset = offset, .buf = (uintptr_t)buf, .len = len };

	return ioctl(dev, KIOVEC_IOC_COPY_OUT, &req);
}

FIXTURE(rw)
{
	int dev;
	unsigned char *pat;
};

FIXTURE_SETUP(rw)
{
	struct kiovec_info info;

	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_INFO, &info));
	if (!(info.features & KIOVEC_FEAT_RW) || !(info.features & KIOVEC_FEAT_ADD_ZERO))
		SKIP(return, "module without KIOVEC_IOC_RW / ADD_ZERO");
	self->pat = malloc(16 * PG);
	ASSERT_NE(NULL, self->pat);
	kiovec_fill(self->pat, 16 * PG, 31);
}

FIXTURE_TEARDOWN(rw)
{
	if (self->dev >= 0)
		close(self->dev);
	free(self->pat);
}

/* A file read into reserved pages, then those pages written to another file: no copy
 * through user space, and both byte for byte. */
TEST_F(rw, file_to_kiovec_to_file)
{
	int in = memfd_create("kiovec-in", MFD_CLOEXEC), out = memfd_create("kiovec-out", MFD_CLOEXEC);
	unsigned char got[3 * PG];

	ASSERT_EQ(3 * PG, pwrite(in, self->pat, 3 * PG, 0));
	ASSERT_EQ(0, add_zero(self->dev, 4 * PG));
	EXPECT_EQ(3 * PG, rw(self->dev, in, KIOVEC_READ, 0, PG, 3 * PG));
	EXPECT_EQ(3 * PG, copy_out(self->dev, PG, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));
	/* Short at the end of the source, as read(2). */
	EXPECT_EQ(PG, rw(self->dev, in, KIOVEC_READ, 2 * PG, 0, 2 * PG));
	EXPECT_EQ(3 * PG, rw(self->dev, out, KIOVEC_WRITE, 100, PG, 3 * PG));
	EXPECT_EQ(3 * PG, pread(out, got, sizeof(got), 100));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));
	close(in);
	close(out);
}

/* Reads write only memory that is the caller's to change. */
TEST_F(rw, read_never_writes_page_cache_or_written_bytes)
{
	int f = memfd_create("kiovec-prot", MFD_CLOEXEC);
	struct kiovec_add_file af = { .len = PG };
	unsigned char *mem = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kiovec_iovec iov = { (uintptr_t)mem, PG };
	struct kiovec_add_user ro = { .iov = (uintptr_t)&iov, .iovcnt = 1 };
	struct kiovec_add_user wr = ro;
	struct kiovec_stat st;
	unsigned char before[PG];

	ASSERT_EQ(PG, pwrite(f, self->pat, PG, 0));
	af.fd = f;
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &af));	/* 0..PG: page cache */
	ASSERT_EQ(10, write(self->dev, "0123456789", 10));		/* PG..PG+10: written */
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_USER, &ro));	/* read-only pin */
	iov.base = (uintptr_t)mem + PG;
	wr.flags = KIOVEC_ADD_WRITE;
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_USER, &wr));	/* writable pin */
	KIOVEC_STAT(self->dev, st);
	EXPECT_EQ(-1, rw(self->dev, f, KIOVEC_READ, 0, 0, PG));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, rw(self->dev, f, KIOVEC_READ, 0, PG, 10));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, rw(self->dev, f, KIOVEC_READ, 0, PG + 10, PG));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(PG, pread(f, before, PG, 0));
	EXPECT_EQ(0, memcmp(before, self->pat, PG));
	/* The writable pin: the read lands in the process's memory. */
	ASSERT_EQ(PG, pwrite(f, self->pat + PG, PG, 0));
	EXPECT_EQ(PG, rw(self->dev, f, KIOVEC_READ, 0, PG + 10 + PG, PG));
	EXPECT_EQ(0, memcmp(mem + PG, self->pat + PG, PG));
	munmap(mem, 2 * PG);
	close(f);
}

/* A block device with O_DIRECT: aligned ranges go through, misaligned ones are EINVAL. */
TEST_F(rw, block_device_odirect)
{
	int bd = open("/dev/ram0", O_RDWR | O_DIRECT | O_CLOEXEC);
	unsigned char got[2 * PG];

	if (bd < 0)
		SKIP(return, "no /dev/ram0 (brd): %s", strerror(errno));
	ASSERT_EQ(0, add_zero(self->dev, 4 * PG));
	ASSERT_EQ(2 * PG, copy_out(self->dev, 0, got, 2 * PG));
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_RESET, 0));
	{
		int src = memfd_create("kiovec-src", MFD_CLOEXEC);

		ASSERT_EQ(2 * PG, pwrite(src, self->pat, 2 * PG, 0));
		ASSERT_EQ(0, add_zero(self->dev, 4 * PG));
		ASSERT_EQ(2 * PG, rw(self->dev, src, KIOVEC_READ, 0, 0, 2 * PG));
		close(src);
	}
	EXPECT_EQ(2 * PG, rw(self->dev, bd, KIOVEC_WRITE, 8 * PG, 0, 2 * PG));
	EXPECT_EQ(2 * PG, rw(self->dev, bd, KIOVEC_READ, 8 * PG, 2 * PG, 2 * PG));
	EXPECT_EQ(2 * PG, copy_out(self->dev, 2 * PG, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));
	/* Misaligned position, then a misaligned range of the kiovec. */
	EXPECT_EQ(-1, rw(self->dev, bd, KIOVEC_WRITE, 100, 0, PG));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, rw(self->dev, bd, KIOVEC_WRITE, 0, 100, PG));
	EXPECT_EQ(EINVAL, errno);
	close(bd);
}

/* Sockets: WRITE sends (as a transmit), READ receives into reserved pages. */
TEST_F(rw, socket_send_and_receive)
{
	unsigned char got[3 * PG];
	int a, b;

	ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
	ASSERT_EQ(0, add_zero(self->dev, 3 * PG));
	ASSERT_EQ(3 * PG, send(b, self->pat, 3 * PG, 0));
	usleep(100 * 1000);
	EXPECT_EQ(3 * PG, rw(self->dev, a, KIOVEC_READ, 0, 0, 3 * PG));
	EXPECT_EQ(3 * PG, copy_out(self->dev, 0, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));
	/* Echo it back. */
	EXPECT_EQ(3 * PG, rw(self->dev, a, KIOVEC_WRITE, 0, 0, 3 * PG));
	memset(got, 0, sizeof(got));
	EXPECT_EQ(3 * PG, kiovec_recv_exact(b, got, sizeof(got), 5000));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));
	/* Nothing to read on a non-blocking socket. */
	fcntl(a, F_SETFL, O_NONBLOCK);
	EXPECT_EQ(-1, rw(self->dev, a, KIOVEC_READ, 0, 0, PG));
	EXPECT_EQ(EAGAIN, errno);
	/* The peer closed: 0. */
	close(b);
	usleep(50 * 1000);
	EXPECT_EQ(0, rw(self->dev, a, KIOVEC_READ, 0, 0, PG));
	close(a);
}

TEST_F(rw, bad_arguments)
{
	struct kiovec_rw req = { .dir = KIOVEC_WRITE, .len = 1 };
	int p[2], f = memfd_create("kiovec-bad", MFD_CLOEXEC), ro;

	ASSERT_EQ(0, add_zero(self->dev, PG));
	req.fd = f;
	req.dir = 2;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_RW, &req));
	EXPECT_EQ(EINVAL, errno);
	req.dir = KIOVEC_WRITE;
	req.flags = 1;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_RW, &req));
	EXPECT_EQ(EINVAL, errno);
	req.flags = 0;
	req.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_RW, &req));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, rw(self->dev, 999, KIOVEC_WRITE, 0, 0, 1));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-1, rw(self->dev, p[1], KIOVEC_WRITE, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	/* A target not open for the direction asked. */
	ro = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	EXPECT_EQ(-1, rw(self->dev, ro, KIOVEC_WRITE, 0, 0, 1));
	EXPECT_EQ(EBADF, errno);
	close(ro);
	/* ... also one that has no write_iter at all (found by the fuzzer: it was EINVAL). */
	ro = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	EXPECT_EQ(-1, rw(self->dev, ro, KIOVEC_WRITE, 0, 0, 1));
	EXPECT_EQ(EBADF, errno);
	close(ro);
	/* A read-only descriptor of the container cannot read into it. */
	ro = ioctl(self->dev, KIOVEC_IOC_RO_FD, 0);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-1, rw(ro, f, KIOVEC_READ, 0, 0, 1));
	EXPECT_EQ(EBADF, errno);
	close(ro);
	close(p[0]);
	close(p[1]);
	close(f);
}

/* The driver side: tests/modules/kiovec_consumer.ko through include/linux/kiovec.h. */
FIXTURE(drv)
{
	int dev, kc;
	unsigned char *pat;
	char nullb[64];
};

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

FIXTURE_SETUP(drv)
{
	const char *moddir = getenv("KIOVEC_MODULE_DIR");
	struct kiovec_info info;

	self->kc = -1;
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_INFO, &info));
	if (!(info.features & KIOVEC_FEAT_RW))
		SKIP(return, "module without rw_kiovec");
	if (!moddir)
		SKIP(return, "KIOVEC_MODULE_DIR not set: no consumer module to load");
	ASSERT_EQ(0, sh("insmod %s/tests/modules/kiovec_consumer.ko", moddir));
	for (int i = 0; i < 50 && self->kc < 0; i++) {
		self->kc = open("/dev/kiovec_consumer", O_RDWR | O_CLOEXEC);
		if (self->kc < 0)
			usleep(100 * 1000);
	}
	ASSERT_LE(0, self->kc);
	self->pat = malloc(16 * PG);
	kiovec_fill(self->pat, 16 * PG, 41);
}

FIXTURE_TEARDOWN(drv)
{
	if (self->kc >= 0) {
		ioctl(self->kc, KC_RELEASE, 0);
		close(self->kc);
		sh("rmmod kiovec_consumer");
	}
	if (self->nullb[0])
		sh("echo 0 > /sys/kernel/config/nullb/%s/power; rmdir /sys/kernel/config/nullb/%s",
		   self->nullb, self->nullb);
	if (self->dev >= 0)
		close(self->dev);
	free(self->pat);
}

/* A memory-backed null_blk that completes in hard-IRQ context (irqmode=2), /dev/<name>. */
static int make_nullb(char name[64], int completion_us)
{
	strcpy(name, "nullb1");
	if (sh("d=/sys/kernel/config/nullb/%s; mkdir $d && echo 1 > $d/memory_backed && "
	       "echo 4096 > $d/blocksize && echo 16 > $d/size && echo 2 > $d/irqmode && "
	       "echo %d > $d/completion_nsec && echo 1 > $d/power", name, completion_us * 1000)) {
		name[0] = 0;
		return -1;
	}
	for (int i = 0; i < 50; i++) {
		char path[80];

		snprintf(path, sizeof(path), "/dev/%s", name);
		if (!access(path, F_OK))
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

static long kc(int fd, struct kiovec_consumer_req *r)
{
	return ioctl(fd, KC_RW, r);
}

/* Asynchronous rw_kiovec to a block device whose completions run in hard-IRQ context. */
TEST_F(drv, async_block_device_hardirq)
{
	struct kiovec_consumer_req r = { .kv_fd = self->dev, .len = 4 * PG };
	unsigned char got[4 * PG];
	char path[80];
	int bd, src = memfd_create("kc-src", MFD_CLOEXEC);

	if (make_nullb(self->nullb, 1000))
		SKIP(return, "cannot make a null_blk device through configfs");
	snprintf(path, sizeof(path), "/dev/%s", self->nullb);
	bd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, bd);
	ASSERT_EQ(4 * PG, pwrite(src, self->pat, 4 * PG, 0));
	ASSERT_EQ(0, add_zero(self->dev, 8 * PG));
	ASSERT_EQ(4 * PG, rw(self->dev, src, KIOVEC_READ, 0, 0, 4 * PG));

	r.target_fd = bd;
	r.dir = KIOVEC_WRITE;
	r.pos = 16 * PG;
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(4 * PG, r.result);
	EXPECT_EQ(8 * PG, r.kv_len);
	EXPECT_EQ(4, r.nr_bvecs);
	EXPECT_EQ(1, r.in_irq) TH_LOG("the completion did not run in hard-IRQ context");
	r.dir = KIOVEC_READ;
	r.offset = 4 * PG;
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(4 * PG, r.result);
	EXPECT_EQ(4 * PG, copy_out(self->dev, 4 * PG, got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));
	/* Misaligned for the 4 KiB device: EINVAL, from the device's own rules. */
	r.dir = KIOVEC_WRITE;
	r.offset = 512;
	r.len = PG;
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(-EINVAL, r.result);
	close(bd);
	close(src);
}

/* brd completes in the submitter before -EIOCBQUEUED is returned; a socket synchronously;
 * a file through the driver's own iov_iter. */
TEST_F(drv, async_brd_socket_and_iter)
{
	struct kiovec_consumer_req r = { .kv_fd = self->dev, .len = 2 * PG };
	unsigned char got[2 * PG];
	int bd = open("/dev/ram1", O_RDWR | O_DIRECT | O_CLOEXEC), a, b;
	int f = memfd_create("kc-iter", MFD_CLOEXEC);

	if (bd < 0)
		SKIP(return, "no /dev/ram1 (brd)");
	ASSERT_EQ((ssize_t)(2 * PG), write(self->dev, self->pat, 2 * PG));
	r.target_fd = bd;
	r.dir = KIOVEC_WRITE;
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(2 * PG, r.result);
	{
		unsigned char *al = aligned_alloc(PG, 2 * PG);

		EXPECT_EQ(2 * PG, pread(bd, al, 2 * PG, 0));
		EXPECT_EQ(0, memcmp(al, self->pat, 2 * PG));
		free(al);
	}
	/* Reading write() bytes back from the device is refused: they are not writable. */
	r.dir = KIOVEC_READ;
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(-EINVAL, r.result);

	ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
	r = (struct kiovec_consumer_req){ .kv_fd = self->dev, .target_fd = a, .len = 2 * PG,
					  .dir = KIOVEC_WRITE };
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(2 * PG, r.result);
	EXPECT_EQ(2 * PG, kiovec_recv_exact(b, got, sizeof(got), 5000));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));

	r = (struct kiovec_consumer_req){ .kv_fd = self->dev, .target_fd = f, .len = 2 * PG,
					  .dir = KIOVEC_WRITE, .mode = 2, .pos = 7 };
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(2 * PG, r.result);
	EXPECT_EQ(2 * PG, pread(f, got, sizeof(got), 7));
	EXPECT_EQ(0, memcmp(got, self->pat, sizeof(got)));
	close(a);
	close(b);
	close(bd);
	close(f);
}

/*
 * The driver keeps kiovec references after the container is closed; kiovec.ko cannot be
 * unloaded while the driver is loaded (it depends on its symbols); when the driver lets go,
 * every pin is released.
 */
TEST_F(drv, references_outlive_the_container)
{
	static unsigned char buf[4 * PG] __attribute__((aligned(PG)));
	struct kiovec_iovec iov = { (uintptr_t)buf, sizeof(buf) };
	struct kiovec_add_user au = { .iov = (uintptr_t)&iov, .iovcnt = 1 };
	struct kiovec_consumer_req r = { .len = sizeof(buf), .dir = KIOVEC_WRITE, .hold = 1 };
	long pins0 = kiovec_pins_outstanding();
	unsigned char got[sizeof(buf)];
	int c = kiovec_open(), f = memfd_create("kc-hold", MFD_CLOEXEC);

	ASSERT_LE(0, c);
	kiovec_fill(buf, sizeof(buf), 5);
	ASSERT_EQ(0, ioctl(c, KIOVEC_IOC_ADD_USER, &au));
	r.kv_fd = c;
	r.target_fd = f;
	ASSERT_EQ(0, kc(self->kc, &r));
	EXPECT_EQ(sizeof(buf), r.result);
	close(c);	/* the driver still holds the kiovec, and so its pins */
	if (pins0 != LONG_MIN)
		EXPECT_EQ(pins0 + 4, kiovec_pins_outstanding());
	EXPECT_EQ(-1, syscall(__NR_delete_module, "kiovec", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ((ssize_t)sizeof(got), pread(f, got, sizeof(got), 0));
	EXPECT_EQ(0, memcmp(got, buf, sizeof(got)));
	ASSERT_EQ(0, ioctl(self->kc, KC_RELEASE, 0));
	if (pins0 != LONG_MIN)
		EXPECT_EQ(pins0, kiovec_pins_outstanding());
	close(f);
}

struct closer {
	int fd;
	useconds_t after;
};

static void *close_later(void *arg)
{
	struct closer *c = arg;

	usleep(c->after);
	close(c->fd);
	return NULL;
}

/* The container is closed while its bio is in flight (200 ms completions): safe. */
TEST_F_TIMEOUT(drv, close_while_bio_in_flight, 60)
{
	struct kiovec_consumer_req r = { .len = 4 * PG, .dir = KIOVEC_WRITE };
	struct closer cl;
	pthread_t th;
	char path[80];
	int c = kiovec_open(), bd;

	if (make_nullb(self->nullb, 200000))
		SKIP(return, "cannot make a null_blk device through configfs");
	snprintf(path, sizeof(path), "/dev/%s", self->nullb);
	bd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, bd);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, add_zero(c, 4 * PG));
	r.kv_fd = c;
	r.target_fd = bd;
	cl = (struct closer){ .fd = c, .after = 50000 };
	ASSERT_EQ(0, pthread_create(&th, NULL, close_later, &cl));
	ASSERT_EQ(0, kc(self->kc, &r));
	pthread_join(th, NULL);
	EXPECT_EQ(4 * PG, r.result);
	close(bd);
}

TEST_HARNESS_MAIN
