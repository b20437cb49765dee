// SPDX-License-Identifier: GPL-2.0
/*
 * kiovec-bench: HTTP-style responses (a ~200-byte header + a file body) sent over loopback
 * TCP three ways, all in one run, with the receiver discarding through recv(MSG_TRUNC):
 *
 *   read+write   pread() the body into a buffer, writev() header + buffer
 *   sendfile     TCP_CORK, writev() the header, sendfile() the body, uncork (nginx)
 *   kiovec       one container (header written, body added by page-cache reference),
 *                built once and sent for every request with KIOVEC_IOC_TRANSMIT
 *
 * For each body size it prints requests/s and the sender's CPU seconds per GB, each also as
 * a ratio to the best of the three. Not a test: numbers depend on the machine; under QEMU TCG
 * copies cost far more than on hardware, so compare the zero-copy paths with each other.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/kiovec.h>

#include "kiovec_loopback.h"

enum method { READ_WRITE, SENDFILE, KIOVEC, NR_METHODS };
static const char *const names[] = { "read+write", "sendfile+cork", "kiovec" };

static void die(const char *what)
{
	fprintf(stderr, "kiovec-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void tcp_pair(int *tx, int *rx)
{
	if (kiovec_tcp_pair(tx, rx))
		die("loopback TCP pair");
}

struct sink {
	int fd;
	size_t total;
};

/* Discards exactly total bytes without copying them. */
static void *drain(void *arg)
{
	struct sink *s = arg;
	size_t got = 0;

	while (got < s->total) {
		ssize_t n = recv(s->fd, NULL, s->total - got > (1 << 30) ? 1 << 30 : s->total - got,
				 MSG_TRUNC);

		if (n <= 0)
			die("recv");
		got += n;
	}
	return NULL;
}

static void write_all(int fd, const struct iovec *iov0, int cnt)
{
	struct iovec iov[2];
	ssize_t n;

	memcpy(iov, iov0, cnt * sizeof(*iov));
	while (cnt) {
		n = writev(fd, iov, cnt);
		if (n < 0)
			die("writev");
		while (cnt && (size_t)n >= iov[0].iov_len) {
			n -= iov[0].iov_len;
			iov[0] = iov[1];
			cnt--;
		}
		if (cnt) {
			iov[0].iov_base = (char *)iov[0].iov_base + n;
			iov[0].iov_len -= n;
		}
	}
}

struct run {
	double reqs_per_s, cpu_s_per_gb;
};

static struct run measure(enum method m, int body_fd, size_t body, const char *hdr, int requests)
{
	size_t hlen = strlen(hdr), resp = hlen + body;
	struct sink s = { .total = resp * requests };
	char *buf = NULL;
	int tx, dev = -1, on = 1, off = 0;
	double t0, c0, t1, c1;
	pthread_t th;

