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
unsigned long kiovec_helper_clear_user(void __user *to, size_t len);
bool kiovec_helper_sleep_tick_interruptible(void);
void kiovec_helper_cond_resched(void);

/* pagecache.c */
loff_t kiovec_helper_i_size_read(const struct inode *inode);
int kiovec_helper_file_backing(struct file *file);
int kiovec_helper_read_cache_page(struct file *file, bool shmem, pgoff_t index,
				  struct page **pagep);
ssize_t kiovec_helper_read_into_page(struct file *file, struct page *page, size_t len,
				     loff_t pos);
int kiovec_helper_verify_read(struct file *file, loff_t pos, size_t len);
void kiovec_helper_file_accessed(struct file *file);
void *kiovec_helper_page_folio(struct page *page);
long kiovec_helper_page_folio_nr_pages(struct page *page);
bool kiovec_helper_page_is_zone_movable(struct page *page);
struct address_space *kiovec_helper_page_folio_mapping(struct page *page);
void kiovec_helper_put_page(struct page *page);
struct page *kiovec_helper_zero_page(void);
void kiovec_helper_memcpy_page(struct page *dst, size_t dst_off, struct page *src,
			       size_t src_off, size_t len);

/* rw.c */
struct bio_vec;
ssize_t kiovec_helper_rw_file(struct file *file, bool write, loff_t pos,
			      const struct bio_vec *bv, unsigned long nr, size_t bytes,
			      void (*done)(void *priv, ssize_t res), void *priv,
			      void (*release)(void *owner), void *owner);
ssize_t kiovec_helper_rw_file_sync(struct file *file, bool write, loff_t pos,
				   const struct bio_vec *bv, unsigned long nr, size_t bytes);
int kiovec_helper_file_type(struct file *file);

/* net.c */
bool kiovec_helper_sock_is_tcp(struct socket *sock);
int kiovec_helper_send_user(struct socket *sock, void __user *buf, size_t len,
			    unsigned int flags);

#endif
