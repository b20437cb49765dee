// SPDX-License-Identifier: GPL-2.0

#include <linux/fs.h>
#include <linux/fsnotify.h>
#include <linux/highmem.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/uio.h>

loff_t kiovec_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

/*
 * How a container may hold @file's bytes: 0 = reference its page cache (read_folio),
 * 1 = reference its shmem page cache, 2 = read it once through read_iter into pages of
 * its own, -EINVAL = never (secretmem's pages are off the direct map; guest_memfd's are
 * inaccessible; no read_iter means the kernel cannot read it, as for sendfile).
 */
int kiovec_helper_file_backing(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct address_space *mapping = file->f_mapping;
	unsigned long magic = inode->i_sb->s_magic;

	if (magic == SECRETMEM_MAGIC)
		return -EINVAL;
	if (mapping && mapping_inaccessible(mapping))
		return -EINVAL;
	if (mapping && mapping == inode->i_mapping && !IS_DAX(inode)) {
		if (shmem_mapping(mapping))
			return 1;
		/*
		 * ram_aops (simple_read_folio, which zero-fills) is honest only for ramfs,
		 * whose reads are page-cache reads; kernfs (sysfs, cgroupfs) and configfs use it
		 * for files whose bytes are made by read_iter. FUSE may bypass its cache
		 * (direct_io), so its reads decide too.
		 */
		if (mapping->a_ops->read_folio && magic != FUSE_SUPER_MAGIC &&
		    !(mapping->a_ops == &ram_aops && file->f_op->read_iter != generic_file_read_iter))
			return 0;
	}
	if (!file->f_op->read_iter)
		return -EINVAL;
	return 2;
}

/*
 * Brings page @index of @file up to date as read(2) would and returns it referenced in
 * @pagep; for shmem, a hole gives NULL and allocates nothing (SGP_READ, as read(2)).
 * The caller has checked kiovec_helper_file_backing() (0 or 1 as @shmem says).
 */
int kiovec_helper_read_cache_page(struct file *file, bool shmem, pgoff_t index,
				  struct page **pagep)
{
	struct address_space *mapping = file->f_mapping;
	struct folio *folio = NULL;
	struct page *page;
	int ret;

	*pagep = NULL;
	if (shmem) {
		ret = shmem_get_folio(mapping->host, index, 0, &folio, SGP_READ);
		if (ret)
			return ret;
		if (!folio)
			return 0;
		folio_unlock(folio);
	} else {
		/* As the fault and read paths: hole punching cannot race with the read. */
		filemap_invalidate_lock_shared(mapping);
		folio = read_cache_folio(mapping, index, NULL, file);
		filemap_invalidate_unlock_shared(mapping);
		if (IS_ERR(folio))
			return PTR_ERR(folio);
	}
	page = folio_file_page(folio, index);
	if (PageHWPoison(page)) {
		folio_put(folio);
		return -EIO;
	}
	*pagep = page;
	return 0;
}

/* Reads @len bytes at @pos of @file into @page through its read_iter (sync). */
ssize_t kiovec_helper_read_into_page(struct file *file, struct page *page, size_t len,
				     loff_t pos)
{
	struct bio_vec bv;
	struct iov_iter iter;
	struct kiocb kiocb;

	bvec_set_page(&bv, page, len, 0);
	iov_iter_bvec(&iter, ITER_DEST, &bv, 1, len);
	init_sync_kiocb(&kiocb, file);
	/* Into a kernel page: the file's O_DIRECT alignment rules are not the caller's. */
	kiocb.ki_flags &= ~IOCB_DIRECT;
	kiocb.ki_pos = pos;
	return file->f_op->read_iter(&kiocb, &iter);
}

/* What sendfile checks before it reads: offsets, LSM, fanotify permission events. */
int kiovec_helper_verify_read(struct file *file, loff_t pos, size_t len)
{
	return rw_verify_area(READ, file, &pos, len);
}

/* What a read(2) of @file leaves behind: an access event and atime. Task context. */
void kiovec_helper_file_accessed(struct file *file)
{
	fsnotify_access(file);
	file_accessed(file);
}

void *kiovec_helper_page_folio(struct page *page)
{
	return page_folio(page);
}

long kiovec_helper_page_folio_nr_pages(struct page *page)
{
	return folio_nr_pages(page_folio(page));
}

bool kiovec_helper_page_is_zone_movable(struct page *page)
{
	return folio_is_zone_movable(page_folio(page));
}

struct address_space *kiovec_helper_page_folio_mapping(struct page *page)
{
	return READ_ONCE(page_folio(page)->mapping);
}

void kiovec_helper_put_page(struct page *page)
{
	put_page(page);
}

struct page *kiovec_helper_zero_page(void)
{
	return ZERO_PAGE(0);
}

void kiovec_helper_memcpy_page(struct page *dst, size_t dst_off, struct page *src,
			       size_t src_off, size_t len)
{
	memcpy_page(dst, dst_off, src, src_off, len);
}
