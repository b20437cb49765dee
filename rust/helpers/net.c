// SPDX-License-Identifier: GPL-2.0

#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>

bool kiovec_helper_sock_is_tcp(struct socket *sock)
{
	return sock->sk && sk_is_tcp(sock->sk);
}

/* Sends @len bytes of user memory at @buf, copied by the stack as send(2) copies them. */
int kiovec_helper_send_user(struct socket *sock, void __user *buf, size_t len,
			    unsigned int flags)
{
	struct msghdr msg = { .msg_flags = flags };
	int ret;

	ret = import_ubuf(ITER_SOURCE, buf, len, &msg.msg_iter);
	if (ret)
		return ret;
	return sock_sendmsg(sock, &msg);
}
