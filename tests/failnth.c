// SPDX-License-Identifier: GPL-2.0
/*
 * A fail-nth sweep: for every ioctl, write() and open(), in a representative state (a
 * container with written bytes, pinned pages and file pages), inject the 1st, 2nd, ...
 * failure of the calling task (/proc/thread-self/fail-nth: failslab, fail_page_alloc and
 * fail_usercopy, sleeping allocations included) until the call completes without reaching
 * the n-th injection point. After each injected call: the result is a clean error or a
 * short count, STAT and the bytes are unchanged for the all-or-nothing calls, the bytes a
 * short call did move are the right ones, and once the container is closed every pin is
 * released and the user's locked_vm is back at zero (a fresh container can pin exactly
 * RLIMIT_MEMLOCK). The sweep runs as user nobody; it prints how many injection points
 * each call reached, and fails if an injected failure made the kernel dump a stack
 * (warn_alloc's "page allocation failure"/"vmalloc error", which the log scanner would
 * flag anyway), saying whether kiovec was on that stack.
 */
#include <linux/magic.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>

#include "kiovec_test.h"

#define NOBODY		65534
#define MEMLOCK_PAGES	512		/* RLIMIT_MEMLOCK of the sweep: 2 MiB */
#define MAX_NTH		5000
#define MANY		32		/* iovecs of the many-iovec ADD_USER */
#define NERR		134
#define DBG		"/sys/kernel/debug/"
/*
 * A file ADD_FILE must read through read_iter: procfs. (Not /etc/hostname, an overlay over
 * virtme-ng's 9p root: an injected allocation failure in 9p's unbuffered read underflows
 * a netfs refcount, a kernel bug of its own.)
 */
#define COPY_FILE	"/proc/version"

static size_t pg;

/* The fault-injection knobs the sweep needs, and what they were before. */
static const struct {
	const char *file, *value;
} fi_knobs[] = {
	/* Count sleeping allocations too: most of the module's are GFP_KERNEL. */
	{ "failslab/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "fail_page_alloc/min-order", "0" },
	/* No "FAULT_INJECTION: forcing a failure" and no stack dump per injection: the
	 * log scanner would (rightly) flag every dump as a report. */
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/verbose", "0" },
	{ "fail_usercopy/verbose", "0" },
};

#define NKNOBS (sizeof(fi_knobs) / sizeof(fi_knobs[0]))

enum call {
	C_OPEN, C_WRITE, C_WRITE_PAGES, C_INFO, C_STAT, C_RESET, C_ADD_USER, C_ADD_USER_MANY,
	C_COPY_OUT, C_TRANSMIT, C_TRANSMIT_HDR, C_BATCH, C_ADD_FILE, C_ADD_FILE_EXT4,
	C_ADD_FILE_COPY, C_RW_WRITE, C_RW_READ, C_ADD_ZERO, C_GROWN, C_RO_FD,
};

/* What one sweep found; shared with the parent. */
struct result {
	int points;		/* injection points the call reached */
	int injected_ok;	/* injected, and the call still succeeded (absorbed) */
	int shorts;		/* short counts */
	long err[NERR];
	bool failed;
	char msg[1024];
};

/* ---- the fault-injection knobs ---- */

static int knob_read(const char *file, char *buf, size_t len)
{
	char path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), DBG "%s", file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int knob_write(const char *file, const char *value)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), DBG "%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -1;
	close(fd);
	return ret;
}

/* ---- fail-nth ---- */

static void arm(int fnfd, int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (write(fnfd, buf, len) != len)
		abort();
}

/*
 * Whether the armed fault was injected: fail-nth reads 0 once the n-th point failed. If
 * the call did not reach it, the count left is disarmed. Reading and writing fail-nth copy
 * from and to user memory, which are injection points themselves while a count is left: a
 * failed read means one was left, and the write is retried until it goes through.
 */
static bool disarm(int fnfd)
{
	char buf[16] = "";
	ssize_t n = pread(fnfd, buf, sizeof(buf) - 1, 0);
	bool injected = n > 0 && atoi(buf) == 0;

	for (int i = 0; write(fnfd, "0", 1) != 1; i++)
		if (i > 8)
			abort();
	return injected;
}

/* ---- the representative state ---- */

struct state {
	int fd;
	uint8_t *pool;		/* 64 patterned pages, pinned from */
	int memfd;		/* 16 patterned pages */
	uint8_t *filedata;	/* the memfd's bytes */
	int ext4fd, copyfd;	/* an ext4 file; a file ADD_FILE must copy (procfs) */
	size_t copylen;
	struct kiovec_stat st;	/* STAT of the state */
	uint8_t *snap;		/* its bytes */
	size_t snaplen;
};

static long add_user(int fd, const struct kiovec_iovec *iov, unsigned int cnt, unsigned int flags,
		     struct kiovec_add_user *out)
{
	struct kiovec_add_user req = { .iov = (uintptr_t)iov, .iovcnt = cnt, .flags = flags };
	long r = ioctl(fd, KIOVEC_IOC_ADD_USER, &req);

	if (out)
		*out = req;
	return r;
}

static long add_file(int fd, int file, uint64_t off, uint64_t len, struct kiovec_add_file *out)
{
	struct kiovec_add_file req = { .fd = file, .offset = off, .len = len };
	long r = ioctl(fd, KIOVEC_IOC_ADD_FILE, &req);

	if (out)
		*out = req;
	return r;
}

