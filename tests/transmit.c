// SPDX-License-Identifier: GPL-2.0
/*
 * KIOVEC_IOC_TRANSMIT: a container (written header + pinned user memory) sent to TCP
 * sockets over loopback, checked byte for byte on the receiving side; partial sends on
 * non-blocking sockets and signals resumed with the offset; every bad target its errno.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "kiovec_test.h"

static long transmit(int dev, int sock, __u64 offset, __u32 flags)
{
	struct kiovec_transmit req = { .fd = sock, .flags = flags, .offset = offset };

	return ioctl(dev, KIOVEC_IOC_TRANSMIT, &req);
}

static int add_user(int dev, void *base, size_t len)
{
	struct iovec iov = { base, len };
	struct kiovec_add_user req = { .iov = (uintptr_t)&iov, .iovcnt = 1 };

	return ioctl(dev, KIOVEC_IOC_ADD_USER, &req);
}

static void set_bufs(int tx, int rx, int bytes)
{
	setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

#define HDR "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"

FIXTURE(tx)
{
	int dev, tx, rx;
	long pagesz;
	unsigned char *body;	/* 64 pages, patterned */
	size_t bodylen;
	unsigned char *expect;	/* header + body as sent */
	size_t total;
};

FIXTURE_SETUP(tx)
{
	self->pagesz = sysconf(_SC_PAGESIZE);
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, kiovec_tcp_pair(&self->tx, &self->rx));
	self->bodylen = 64 * self->pagesz;
	self->body = mmap(NULL, self->bodylen, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->body);
	kiovec_fill(self->body, self->bodylen, 7);
	/* Header, then a body range that starts and ends inside pages. */
	ASSERT_EQ((ssize_t)strlen(HDR), write(self->dev, HDR, strlen(HDR)));
	ASSERT_EQ(0, add_user(self->dev, self->body + 100, self->bodylen - 300));
	self->total = strlen(HDR) + self->bodylen - 300;
	self->expect = malloc(self->total);
	ASSERT_NE(NULL, self->expect);
	memcpy(self->expect, HDR, strlen(HDR));
	memcpy(self->expect + strlen(HDR), self->body + 100, self->bodylen - 300);
}

FIXTURE_TEARDOWN(tx)
{
	if (self->dev >= 0)
		close(self->dev);
	close(self->tx);
	close(self->rx);
	free(self->expect);
}

/* Sends everything from offset on through a blocking socket, checking the receiver. */
static void send_and_check(struct __test_metadata *_metadata, FIXTURE_DATA(tx) *self,
			   __u64 offset)
{
	size_t want = self->total - offset;
	struct kiovec_reader r;

	ASSERT_EQ(0, kiovec_reader_start(&r, self->rx, want));
	EXPECT_EQ((long)want, transmit(self->dev, self->tx, offset, 0));
	ASSERT_EQ(0, kiovec_reader_join(&r));
	ASSERT_EQ(want, r.got);
	EXPECT_EQ(0, memcmp(r.buf, self->expect + offset, want));
	free(r.buf);
}

TEST_F(tx, header_and_pinned_body)
{
	send_and_check(_metadata, self, 0);
}

TEST_F(tx, header_only)
{
	int dev = kiovec_open();
	char got[sizeof(HDR)];

	ASSERT_LE(0, dev);
	ASSERT_EQ((ssize_t)strlen(HDR), write(dev, HDR, strlen(HDR)));
	ASSERT_EQ((long)strlen(HDR), transmit(dev, self->tx, 0, 0));
	ASSERT_EQ(strlen(HDR), kiovec_recv_exact(self->rx, got, strlen(HDR), 5000));
	EXPECT_EQ(0, memcmp(got, HDR, strlen(HDR)));
	close(dev);
}

