// SPDX-License-Identifier: GPL-2.0

#include <linux/fs.h>

struct file *kiovec_helper_get_file(struct file *f)
{
	return get_file(f);
}

/* 1 for a regular file, 2 for a block device, 0 for anything else. */
int kiovec_helper_file_type(struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;

	return S_ISREG(mode) ? 1 : S_ISBLK(mode) ? 2 : 0;
}