static long copy_out(int fd, uint64_t off, void *buf, uint64_t len)
{
	struct kiovec_copy_out req = { .offset = off, .buf = (uintptr_t)buf, .len = len };

	return ioctl(fd, KIOVEC_IOC_COPY_OUT, &req);
}

/*
 * A container with a written header, pinned pages (one range of 4 pages, then one-byte
 * ranges of one page: 300 when big, enough segments that the segment array is past a page,
 * where kvmalloc may fall back to vmalloc; 20 otherwise), a file range and a written
 * trailer. grown: the segments are instead added one call at a time, so that the segment
 * array is exactly full and the call under test must grow it.
 */
static int build(struct state *s, bool grown, bool big)
{
	static struct kiovec_iovec iov[301];
	unsigned int nr = big ? 301 : 21;
	uint8_t hdr[3000];

	s->fd = kiovec_open();
	if (s->fd < 0)
		return 1;
	kiovec_fill(hdr, sizeof(hdr), 9);
	if (write(s->fd, hdr, sizeof(hdr)) != sizeof(hdr))
		return 2;
	if (grown) {
		/* 1 + 2 * 61 + 4 (the file range) + 1 = 128 segments: the segment array
		 * (which doubles from 8) is exactly full, and a call that appends grows it to
		 * 256 entries, past a page. */
		for (int i = 0; i < 61; i++) {
			struct kiovec_iovec v = { (uintptr_t)s->pool + 5 * pg + i, 1 };

			if (write(s->fd, hdr + i, 1) != 1 || add_user(s->fd, &v, 1, 0, NULL))
				return 3;
		}
	} else {
		iov[0] = (struct kiovec_iovec){ (uintptr_t)s->pool + 100, 4 * pg - 200 };
		for (unsigned int i = 1; i < nr; i++)
			iov[i] = (struct kiovec_iovec){ (uintptr_t)s->pool + 5 * pg + 7 * i, 1 };
		if (add_user(s->fd, iov, nr, 0, NULL))
			return 3;
	}
	if (add_file(s->fd, s->memfd, 100, 3 * pg, NULL))
		return 4;
	if (write(s->fd, hdr + 500, 100) != 100)
		return 5;
	memset(&s->st, 0, sizeof(s->st));
	if (ioctl(s->fd, KIOVEC_IOC_STAT, &s->st))
		return 6;
	s->snaplen = s->st.bytes;
	if (copy_out(s->fd, 0, s->snap, s->snaplen) != (long)s->snaplen)
		return 7;
	return 0;
}

/* STAT and every byte as they were built; the first difference, or NULL. */
static const char *unchanged(struct state *s, uint8_t *buf)
{
	struct kiovec_stat st;

	memset(&st, 0, sizeof(st));
	if (ioctl(s->fd, KIOVEC_IOC_STAT, &st))
		return "STAT failed";
	if (memcmp(&st, &s->st, sizeof(st)))
		return "STAT changed";
	if (copy_out(s->fd, 0, buf, s->snaplen + 1) != (long)s->snaplen)
		return "COPY_OUT count changed";
	if (memcmp(buf, s->snap, s->snaplen))
		return "bytes changed";
	return NULL;
}

/* ---- one sweep, as user nobody ---- */

struct sweep {
	enum call call;
	const char *name;
	int fnfd, ctl;
	struct state s;
	uint8_t *buf;		/* 1 MiB */
	struct result *res;
	uint64_t feat;
};

