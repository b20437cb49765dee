// SPDX-License-Identifier: GPL-2.0
/*
 * kiovec-httpd: serves one HTTP response from a kiovec container over loopback, to several
 * clients in turn, and checks each response byte for byte from the client's side.
 *
 * The response is built once: the header is write()n into the container, the body is a
 * file range added by page-cache reference. Every client gets it with one
 * KIOVEC_IOC_TRANSMIT: header and file pages go from the page cache to the socket with no
 * copy, and the container is never rebuilt (a cached response).
 *
 *   kiovec-httpd [FILE [CLIENTS]]    (default: a generated 1 MiB body, 3 clients)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
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
	const unsigned char *expect;
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

	/* The response, built once. */
	hlen = snprintf(header, sizeof(header),
			"HTTP/1.1 200 OK\r\nServer: kiovec-httpd\r\nContent-Type: text/plain\r\n"
			"Content-Length: %zu\r\nConnection: close\r\n\r\n", body);
	dev = open("/dev/kiovec", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("open /dev/kiovec");
	if (write(dev, header, hlen) != (ssize_t)hlen)
		die("write header");
	af.fd = body_fd;
	af.len = body;
	if (ioctl(dev, KIOVEC_IOC_ADD_FILE, &af))
		die("KIOVEC_IOC_ADD_FILE");
	total = hlen + body;

	/* What every client must receive: the header, then the file as read(2) gives it. */
	expect = malloc(total);
	if (!expect)
		die("malloc");
	memcpy(expect, header, hlen);
	if (pread(body_fd, expect + hlen, body, 0) != (ssize_t)body)
		die("pread");

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&addr, sizeof(addr)) || listen(l, 16) ||
	    getsockname(l, (void *)&addr, &alen))
		die("listen");
	printf("kiovec-httpd: serving %zu-byte header + %zu-byte body on 127.0.0.1:%d from one container\n",
	       hlen, body, ntohs(addr.sin_port));

	for (int i = 0; i < clients; i++) {
		struct client c = { .addr = addr, .expect = expect, .len = total };
		struct kiovec_transmit tx = { .flags = KIOVEC_TX_NOSIGNAL };
		char req[1024];
		pthread_t th;
		size_t sent = 0;
		int s;

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
		printf("kiovec-httpd: client %d: %zu bytes sent with KIOVEC_IOC_TRANSMIT, received %s\n",
		       i + 1, sent, c.ok ? "byte for byte as expected" : "WRONG");
		failed += !c.ok;
	}
	close(l);
	close(dev);
	free(expect);
	return failed ? 1 : 0;
}
