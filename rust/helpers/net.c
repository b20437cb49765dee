// SPDX-License-Identifier: GPL-2.0

#include <linux/net.h>
#include <net/sock.h>

bool kiovec_helper_sock_is_tcp(struct socket *sock)
{
	return sock->sk && sk_is_tcp(sock->sk);
}