TEST_F(tx, resume_from_offsets)
{
	send_and_check(_metadata, self, 1);
	send_and_check(_metadata, self, strlen(HDR));		/* exactly at the body */
	send_and_check(_metadata, self, self->total - 1);	/* the last byte */
	send_and_check(_metadata, self, 3 * self->pagesz + 5);	/* mid-page, mid-segment */
}

TEST_F(tx, offset_at_or_past_end_sends_nothing)
{
	EXPECT_EQ(0, transmit(self->dev, self->tx, self->total, 0));
	EXPECT_EQ(0, transmit(self->dev, self->tx, 1ULL << 63, 0));
}

TEST_F(tx, empty_container_sends_nothing)
{
	int dev = kiovec_open();

	ASSERT_LE(0, dev);
	EXPECT_EQ(0, transmit(dev, self->tx, 0, 0));
	close(dev);
}

/* A cached response: sent again and again, the container does not change. */
TEST_F_TIMEOUT(tx, same_container_to_100_sockets, 180)
{
	struct kiovec_stat before, after;

	KIOVEC_STAT(self->dev, before);
	for (int i = 0; i < 100; i++) {
		struct kiovec_reader r;
		int t, rx;

		ASSERT_EQ(0, kiovec_tcp_pair(&t, &rx));
		ASSERT_EQ(0, kiovec_reader_start(&r, rx, self->total));
		EXPECT_EQ((long)self->total, transmit(self->dev, t, 0, 0)) TH_LOG("socket %d", i);
		ASSERT_EQ(0, kiovec_reader_join(&r));
		ASSERT_EQ(self->total, r.got) TH_LOG("socket %d", i);
		ASSERT_EQ(0, memcmp(r.buf, self->expect, self->total)) TH_LOG("socket %d", i);
		free(r.buf);
		close(t);
		close(rx);
	}
	KIOVEC_STAT(self->dev, after);
	EXPECT_EQ(before.bytes, after.bytes);
	EXPECT_EQ(before.segments, after.segments);
}

/* The stack keeps its own page references: closing everything before the peer reads is fine. */
TEST_F(tx, close_container_and_unmap_before_receive)
{
	struct kiovec_reader r;
	long n;

	/* Hand the stack what it takes without blocking; nothing has been read yet. */
	n = transmit(self->dev, self->tx, 0, KIOVEC_TX_DONTWAIT);
	ASSERT_LT(0, n);
	ASSERT_EQ(0, close(self->dev));
	self->dev = -1;
	ASSERT_EQ(0, munmap(self->body, self->bodylen));
	ASSERT_EQ(0, kiovec_reader_start(&r, self->rx, n));
	ASSERT_EQ(0, kiovec_reader_join(&r));
	ASSERT_EQ((size_t)n, r.got);
	EXPECT_EQ(0, memcmp(r.buf, self->expect, n));
	free(r.buf);
}

TEST_F(tx, not_a_socket_enotsock)
{
	int pfd[2], mfd = memfd_create("kiovec-test", MFD_CLOEXEC);

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_EQ(-1, transmit(self->dev, mfd, 0, 0));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, transmit(self->dev, pfd[1], 0, 0));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, transmit(self->dev, self->dev, 0, 0));
	EXPECT_EQ(ENOTSOCK, errno);
	close(mfd);
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(tx, bad_fd_ebadf)
{
	int fd = dup(self->tx);

	EXPECT_EQ(-1, transmit(self->dev, -1, 0, 0));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-1, transmit(self->dev, fd, 0, 0));
	EXPECT_EQ(EBADF, errno);
}

