/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kiovec: the in-kernel API, for drivers (EXPORT_SYMBOL_GPL from kiovec.ko).
 *
 * A struct kiovec is a reference-counted, read-only snapshot of a /dev/kiovec container: its
 * segments (page, offset, length) as they were when the reference was taken, with every page
 * kept alive for as long as any reference is held. The container may be appended to, reset
 * or closed meanwhile; the snapshot does not change. Whoever holds a reference may read its
 * pages at any time, and may write into the pages of ranges that are writable (user memory
 * the container pinned with KIOVEC_ADD_WRITE, pages added with KIOVEC_IOC_ADD_ZERO).
 *
 * A module that calls these functions depends on kiovec.ko: the module loader pins kiovec
 * while it is loaded. Every kiovec_get*() is paired with a kiovec_put().
 */
#ifndef _LINUX_KIOVEC_H
#define _LINUX_KIOVEC_H

#include <linux/types.h>

struct bio_vec;
struct file;
struct iov_iter;
struct kiovec;
struct kiovec_iter;

#define KIOVEC_READ	0	/* from the target into the kiovec */
#define KIOVEC_WRITE	1	/* from the kiovec to the target */

/*
 * The current contents of the container behind descriptor @fd of the calling task, as a new
 * reference; ERR_PTR(-EBADF) for a bad descriptor, ERR_PTR(-EINVAL) for a file that is not
 * a /dev/kiovec container, ERR_PTR(-ENOMEM). Process context.
 */
struct kiovec *kiovec_get_fd(int fd);

/* Another reference to @kv; any context. Returns @kv. */
struct kiovec *kiovec_get(struct kiovec *kv);

/*
 * Drops a reference. The last one unpins and frees the pages, which sleeps: process
 * context only (rw_kiovec defers its own drops out of completion context).
 */
void kiovec_put(struct kiovec *kv);

/* The kiovec's length in bytes. */
u64 kiovec_len(const struct kiovec *kv);

/*
 * Fills @bv with up to @max bio_vecs (one page each) that cover the byte range
 * [@offset, @offset + @len) of @kv, clamped to its end; *@bytes gets how many bytes they
 * cover. Returns the number of bio_vecs, or -ENODATA for a range that reaches a file page
 * that must be looked up again (it left the page cache) or a file that no longer covers it.
 * The pages live while the caller holds its reference. Any context.
 */
int kiovec_bvecs(struct kiovec *kv, u64 offset, u64 len, struct bio_vec *bv,
		 unsigned int max, size_t *bytes);

/*
 * An iov_iter (ITER_SOURCE for @dir KIOVEC_WRITE, ITER_DEST for KIOVEC_READ) over the byte
 * range [@offset, @offset + @len) of @kv, clamped to its end, for a driver's own bios or
 * skbs; it holds its own reference to @kv until kiovec_iter_free(). ERR_PTR(-EINVAL) for a
 * KIOVEC_READ range that is not writable, -ENOMEM. Process context.
 */
struct kiovec_iter *kiovec_iter_new(struct kiovec *kv, int dir, u64 offset, u64 len);
struct iov_iter *kiovec_iter(struct kiovec_iter *it);
void kiovec_iter_free(struct kiovec_iter *it);

/* A completion: called exactly once with bytes moved or -errno, in any context. */
typedef void (*kiovec_done_t)(void *private, ssize_t result);

/*
 * Moves the byte range [@offset, @offset + @len) of @kv (clamped to its end) to (@dir
 * KIOVEC_WRITE) or from (KIOVEC_READ) @file at byte @pos: a regular file or a block device
 * (through its read_iter/write_iter with a kiocb over a bvec iterator, honouring O_DIRECT of
 * @file: a misaligned range is -EINVAL), or a socket (send by page reference, or receive,
 * honouring O_NONBLOCK; @pos is ignored). A READ may only touch writable ranges (-EINVAL);
 * a file not open for the direction is -EBADF.
 *
 * With @done NULL: synchronous, returns the bytes moved or -errno. With @done: returns
 * -EIOCBQUEUED and calls @done(@private, result) exactly once, possibly before returning and
 * possibly in hard-IRQ context; or returns another -errno, without calling @done, when the
 * request could not be started. The request holds its own references to @kv and @file until
 * it completes, so the caller may drop its own at once. Process context.
 */
ssize_t rw_kiovec(struct kiovec *kv, int dir, struct file *file, loff_t pos, u64 offset,
		  u64 len, kiovec_done_t done, void *private);

#endif /* _LINUX_KIOVEC_H */