	tcp_pair(&tx, &s.fd);
	if (m == READ_WRITE && !(buf = malloc(body)))
		die("malloc");
	if (m == KIOVEC) {
		struct kiovec_add_file af = { .fd = body_fd, .len = body };

		dev = open("/dev/kiovec", O_RDWR);
		if (dev < 0 || write(dev, hdr, hlen) != (ssize_t)hlen ||
		    ioctl(dev, KIOVEC_IOC_ADD_FILE, &af))
			die("building the container");
	}
	if (pthread_create(&th, NULL, drain, &s))
		die("pthread_create");
	t0 = now();
	c0 = thread_cpu();
	for (int i = 0; i < requests; i++) {
		switch (m) {
		case READ_WRITE: {
			struct iovec iov[2] = { { (void *)hdr, hlen }, { buf, body } };

			if (pread(body_fd, buf, body, 0) != (ssize_t)body)
				die("pread");
			write_all(tx, iov, 2);
			break;
		}
		case SENDFILE: {
			struct iovec iov[1] = { { (void *)hdr, hlen } };
			off_t pos = 0;

			setsockopt(tx, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
			write_all(tx, iov, 1);
			while ((size_t)pos < body)
				if (sendfile(tx, body_fd, &pos, body - pos) <= 0)
					die("sendfile");
			setsockopt(tx, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
			break;
		}
		case KIOVEC: {
			struct kiovec_transmit t = { .fd = tx };

			for (size_t sent = 0; sent < resp;) {
				long n;

				t.offset = sent;
				n = ioctl(dev, KIOVEC_IOC_TRANSMIT, &t);
				if (n <= 0)
					die("KIOVEC_IOC_TRANSMIT");
				sent += n;
			}
			break;
		}
		default:
			break;
		}
	}
	c1 = thread_cpu();
	pthread_join(th, NULL);
	t1 = now();
	close(tx);
	close(s.fd);
	if (dev >= 0)
		close(dev);
	free(buf);
	return (struct run){
		.reqs_per_s = requests / (t1 - t0),
		.cpu_s_per_gb = (c1 - c0) / ((double)resp * requests / 1e9),
	};
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20, 64 << 20 };
	char hdr[256];
	double budget = argc > 1 ? atof(argv[1]) : 256e6;	/* bytes per measurement */

	/* About 200 bytes, as a real server's response header. */
	snprintf(hdr, sizeof(hdr),
		 "HTTP/1.1 200 OK\r\nServer: kiovec-bench\r\nDate: Wed, 25 Nov 2026 00:00:00 GMT\r\n"
		 "Content-Type: application/octet-stream\r\nCache-Control: max-age=3600\r\n"
		 "Connection: keep-alive\r\nContent-Length: %-10s\r\n\r\n", "0");
	printf("kiovec-bench: header %zu bytes, body in a memfd (page cache), loopback TCP,\n"
	       "receiver recv(MSG_TRUNC); ratios are to the best of the three (higher req/s,\n"
	       "lower CPU/GB is better)\n\n", strlen(hdr));
	printf("%-8s %-14s %12s %8s %14s %8s\n", "body", "method", "req/s", "ratio", "CPU s/GB", "ratio");
	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t body = sizes[i];
		int requests = (int)(budget / (body + strlen(hdr)));
		struct run r[NR_METHODS];
		double best_rps = 0, best_cpu = 1e30;
		int fd = memfd_create("kiovec-bench-body", 0);
		char *data = malloc(body);

		if (fd < 0 || !data)
			die("memfd");
		memset(data, 'k', body);
		if (write(fd, data, body) != (ssize_t)body)
			die("write body");
		free(data);
		if (requests < 8)
			requests = 8;
		for (int m = 0; m < NR_METHODS; m++) {
			measure(m, fd, body, hdr, requests / 10 + 1);	/* warm up */
			r[m] = measure(m, fd, body, hdr, requests);
			if (r[m].reqs_per_s > best_rps)
				best_rps = r[m].reqs_per_s;
			if (r[m].cpu_s_per_gb < best_cpu)
				best_cpu = r[m].cpu_s_per_gb;
		}
		for (int m = 0; m < NR_METHODS; m++)
			printf("%-8s %-14s %12.0f %7.2fx %14.3f %7.2fx\n",
			       body >= 1 << 20 ? (body >> 20 == 1 ? "1 MiB" : "64 MiB") :
			       body == 4096 ? "4 KiB" : "64 KiB",
			       names[m], r[m].reqs_per_s, r[m].reqs_per_s / best_rps,
			       r[m].cpu_s_per_gb, r[m].cpu_s_per_gb / best_cpu);
		printf("%-8s kiovec vs sendfile+cork: %.2fx the requests/s, %.2fx the CPU per GB\n\n", "",
		       r[KIOVEC].reqs_per_s / r[SENDFILE].reqs_per_s,
		       r[KIOVEC].cpu_s_per_gb / r[SENDFILE].cpu_s_per_gb);
		close(fd);
	}
	return 0;
}
