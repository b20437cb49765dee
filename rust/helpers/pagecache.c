// SPDX-License-Identifier: GPL-2.0

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

loff_t kiovec_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void kiovec_helper_filemap_invalidate_lock_shared(struct address_space *mapping)
{
	filemap_invalidate_lock_shared(mapping);
}

void kiovec_helper_filemap_invalidate_unlock_shared(struct address_space *mapping)
{
	filemap_invalidate_unlock_shared(mapping);
}

gfp_t kiovec_helper_mapping_gfp_mask(struct address_space *mapping)
{
	return mapping_gfp_mask(mapping);
}

struct page *kiovec_helper_folio_file_page(struct folio *folio, pgoff_t index)
{
	return folio_file_page(folio, index);
}

struct address_space *kiovec_helper_page_folio_mapping(struct page *page)
{
	return READ_ONCE(page_folio(page)->mapping);
}

void kiovec_helper_put_page(struct page *page)
{
	put_page(page);
}