/* Documented: TCP only; other socket types get EOPNOTSUPP rather than a silent copy. */
TEST_F(tx, udp_and_unix_sockets_eopnotsupp)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), us[2];

	ASSERT_LE(0, u);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, us));
	EXPECT_EQ(-1, transmit(self->dev, u, 0, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, transmit(self->dev, us[0], 0, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(u);
	close(us[0]);
	close(us[1]);
}

/* As send(2) on TCP: an unconnected socket is EPIPE. */
TEST_F(tx, unconnected_tcp_epipe)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, s);
	EXPECT_EQ(-1, transmit(self->dev, s, 0, KIOVEC_TX_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	close(s);
}

TEST_F(tx, unknown_flags_and_reserved_einval)
{
	struct kiovec_transmit req = { .fd = self->tx };

	req.flags = 1u << 30;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EINVAL, errno);
	/* A header or range pointer without its flag. */
	req.flags = 0;
	req.hdr = 1;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EINVAL, errno);
	req.hdr = 0;
	req.range = 1;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &req));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, NULL));
	EXPECT_EQ(EFAULT, errno);
}

static volatile sig_atomic_t sigpipes, alarms;
static void on_sigpipe(int sig) { sigpipes++; }
static void on_alarm(int sig) { alarms++; }

/* The peer goes away: EPIPE or ECONNRESET; SIGPIPE only without KIOVEC_TX_NOSIGNAL. */
TEST_F(tx, peer_closed_epipe_and_sigpipe)
{
	struct sigaction sa = { .sa_handler = on_sigpipe };
	long ret = 0;
	int i;

	ASSERT_EQ(0, sigaction(SIGPIPE, &sa, NULL));
	ASSERT_EQ(0, close(self->rx));
	self->rx = -1;
	/* The first sends may still be taken; the peer's RST then breaks the connection. */
	for (i = 0; i < 100 && ret >= 0; i++) {
		ret = transmit(self->dev, self->tx, 0, KIOVEC_TX_NOSIGNAL);
		if (ret >= 0)
			usleep(10000);
	}
	ASSERT_EQ(-1, ret);
	EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET) TH_LOG("errno %d", errno);
	EXPECT_EQ(0, sigpipes);
	sigpipes = 0;
	ret = transmit(self->dev, self->tx, 0, 0);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sigpipes);
}

struct closer {
	int fd;
};

static void *close_soon(void *arg)
{
	struct closer *c = arg;

	usleep(300000);
	close(c->fd);
	return NULL;
}

/*
 * The peer goes away in the middle of a blocking transmit: the call returns what was sent
 * before (or EPIPE/ECONNRESET if nothing was), and resuming from there fails cleanly.
 */
TEST_F_TIMEOUT(tx, peer_closes_mid_send, 60)
{
	struct closer c = { .fd = self->rx };
	pthread_t th;
	long n;

	set_bufs(self->tx, self->rx, 16384);
	ASSERT_EQ(0, pthread_create(&th, NULL, close_soon, &c));
	/* Blocks once the buffers are full: the receiver never reads. */
	n = transmit(self->dev, self->tx, 0, KIOVEC_TX_NOSIGNAL);
	ASSERT_EQ(0, pthread_join(th, NULL));
	self->rx = -1;
	if (n < 0) {
		EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET) TH_LOG("errno %d", errno);
		n = 0;
	}
	EXPECT_GT((long)self->total, n);
	TH_LOG("%ld of %zu bytes sent before the peer went away", n, self->total);
	EXPECT_EQ(-1, transmit(self->dev, self->tx, n, KIOVEC_TX_NOSIGNAL));
	EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET) TH_LOG("errno %d", errno);
}

/*
 * A non-blocking socket with a full buffer takes part of the container, then EAGAIN;
 * resuming at the returned offsets completes it with nothing lost or doubled.
 */
