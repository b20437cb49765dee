// SPDX-License-Identifier: GPL-2.0
/*
 * kiovec-demo: what /dev/kiovec does so far, shown step by step. Run by `make demo` in the
 * release kernel's VM; usable by hand wherever the module is loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kiovec.h>

static void die(const char *what)
{
	fprintf(stderr, "kiovec-demo: %s: %s\n", what, strerror(errno));
	exit(1);
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
