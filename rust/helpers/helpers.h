/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forwarders for static inline kernel functions and macros that Rust cannot call.
 * Each is named kiovec_helper_<function> and given its plain name on the Rust side.
 */
#ifndef _KIOVEC_HELPERS_H
#define _KIOVEC_HELPERS_H

#include <linux/compiler_types.h>
#include <linux/types.h>

struct address_space;
struct file;
struct folio;
struct inode;
struct mm_struct;
struct page;
struct socket;
struct user_struct;

/* file.c */
struct file *kiovec_helper_get_file(struct file *f);

/* mm.c: accounting of pinned pages, as io_uring does it */
struct user_struct *kiovec_helper_get_current_user(void);
unsigned long kiovec_helper_rlimit(unsigned int limit);
bool kiovec_helper_capable_ipc_lock(void);
long kiovec_helper_user_locked_vm_read(struct user_struct *user);
bool kiovec_helper_user_locked_vm_try_cmpxchg(struct user_struct *user, long *old, long new);
void kiovec_helper_user_locked_vm_sub(struct user_struct *user, long nr);
struct mm_struct *kiovec_helper_current_mm_grab(void);
void kiovec_helper_mmdrop(struct mm_struct *mm);
void kiovec_helper_mm_pinned_vm_add(struct mm_struct *mm, s64 nr);
unsigned long kiovec_helper_copy_page_to_user(void __user *to, struct page *page,
					      size_t offset, size_t len);

/* pagecache.c */
loff_t kiovec_helper_i_size_read(const struct inode *inode);
void kiovec_helper_filemap_invalidate_lock_shared(struct address_space *mapping);
void kiovec_helper_filemap_invalidate_unlock_shared(struct address_space *mapping);
gfp_t kiovec_helper_mapping_gfp_mask(struct address_space *mapping);
struct page *kiovec_helper_folio_file_page(struct folio *folio, pgoff_t index);
struct address_space *kiovec_helper_page_folio_mapping(struct page *page);
void kiovec_helper_put_page(struct page *page);

/* net.c */
bool kiovec_helper_sock_is_tcp(struct socket *sock);

#endif
