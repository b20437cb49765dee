// SPDX-License-Identifier: GPL-2.0
/*
 * One cached container, many senders: a per-request header in the same call
 * (KIOVEC_TX_HEADER), a byte range of the container (KIOVEC_TX_RANGE, an HTTP 206), resume
 * rules across header and body; and no sender waits for another: a transmit stalled on a
 * peer that reads nothing delays neither other threads' transmits of the same container nor
 * the other targets of a batch.
 */
#include <netinet/tcp.h>
#include <sys/time.h>
#include <time.h>

#include "kiovec_test.h"

#define BODY (256 * 1024)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long tx_hdr(int dev, int sock, __u64 offset, __u32 flags, const void *hdr, size_t hlen,
		   const struct kiovec_range *range)
{
	struct kiovec_iovec h = { (uintptr_t)hdr, hlen };
	struct kiovec_transmit req = { .fd = sock, .flags = flags, .offset = offset };

	if (hdr) {
		req.flags |= KIOVEC_TX_HEADER;
		req.hdr = (uintptr_t)&h;
	}
	if (range) {
		req.flags |= KIOVEC_TX_RANGE;
		req.range = (uintptr_t)range;
	}
	return ioctl(dev, KIOVEC_IOC_TRANSMIT, &req);
}

FIXTURE(sh)
{
	int dev, file;
	unsigned char *body;
};

FIXTURE_SETUP(sh)
{
	struct kiovec_add_file af = { .len = BODY };
	struct kiovec_info info;

	self->file = -1;
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_INFO, &info));
	if (!(info.features & KIOVEC_FEAT_TX_HEADER) || !(info.features & KIOVEC_FEAT_TX_RANGE))
		SKIP(return, "module without KIOVEC_FEAT_TX_HEADER/RANGE");
	self->body = malloc(BODY);
	ASSERT_NE(NULL, self->body);
	kiovec_fill(self->body, BODY, 21);
	self->file = memfd_create("kiovec-sh", MFD_CLOEXEC);
	ASSERT_LE(0, self->file);
	ASSERT_EQ(BODY, pwrite(self->file, self->body, BODY, 0));
	af.fd = self->file;
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &af));
}

FIXTURE_TEARDOWN(sh)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->file >= 0)
		close(self->file);
	free(self->body);
}

/* Each response its own header, the same body; byte for byte, header first. */
TEST_F(sh, header_per_request)
{
	for (int i = 0; i < 3; i++) {
		char hdr[128];
		int n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nX-Req: %d\r\n\r\n", i * 1000);
		struct kiovec_reader r;
		int a, b;

		ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
		ASSERT_EQ(0, kiovec_reader_start(&r, b, n + BODY));
		EXPECT_EQ(n + BODY, tx_hdr(self->dev, a, 0, KIOVEC_TX_NOSIGNAL, hdr, n, NULL));
		close(a);
		kiovec_reader_join(&r);
		ASSERT_EQ((size_t)n + BODY, r.got);
		EXPECT_EQ(0, memcmp(r.buf, hdr, n));
		EXPECT_EQ(0, memcmp(r.buf + n, self->body, BODY));
		free(r.buf);
		close(b);
	}
}

/* An HTTP Range request: a header and one byte range of the cached body, in one call. */
TEST_F(sh, header_and_range)
{
	static const char hdr[] = "HTTP/1.1 206 Partial Content\r\n\r\n";
	struct kiovec_range rg = { .start = 5000, .len = 70001 };
	size_t n = strlen(hdr), want = n + rg.len;
	unsigned char *got = malloc(want);
	int a, b;

	ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
	EXPECT_EQ((long)want, tx_hdr(self->dev, a, 0, KIOVEC_TX_NOSIGNAL, hdr, n, &rg));
	ASSERT_EQ(want, kiovec_recv_exact(b, got, want, 5000));
	EXPECT_EQ(0, memcmp(got, hdr, n));
	EXPECT_EQ(0, memcmp(got + n, self->body + rg.start, rg.len));
	/* A range that runs past the end is clamped; one that starts past it sends nothing. */
	rg = (struct kiovec_range){ .start = BODY - 10, .len = 100 };
	EXPECT_EQ(10, tx_hdr(self->dev, a, 0, KIOVEC_TX_NOSIGNAL, NULL, 0, &rg));
	ASSERT_EQ(10, kiovec_recv_exact(b, got, 10, 5000));
	EXPECT_EQ(0, memcmp(got, self->body + BODY - 10, 10));
	rg = (struct kiovec_range){ .start = BODY + 1, .len = 100 };
	EXPECT_EQ(0, tx_hdr(self->dev, a, 0, KIOVEC_TX_NOSIGNAL, NULL, 0, &rg));
	close(a);
	close(b);
	free(got);
}

