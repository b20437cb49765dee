// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl ABI from a 32-bit program (built with -m32, run under IA32 emulation): every
 * struct has the same layout for i386 and x86_64, so the same command numbers work through
 * compat_ioctl, and what goes in comes out byte for byte. Before, every ioctl was ENOTTY.
 */
#include "../kiovec_test.h"

#include <sys/stat.h>

FIXTURE(c32)
{
	int dev;
};

FIXTURE_SETUP(c32)
{
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(c32)
{
	if (self->dev >= 0)
		close(self->dev);
}

TEST_F(c32, is_32_bit)
{
	ASSERT_EQ(4, sizeof(void *));
	/* The layouts the kernel expects (checked there too, at compile time). */
	EXPECT_EQ(16, sizeof(struct kiovec_iovec));
	EXPECT_EQ(56, sizeof(struct kiovec_add_user));
	EXPECT_EQ(32, sizeof(struct kiovec_transmit));
	EXPECT_EQ(56, sizeof(struct kiovec_add_file));
	EXPECT_EQ(24, sizeof(struct kiovec_target));
}

TEST_F(c32, every_call_works)
{
	static const char hdr[] = "HTTP/1.1 200 OK\r\n\r\n";
	static char user[5000];
	struct kiovec_info info;
	struct kiovec_stat st;
	struct kiovec_iovec iov = { (uintptr_t)user, sizeof(user) };
	struct kiovec_add_user au = { .iov = (uintptr_t)&iov, .iovcnt = 1 };
	struct kiovec_add_file af = { .len = 3000 };
	struct kiovec_iovec h = { (uintptr_t)hdr, sizeof(hdr) - 1 };
	struct kiovec_transmit tx = { .flags = KIOVEC_TX_NOSIGNAL | KIOVEC_TX_HEADER,
				      .hdr = (uintptr_t)&h };
	unsigned char file[3000], *want, *got;
	size_t total = sizeof(hdr) - 1 + 3 + sizeof(user) + sizeof(file);
	struct kiovec_copy_out co;
	int mfd = memfd_create("kiovec32", 0), a, b;

	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_INFO, &info)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(KIOVEC_ABI_VERSION, info.abi_version);
	EXPECT_TRUE(info.features & KIOVEC_FEAT_COMPAT);
	ASSERT_EQ(3, write(self->dev, "abc", 3));
	kiovec_fill((unsigned char *)user, sizeof(user), 3);
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_USER, &au));
	EXPECT_EQ(3, au.offset);
	EXPECT_EQ(sizeof(user), au.bytes);
	kiovec_fill(file, sizeof(file), 4);
	ASSERT_LE(0, mfd);
	ASSERT_EQ((ssize_t)sizeof(file), write(mfd, file, sizeof(file)));
	af.fd = mfd;
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &af));
	KIOVEC_STAT(self->dev, st);
	EXPECT_EQ(3 + sizeof(user) + sizeof(file), st.bytes);

	want = malloc(total);
	got = malloc(total);
	memcpy(want, hdr, sizeof(hdr) - 1);
	memcpy(want + sizeof(hdr) - 1, "abc", 3);
	memcpy(want + sizeof(hdr) - 1 + 3, user, sizeof(user));
	memcpy(want + sizeof(hdr) - 1 + 3 + sizeof(user), file, sizeof(file));
	co = (struct kiovec_copy_out){ .buf = (uintptr_t)got, .len = total };
	EXPECT_EQ((long)st.bytes, ioctl(self->dev, KIOVEC_IOC_COPY_OUT, &co));
	EXPECT_EQ(0, memcmp(got, want + sizeof(hdr) - 1, st.bytes));

	ASSERT_EQ(0, kiovec_tcp_pair(&a, &b));
	tx.fd = a;
	EXPECT_EQ((long)total, ioctl(self->dev, KIOVEC_IOC_TRANSMIT, &tx));
	EXPECT_EQ(total, kiovec_recv_exact(b, got, total, 5000));
	EXPECT_EQ(0, memcmp(got, want, total));
	close(a);
	close(b);
	close(mfd);
	free(want);
	free(got);
}

TEST_HARNESS_MAIN
