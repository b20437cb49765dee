// SPDX-License-Identifier: GPL-2.0
/*
 * kiovec-httpd: serves one file over loopback to several clients in turn, each response with
 * a header of its own, and checks each response byte for byte from the client's side.
 *
 * The body is cached once: a container holding the file range, added by page-cache
 * reference. Every client gets its own header (a request number, as a real server puts a
 * Date or an ETag there) and the cached body in one KIOVEC_IOC_TRANSMIT with
 * KIOVEC_TX_HEADER: the header is copied by the socket as send(2) would, the file pages go
 * from the page cache to the socket with no copy, MSG_MORE between them so that TCP packs
 * both, and the container is never rebuilt.
 *
 *   kiovec-httpd [FILE [CLIENTS]]    (default: a generated 1 MiB body, 3 clients)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kiovec.h>

static void die(const char *what)
{
	fprintf(stderr, "kiovec-httpd: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct client {
	struct sockaddr_in addr;
	unsigned char *expect;
	size_t len;
	int ok;
};

/* A client: sends a request, reads the whole response, compares it with what it expects. */
static void *client(void *arg)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct client *c = arg;
	unsigned char *got = malloc(c->len + 1);
	size_t n = 0;
	ssize_t m;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (!got || s < 0 || connect(s, (void *)&c->addr, sizeof(c->addr)) ||
	    write(s, req, strlen(req)) != (ssize_t)strlen(req))
		die("client");
	/* Read until the server closes: nothing may follow the response either. */
	while ((m = read(s, got + n, c->len + 1 - n)) > 0)
		n += m;
	c->ok = n == c->len && !memcmp(got, c->expect, c->len);
	close(s);
	free(got);
	return NULL;
}

int main(int argc, char **argv)
{
	int clients = argc > 2 ? atoi(argv[2]) : 3, body_fd, dev, l;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	struct kiovec_add_file af = { 0 };
	unsigned char *expect;
	char header[256];
	size_t body, hlen, total;
	struct stat st;
	int failed = 0;

	if (argc > 1) {
		body_fd = open(argv[1], O_RDONLY);
		if (body_fd < 0 || fstat(body_fd, &st))
			die(argv[1]);
		body = st.st_size;
	} else {
		unsigned char *gen;

		body = 1 << 20;
		body_fd = memfd_create("kiovec-httpd-body", 0);
		gen = malloc(body);
		if (body_fd < 0 || !gen)
			die("memfd");
		for (size_t i = 0; i < body; i++)
			gen[i] = "kiovec zero-copy\n"[i % 17];
		if (write(body_fd, gen, body) != (ssize_t)body)
			die("write body");
		free(gen);
	}

	/* The body, cached once. */
	dev = open("/dev/kiovec", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("open /dev/kiovec");
	af.fd = body_fd;
	af.len = body;
	if (ioctl(dev, KIOVEC_IOC_ADD_FILE, &af))
		die("KIOVEC_IOC_ADD_FILE");

	/* What every client must receive after its header: the file as read(2) gives it. */
	expect = malloc(sizeof(header) + body);
	if (!expect)
		die("malloc");
	if (pread(body_fd, expect + sizeof(header), body, 0) != (ssize_t)body)
		die("pread");

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&addr, sizeof(addr)) || listen(l, 16) ||
	    getsockname(l, (void *)&addr, &alen))
		die("listen");
	printf("kiovec-httpd: serving a %zu-byte body cached in one container on 127.0.0.1:%d,\n"
	       "              each response with a header of its own (KIOVEC_TX_HEADER)\n",
	       body, ntohs(addr.sin_port));

	for (int i = 0; i < clients; i++) {
		struct kiovec_iovec hdr = { (uintptr_t)header };
		struct kiovec_transmit tx = { .flags = KIOVEC_TX_NOSIGNAL | KIOVEC_TX_HEADER,
					      .hdr = (uintptr_t)&hdr };
		struct client c = { .addr = addr };
		char req[1024];
		pthread_t th;
		size_t sent = 0;
		int s;

		hlen = snprintf(header, sizeof(header),
				"HTTP/1.1 200 OK\r\nServer: kiovec-httpd\r\nX-Request: %d\r\n"
				"Content-Type: text/plain\r\nContent-Length: %zu\r\n"
				"Connection: close\r\n\r\n", i + 1, body);
		hdr.len = hlen;
		total = hlen + body;
		/* The expected response: this header, then the body. */
		memmove(expect + sizeof(header) - hlen, header, hlen);
		c.expect = expect + sizeof(header) - hlen;
		c.len = total;

		if (pthread_create(&th, NULL, client, &c))
			die("pthread_create");
		s = accept(l, NULL, NULL);
		if (s < 0 || read(s, req, sizeof(req)) <= 0)
			die("accept/read request");
		tx.fd = s;
		while (sent < total) {
			long n;

			tx.offset = sent;
			n = ioctl(dev, KIOVEC_IOC_TRANSMIT, &tx);
			if (n <= 0)
				die("KIOVEC_IOC_TRANSMIT");
			sent += n;
		}
		close(s);
		pthread_join(th, NULL);
		printf("kiovec-httpd: client %d: %zu-byte header + %zu-byte body in one "
		       "KIOVEC_IOC_TRANSMIT, received %s\n",
		       i + 1, hlen, body, c.ok ? "byte for byte as expected" : "WRONG");
		failed += !c.ok;
	}
	close(l);
	close(dev);
	free(expect);
	return failed ? 1 : 0;
}