static void bad(struct sweep *w, int n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void bad(struct sweep *w, int n, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (w->res->failed)
		return;
	w->res->failed = true;
	len = snprintf(w->res->msg, sizeof(w->res->msg), "%s, fault %d: ", w->name, n);
	va_start(ap, fmt);
	vsnprintf(w->res->msg + len, sizeof(w->res->msg) - len, fmt, ap);
	va_end(ap);
}

static bool errno_in(int e, const int *ok)
{
	for (; *ok; ok++)
		if (e == *ok)
			return true;
	return false;
}

/* The peer of a loopback TCP pair receives everything into a reader thread. */
struct peer {
	int tx, rx;
	struct kiovec_reader r;
};

static int peer_up(struct peer *p, size_t len)
{
	if (kiovec_tcp_pair(&p->tx, &p->rx))
		return -1;
	return kiovec_reader_start(&p->r, p->rx, len);
}

static size_t peer_down(struct peer *p)
{
	close(p->tx);
	kiovec_reader_join(&p->r);
	close(p->rx);
	return p->r.got;
}

static void peer_free(struct peer *p)
{
	free(p->r.buf);
}

/*
 * One call at fault n (n = 0: no fault armed). Returns whether the fault was injected,
 * checks the outcome, and records it.
 */
static bool one(struct sweep *w, int n)
{
	static const int enomem[] = { ENOMEM, 0 };
	static const int efault[] = { EFAULT, 0 };
	static const int alloc_or_copy[] = { ENOMEM, EFAULT, 0 };
	static const int file_errs[] = { ENOMEM, EFAULT, EIO, 0 };
	static const int net_errs[] = { ENOMEM, ENOBUFS, EFAULT, EAGAIN, 0 };
	struct state *s = &w->s;
	struct peer p[2] = { 0 };
	uint8_t data[3 * 4096 + 17], hdrbuf[200];
	struct kiovec_iovec iov[4], hv = { (uintptr_t)hdrbuf, sizeof(hdrbuf) };
	struct kiovec_range rv = { 1000, 20000 };
	struct kiovec_target tg[2];
	const int *allowed = alloc_or_copy;
	bool injected, all_or_nothing = false;
	uint8_t *exp = NULL;	/* what an all-or-nothing call appends when it succeeds */
	size_t explen = 0;
	const char *why;
	long r = 0;
	int e = 0, fd = -1, st;
	size_t total = 0;

	/* The calls that append get the big state (arrays past a page); the others a small
	 * one, which is quicker to build for every fault. */
	st = build(s, w->call == C_GROWN, w->call == C_ADD_USER || w->call == C_ADD_FILE ||
		   w->call == C_ADD_ZERO);
	if (st) {
		bad(w, n, "building the state failed at step %d: %s", st, strerror(errno));
		return false;
	}
	kiovec_fill(data, sizeof(data), n);
	kiovec_fill(hdrbuf, sizeof(hdrbuf), n + 1);
	switch (w->call) {
	case C_TRANSMIT: case C_TRANSMIT_HDR:
		total = s->snaplen + (w->call == C_TRANSMIT_HDR ? sizeof(hdrbuf) : 0);
		if (w->call == C_TRANSMIT_HDR)
			total = sizeof(hdrbuf) + rv.len;
		if (peer_up(&p[0], total))
			bad(w, n, "TCP pair: %s", strerror(errno));
		break;
	case C_BATCH:
		total = s->snaplen;
		if (peer_up(&p[0], total) || peer_up(&p[1], total))
			bad(w, n, "TCP pair: %s", strerror(errno));
		tg[0] = (struct kiovec_target){ .fd = p[0].tx };
		tg[1] = (struct kiovec_target){ .fd = p[1].tx, .offset = 777 };
		break;
	case C_RW_READ: {
		/* Zero pages to read into, added before the fault is armed. */
		struct kiovec_add_zero z = { .len = 4 * pg };

		if (ioctl(s->fd, KIOVEC_IOC_ADD_ZERO, &z) || ioctl(s->fd, KIOVEC_IOC_STAT, &s->st) ||
		    copy_out(s->fd, 0, s->snap, s->st.bytes) != (long)s->st.bytes)
			bad(w, n, "ADD_ZERO before RW READ: %s", strerror(errno));
		s->snaplen = s->st.bytes;
		break;
	}
	default:
		break;
	}
	exp = malloc(1 << 20);
	if (!exp)
		bad(w, n, "out of memory");
	switch (w->call) {
	case C_ADD_USER:
		memcpy(exp, s->pool + 20 * pg + 5, 3 * pg);
		exp[3 * pg] = s->pool[30 * pg];
		explen = 3 * pg + 1;
		break;
	case C_ADD_USER_MANY:
		for (int i = 0; i < MANY; i += 8) {
			memcpy(exp + explen, s->pool + 40 * pg + i % 4000, 2);
			explen += 2;
		}
		break;
	case C_ADD_FILE:
		memcpy(exp, s->filedata + 5 * pg + 3, 6 * pg);
		explen = 6 * pg;
		break;
	case C_ADD_FILE_EXT4:
		if (pread(s->ext4fd, exp, 5 * pg, 2 * pg + 9) != (ssize_t)(5 * pg))
			bad(w, n, "pread of the ext4 file");
		explen = 5 * pg;
		break;
	case C_ADD_FILE_COPY:
		explen = pread(s->copyfd, exp, s->copylen, 0);
		break;
	case C_ADD_ZERO:
		memset(exp, 0, 4 * pg);
		explen = 4 * pg;
		break;
	default:
		break;
	}
	if (w->res->failed) {
		free(exp);
		return false;
	}

	if (n)
		arm(w->fnfd, n);
	switch (w->call) {
	case C_OPEN:
		/* The path is copied in (EFAULT) and looked up (ENOMEM) before the module. */
		r = fd = open(KIOVEC_DEV, O_RDWR | O_CLOEXEC);
		allowed = alloc_or_copy;
		break;
	case C_WRITE:
		r = write(s->fd, data, 100);
		break;
	case C_WRITE_PAGES: case C_GROWN:
		r = write(s->fd, data, sizeof(data));
		break;
	case C_INFO: {
		struct kiovec_info info;

		r = ioctl(s->fd, KIOVEC_IOC_INFO, &info);
		allowed = efault;
		break;
	}
	case C_STAT: {
		struct kiovec_stat st2;

		r = ioctl(s->fd, KIOVEC_IOC_STAT, &st2);
		allowed = efault;
		break;
	}
	case C_RESET:
		r = ioctl(s->fd, KIOVEC_IOC_RESET, 0);
		allowed = enomem;
		all_or_nothing = true;
		break;
	case C_ADD_USER:
		iov[0] = (struct kiovec_iovec){ (uintptr_t)s->pool + 20 * pg + 5, 3 * pg };
		iov[1] = (struct kiovec_iovec){ (uintptr_t)s->pool + 30 * pg, 1 };
		r = add_user(s->fd, iov, 2, KIOVEC_ADD_WRITE, NULL);
		all_or_nothing = true;
		break;
	case C_ADD_USER_MANY: {
		/* Many iovecs, most empty: the arrays the call sizes from iovcnt. (Each iovec is
		 * its own copy from user space: one injection point per iovec.) */
		static struct kiovec_iovec many[MANY];

		for (int i = 0; i < MANY; i++)
			many[i] = (struct kiovec_iovec){ (uintptr_t)s->pool + 40 * pg + i % 4000,
							 i % 8 ? 0 : 2 };
		r = add_user(s->fd, many, MANY, 0, NULL);
		all_or_nothing = true;
		break;
	}
	case C_COPY_OUT:
		r = copy_out(s->fd, 0, w->buf, s->snaplen);
		break;
	case C_TRANSMIT: {
		struct kiovec_transmit req = { .fd = p[0].tx, .flags = KIOVEC_TX_NOSIGNAL };

		r = ioctl(s->fd, KIOVEC_IOC_TRANSMIT, &req);
		allowed = net_errs;
		break;
	}
	case C_TRANSMIT_HDR: {
		struct kiovec_transmit req = { .fd = p[0].tx,
					       .flags = KIOVEC_TX_NOSIGNAL | KIOVEC_TX_HEADER |
					       KIOVEC_TX_RANGE,
					       .hdr = (uintptr_t)&hv, .range = (uintptr_t)&rv };

		r = ioctl(s->fd, KIOVEC_IOC_TRANSMIT, &req);
		allowed = net_errs;
		break;
	}
	case C_BATCH: {
		struct kiovec_transmit_batch req = { .targets = (uintptr_t)tg, .count = 2,
						     .flags = KIOVEC_TX_NOSIGNAL };

		r = ioctl(s->fd, KIOVEC_IOC_TRANSMIT_BATCH, &req);
		allowed = net_errs;
		break;
	}
	case C_ADD_FILE:
		r = add_file(s->fd, s->memfd, 5 * pg + 3, 6 * pg, NULL);
		allowed = file_errs;
		all_or_nothing = true;
		break;
	case C_ADD_FILE_EXT4:
		r = add_file(s->fd, s->ext4fd, 2 * pg + 9, 5 * pg, NULL);
		allowed = file_errs;
		all_or_nothing = true;
		break;
	case C_ADD_FILE_COPY:
		r = add_file(s->fd, s->copyfd, 0, s->copylen, NULL);
		allowed = file_errs;
		all_or_nothing = true;
		break;
	case C_RW_WRITE: {
		struct kiovec_rw req = { .fd = s->memfd, .dir = KIOVEC_WRITE, .pos = 16 * pg,
					 .offset = 0, .len = s->snaplen };

		r = ioctl(s->fd, KIOVEC_IOC_RW, &req);
		allowed = file_errs;
		break;
	}
	case C_RW_READ: {
		/* Into the zero pages at the end. */
		struct kiovec_rw req = { .fd = s->memfd, .dir = KIOVEC_READ, .pos = 0,
					 .offset = s->snaplen - 4 * pg, .len = 4 * pg };

		r = ioctl(s->fd, KIOVEC_IOC_RW, &req);
		allowed = file_errs;
		break;
	}
	case C_ADD_ZERO: {
		struct kiovec_add_zero req = { .len = 4 * pg };

		r = ioctl(s->fd, KIOVEC_IOC_ADD_ZERO, &req);
		all_or_nothing = true;
		break;
	}
	case C_RO_FD:
		r = fd = ioctl(s->fd, KIOVEC_IOC_RO_FD, 0);
		allowed = enomem;
		break;
	}
	e = errno;
	injected = n ? disarm(w->fnfd) : false;

	/* Record the outcome. */
	if (injected) {
		if (r < 0)
			w->res->err[e < NERR ? e : NERR - 1]++;
		else
			w->res->injected_ok++;
	}
	if (r < 0 && !injected)
		bad(w, n, "failed (%s) without an injected fault", strerror(e));
	else if (r < 0 && !errno_in(e, allowed))
		bad(w, n, "failed with %s (%d): not a clean error for this call", strerrorname_np(e),
		    e);

	/* Then check what it left. */
	switch (w->call) {
	case C_OPEN:
		if (fd >= 0) {
			struct kiovec_stat st2;

			if (ioctl(fd, KIOVEC_IOC_STAT, &st2) || st2.bytes)
				bad(w, n, "the new container is not empty");
			close(fd);
		}
		if ((why = unchanged(s, w->buf)))
			bad(w, n, "another container: %s", why);
		break;
	case C_WRITE: case C_WRITE_PAGES: case C_GROWN: {
		size_t len = w->call == C_WRITE ? 100 : sizeof(data);
		struct kiovec_stat st2;

		if (r >= 0 && (size_t)r < len)
			w->res->shorts++;
		if (r > (long)len)
			bad(w, n, "write returned %ld of %zu", r, len);
		if (r == 0 && len)
			bad(w, n, "write returned 0 (neither a count nor an error)");
		memset(&st2, 0, sizeof(st2));
		ioctl(s->fd, KIOVEC_IOC_STAT, &st2);
		if (st2.bytes != s->st.bytes + (r > 0 ? r : 0))
			bad(w, n, "STAT has %llu bytes after a write of %ld to %llu",
			    (unsigned long long)st2.bytes, r, (unsigned long long)s->st.bytes);
		else if (copy_out(s->fd, 0, w->buf, st2.bytes) != (long)st2.bytes ||
			 memcmp(w->buf, s->snap, s->snaplen) ||
			 (r > 0 && memcmp(w->buf + s->snaplen, data, r)))
			bad(w, n, "the container's bytes are not the state's plus what was written");
		break;
	}
	case C_COPY_OUT:
		if (r >= 0 && (size_t)r < s->snaplen)
			w->res->shorts++;
		if (r > (long)s->snaplen || (r >= 0 && memcmp(w->buf, s->snap, r)))
			bad(w, n, "COPY_OUT returned %ld bytes that are not the container's", r);
		if (r == 0 && s->snaplen)
			bad(w, n, "COPY_OUT returned 0");
		if ((why = unchanged(s, w->buf)))
			bad(w, n, "after COPY_OUT: %s", why);
		break;
	case C_TRANSMIT: case C_TRANSMIT_HDR: {
		size_t got = peer_down(&p[0]);
		uint8_t *want = malloc(total);

		if (r >= 0 && (size_t)r < total)
			w->res->shorts++;
		if (w->call == C_TRANSMIT_HDR) {
			memcpy(want, hdrbuf, sizeof(hdrbuf));
			memcpy(want + sizeof(hdrbuf), s->snap + rv.start, rv.len);
		} else {
			memcpy(want, s->snap, total);
		}
		if (r > (long)total || got != (r > 0 ? (size_t)r : 0) ||
		    memcmp(p[0].r.buf, want, got))
			bad(w, n, "TRANSMIT returned %ld; the peer received %zu bytes%s", r, got,
			    got <= total && !memcmp(p[0].r.buf, want, got) ? "" :
			    ", not the container's");
		free(want);
		if ((why = unchanged(s, w->buf)))
			bad(w, n, "after TRANSMIT: %s", why);
		break;
	}
	case C_BATCH:
		for (int i = 0; i < 2; i++) {
			size_t got = peer_down(&p[i]);
			long res = r == 2 ? tg[i].result : 0;
			size_t want = total - tg[i].offset;

			if (res < 0 && !errno_in(-res, net_errs))
				bad(w, n, "target %d: %s", i, strerrorname_np(-res));
			if (res >= 0 && (size_t)res < want)
				w->res->shorts++;
			if (r == 2 && (res > (long)want || got != (res > 0 ? (size_t)res : 0) ||
				       memcmp(p[i].r.buf, s->snap + tg[i].offset, got)))
				bad(w, n, "target %d: result %ld, the peer received %zu bytes", i,
				    res, got);
			if (r < 0 && got && memcmp(p[i].r.buf, s->snap + tg[i].offset, got))
				bad(w, n, "target %d: the batch failed; the peer received %zu wrong "
				    "bytes", i, got);
		}
		if (r >= 0 && r != 2)
			bad(w, n, "TRANSMIT_BATCH returned %ld for 2 targets", r);
		if ((why = unchanged(s, w->buf)))
			bad(w, n, "after TRANSMIT_BATCH: %s", why);
		break;
	case C_INFO: case C_STAT:
		if ((why = unchanged(s, w->buf)))
			bad(w, n, "%s", why);
		break;
	case C_RESET:
		if (r == 0) {
			struct kiovec_stat st2;

			memset(&st2, 0xff, sizeof(st2));
			ioctl(s->fd, KIOVEC_IOC_STAT, &st2);
			if (st2.bytes || st2.segments || st2.pinned_pages || st2.owned_pages ||
			    st2.file_pages || st2.charged_pages || st2.copied_pages)
				bad(w, n, "RESET left something behind");
		} else if ((why = unchanged(s, w->buf))) {
			bad(w, n, "a failed RESET changed the container: %s", why);
		}
		break;
	case C_RW_WRITE:
		if (r >= 0 && (size_t)r < s->snaplen)
			w->res->shorts++;
		if (r > 0 && (pread(s->memfd, w->buf, r, 16 * pg) != r ||
			      memcmp(w->buf, s->snap, r)))
			bad(w, n, "RW WRITE returned %ld; the file does not hold those bytes", r);
		if ((why = unchanged(s, w->buf)))
			bad(w, n, "after RW WRITE: %s", why);
		break;
	case C_RW_READ: {
		/* What was read is the file's first bytes, the rest still zeros. */
		uint8_t *file = malloc(4 * pg);
		long k = r > 0 ? r : 0;

		if (r >= 0 && (size_t)r < 4 * pg)
			w->res->shorts++;
		if (!file || pread(s->memfd, file, 4 * pg, 0) != (ssize_t)(4 * pg) ||
		    copy_out(s->fd, 0, w->buf, s->snaplen) != (long)s->snaplen ||
		    memcmp(w->buf, s->snap, s->snaplen - 4 * pg) ||
		    memcmp(w->buf + s->snaplen - 4 * pg, file, k) ||
		    memcmp(w->buf + s->snaplen - 4 * pg + k, s->snap + s->snaplen - 4 * pg + k,
			   4 * pg - k))
			bad(w, n, "RW READ returned %ld; the container does not hold the file's "
			    "bytes there and its own elsewhere", r);
		free(file);
		break;
	}
	case C_RO_FD:
		if (fd >= 0) {
			struct kiovec_stat st2;

			memset(&st2, 0, sizeof(st2));
			if (ioctl(fd, KIOVEC_IOC_STAT, &st2) || memcmp(&st2, &s->st, sizeof(st2)))
				bad(w, n, "the RO_FD descriptor does not see the container");
			if (write(fd, data, 1) != -1 || errno != EBADF)
				bad(w, n, "write to the RO_FD descriptor is not EBADF");
			close(fd);
		}
		if ((why = unchanged(s, w->buf)))
			bad(w, n, "after RO_FD: %s", why);
		break;
	default:
		if (!all_or_nothing)
			break;
		if (r < 0) {
			if ((why = unchanged(s, w->buf)))
				bad(w, n, "a failed all-or-nothing call changed the container: %s",
				    why);
		} else if (w->call != C_RESET) {
			/* Succeeded although a fault was injected (absorbed): all of it. */
			struct kiovec_stat st2;

			memset(&st2, 0, sizeof(st2));
			ioctl(s->fd, KIOVEC_IOC_STAT, &st2);
			if (st2.bytes != s->st.bytes + explen)
				bad(w, n, "succeeded, but STAT has %llu bytes, not %llu + %zu",
				    (unsigned long long)st2.bytes, (unsigned long long)s->st.bytes,
				    explen);
			else if (copy_out(s->fd, 0, w->buf, st2.bytes) != (long)st2.bytes ||
				 memcmp(w->buf, s->snap, s->snaplen) ||
				 memcmp(w->buf + s->snaplen, exp, explen))
				bad(w, n, "succeeded, but the bytes are not the state's plus the "
				    "source's");
		}
		break;
	}
	free(exp);
	close(s->fd);
	s->fd = -1;
	peer_free(&p[0]);
	peer_free(&p[1]);
	return injected;
}

/* How many pages a fresh container can pin now (binary search), for a diagnosis. */
static long max_pinnable(void)
{
	long lo = 0, hi = MEMLOCK_PAGES;
	uint8_t *p = kiovec_map_small(MEMLOCK_PAGES * pg);

	if (!p)
		return -1;
	memset(p, 1, MEMLOCK_PAGES * pg);
	while (lo < hi) {
		long mid = (lo + hi + 1) / 2;
		struct kiovec_iovec v = { (uintptr_t)p, mid * pg };
		int fd = kiovec_open();
		bool ok = fd >= 0 && add_user(fd, &v, 1, 0, NULL) == 0;

		close(fd);
		if (ok)
			lo = mid;
		else
			hi = mid - 1;
	}
	kiovec_unmap_small(p, MEMLOCK_PAGES * pg);
	return lo;
}

/* The other processes of this user, with their VmPin: who else holds a charge? */
static const char *others(void)
{
	static char out[512];
	size_t len = 0;
	FILE *p = popen("for s in /proc/[0-9]*/status; do awk -v me=$$ "
			"'/^Name/{n=$2} /^Pid/{p=$2} /^Uid/{u=$2} /^VmPin/{v=$2} "
			"END{if (u==65534) printf \"%s/%s:%skB \", p, n, v}' $s 2>/dev/null; done",
			"r");

	out[0] = 0;
	if (p) {
		len = fread(out, 1, sizeof(out) - 1, p);
		out[len] = 0;
		pclose(p);
	}
	return len ? out : "none";
}

/* Descriptors this process has open. */
static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* Asks the parent (root) whether every pin taken is released again. */
static bool pins_balanced(struct sweep *w)
{
	char c = 'p';

	if (write(w->ctl, &c, 1) != 1 || read(w->ctl, &c, 1) != 1)
		return false;
	return c == 'y';
}

static void sweep_main(struct sweep *w)
{
	int n, st;

	for (n = 1; n <= MAX_NTH && !w->res->failed; n++) {
		bool injected = one(w, n);

		if (!pins_balanced(w))
			bad(w, n, "pins are not balanced after closing the container");
		/* After every fault: a leaked charge is found at the fault that leaked it. */
		st = kiovec_memlock_is_free(MEMLOCK_PAGES);
		if (st) {
			int e = errno;
			long pin = kiovec_vm_pin_kb(), most = max_pinnable();

			/* Charges are released when the container is closed, not later. */
			bad(w, n, "after closing the container a fresh one cannot pin exactly "
			    "RLIMIT_MEMLOCK (step %d, %s; at most %ld of %d pages; VmPin %ld kB; "
			    "%d descriptors open; other processes of the user: %s): a charge leaked",
			    st, strerror(e), most, MEMLOCK_PAGES, pin, open_fds(), others());
		}
		if (!injected)
			break;
		w->res->points = n;
	}
	if (n > MAX_NTH)
		bad(w, n, "still injecting after %d faults", MAX_NTH);
}

/* ---- the fixture ---- */

FIXTURE(failnth)
{
	bool knobs_set;
	char saved[NKNOBS][32];
	bool have[NKNOBS];
	char ext4[64];
	bool ext4_ok;
};

FIXTURE_VARIANT(failnth)
{
	enum call call;
	const char *name;
	uint64_t need;
};

#define CALL(id, c, n, f) \
	FIXTURE_VARIANT_ADD(failnth, id) { .call = c, .name = n, .need = f }

CALL(open, C_OPEN, "open", 0);
CALL(write, C_WRITE, "write (100 bytes into the last page)", KIOVEC_FEAT_WRITE);
CALL(write_pages, C_WRITE_PAGES, "write (3 pages)", KIOVEC_FEAT_WRITE);
CALL(write_grown, C_GROWN, "write (arrays exactly full)", KIOVEC_FEAT_WRITE);
CALL(info, C_INFO, "INFO", 0);
CALL(stat, C_STAT, "STAT", 0);
CALL(reset, C_RESET, "RESET", 0);
CALL(add_user, C_ADD_USER, "ADD_USER", KIOVEC_FEAT_ADD_USER);
CALL(add_user_many, C_ADD_USER_MANY, "ADD_USER (32 iovecs)", KIOVEC_FEAT_ADD_USER);
CALL(copy_out, C_COPY_OUT, "COPY_OUT", KIOVEC_FEAT_COPY_OUT);
CALL(transmit, C_TRANSMIT, "TRANSMIT", KIOVEC_FEAT_TRANSMIT);
CALL(transmit_header_range, C_TRANSMIT_HDR, "TRANSMIT (header, range)",
     KIOVEC_FEAT_TX_HEADER | KIOVEC_FEAT_TX_RANGE);
CALL(transmit_batch, C_BATCH, "TRANSMIT_BATCH", KIOVEC_FEAT_TRANSMIT_BATCH);
CALL(add_file, C_ADD_FILE, "ADD_FILE (tmpfs)", KIOVEC_FEAT_ADD_FILE);
CALL(add_file_ext4, C_ADD_FILE_EXT4, "ADD_FILE (ext4)", KIOVEC_FEAT_ADD_FILE);
CALL(add_file_copy, C_ADD_FILE_COPY, "ADD_FILE (procfs, copied)", KIOVEC_FEAT_FILE_COPY);
CALL(rw_write, C_RW_WRITE, "RW WRITE", KIOVEC_FEAT_RW);
CALL(rw_read, C_RW_READ, "RW READ", KIOVEC_FEAT_RW | KIOVEC_FEAT_ADD_ZERO);
CALL(add_zero, C_ADD_ZERO, "ADD_ZERO", KIOVEC_FEAT_ADD_ZERO);
CALL(ro_fd, C_RO_FD, "RO_FD", KIOVEC_FEAT_RO_FD);

FIXTURE_SETUP(failnth)
{
	struct kiovec_info info;
	int fd;

	pg = sysconf(_SC_PAGESIZE);
	fd = kiovec_open();
	if (fd < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, fd);
	memset(&info, 0, sizeof(info));
	ASSERT_EQ(0, ioctl(fd, KIOVEC_IOC_INFO, &info));
	close(fd);
	if ((info.features & variant->need) != variant->need)
		SKIP(return, "the module lacks feature bits %#llx (%s)",
		     (unsigned long long)(variant->need & ~info.features), variant->name);
	if (geteuid() != 0)
		SKIP(return, "needs root to set up fault injection in debugfs");
	if (access("/proc/self/fail-nth", F_OK))
		SKIP(return, "no /proc/self/fail-nth: kernel without CONFIG_FAULT_INJECTION");
	if (access(DBG "failslab", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(DBG "failslab", F_OK) || access(DBG "fail_page_alloc", F_OK))
		SKIP(return, "no failslab/fail_page_alloc in debugfs (CONFIG_FAILSLAB, "
		     "CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)");
	for (unsigned int i = 0; i < NKNOBS; i++) {
		self->have[i] = knob_read(fi_knobs[i].file, self->saved[i],
					  sizeof(self->saved[i])) == 0;
		if (self->have[i])
			ASSERT_EQ(0, knob_write(fi_knobs[i].file, fi_knobs[i].value))
				TH_LOG("cannot set %s", fi_knobs[i].file);
	}
	self->knobs_set = true;
	if (variant->call == C_ADD_FILE_EXT4) {
		if (kiovec_mount_ext4(self->ext4))
			SKIP(return, "no ext4 (needs mkfs.ext4 and a loop device)");
		self->ext4_ok = true;
	}
}

FIXTURE_TEARDOWN(failnth)
{
	if (self->knobs_set)
		for (unsigned int i = 0; i < NKNOBS; i++)
			if (self->have[i])
				knob_write(fi_knobs[i].file, self->saved[i]);
	if (self->ext4_ok)
		kiovec_umount_ext4(self->ext4);
}

/*
 * The kernel log since `from` (a /dev/kmsg descriptor at the end of the log when the sweep
 * started): warn_alloc dumps and other stack traces an injected failure caused.
 */
static int scan_kmsg(int kfd, char *first, size_t firstlen, int *from_kiovec)
{
	char rec[2048];
	int dumps = 0, lines_since = -1;
	ssize_t n;

	*from_kiovec = 0;
	first[0] = 0;
	while ((n = read(kfd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *msg;

		if (n < 0)
			continue;	/* overwritten records */
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = 0;
		if (strstr(msg, "page allocation failure") || strstr(msg, "vmalloc error") ||
		    strstr(msg, "FAULT_INJECTION") || strstr(msg, "WARNING:") ||
		    strstr(msg, "BUG:")) {
			if (!dumps++)
				snprintf(first, firstlen, "%.400s", msg);
			lines_since = 0;
		} else if (lines_since >= 0 && lines_since++ < 60 && strstr(msg, "kiovec")) {
			(*from_kiovec)++;
			lines_since = 60;	/* count each dump once */
		}
	}
	return dumps;
}

TEST_F_TIMEOUT(failnth, sweep, 900)
{
	struct result *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long pins0 = kiovec_pins_outstanding();
	int ctl[2], kfd, dumps, kio, status;
	struct timespec t0, t1;
	char first[512], line[1024];
	size_t len = 0;
	pid_t pid;

	ASSERT_NE(MAP_FAILED, res);
	if (variant->call == C_ADD_FILE_COPY) {
		struct statfs sf;

		if (statfs(COPY_FILE, &sf) || sf.f_type != PROC_SUPER_MAGIC)
			SKIP(return, "no procfs at /proc");
	}
	ASSERT_NE(LONG_MIN, pins0) TH_LOG("no nr_foll_pin counters in /proc/vmstat");
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl));
	kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kfd >= 0)
		lseek(kfd, 0, SEEK_END);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sweep w = { .call = variant->call, .name = variant->name, .ctl = ctl[1],
				   .res = res };
		char path[128];
		int mfd;

		close(ctl[0]);
		w.s.ext4fd = w.s.copyfd = -1;
		if (variant->call == C_ADD_FILE_EXT4) {
			uint8_t *b = malloc(16 * pg);

			snprintf(path, sizeof(path), "%s/f", self->ext4);
			w.s.ext4fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
			kiovec_fill(b, 16 * pg, 4);
			if (w.s.ext4fd < 0 || pwrite(w.s.ext4fd, b, 16 * pg, 0) != (ssize_t)(16 * pg))
				_exit(20);
			free(b);
		}
		if (variant->call == C_ADD_FILE_COPY)
			w.s.copyfd = open(COPY_FILE, O_RDONLY | O_CLOEXEC);
		if (!kiovec_become_user(NOBODY, MEMLOCK_PAGES * pg))
			_exit(21);
		w.fnfd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
		w.buf = malloc(1 << 20);
		w.s.snap = malloc(1 << 20);
		w.s.pool = kiovec_map_small(64 * pg);
		mfd = memfd_create("failnth", MFD_CLOEXEC);
		if (w.fnfd < 0 || !w.buf || !w.s.snap || !w.s.pool || mfd < 0)
			_exit(22);
		kiovec_fill(w.s.pool, 64 * pg, 1);
		kiovec_fill(w.buf, 16 * pg, 2);
		if (pwrite(mfd, w.buf, 16 * pg, 0) != (ssize_t)(16 * pg))
			_exit(23);
		w.s.memfd = mfd;
		w.s.filedata = malloc(16 * pg);
		if (!w.s.filedata || pread(mfd, w.s.filedata, 16 * pg, 0) != (ssize_t)(16 * pg))
			_exit(24);
		if (w.s.copyfd >= 0) {
			/* Its size says nothing (0): what read(2) gives. */
			w.s.copylen = pread(w.s.copyfd, w.buf, 1 << 20, 0);
			if ((ssize_t)w.s.copylen <= 0)
				_exit(25);
		}
		signal(SIGPIPE, SIG_IGN);
		/* The call itself must work unarmed before faults are injected into it. */
		one(&w, 0);
		if (!res->failed)
			sweep_main(&w);
		_exit(0);
	}
	close(ctl[1]);
	/* Serve the child's pin checks: vm.stat_refresh needs root. */
	for (;;) {
		char c;

		if (read(ctl[0], &c, 1) != 1)
			break;
		c = kiovec_pins_outstanding() == pins0 ? 'y' : 'n';
		if (write(ctl[0], &c, 1) != 1)
			break;
	}
	status = kiovec_wait(pid);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(ctl[0]);
	EXPECT_EQ(0, status) TH_LOG("the sweep exited with %d", status);
	EXPECT_FALSE(res->failed) TH_LOG("%s", res->msg);

	len = snprintf(line, sizeof(line), "%s: %d injection points; injected:", variant->name,
		       res->points);
	for (int e = 1; e < NERR; e++)
		if (res->err[e])
			len += snprintf(line + len, sizeof(line) - len, " %s %ld", strerrorname_np(e),
					res->err[e]);
	snprintf(line + len, sizeof(line) - len, ", absorbed (success) %d; short counts %d; %.1f s",
		 res->injected_ok, res->shorts,
		 (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	ksft_print_msg("failnth: %s\n", line);
	/* Every call but RESET copies from or to user memory: at least one point. */
	if (variant->call != C_RESET)
		EXPECT_LT(0, res->points) TH_LOG("no injection point reached: is fault injection on?");

	if (kfd >= 0) {
		dumps = scan_kmsg(kfd, first, sizeof(first), &kio);
		close(kfd);
		if (dumps)
			ksft_print_msg("failnth: %s: %d kernel log reports during the sweep, %d with "
				       "kiovec on the stack; the first: %s\n", variant->name, dumps,
				       kio, first);
		EXPECT_EQ(0, dumps) TH_LOG("an injected allocation failure dumped a stack (%s): "
					   "allocations a user sizes need __GFP_NOWARN", first);
	}
}

TEST_HARNESS_MAIN