static void nonblocking_resume(struct __test_metadata *_metadata, FIXTURE_DATA(tx) *self,
			       bool o_nonblock)
{
	unsigned char *got = malloc(self->total);
	size_t sent = 0, rcvd = 0;
	int short_sends = 0, eagains = 0, rounds = 0;

	ASSERT_NE(NULL, got);
	set_bufs(self->tx, self->rx, 16384);
	if (o_nonblock)
		ASSERT_EQ(0, fcntl(self->tx, F_SETFL, O_NONBLOCK));
	while (rcvd < self->total && rounds++ < 100000) {
		if (sent < self->total) {
			long n = transmit(self->dev, self->tx, sent,
					  o_nonblock ? 0 : KIOVEC_TX_DONTWAIT);

			if (n < 0) {
				ASSERT_EQ(EAGAIN, errno);
				eagains++;
			} else {
				ASSERT_LT(0, n);
				if (sent + n < self->total)
					short_sends++;
				sent += n;
			}
		}
		/* Drain only a little at a time, so that the sender keeps hitting a full buffer. */
		rcvd += kiovec_recv_exact(self->rx, got + rcvd, MIN(8192, self->total - rcvd), 100);
	}
	EXPECT_EQ(self->total, sent);
	ASSERT_EQ(self->total, rcvd);
	EXPECT_EQ(0, memcmp(got, self->expect, self->total));
	EXPECT_LT(0, short_sends);
	TH_LOG("%d short sends, %d EAGAIN", short_sends, eagains);
	free(got);
}

TEST_F_TIMEOUT(tx, nonblocking_socket_full_buffer_resumed, 120)
{
	nonblocking_resume(_metadata, self, true);
}

TEST_F_TIMEOUT(tx, dontwait_flag_full_buffer_resumed, 120)
{
	nonblocking_resume(_metadata, self, false);
}

/* A signal interrupts a blocked transmit: a short count (or EINTR), then resumed. */
TEST_F_TIMEOUT(tx, signal_during_blocking_send_resumed, 60)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { .it_value = { .tv_usec = 300000 } };
	struct kiovec_reader r;
	long n;

	set_bufs(self->tx, self->rx, 16384);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	/* Nobody reads yet: the send blocks once the buffers are full, until the alarm. */
	n = transmit(self->dev, self->tx, 0, 0);
	EXPECT_EQ(1, alarms);
	if (n < 0) {
		ASSERT_EQ(EINTR, errno);
		n = 0;
	}
	ASSERT_GT((long)self->total, n);
	ASSERT_EQ(0, kiovec_reader_start(&r, self->rx, self->total));
	while ((size_t)n < self->total) {
		long more = transmit(self->dev, self->tx, n, 0);

		ASSERT_LT(0, more);
		n += more;
	}
	ASSERT_EQ(0, kiovec_reader_join(&r));
	ASSERT_EQ(self->total, r.got);
	EXPECT_EQ(0, memcmp(r.buf, self->expect, self->total));
	free(r.buf);
}

struct sender {
	int dev, tx, rx;
	size_t total;
	const unsigned char *expect;
	long sent;
	size_t got;
	bool same;
};

static void *send_one(void *arg)
{
	struct sender *s = arg;
	struct kiovec_reader r;

	if (kiovec_reader_start(&r, s->rx, s->total))
		return NULL;
	s->sent = transmit(s->dev, s->tx, 0, 0);
	kiovec_reader_join(&r);
	s->got = r.got;
	s->same = r.got == s->total && !memcmp(r.buf, s->expect, s->total);
	free(r.buf);
	return NULL;
}

TEST_F_TIMEOUT(tx, threads_transmit_one_container_at_once, 60)
{
	struct sender s[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		s[i] = (struct sender){ .dev = self->dev, .total = self->total, .expect = self->expect };
		ASSERT_EQ(0, kiovec_tcp_pair(&s[i].tx, &s[i].rx));
	}
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, send_one, &s[i]));
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(th[i], NULL));
		EXPECT_EQ((long)self->total, s[i].sent) TH_LOG("thread %d", i);
		EXPECT_TRUE(s[i].same) TH_LOG("thread %d got %zu", i, s[i].got);
		close(s[i].tx);
		close(s[i].rx);
	}
}