/* Resume offsets count header bytes first: one inside the header resends only its rest. */
TEST_F(sh, resume_inside_header_and_body)
{
	static const char hdr[] = "HTTP/1.1 200 OK\r\nContent-Length: 262144\r\n\r\n";
	size_t n = strlen(hdr), total = n + BODY;
	unsigned char *want = malloc(total), *got = malloc(total);
	__u64 offs[] = { 0, 1, n - 1, n, n + 1, n + 4096, total - 1 };
	int a, b;

	memcpy(want, hdr, n);
	memcpy(want + n, self->body, BODY);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct kiovec_reader r;

		ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
		ASSERT_EQ(0, kiovec_reader_start(&r, b, total - offs[i]));
		EXPECT_EQ((long)(total - offs[i]),
			  tx_hdr(self->dev, a, offs[i], KIOVEC_TX_NOSIGNAL, hdr, n, NULL));
		close(a);
		kiovec_reader_join(&r);
		ASSERT_EQ(total - offs[i], r.got) TH_LOG("offset %llu", offs[i]);
		EXPECT_EQ(0, memcmp(r.buf, want + offs[i], total - offs[i]));
		free(r.buf);
		close(b);
	}
	/* Non-blocking with a small buffer: short counts, resumed, every byte once. */
	ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
	{
		int sz = 4096;
		size_t done = 0, got_n = 0;

		setsockopt(a, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(b, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		while (done < total) {
			long s = tx_hdr(self->dev, a, done, KIOVEC_TX_NOSIGNAL | KIOVEC_TX_DONTWAIT,
					hdr, n, NULL);

			if (s < 0) {
				ASSERT_EQ(EAGAIN, errno);
				s = 0;
			}
			done += s;
			got_n += kiovec_recv_exact(b, got + got_n, total - got_n, 50);
		}
		got_n += kiovec_recv_exact(b, got + got_n, total - got_n, 2000);
		ASSERT_EQ(total, got_n);
		EXPECT_EQ(0, memcmp(got, want, total));
	}
	close(a);
	close(b);
	free(want);
	free(got);
}

TEST_F(sh, bad_header_and_range)
{
	struct kiovec_transmit req = { .flags = KIOVEC_TX_HEADER };
	struct kiovec_iovec h = { 0, 10 };
	struct kiovec_range rg = { ~0ULL, 2 };
	static char big[65537];
	int a, b;

	ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
	req.fd = a;
	req.hdr = 0;	/* flag without a pointer */
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EFAULT, errno);
	req.hdr = (uintptr_t)&h;	/* a NULL header base with a length */
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EFAULT, errno);
	h = (struct kiovec_iovec){ (uintptr_t)big, sizeof(big) };	/* past KIOVEC_MAX_HEADER */
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EINVAL, errno);
	h = (struct kiovec_iovec){ 0xffff888000000000ULL, 10 };	/* a kernel address */
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EFAULT, errno);
	req = (struct kiovec_transmit){ .fd = a, .flags = KIOVEC_TX_RANGE, .range = (uintptr_t)&rg };
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EOVERFLOW, errno);
	close(a);
	close(b);
}

struct fast {
	int dev, n;
	double first, total;
	int ok;
};

/* Sends the container n times to fresh, fast peers; times the first and the whole. */
static void *fast_main(void *arg)
{
	struct fast *f = arg;
	double t0 = now();

	f->ok = 0;
	for (int i = 0; i < f->n; i++) {
		struct kiovec_transmit tx = { .flags = KIOVEC_TX_NOSIGNAL };
		struct kiovec_reader r;
		int a, b;

		if (kiovec_tcp_pair(&a, &b) || kiovec_reader_start(&r, b, BODY))
			return NULL;
		tx.fd = a;
		if (ioctl(f->dev, KIOVEC_IOC_TRANSMIT, &tx) != BODY)
			return NULL;
		close(a);
		kiovec_reader_join(&r);
		close(b);
		if (r.got != BODY)
			return NULL;
		free(r.buf);
		if (i == 0)
			f->first = now() - t0;
		f->ok++;
	}
	f->total = now() - t0;
	return NULL;
}

struct slow {
	int dev, sock;
	long ret;
};

static void *slow_main(void *arg)
{
	struct slow *s = arg;
	struct kiovec_transmit tx = { .fd = s->sock, .flags = KIOVEC_TX_NOSIGNAL };

	s->ret = ioctl(s->dev, KIOVEC_IOC_TRANSMIT, &tx);
	return NULL;
}

