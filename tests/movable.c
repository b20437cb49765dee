// SPDX-License-Identifier: GPL-2.0
/*
 * Page-cache pages in ZONE_MOVABLE are copied into pages the container owns, never
 * referenced: a long-lived reference would keep memory offlining and migration from moving
 * them (FOLL_LONGTERM migrates pinned pages out first; a module cannot). Needs a boot with
 * a ZONE_MOVABLE (movablecore=): scripts/check-all runs this binary alone in such a boot;
 * in the main boot it is a SKIP.
 */
#include "kiovec_test.h"

/* Pages present in ZONE_MOVABLE, from /proc/zoneinfo (0 if there is no such zone). */
static long movable_pages(void)
{
	FILE *f = fopen("/proc/zoneinfo", "re");
	char line[256];
	bool in = false;
	long v = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node", 4))
			in = strstr(line, "zone  Movable") || strstr(line, "zone Movable");
		else if (in && sscanf(line, " present %ld", &v) == 1)
			break;
	}
	if (f)
		fclose(f);
	return in ? v : 0;
}

FIXTURE(mv)
{
	int dev;
};

FIXTURE_SETUP(mv)
{
	self->dev = kiovec_open();
	if (self->dev < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, self->dev);
	if (movable_pages() <= 0)
		SKIP(return, "no ZONE_MOVABLE in this boot (scripts/check-all boots with movablecore=)");
}

FIXTURE_TEARDOWN(mv)
{
	if (self->dev >= 0)
		close(self->dev);
}

/*
 * With most memory in ZONE_MOVABLE, a tmpfs file's new pages come from there (movable
 * allocations try that zone first): ADD_FILE copies them, and the bytes are the file's.
 */
TEST_F(mv, movable_page_cache_is_copied)
{
	size_t len = 64 * 4096;
	unsigned char *data = malloc(len), *got = malloc(len);
	int fd = memfd_create("kiovec-movable", MFD_CLOEXEC);
	struct kiovec_add_file req = { .len = len };
	struct kiovec_copy_out co = { .buf = (uintptr_t)got, .len = len };
	struct kiovec_stat st;

	ASSERT_LE(0, fd);
	kiovec_fill(data, len, 12);
	ASSERT_EQ((ssize_t)len, pwrite(fd, data, len, 0));
	req.fd = fd;
	ASSERT_EQ(0, ioctl(self->dev, KIOVEC_IOC_ADD_FILE, &req));
	KIOVEC_STAT(self->dev, st);
	TH_LOG("%u of 64 pages copied, %u referenced (ZONE_MOVABLE: %ld pages)", st.copied_pages,
	       st.file_pages, movable_pages());
	EXPECT_EQ(64, st.copied_pages + st.file_pages);
	EXPECT_LT(0, st.copied_pages);
	EXPECT_EQ(st.copied_pages, req.copied);
	EXPECT_EQ((long)len, ioctl(self->dev, KIOVEC_IOC_COPY_OUT, &co));
	EXPECT_EQ(0, memcmp(got, data, len));
	free(data);
	free(got);
	close(fd);
}

TEST_HARNESS_MAIN