/* One call sends the container to many sockets, with a result per socket. */
TEST_F_TIMEOUT(tx, batch_to_many_sockets, 120)
{
	enum { N = 10, BAD = 4 };
	struct kiovec_target t[N];
	struct kiovec_transmit_batch b = { .targets = (uintptr_t)t, .count = N,
					   .flags = KIOVEC_TX_NOSIGNAL };
	struct kiovec_reader r[N];
	int rx[N];

	for (int i = 0; i < N; i++) {
		int fd;

		ASSERT_EQ(0, kiovec_tcp_pair(&fd, &rx[i]));
		t[i] = (struct kiovec_target){ .fd = fd, .offset = i, .result = 12345 };
		ASSERT_EQ(0, kiovec_reader_start(&r[i], rx[i], self->total - i));
	}
	close(t[BAD].fd);		/* one bad target does not stop the others */
	t[BAD].fd = -1;
	ASSERT_EQ(N, ioctl(self->dev, KIOVEC_IOC_TRANSMIT_BATCH, &b));
	for (int i = 0; i < N; i++) {
		/* The bad target's peer was closed: its reader sees EOF and gets nothing. */
		ASSERT_EQ(0, kiovec_reader_join(&r[i]));
		if (i == BAD) {
			EXPECT_EQ(-EBADF, t[i].result);
			EXPECT_EQ(0, r[i].got);
		} else {
			EXPECT_EQ((long)(self->total - i), t[i].result) TH_LOG("target %d", i);
			ASSERT_EQ(self->total - i, r[i].got) TH_LOG("target %d", i);
			EXPECT_EQ(0, memcmp(r[i].buf, self->expect + i, self->total - i)) TH_LOG("target %d", i);
			close(t[i].fd);
		}
		close(rx[i]);
		free(r[i].buf);
	}
}

TEST_F(tx, batch_bad_arguments)
{
	struct kiovec_target t = { .fd = self->tx };
	struct kiovec_transmit_batch b = { .targets = (uintptr_t)&t, .count = 0 };

	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT_BATCH, &b));
	EXPECT_EQ(EINVAL, errno);
	b.count = 1025;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT_BATCH, &b));
	EXPECT_EQ(EINVAL, errno);
	b.count = 1;
	b.flags = 1u << 20;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT_BATCH, &b));
	EXPECT_EQ(EINVAL, errno);
	b.flags = 0;
	b.targets = 8;
	EXPECT_EQ(-1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT_BATCH, &b));
	EXPECT_EQ(EFAULT, errno);
	/* A target's reserved field: that target fails, nothing is sent to it. */
	b.targets = (uintptr_t)&t;
	t.reserved0 = 1;
	EXPECT_EQ(1, ioctl(self->dev, KIOVEC_IOC_TRANSMIT_BATCH, &b));
	EXPECT_EQ(-EINVAL, t.result);
}

/* The container travels to another process with SCM_RIGHTS and is transmitted there. */
TEST_F(tx, container_passed_with_scm_rights)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 'x';
	struct iovec io = { &c, 1 };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	unsigned char *got = malloc(self->total);
	int sv[2];
	pid_t pid;

	ASSERT_NE(NULL, got);
	set_bufs(self->tx, self->rx, 1 << 20);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int dev = -1;

		close(sv[0]);
		close(self->dev);	/* only the one that arrives counts */
		if (recvmsg(sv[1], &mh, 0) != 1 || !CMSG_FIRSTHDR(&mh))
			_exit(10);
		memcpy(&dev, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		_exit(transmit(dev, self->tx, 0, 0) == (long)self->total ? 0 : 11);
	}
	close(sv[1]);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &self->dev, sizeof(int));
	ASSERT_EQ(1, sendmsg(sv[0], &mh, 0));
	ASSERT_EQ(0, close(self->dev));
	self->dev = -1;
	ASSERT_EQ(self->total, kiovec_recv_exact(self->rx, got, self->total, 10000));
	EXPECT_EQ(0, memcmp(got, self->expect, self->total));
	EXPECT_EQ(0, kiovec_wait(pid));
	close(sv[0]);
	free(got);
}

TEST_HARNESS_MAIN