/*
 * A peer that reads nothing for 2 s stalls one thread's transmit; another thread's 50
 * transmits of the same container must finish as if it were not there. Before, they waited
 * for the stalled one in an uninterruptible mutex_lock.
 */
TEST_F_TIMEOUT(sh, stalled_transmit_delays_no_other, 120)
{
	struct fast alone = { .dev = self->dev, .n = 50 }, with = alone;
	struct slow s = { .dev = self->dev };
	pthread_t ts, tf;
	int sz = 4096, b;
	unsigned char *sink = malloc(BODY);

	ASSERT_EQ(0, pthread_create(&tf, NULL, fast_main, &alone));
	ASSERT_EQ(0, pthread_join(tf, NULL));
	ASSERT_EQ(50, alone.ok);

	ASSERT_EQ(0, kiovec_tcp_pair(&s.sock, &b));
	setsockopt(s.sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(b, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	ASSERT_EQ(0, pthread_create(&ts, NULL, slow_main, &s));
	usleep(200 * 1000);	/* the slow transmit is blocked on its peer by now */
	ASSERT_EQ(0, pthread_create(&tf, NULL, fast_main, &with));
	ASSERT_EQ(0, pthread_join(tf, NULL));
	EXPECT_EQ(50, with.ok);
	/* The slow peer starts reading only after 2 s. */
	usleep(2000 * 1000);
	EXPECT_EQ(BODY, kiovec_recv_exact(b, sink, BODY, 10000));
	ASSERT_EQ(0, pthread_join(ts, NULL));
	EXPECT_EQ(BODY, s.ret);
	TH_LOG("50 transmits: %.2f s alone, %.2f s beside a stalled one (first %.3f s vs %.3f s)",
	       alone.total, with.total, alone.first, with.first);
	/* As if it were not there: well under the 2 s stall, and not serialized behind it. */
	EXPECT_LT(with.first, 1.0);
	EXPECT_LT(with.total, alone.total * 2 + 1.0);
	close(s.sock);
	close(b);
	free(sink);
}

struct timed {
	struct kiovec_reader r;
	double done;
};

static void *timed_main(void *arg)
{
	struct timed *t = arg;

	t->r.got = kiovec_recv_exact(t->r.fd, t->r.buf, t->r.len, 20000);
	t->done = now();
	return NULL;
}

/* A batch to [stalled, fast]: the fast target is served before the stalled one's wait. */
TEST_F_TIMEOUT(sh, batch_slow_target_holds_back_no_other, 60)
{
	struct kiovec_target t[2] = { 0 };
	struct kiovec_transmit_batch bt = { .targets = (uintptr_t)t, .count = 2,
					    .flags = KIOVEC_TX_NOSIGNAL };
	struct timed fast = { 0 };
	unsigned char *sink = malloc(BODY);
	int sa, sb, fa, fb, sz = 4096;
	double t0;
	pid_t pid;

	ASSERT_EQ(0, kiovec_tcp_pair(&sa, &sb));
	setsockopt(sa, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sb, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	ASSERT_EQ(0, kiovec_tcp_pair(&fa, &fb));
	t[0].fd = sa;
	t[1].fd = fa;
	fast.r = (struct kiovec_reader){ .fd = fb, .len = BODY, .buf = malloc(BODY) };
	ASSERT_EQ(0, pthread_create(&fast.r.thread, NULL, timed_main, &fast));
	t0 = now();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The stalled peer reads after 2 s. */
		usleep(2000 * 1000);
		kiovec_recv_exact(sb, sink, BODY, 10000);
		_exit(0);
	}
	ASSERT_EQ(2, ioctl(self->dev, KIOVEC_IOC_TRANSMIT_BATCH, &bt));
	TH_LOG("batch took %.2f s, the fast target had all of it after %.2f s", now() - t0,
	       fast.done - t0);
	pthread_join(fast.r.thread, NULL);
	EXPECT_EQ(BODY, t[0].result);
	EXPECT_EQ(BODY, t[1].result);
	EXPECT_EQ(BODY, fast.r.got);
	EXPECT_EQ(0, memcmp(fast.r.buf, self->body, BODY));
	/* Served while the stalled peer still read nothing (it starts after 2 s). */
	EXPECT_LT(fast.done - t0, 1.5);
	EXPECT_EQ(0, kiovec_wait(pid));
	free(fast.r.buf);
	free(sink);
	close(sa);
	close(sb);
	close(fa);
	close(fb);
}

TEST_HARNESS_MAIN
