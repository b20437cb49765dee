/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A connected loopback TCP pair, for the kiovec examples, benchmark and tests: everything
 * they send stays on 127.0.0.1.
 */
#ifndef KIOVEC_LOOPBACK_H
#define KIOVEC_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* *tx sends, *rx receives; 0, or -1 with errno set. */
static inline int kiovec_tcp_pair(int *tx, int *rx)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (void *)&a, &alen))
		return -1;
	*tx = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*tx < 0 || connect(*tx, (void *)&a, sizeof(a)))
		return -1;
	*rx = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	return *rx < 0 ? -1 : 0;
}

#endif /* KIOVEC_LOOPBACK_H */
