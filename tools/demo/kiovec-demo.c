// SPDX-License-Identifier: GPL-2.0
/*
 * kiovec-demo: what /dev/kiovec does so far, shown step by step. Run by `make demo` in the
 * release kernel's VM; usable by hand wherever the module is loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kiovec.h>

#include "kiovec_loopback.h"

static void die(const char *what)
{
	fprintf(stderr, "kiovec-demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void tcp_pair(int *tx, int *rx)
{
	if (kiovec_tcp_pair(tx, rx))
		die("loopback TCP pair");
}

static void show_stat(int fd, const char *when)
{
	struct kiovec_stat st;

	if (ioctl(fd, KIOVEC_IOC_STAT, &st))
		die("KIOVEC_IOC_STAT");
	printf("  %-28s %6llu bytes in %u segment(s), %u page(s) of its own, %u pinned\n",
	       when, (unsigned long long)st.bytes, st.segments, st.owned_pages, st.pinned_pages);
}

int main(void)
{
	static const char header[] =
		"HTTP/1.1 200 OK\r\nServer: kiovec-demo\r\nContent-Type: text/plain\r\n";
	static const char length[] = "Content-Length: 0\r\n\r\n";
	struct kiovec_info info;
	int fd, other;

	fd = open("/dev/kiovec", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/kiovec");
	if (ioctl(fd, KIOVEC_IOC_INFO, &info))
		die("KIOVEC_IOC_INFO");
	printf("kiovec ABI %u: page size %u, up to %llu bytes and %u segments per container, "
	       "%u iovecs per call, features %#llx\n",
	       info.abi_version, info.page_size, (unsigned long long)info.max_bytes,
	       info.max_segments, info.max_iovecs, (unsigned long long)info.features);

	printf("a container, as a web server fills it:\n");
	show_stat(fd, "after open:");
	if (write(fd, header, strlen(header)) != (ssize_t)strlen(header))
		die("write header");
	show_stat(fd, "after write(header):");
	if (write(fd, length, strlen(length)) != (ssize_t)strlen(length))
		die("write length");
	show_stat(fd, "after write(length):");

	{
		/* A body in user memory, pinned in place: a page-crossing range, two segments. */
		static char body[8192] __attribute__((aligned(4096)));
		struct iovec iov = { body + 4000, 200 };
		struct kiovec_add_user add = { .iov = (unsigned long)&iov, .iovcnt = 1 };
		char back[512];
		struct kiovec_copy_out out = { .buf = (unsigned long)back, .len = sizeof(back) };
		long n;

		memset(body + 4000, 'b', 200);
		if (ioctl(fd, KIOVEC_IOC_ADD_USER, &add))
			die("KIOVEC_IOC_ADD_USER");
		printf("  KIOVEC_IOC_ADD_USER:         %llu bytes at offset %llu, %u segments, %u pages pinned\n",
		       (unsigned long long)add.bytes, (unsigned long long)add.offset, add.segments,
		       add.pinned_pages);
		show_stat(fd, "after ADD_USER(body):");
		body[4000] = 'B';	/* pinned, not copied: the container sees this store */
		n = ioctl(fd, KIOVEC_IOC_COPY_OUT, &out);
		if (n < 0)
			die("KIOVEC_IOC_COPY_OUT");
		printf("  KIOVEC_IOC_COPY_OUT:         %ld bytes, header intact: %s, body starts with '%c'\n",
		       n, memcmp(back, header, strlen(header)) ? "no" : "yes",
		       back[strlen(header) + strlen(length)]);
	}

	{
		/* A file range: page-cache pages referenced, not copied; the fd is closed at once. */
		static const char text[] = "...and a file's page cache after it.\n";
		int mfd = memfd_create("kiovec-demo", 0);
		struct kiovec_add_file af = { .len = strlen(text) };

		if (mfd < 0 || write(mfd, text, strlen(text)) != (ssize_t)strlen(text))
			die("memfd");
		af.fd = mfd;
		if (ioctl(fd, KIOVEC_IOC_ADD_FILE, &af))
			die("KIOVEC_IOC_ADD_FILE");
		close(mfd);
		printf("  KIOVEC_IOC_ADD_FILE:         %zu bytes at offset %llu, %u segment, fd closed\n",
		       strlen(text), (unsigned long long)af.at, af.segments);
		show_stat(fd, "after ADD_FILE(memfd):");
	}

	{
		/* The response goes to a TCP socket twice: header pages and pinned body, no copy. */
		char want[512], got[512];
		struct kiovec_copy_out out = { .buf = (unsigned long)want, .len = sizeof(want) };
		long len = ioctl(fd, KIOVEC_IOC_COPY_OUT, &out);

		for (int round = 1; round <= 2; round++) {
			struct kiovec_transmit tx = { .flags = KIOVEC_TX_NOSIGNAL };
			int s, r;
			long sent, n = 0, m;

			tcp_pair(&s, &r);
			tx.fd = s;
			sent = ioctl(fd, KIOVEC_IOC_TRANSMIT, &tx);
			if (sent < 0)
				die("KIOVEC_IOC_TRANSMIT");
			while (n < sent && (m = read(r, got + n, sizeof(got) - n)) > 0)
				n += m;
			printf("  KIOVEC_IOC_TRANSMIT #%d:      %ld bytes sent, %ld received over TCP, %s\n",
			       round, sent, n,
			       n == len && !memcmp(got, want, len) ? "byte for byte the container" : "DIFFERENT");
			close(s);
			close(r);
		}
	}

	other = open("/dev/kiovec", O_RDWR | O_CLOEXEC);
	if (other < 0)
		die("open /dev/kiovec again");
	printf("a second open is a separate container:\n");
	show_stat(other, "second container:");
	close(other);

	if (ioctl(fd, 0xdead, 0) != -1 || errno != ENOTTY)
		die("an unknown ioctl did not fail with ENOTTY");
	printf("an unknown ioctl fails with ENOTTY, as it should\n");
	if (ioctl(fd, KIOVEC_IOC_RESET, 0))
		die("KIOVEC_IOC_RESET");
	show_stat(fd, "after KIOVEC_IOC_RESET:");
	close(fd);
	return 0;
}
