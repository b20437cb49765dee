// SPDX-License-Identifier: GPL-2.0

#include <linux/fs.h>

struct file *kiovec_helper_get_file(struct file *f)
{
	return get_file(f);
}
