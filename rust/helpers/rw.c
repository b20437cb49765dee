// SPDX-License-Identifier: GPL-2.0

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

/*
 * One read or write of a kiovec range through a file's read_iter/write_iter, the way
 * io_uring's registered buffers do it: a kiocb over an ITER_BVEC iterator whose pages the
 * owner keeps alive (@release drops the owner).
 *
 * Asynchronous when @done is given. ki_complete may run in hard-IRQ context (null_blk
 * irqmode=2), on a kworker (ext4 O_DIRECT writes) or in the submitter before -EIOCBQUEUED
 * is returned (brd); a request may also complete synchronously without it. @done is called
 * exactly once, from whichever of those; the owner is released afterwards from a work item,
 * since releasing may unpin and dirty pages, which sleeps. Two references: the submitter's
 * and the completion's.
 */
struct kiovec_rw_req {
	struct kiocb iocb;
	struct iov_iter iter;
	struct work_struct work;
	refcount_t ref;
	void (*done)(void *priv, ssize_t res);
	void *priv;
	void (*release)(void *owner);
	void *owner;
	bool write;
};

static void kiovec_rw_req_free(struct work_struct *work)
{
	struct kiovec_rw_req *req = container_of(work, struct kiovec_rw_req, work);

	req->release(req->owner);
	fput(req->iocb.ki_filp);
	kfree(req);
}

static void kiovec_rw_req_put(struct kiovec_rw_req *req)
{
	if (!refcount_dec_and_test(&req->ref))
		return;
	INIT_WORK(&req->work, kiovec_rw_req_free);
	queue_work(system_unbound_wq, &req->work);
}

static void kiovec_rw_complete(struct kiocb *iocb, long res)
{
	struct kiovec_rw_req *req = container_of(iocb, struct kiovec_rw_req, iocb);

	/* vfs_iocb_iter_write left the write started for the completion to end. */
	if (req->write)
		kiocb_end_write(iocb);
	req->done(req->priv, res);
	kiovec_rw_req_put(req);
}

ssize_t kiovec_helper_rw_file(struct file *file, bool write, loff_t pos,
			      const struct bio_vec *bv, unsigned long nr, size_t bytes,
			      void (*done)(void *priv, ssize_t res), void *priv,
			      void (*release)(void *owner), void *owner)
{
	struct kiovec_rw_req *req;
	ssize_t ret;

	req = kzalloc(sizeof(*req), GFP_KERNEL_ACCOUNT);
	if (!req) {
		release(owner);
		return -ENOMEM;
	}
	init_sync_kiocb(&req->iocb, get_file(file));
	req->iocb.ki_pos = pos;
	iov_iter_bvec(&req->iter, write ? ITER_SOURCE : ITER_DEST, bv, nr, bytes);
	req->write = write;
	req->release = release;
	req->owner = owner;
	if (!done) {
		ret = write ? vfs_iocb_iter_write(file, &req->iocb, &req->iter) :
			      vfs_iocb_iter_read(file, &req->iocb, &req->iter);
		release(owner);
		fput(file);
		kfree(req);
		return ret;
	}
	req->done = done;
	req->priv = priv;
	req->iocb.ki_complete = kiovec_rw_complete;
	refcount_set(&req->ref, 2);
	ret = write ? vfs_iocb_iter_write(file, &req->iocb, &req->iter) :
		      vfs_iocb_iter_read(file, &req->iocb, &req->iter);
	if (ret != -EIOCBQUEUED) {
		/* Finished here: ki_complete was not called and will not be (and a write was
		 * already ended). */
		req->done(req->priv, ret);
		kiovec_rw_req_put(req);
	}
	kiovec_rw_req_put(req);
	return -EIOCBQUEUED;
}

/* The synchronous case with nothing to outlive the call: kiocb and iterator on the stack. */
ssize_t kiovec_helper_rw_file_sync(struct file *file, bool write, loff_t pos,
				   const struct bio_vec *bv, unsigned long nr, size_t bytes)
{
	struct iov_iter iter;
	struct kiocb iocb;

	init_sync_kiocb(&iocb, file);
	iocb.ki_pos = pos;
	iov_iter_bvec(&iter, write ? ITER_SOURCE : ITER_DEST, bv, nr, bytes);
	return write ? vfs_iocb_iter_write(file, &iocb, &iter) :
		       vfs_iocb_iter_read(file, &iocb, &iter);
}
