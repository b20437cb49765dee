// SPDX-License-Identifier: GPL-2.0
/*
 * kiovec_consumer: a test-only driver that uses kiovec through include/linux/kiovec.h alone,
 * as a block or network driver would. The tests hand it a container descriptor and a target
 * (a block device, a file, a socket) through /dev/kiovec_consumer; it takes its own
 * reference to the kiovec, runs rw_kiovec asynchronously (or builds an iov_iter and does
 * its own write), waits for the completion and checks where it ran, and can keep kiovec
 * references after the container is closed. Never shipped.
 */
#include <linux/bvec.h>
#include <linux/completion.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kiovec.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

/* The ioctl argument (the tests declare the same struct). */
struct kiovec_consumer_req {
	__s32 kv_fd;		/* a /dev/kiovec descriptor */
	__s32 target_fd;	/* a block device, file or socket */
	__u32 dir;		/* KIOVEC_READ / KIOVEC_WRITE */
	__u32 mode;		/* 0: async rw_kiovec, 1: sync rw_kiovec, 2: own iov_iter + vfs_iter_write */
	__u64 pos, offset, len;
	__u32 hold;		/* keep the kiovec reference (released by KC_RELEASE or unload) */
	__u32 in_irq;		/* out: the completion ran in hard-IRQ context */
	__s64 result;		/* out: bytes or -errno */
	__u64 kv_len;		/* out: kiovec_len */
	__s32 nr_bvecs;		/* out: kiovec_bvecs over the range (-errno) */
	__u32 reserved;
};

#define KC_RW		_IOWR('k', 1, struct kiovec_consumer_req)
#define KC_RELEASE	_IO('k', 2)

struct kc_wait {
	struct completion done;
	ssize_t result;
	bool in_irq;
};

static DEFINE_MUTEX(kc_lock);
static struct kiovec *kc_held[64];
static int kc_nheld;

static void kc_done(void *private, ssize_t result)
{
	struct kc_wait *w = private;

	w->result = result;
	w->in_irq = in_hardirq();
	complete(&w->done);
}

static long kc_rw(struct kiovec_consumer_req *req)
{
	struct kiovec *kv = kiovec_get_fd(req->kv_fd);
	struct kc_wait w = { .result = -EINVAL };
	struct bio_vec bv[16];
	struct file *file;
	size_t bytes = 0;
	ssize_t ret;

	if (IS_ERR(kv))
		return PTR_ERR(kv);
	req->kv_len = kiovec_len(kv);
	req->nr_bvecs = kiovec_bvecs(kv, req->offset, req->len, bv, ARRAY_SIZE(bv), &bytes);
	file = fget(req->target_fd);
	if (!file) {
		kiovec_put(kv);
		return -EBADF;
	}
	init_completion(&w.done);
	switch (req->mode) {
	case 0:
		ret = rw_kiovec(kv, req->dir, file, req->pos, req->offset, req->len, kc_done, &w);
		if (ret == -EIOCBQUEUED) {
			wait_for_completion(&w.done);
			ret = w.result;
		}
		break;
	case 1:
		ret = rw_kiovec(kv, req->dir, file, req->pos, req->offset, req->len, NULL, NULL);
		break;
	case 2: {
		struct kiovec_iter *it = kiovec_iter_new(kv, req->dir, req->offset, req->len);
		loff_t pos = req->pos;

		if (IS_ERR(it)) {
			ret = PTR_ERR(it);
			break;
		}
		ret = req->dir == KIOVEC_WRITE ? vfs_iter_write(file, kiovec_iter(it), &pos, 0) :
						 vfs_iter_read(file, kiovec_iter(it), &pos, 0);
		kiovec_iter_free(it);
		break;
	}
	default:
		ret = -EINVAL;
	}
	/* The request held its own references: ours can go now, or be kept. */
	fput(file);
	req->result = ret;
	req->in_irq = w.in_irq;
	mutex_lock(&kc_lock);
	if (req->hold && kc_nheld < ARRAY_SIZE(kc_held)) {
		kc_held[kc_nheld++] = kv;
		kv = NULL;
	}
	mutex_unlock(&kc_lock);
	if (kv)
		kiovec_put(kv);
	return 0;
}

static void kc_release_all(void)
{
	mutex_lock(&kc_lock);
	while (kc_nheld)
		kiovec_put(kc_held[--kc_nheld]);
	mutex_unlock(&kc_lock);
}

static long kc_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct kiovec_consumer_req req;
	long ret;

	switch (cmd) {
	case KC_RW:
		if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
			return -EFAULT;
		ret = kc_rw(&req);
		if (!ret && copy_to_user((void __user *)arg, &req, sizeof(req)))
			return -EFAULT;
		return ret;
	case KC_RELEASE:
		kc_release_all();
		return 0;
	}
	return -ENOTTY;
}

static const struct file_operations kc_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kc_ioctl,
};

static struct miscdevice kc_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kiovec_consumer",
	.fops = &kc_fops,
	.mode = 0600,
};

static int __init kc_init(void)
{
	return misc_register(&kc_misc);
}

static void __exit kc_exit(void)
{
	misc_deregister(&kc_misc);
	kc_release_all();
}

module_init(kc_init);
module_exit(kc_exit);
MODULE_DESCRIPTION("kiovec test driver: rw_kiovec through include/linux/kiovec.h");
MODULE_LICENSE("GPL");
