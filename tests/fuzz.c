// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded fuzzer for /dev/kiovec: random sequences over every entry point (open, write,
 * writev, read, mmap, lseek, poll, every ioctl of the UAPI, close, dup, SCM_RIGHTS, fork,
 * exit) with valid and hostile arguments (bad and kernel pointers, unaligned and huge
 * lengths, wrapping offsets, and every kind of descriptor: containers, O_RDONLY containers,
 * pipes, UDP/unix/unconnected and listening TCP sockets, connected loopback TCP pairs,
 * procfs, sysfs, overlayfs, hugetlbfs, secretmem, tmpfs and ext4 files, a block device,
 * directories, O_PATH and closed descriptors).
 *
 * Several worker processes run at once, most of them as user nobody (one with
 * RLIMIT_MEMLOCK = 64 KiB), each with chaos threads racing on shared containers. Each
 * worker's main thread keeps a model of its containers and checks after every step:
 * the exact result (the errno must be one that the ABI allows for those arguments), STAT
 * against what it believes it added, COPY_OUT, TRANSMIT (the bytes the peer receives) and
 * RW against the sources (write() bytes, user memory it never modified, file contents).
 * At the end: pins balanced, and the user's locked_vm back at its start (a fresh container
 * can pin exactly RLIMIT_MEMLOCK, and not a page more).
 *
 * Environment:
 *   FUZZ_SEED     the seed (default: from the clock; always printed)
 *   FUZZ_OPS      main-thread operations over all workers (default 8000: about 45 s in the
 *                 debug guest under TCG on an idle 2-core host; each focused variant runs
 *                 its share of it)
 *   FUZZ_SECONDS  stop after this long (default when FUZZ_OPS is not set: 90 s, a
 *                 variant's share of it; else none)
 *   FUZZ_WORKERS  worker processes (default 3); FUZZ_THREADS=0 turns the chaos threads off
 *   FUZZ_UID, FUZZ_MEMLOCK  uid and RLIMIT_MEMLOCK of worker 0 (replay)
 *   FUZZ_UNSAFE=1 also hands files without a usable page cache to ADD_FILE when the module
 *                 lacks KIOVEC_FEAT_FILE_COPY (that oopses the old module: issue 7, item 1)
 *
 * A failure prints the failing worker's seed and the shortest failing prefix, replayable
 * single-threaded: FUZZ_SEED=s FUZZ_OPS=n FUZZ_WORKERS=1 FUZZ_THREADS=0 FUZZ_UID=u
 * FUZZ_MEMLOCK=m (results that depend on timing, short sends, can differ on replay).
 */
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "kiovec_test.h"

#define NOBODY		65534
#define KADDR		0xffff888000000000ULL	/* the direct map: a kernel address */
#define KTEXT		0xffffffff81000000ULL
#define NSLOTS		6			/* container fds a worker's model holds */
#define NCHAOS		3			/* containers the chaos threads share */
#define CHAOS_FD0	900			/* their fixed descriptor numbers */
#define CLOSED_FD	1000			/* never opened */
#define MODEL_CAP	(1u << 20)		/* the model grows a container to about this */
#define MAX_PIECES	400
#define NERR		134
#define DEFAULT_OPS	8000
#define DEFAULT_SECONDS	90

static size_t pg;

/* ---- randomness: splitmix64 ---- */

struct rng {
	uint64_t s;
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool one_in(struct rng *r, unsigned int n)
{
	return below(r, n) == 0;
}

/* A length up to max, biased to the interesting ones: 0, 1, page boundaries, max. */
static uint64_t gen_len(struct rng *r, uint64_t max)
{
	uint64_t v;

	switch (below(r, 10)) {
	case 0: v = 0; break;
	case 1: v = 1; break;
	case 2: v = pg - 1 + below(r, 3); break;
	case 3: v = max; break;
	case 4: v = below(r, 64); break;
	case 5: v = (1 + below(r, 4)) * pg; break;
	default: v = below(r, max + 1); break;
	}
	return v > max ? max : v;
}

/* ---- the operations, their names and the shared statistics ---- */

enum op {
	OP_OPEN, OP_OPEN_RO, OP_REOPEN, OP_CLOSE, OP_DUP, OP_SCM, OP_FORK, OP_EXIT,
	OP_WRITE, OP_WRITEV, OP_READ, OP_MMAP, OP_LSEEK, OP_POLL,
	OP_INFO, OP_STAT, OP_RESET, OP_ADD_USER, OP_COPY_OUT, OP_TRANSMIT, OP_BATCH,
	OP_ADD_FILE, OP_RW, OP_ADD_ZERO, OP_RO_FD, OP_BAD_IOCTL, OP_CHAOS, OP_TCP_RESET,
	OP_VERIFY, NOPS
};

static const char *const op_names[NOPS] = {
	"open", "open O_RDONLY", "reopen /proc/self/fd", "close", "dup", "SCM_RIGHTS", "fork",
	"exit", "write", "writev", "read", "mmap", "lseek", "poll",
	"INFO", "STAT", "RESET", "ADD_USER", "COPY_OUT", "TRANSMIT", "TRANSMIT_BATCH",
	"ADD_FILE", "RW", "ADD_ZERO", "RO_FD", "unknown ioctl", "chaos op", "peer reset",
	"verify",
};

#define NLOG 12

struct wstat {
	long ops, chaos_ops;
	uint64_t seed;
	uid_t uid;
	long memlock;
	int lasti;
	char last[NLOG][272];
};

struct shared {
	long hist[NOPS][NERR];		/* [op][0] = success, [op][errno] */
	long chaos_hist[NERR];
	int failed;
	char fail[8192];
	struct wstat w[16];
	uint64_t seed;
	/* Deviations that do not break the model (a wrong errno, a wrong charge count): each
	 * kind is reported once with its replay line, and the run goes on to find more. */
	int nfindings;
	long finding_count[32];
	uint32_t finding_key[32];
	char finding[32][900];
	uint64_t unknown_bytes;		/* ADD_FILE bytes past what read(2) returns */
	long rx_bytes;			/* bytes received and checked on TCP */
};

static struct shared *sh;

/* ---- the module and the descriptors every worker shares ---- */

enum tkind {
	T_MEMFD, T_SPARSE, T_TMPFILE, T_EXT4, T_EXT4_BIG, T_WRONLY, T_OPATH, T_DIR,
	T_PIPE_R, T_PIPE_W, T_UDP, T_UNIX, T_TCP_UNCONN, T_TCP_LISTEN, T_PROC, T_PCI, T_SYSFS,
	T_OVERLAY, T_HUGETLB, T_SECRET, T_DEVNULL, T_KIOVEC, T_KIOVEC_RO, T_BLOCKDEV, T_EVENTFD,
	T_CLOSED, T_NEG, NTK
};

struct target {
	int fd;
	enum tkind kind;
	char name[64];
	bool regular, readable, writable, socket, tcp;
	bool needs_copy;	/* no usable page cache: ADD_FILE only with FILE_COPY */
	bool no_read_iter;	/* only ->read: the kernel cannot read it (EINVAL, as sendfile) */
	bool secret;
	uint64_t size;
};

static struct env {
	struct kiovec_info info;
	uint64_t feat;
	bool file_copy;
	int ntargets;
	struct target t[NTK];
	char ext4_dir[64];
	bool ext4;
	int ext4_rw_fd;		/* an ext4 file open O_RDWR, for a shared writable mapping */
	char ovl_dir[64];
	bool ovl_mounted;
	long hugepages_saved;
	bool hugepages_set;
	char notes[2048];
	bool targets_ready;
	double setup_secs;
} env;

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* ---- acceptable results ---- */

struct ex {
	uint64_t m[3];		/* errnos 0..191 */
	bool ok;
	int64_t min, max;
};

static void ex_err(struct ex *e, int err)
{
	e->m[err / 64] |= 1ULL << (err % 64);
}

static bool ex_has(const struct ex *e, int err)
{
	return err >= 0 && err < 192 && (e->m[err / 64] >> (err % 64)) & 1;
}

static bool ex_any(const struct ex *e)
{
	return e->m[0] || e->m[1] || e->m[2];
}

static void ex_ok(struct ex *e, int64_t min, int64_t max)
{
	e->ok = true;
	e->min = min;
	e->max = max;
}

static char *ex_str(const struct ex *e, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	if (e->ok)
		n += snprintf(buf + n, len - n, "%lld..%lld ", (long long)e->min,
			      (long long)e->max);
	for (int i = 1; i < 192 && n < len; i++)
		if (ex_has(e, i))
			n += snprintf(buf + n, len - n, "%s ", errname(i));
	return buf;
}

/* ---- the model ---- */

enum pkind { P_BYTES, P_USER, P_UNKNOWN };

struct piece {
	uint8_t kind;
	bool writable;		/* RW may read into it: ADD_WRITE memory or ADD_ZERO pages */
	uint64_t len;
	uint8_t *data;		/* P_BYTES: our copy; P_USER: the live user memory */
};

struct mcont {
	int id, nref;
	bool root;		/* opened with CAP_IPC_LOCK: charged, but not limited */
	uint64_t bytes;
	uint32_t segs, owned, pinned, fsegs, copied;
	int nfiles;
	int npieces;
	struct piece p[MAX_PIECES];
	bool child_mutated;
};

struct slot {
	int fd;			/* -1: free */
	struct mcont *c;
	bool wr;
	bool anon;		/* from RO_FD: an anonymous inode, not /dev/kiovec */
};

/* A loopback TCP pair whose reader thread keeps what arrives, for checking. */
struct tcp {
	int tx, rx;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *ring;
	size_t cap;
	uint64_t head, tail;	/* bytes received, bytes checked */
	bool eof, keep;
	bool up;
};

struct worker {
	int idx;
	uint64_t seed;
	struct rng r;
	uid_t uid;
	rlim_t memlock;
	bool threads, child;
	long op, nops;
	time_t deadline;
	int next_id;
	struct slot s[NSLOTS];
	/* memory */
	uint8_t *pool, *pool_ro, *pool_none, *pool_hole, *pool_shm, *pool_ext4, *pool_thp;
	size_t pool_len, ro_len, shm_len, ext4_len, thp_len;
	uint8_t *wbuf, *rbuf, *scratch, *ro_page, *bigarr;
	size_t wbuf_len, rbuf_len;
	int scratch_fd, scratch_ro_fd;
	struct tcp tcp[2];
	/* chaos */
	int chaos_fd[NCHAOS];
	struct tcp ctcp;
	pthread_t chaos_th[2];
	volatile bool chaos_stop;
	uint8_t *chaos_pool, *chaos_region;
	/* in a forked child: containers it changed */
	int mutated[64];
	int nmutated;
	char desc[240];
	uint8_t keyx;		/* the target's kind + 1, to tell findings apart */
};

static struct worker *W;	/* this process's worker, for failure reports */
static __thread const char *chaos_desc;	/* set in a chaos thread: what it does */

static void wlog(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(struct worker *w, const char *fmt, ...)
{
	struct wstat *ws = &sh->w[w->idx];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->desc, sizeof(w->desc), fmt, ap);
	va_end(ap);
	if (w->child)
		return;
	snprintf(ws->last[ws->lasti % NLOG], sizeof(ws->last[0]), "#%ld %s", w->op, w->desc);
	ws->lasti++;
}

static void fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static void fail(struct worker *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (chaos_desc && __sync_bool_compare_and_swap(&sh->failed, 0, 1)) {
		snprintf(sh->fail, sizeof(sh->fail),
			 "worker %d (uid %u, RLIMIT_MEMLOCK %ld), a chaos thread: %s\n"
			 "#   in: %s\n"
			 "# not replayable single-threaded: rerun the whole run with FUZZ_SEED=%#llx "
			 "(worker seed %#llx)", w->idx, w->uid, (long)w->memlock, msg, chaos_desc,
			 (unsigned long long)sh->seed, (unsigned long long)w->seed);
	} else if (__sync_bool_compare_and_swap(&sh->failed, 0, 1)) {
		snprintf(sh->fail, sizeof(sh->fail),
			 "worker %d (uid %u, RLIMIT_MEMLOCK %ld)%s, op %ld: %s\n"
			 "#   in: %s\n"
			 "# replay (shortest failing prefix): FUZZ_SEED=%#llx FUZZ_OPS=%ld "
			 "FUZZ_WORKERS=1 FUZZ_THREADS=0 FUZZ_UID=%u FUZZ_MEMLOCK=%ld",
			 w->idx, w->uid, (long)w->memlock,
			 w->child ? " in a forked child" : "", w->op, msg, w->desc,
			 (unsigned long long)w->seed, w->op + 1, w->uid, (long)w->memlock);
	}
	_exit(1);
}

/* A deviation worth reporting that does not invalidate the model: counted, not fatal. */
static void soft(struct worker *w, uint32_t key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void soft(struct worker *w, uint32_t key, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	int i, n;

	for (i = 0; i < sh->nfindings; i++)
		if (sh->finding_key[i] == key) {
			__atomic_fetch_add(&sh->finding_count[i], 1, __ATOMIC_RELAXED);
			return;
		}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = __atomic_fetch_add(&sh->nfindings, 1, __ATOMIC_RELAXED);
	if (n >= 32)
		return;
	sh->finding_key[n] = key;
	sh->finding_count[n] = 1;
	if (chaos_desc)
		snprintf(sh->finding[n], sizeof(sh->finding[n]), "%s (worker %d, chaos thread)",
			 msg, w->idx);
	else
		snprintf(sh->finding[n], sizeof(sh->finding[n]),
			 "%s\n#     in: %s\n#     replay: FUZZ_SEED=%#llx FUZZ_OPS=%ld FUZZ_WORKERS=1 "
			 "FUZZ_THREADS=0 FUZZ_UID=%u FUZZ_MEMLOCK=%ld%s", msg, w->desc,
			 (unsigned long long)w->seed, w->op + 1, w->uid, (long)w->memlock,
			 w->child ? " (in a forked child)" : "");
}

static void record(int op, long r)
{
	int e = r < 0 ? (int)-r : 0;

	if (e >= NERR)
		e = NERR - 1;
	__atomic_fetch_add(&sh->hist[op][e], 1, __ATOMIC_RELAXED);
}

/* Checks a result (>= 0, or -errno) against what is acceptable. */
static void expect(struct worker *w, int op, const struct ex *e, long r, const char *what)
{
	char buf[512];

	record(op, r);
	if (r < 0) {
		/* A wrong errno: reported, and the call counts as failed (STAT checks that it
		 * changed nothing). */
		if (!ex_has(e, -r))
			soft(w, op << 16 | w->keyx << 8 | (-r & 0xff), "%s: %s, expected %s", what,
			     errname(-r),
			     ex_str(e, buf, sizeof(buf)));
	} else if (!e->ok) {
		fail(w, "%s: returned %ld, expected %s", what, r, ex_str(e, buf, sizeof(buf)));
	} else if (r < e->min || r > e->max) {
		fail(w, "%s: returned %ld, expected %s", what, r, ex_str(e, buf, sizeof(buf)));
	}
}

static long sys_ret(long r)
{
	return r < 0 ? -errno : r;
}

static long kioctl(int fd, unsigned long cmd, void *arg)
{
	return sys_ret(ioctl(fd, cmd, arg));
}

static void mark_mutated(struct worker *w, struct mcont *c)
{
	if (w->child && w->nmutated < 64)
		w->mutated[w->nmutated++] = c->id;
}

/*
 * Calls that change a container need it open for writing (the new ABI, with RO_FD): on a
 * read-only descriptor they are EBADF before anything else. The old module let them
 * through; then both are accepted.
 */
static bool ro_refused(const struct slot *s, struct ex *e)
{
	if (s->wr)
		return false;
	ex_err(e, EBADF);
	return env.feat & KIOVEC_FEAT_RO_FD;
}

/* ---- model containers ---- */

static void piece_free(struct piece *p)
{
	if (p->kind == P_BYTES)
		free(p->data);
	p->data = NULL;
}

static void model_clear(struct mcont *c)
{
	for (int i = 0; i < c->npieces; i++)
		piece_free(&c->p[i]);
	c->npieces = 0;
	c->bytes = 0;
	c->segs = c->owned = c->pinned = c->fsegs = c->copied = 0;
	c->nfiles = 0;
}

static struct mcont *model_new(struct worker *w, bool root)
{
	struct mcont *c = calloc(1, sizeof(*c));

	if (!c)
		fail(w, "out of memory for the model");
	c->id = w->next_id++;
	c->root = root;
	return c;
}

static void model_unref(struct mcont *c)
{
	if (--c->nref == 0) {
		model_clear(c);
		free(c);
	}
}

static void model_push(struct worker *w, struct mcont *c, enum pkind kind, bool writable,
		       const void *data, uint64_t len)
{
	struct piece *p;

	if (!len)
		return;
	if (c->npieces == MAX_PIECES)
		fail(w, "model: too many pieces (the generator should have reset first)");
	p = &c->p[c->npieces++];
	p->kind = kind;
	p->writable = writable;
	p->len = len;
	p->data = NULL;
	if (kind == P_BYTES) {
		p->data = malloc(len);
		if (!p->data)
			fail(w, "out of memory for the model");
		if (data)
			memcpy(p->data, data, len);
		else
			memset(p->data, 0, len);
	} else if (kind == P_USER) {
		p->data = (uint8_t *)data;
	}
	c->bytes += len;
}

/* Something other than write() added segments. */
static void pack_other(struct mcont *c, uint32_t segs)
{
	c->segs += segs;
}

static uint64_t spans(uint64_t start, uint64_t len)
{
	return len ? ((start % pg) + len + pg - 1) / pg : 0;
}

/*
 * Compares n bytes that the container holds from offset off (buf) with the model; the
 * offset of the first difference, or -1.
 */
static int64_t model_cmp(const struct mcont *c, uint64_t off, const uint8_t *buf, uint64_t n)
{
	uint64_t pos = 0, done = 0;

	for (int i = 0; i < c->npieces && done < n; i++) {
		const struct piece *p = &c->p[i];
		uint64_t end = pos + p->len;

		if (off + done < end) {
			uint64_t in = off + done - pos, k = p->len - in;

			if (k > n - done)
				k = n - done;
			if (p->kind != P_UNKNOWN && memcmp(p->data + in, buf + done, k)) {
				for (uint64_t j = 0; j < k; j++)
					if (p->data[in + j] != buf[done + j])
						return off + done + j;
			}
			done += k;
		}
		pos = end;
	}
	return -1;
}

/* The model's bytes [off, off + n) into out (zeros where unknown). */
static void model_read(const struct mcont *c, uint64_t off, uint8_t *out, uint64_t n)
{
	uint64_t pos = 0, done = 0;

	memset(out, 0, n);
	for (int i = 0; i < c->npieces && done < n; i++) {
		const struct piece *p = &c->p[i];
		uint64_t end = pos + p->len;

		if (off + done < end) {
			uint64_t in = off + done - pos, k = p->len - in;

			if (k > n - done)
				k = n - done;
			if (p->kind != P_UNKNOWN)
				memcpy(out + done, p->data + in, k);
			done += k;
		}
		pos = end;
	}
}

/* ---- user memory ---- */

static void *map(size_t len, int prot, int flags, int fd)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void fill(struct rng *r, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rnd(r);

		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* How many bytes from p on this process can read (up to len); for the model's expectations. */
static uint64_t readable_prefix(const struct worker *w, uint64_t p, uint64_t len)
{
	struct { uint64_t base, len; } r[] = {
		{ (uintptr_t)w->pool, w->pool_len },
		{ (uintptr_t)w->pool_ro, w->ro_len },
		{ (uintptr_t)w->pool_shm, w->shm_len },
		{ (uintptr_t)w->pool_ext4, w->ext4_len },
		{ (uintptr_t)w->pool_thp, w->thp_len },
		{ (uintptr_t)w->wbuf, w->wbuf_len },
		{ (uintptr_t)w->rbuf, w->rbuf_len },
		{ (uintptr_t)w->pool_hole, pg },
		{ (uintptr_t)w->ro_page, pg },
	};

	for (unsigned int i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (r[i].base && p >= r[i].base && p < r[i].base + r[i].len) {
			uint64_t room = r[i].base + r[i].len - p;

			return len < room ? len : room;
		}
	return 0;
}

/* Whether [p, p + len) is writable memory of this process (the buffers we copy out to). */
static uint64_t writable_prefix(const struct worker *w, uint64_t p, uint64_t len)
{
	if (p >= (uintptr_t)w->ro_page && p < (uintptr_t)w->ro_page + pg)
		return 0;
	if (p >= (uintptr_t)w->pool_ro && p < (uintptr_t)w->pool_ro + w->ro_len)
		return 0;
	if (p >= (uintptr_t)w->pool_ext4 && p < (uintptr_t)w->pool_ext4 + w->ext4_len)
		return 0;	/* mapped read-only (and never to be written) */
	return readable_prefix(w, p, len);
}

/* A pointer that must fault: null, low, kernel, PROT_NONE, a hole. */
static uint64_t bad_ptr(struct worker *w)
{
	switch (below(&w->r, 7)) {
	case 0: return 0;
	case 1: return 1;
	case 2: return KADDR;
	case 3: return KTEXT;
	case 4: return (uintptr_t)w->pool_none;
	case 5: return (uintptr_t)w->pool_hole + pg + below(&w->r, pg);
	default: return ~0ULL - below(&w->r, 16);
	}
}

/* A struct argument: usually a good one, sometimes unreadable or read-only. */
enum argk { ARG_OK, ARG_BAD, ARG_RO };

static enum argk arg_kind(struct worker *w)
{
	unsigned int v = below(&w->r, 40);

	return v == 0 ? ARG_BAD : v == 1 ? ARG_RO : ARG_OK;
}

static void *arg_ptr(struct worker *w, enum argk k, void *good, size_t size)
{
	if (k == ARG_BAD)
		return (void *)(uintptr_t)bad_ptr(w);
	if (k == ARG_RO) {
		/* The struct's bytes at the end of a read-only page. */
		if (mprotect(w->ro_page, pg, PROT_READ | PROT_WRITE) == 0) {
			memcpy(w->ro_page + pg - size, good, size);
			mprotect(w->ro_page, pg, PROT_READ);
		}
		return w->ro_page + pg - size;
	}
	return good;
}

/* ---- TCP pairs ---- */

static void *tcp_reader(void *arg)
{
	struct tcp *t = arg;
	uint8_t junk[16384];

	for (;;) {
		ssize_t n;

		if (!t->keep) {
			n = read(t->rx, junk, sizeof(junk));
			if (n <= 0)
				break;
			continue;
		}
		pthread_mutex_lock(&t->mu);
		while (t->head - t->tail == t->cap)
			pthread_cond_wait(&t->cv, &t->mu);
		{
			size_t at = t->head % t->cap, room = t->cap - (t->head - t->tail);
			size_t chunk = t->cap - at < room ? t->cap - at : room;

			pthread_mutex_unlock(&t->mu);
			n = read(t->rx, t->ring + at, chunk);
			pthread_mutex_lock(&t->mu);
		}
		if (n <= 0) {
			t->eof = true;
			pthread_cond_broadcast(&t->cv);
			pthread_mutex_unlock(&t->mu);
			break;
		}
		t->head += n;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
	}
	return NULL;
}

static bool tcp_up(struct tcp *t, bool keep)
{
	t->keep = keep;
	t->head = t->tail = 0;
	t->eof = false;
	if (keep && !t->ring) {
		t->cap = 8u << 20;
		t->ring = malloc(t->cap);
		if (!t->ring)
			return false;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (kiovec_tcp_pair(&t->tx, &t->rx))
		return false;
	if (pthread_create(&t->th, NULL, tcp_reader, t))
		return false;
	t->up = true;
	return true;
}

static void tcp_down(struct tcp *t, bool reset)
{
	if (!t->up)
		return;
	if (reset) {
		struct linger l = { 1, 0 };

		/* The peer goes away with a RST. */
		setsockopt(t->rx, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		shutdown(t->rx, SHUT_RDWR);
	} else {
		shutdown(t->tx, SHUT_WR);
	}
	pthread_join(t->th, NULL);
	close(t->tx);
	close(t->rx);
	t->up = false;
}

/* Waits for n more bytes on t and compares them with want; false on a difference. */
static void tcp_check(struct worker *w, struct tcp *t, const uint8_t *want, const uint8_t *known,
		      uint64_t n, const char *what)
{
	struct timespec dl;
	uint64_t done = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	pthread_mutex_lock(&t->mu);
	while (done < n) {
		uint64_t avail = t->head - t->tail, k, at;

		if (!avail) {
			if (t->eof || pthread_cond_timedwait(&t->cv, &t->mu, &dl)) {
				pthread_mutex_unlock(&t->mu);
				fail(w, "%s: the peer received %llu of %llu bytes sent", what,
				     (unsigned long long)done, (unsigned long long)n);
			}
			continue;
		}
		/* One contiguous piece of the ring at a time. */
		at = t->tail % t->cap;
		k = avail < n - done ? avail : n - done;
		if (k > t->cap - at)
			k = t->cap - at;
		if (memcmp(t->ring + at, want + done, k)) {
			for (uint64_t i = 0; i < k; i++) {
				uint8_t got = t->ring[at + i];

				if ((!known || known[done + i]) && got != want[done + i]) {
					pthread_mutex_unlock(&t->mu);
					fail(w, "%s: byte %llu of what was sent is %#x, the source has "
					     "%#x", what, (unsigned long long)(done + i), got,
					     want[done + i]);
				}
			}
		}
		t->tail += k;
		done += k;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	__atomic_fetch_add(&sh->rx_bytes, (long)n, __ATOMIC_RELAXED);
}

/* ---- slots ---- */

static struct slot *pick_slot(struct worker *w)
{
	int n = 0, idx[NSLOTS];

	for (int i = 0; i < NSLOTS; i++)
		if (w->s[i].fd >= 0)
			idx[n++] = i;
	return n ? &w->s[idx[below(&w->r, n)]] : NULL;
}

static struct slot *free_slot(struct worker *w)
{
	for (int i = 0; i < NSLOTS; i++)
		if (w->s[i].fd < 0)
			return &w->s[i];
	return NULL;
}

static struct slot *writable_slot_of(struct worker *w, struct mcont *c)
{
	for (int i = 0; i < NSLOTS; i++)
		if (w->s[i].fd >= 0 && w->s[i].c == c && w->s[i].wr)
			return &w->s[i];
	return NULL;
}

/* ---- checks ---- */

static void check_stat(struct worker *w, struct slot *s, const char *after)
{
	struct mcont *c = s->c;
	struct kiovec_stat st;
	long r;

	memset(&st, 0xa5, sizeof(st));
	r = kioctl(s->fd, KIOVEC_IOC_STAT, &st);
	if (r)
		fail(w, "STAT after %s: %s", after, errname(-r));
	if (st.bytes != c->bytes || st.segments != c->segs || st.pinned_pages != c->pinned ||
	    st.owned_pages != c->owned)
		fail(w, "STAT after %s: bytes %llu segments %u owned %u pinned %u; the model has "
		     "%llu, %u, %u, %u", after, (unsigned long long)st.bytes, st.segments,
		     st.owned_pages, st.pinned_pages, (unsigned long long)c->bytes, c->segs,
		     c->owned, c->pinned);
	if (st.reserved0 || st.reserved[0] || st.reserved[1])
		fail(w, "STAT after %s: reserved fields are not zero", after);
	/* Holes of tmpfs files are neither referenced nor copied. */
	if (env.file_copy && (st.file_pages + st.copied_pages > c->fsegs ||
			      st.copied_pages != c->copied))
		fail(w, "STAT after %s: file_pages %u + copied_pages %u; the model has %u file "
		     "segments of which %u copied", after, st.file_pages, st.copied_pages,
		     c->fsegs, c->copied);
	if (!c->root && w->memlock != RLIM_INFINITY && st.charged_pages > w->memlock / pg)
		fail(w, "STAT after %s: %llu pages charged, past RLIMIT_MEMLOCK (%lu pages)",
		     after, (unsigned long long)st.charged_pages, (unsigned long)(w->memlock / pg));
}

/*
 * After write() of n bytes: how they were packed into pages is the module's business
 * (README: small writes share the last page; a segment never crosses a page), so the
 * segments and owned pages are taken from STAT, within bounds: at most one page and one
 * segment more than the bytes need, and no page without its segment.
 */
static void absorb_write(struct worker *w, struct slot *s, uint64_t n, uint32_t segs,
			 uint32_t owned, uint64_t most)
{
	struct mcont *c = s->c;
	struct kiovec_stat st;

	int64_t dsegs, downed;

	memset(&st, 0, sizeof(st));
	if (ioctl(s->fd, KIOVEC_IOC_STAT, &st))
		fail(w, "STAT after write: %s", errname(errno));
	dsegs = (int64_t)st.segments - segs;
	downed = (int64_t)st.owned_pages - owned;
	if (downed < 0 || dsegs < downed || dsegs > downed + 1 || (uint64_t)dsegs > most ||
	    (n == 0 && dsegs))
		fail(w, "STAT after a write of %llu bytes: %lld more segments and %lld more owned "
		     "pages", (unsigned long long)n, (long long)dsegs, (long long)downed);
	c->segs = st.segments;
	c->owned = st.owned_pages;
}

/* n bytes in one write(); writev() is one write per iovec, most pages at most. */
static void check_stat_write(struct worker *w, struct slot *s, uint64_t n, uint64_t most)
{
	absorb_write(w, s, n, s->c->segs, s->c->owned, most ? most : (n + pg - 1) / pg + 1);
	check_stat(w, s, "write");
}

/* COPY_OUT of the whole container against the model. */
static void verify_all(struct worker *w, struct slot *s, const char *after)
{
	struct mcont *c = s->c;
	struct kiovec_copy_out co = { .buf = (uintptr_t)w->rbuf, .len = c->bytes };
	long r;
	int64_t at;

	if (c->bytes > w->rbuf_len)
		return;
	r = kioctl(s->fd, KIOVEC_IOC_COPY_OUT, &co);
	if (r != (long)c->bytes)
		fail(w, "COPY_OUT of all %llu bytes after %s returned %ld%s%s",
		     (unsigned long long)c->bytes, after, r, r < 0 ? " " : "",
		     r < 0 ? errname(-r) : "");
	at = model_cmp(c, 0, w->rbuf, c->bytes);
	if (at >= 0)
		fail(w, "COPY_OUT after %s: byte %lld is %#x, the source has something else",
		     after, (long long)at, w->rbuf[at]);
}

/* ---- container descriptors: open, close, dup, SCM_RIGHTS ---- */

static void op_open(struct worker *w, bool ro)
{
	struct slot *s = free_slot(w);
	struct ex e = { 0 };
	long r;

	if (!s)
		return;
	wlog(w, "open(%s)", ro ? "O_RDONLY" : "O_RDWR");
	r = sys_ret(open(KIOVEC_DEV, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC));
	ex_ok(&e, 0, INT_MAX);
	ex_err(&e, ENOMEM);
	expect(w, ro ? OP_OPEN_RO : OP_OPEN, &e, r, "open");
	if (r < 0)
		return;
	s->fd = r;
	s->wr = !ro;
	s->anon = false;
	s->c = model_new(w, w->uid == 0);
	s->c->nref = 1;
	check_stat(w, s, "open");
}

/* /proc/self/fd/N of a character device opens the device again: a new, empty container. */
static void op_reopen(struct worker *w)
{
	struct slot *from = pick_slot(w), *s = free_slot(w);
	char path[64];
	struct ex e = { 0 };
	bool ro = one_in(&w->r, 2);
	long r;

	if (!from || !s)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", from->fd);
	wlog(w, "open(%s, %s) of a container with %llu bytes", path, ro ? "O_RDONLY" : "O_RDWR",
	     (unsigned long long)from->c->bytes);
	r = sys_ret(open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC));
	if (from->anon) {
		/* An RO_FD descriptor is an anonymous inode: whatever reopening it gives, it
		 * must not be a way to the container (write or ADD_* on it). */
		record(OP_REOPEN, r < 0 ? r : 0);
		if (r >= 0) {
			struct kiovec_stat st;
			long w1 = sys_ret(write(r, "x", 1)), st1 = kioctl(r, KIOVEC_IOC_STAT, &st);

			if (w1 >= 0 || (st1 == 0 && st.bytes != from->c->bytes && st.bytes))
				fail(w, "reopening an RO_FD descriptor gave a file that takes writes "
				     "(%ld) or another container", w1);
			close(r);
		}
		return;
	}
	ex_ok(&e, 0, INT_MAX);
	ex_err(&e, ENOMEM);
	expect(w, OP_REOPEN, &e, r, "reopen");
	if (r < 0)
		return;
	s->fd = r;
	s->wr = !ro;
	s->anon = false;
	s->c = model_new(w, w->uid == 0);
	s->c->nref = 1;
	check_stat(w, s, "reopen through /proc/self/fd (a new open of the device)");
}

static void slot_close(struct worker *w, struct slot *s)
{
	struct ex e = { 0 };
	long r;

	wlog(w, "close(%d)", s->fd);
	r = sys_ret(close(s->fd));
	ex_ok(&e, 0, 0);
	expect(w, OP_CLOSE, &e, r, "close");
	model_unref(s->c);
	s->fd = -1;
	s->c = NULL;
}

static void op_dup(struct worker *w)
{
	struct slot *from = pick_slot(w), *s = free_slot(w);
	struct ex e = { 0 };
	long r;

	if (!from || !s)
		return;
	wlog(w, "dup(%d)", from->fd);
	if (one_in(&w->r, 2))
		r = sys_ret(fcntl(from->fd, F_DUPFD_CLOEXEC, 3));
	else
		r = sys_ret(dup(from->fd));
	ex_ok(&e, 0, INT_MAX);
	expect(w, OP_DUP, &e, r, "dup");
	s->fd = r;
	s->wr = from->wr;
	s->anon = from->anon;
	s->c = from->c;
	s->c->nref++;
	check_stat(w, s, "dup");
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char c = 'k';
	struct iovec io = { &c, 1 };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char c;
	struct iovec io = { &c, 1 };
	struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * A container passed over a unix socket to ourselves: received as a new descriptor (the
 * sender's closed first, or not), or left in flight and dropped with the socket.
 */
static void op_scm(struct worker *w)
{
	struct slot *s = pick_slot(w);
	int sv[2], mode = below(&w->r, 3);
	struct ex e = { 0 };
	long r;

	if (!s)
		return;
	wlog(w, "SCM_RIGHTS of fd %d, mode %d", s->fd, mode);
	if (socketpair(AF_UNIX, one_in(&w->r, 2) ? SOCK_STREAM : SOCK_DGRAM, 0, sv))
		fail(w, "socketpair: %s", errname(errno));
	r = send_fd(sv[0], s->fd);
	ex_ok(&e, 0, 0);
	expect(w, OP_SCM, &e, r, "sendmsg SCM_RIGHTS");
	if (mode >= 1) {
		/* Our descriptor goes; the one in flight keeps the container. */
		int old = s->fd;

		wlog(w, "close(%d) with it in flight", old);
		if (close(old))
			fail(w, "close: %s", errname(errno));
		if (mode == 1) {
			r = recv_fd(sv[1]);
			expect(w, OP_SCM, &e, r < 0 ? r : 0, "recvmsg SCM_RIGHTS");
			s->fd = r;
			check_stat(w, s, "SCM_RIGHTS round trip");
		} else {
			/* Dropped in flight: the socket's release closes the container. */
			model_unref(s->c);
			s->fd = -1;
			s->c = NULL;
		}
	} else {
		struct slot *n = free_slot(w);

		r = recv_fd(sv[1]);
		expect(w, OP_SCM, &e, r < 0 ? r : 0, "recvmsg SCM_RIGHTS");
		if (n) {
			n->fd = r;
			n->wr = s->wr;
			n->anon = s->anon;
			n->c = s->c;
			n->c->nref++;
			check_stat(w, n, "SCM_RIGHTS copy");
		} else {
			close(r);
		}
	}
	close(sv[0]);
	close(sv[1]);
}

/* ---- write ---- */

/* A source buffer for write(): good bytes, a bad pointer, or good bytes running into a guard. */
static uint64_t gen_wsrc(struct worker *w, uint64_t *len, bool *huge)
{
	uint64_t l = gen_len(&w->r, 3 * pg + 100);

	*huge = false;
	switch (below(&w->r, 12)) {
	case 0:
		*len = l ? l : 1;
		return bad_ptr(w);
	case 1:
		/* Runs into the guard page after wbuf: a short count. */
		*len = l + 1 + below(&w->r, 3 * pg);
		return (uintptr_t)w->wbuf + w->wbuf_len - below(&w->r, *len);
	case 2:
		*len = (1ULL << 40) + below(&w->r, 100);
		*huge = true;
		return (uintptr_t)w->wbuf + w->wbuf_len - below(&w->r, 2 * pg);
	default:
		*len = l;
		return (uintptr_t)w->wbuf + below(&w->r, w->wbuf_len - l);
	}
}

/* New bytes for the part of wbuf that [src, src + len) covers. */
static void fill_wbuf(struct worker *w, uint64_t src, uint64_t len)
{
	uint64_t lo = (uintptr_t)w->wbuf, hi = lo + w->wbuf_len;

	if (src >= hi || src + len <= lo || src < lo)
		return;
	fill(&w->r, (uint8_t *)(uintptr_t)src, len < hi - src ? len : hi - src);
}

static void apply_write(struct worker *w, struct slot *s, uint64_t src, uint64_t n,
			uint64_t most)
{
	model_push(w, s->c, P_BYTES, false, (void *)(uintptr_t)src, n);
	mark_mutated(w, s->c);
	check_stat_write(w, s, n, most);
}

static void op_write(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	uint64_t len, src, valid, room = env.info.max_bytes - c->bytes, want;
	bool huge;
	struct ex e = { 0 };
	long r;

	src = gen_wsrc(w, &len, &huge);
	fill_wbuf(w, src, len);
	if (c->bytes + len > MODEL_CAP && src >= (uintptr_t)w->wbuf &&
	    src < (uintptr_t)w->wbuf + w->wbuf_len)
		len = 0;
	wlog(w, "write(%d%s, %#llx, %llu)", s->fd, s->wr ? "" : " O_RDONLY",
	     (unsigned long long)src, (unsigned long long)len);
	valid = readable_prefix(w, src, len);
	if (src >= KADDR)
		valid = 0;
	want = len < room ? len : room;
	if (want > valid)
		want = valid;
	if (!s->wr)
		ex_err(&e, EBADF);
	else if (len == 0)
		ex_ok(&e, 0, 0);
	else if (src >= 0x800000000000ULL)
		ex_err(&e, EFAULT);	/* access_ok fails: no byte is read */
	else if (!room)
		ex_err(&e, E2BIG);
	else if (!want) {
		ex_err(&e, EFAULT);
		ex_err(&e, ENOMEM);	/* the pages are charged before the bytes are read */
	} else {
		ex_ok(&e, 1, want);
		ex_err(&e, ENOMEM);
		/* 2 GiB (MAX_RW_COUNT) from src may pass the end of user space: access_ok. And
		 * a fault in the first page's worth is EFAULT: the module copies page-sized
		 * chunks and keeps only whole ones. */
		if (huge || valid < len)
			ex_err(&e, EFAULT);
	}
	r = sys_ret(write(s->fd, (void *)(uintptr_t)src, len));
	expect(w, OP_WRITE, &e, r, "write");
	if (r > 0)
		apply_write(w, s, src, r, 0);
	else
		check_stat(w, s, "a failed write");
}

static void op_writev(struct worker *w, struct slot *s)
{
	struct iovec iov[3];
	int n = 1 + below(&w->r, 3);
	uint64_t total = 0, valid = 0, most = 0;
	bool stop = false, kernel = false;
	struct ex e = { 0 };
	uint8_t *copy;
	long r;

	for (int i = 0; i < n; i++) {
		bool huge;
		uint64_t len, src = gen_wsrc(w, &len, &huge);

		fill_wbuf(w, src, len);
		if (len > 64 * pg)
			len = 64 * pg;
		if (s->c->bytes + total + len > MODEL_CAP)
			len = 0;
		iov[i].iov_base = (void *)(uintptr_t)src;
		iov[i].iov_len = len;
		total += len;
		if (len && src >= 0x800000000000ULL)
			kernel = true;
		if (!stop) {
			uint64_t v = readable_prefix(w, src, len);

			valid += v;
			stop = v < len;
		}
	}
	wlog(w, "writev(%d%s, %d iovecs, %llu bytes)", s->fd, s->wr ? "" : " O_RDONLY", n,
	     (unsigned long long)total);
	if (!s->wr)
		ex_err(&e, EBADF);
	else if (kernel)
		ex_err(&e, EFAULT);
	else if (!total)
		ex_ok(&e, 0, 0);
	else if (!valid) {
		ex_err(&e, EFAULT);
		ex_err(&e, ENOMEM);
	} else {
		ex_ok(&e, 1, valid);
		ex_err(&e, ENOMEM);
		if (valid < total)
			ex_err(&e, EFAULT);
	}
	r = sys_ret(writev(s->fd, iov, n));
	expect(w, OP_WRITEV, &e, r, "writev");
	if (r <= 0) {
		check_stat(w, s, "a failed writev");
		return;
	}
	copy = malloc(r);
	if (!copy)
		fail(w, "out of memory");
	for (int i = 0, at = 0; i < n && at < r; i++) {
		uint64_t k = iov[i].iov_len < (uint64_t)(r - at) ? iov[i].iov_len : r - at;

		memcpy(copy + at, iov[i].iov_base, k);
		at += k;
		if (k)
			most += (k + pg - 1) / pg + 1;
	}
	apply_write(w, s, (uintptr_t)copy, r, most);
	free(copy);
}

/* read, mmap, lseek, poll: what the device does not implement fails cleanly. */
static void op_misc(struct worker *w, struct slot *s)
{
	struct ex e = { 0 };
	int which = below(&w->r, 4);
	long r;

	switch (which) {
	case 0: {
		uint64_t len = gen_len(&w->r, 2 * pg);

		wlog(w, "read(%d, %llu)", s->fd, (unsigned long long)len);
		r = sys_ret(read(s->fd, w->rbuf, len));
		if (len == 0)
			ex_ok(&e, 0, 0);
		ex_err(&e, EINVAL);
		expect(w, OP_READ, &e, r, "read");
		break;
	}
	case 1: {
		void *p;

		wlog(w, "mmap(%d)", s->fd);
		p = mmap(NULL, pg, PROT_READ, MAP_SHARED, s->fd, 0);
		r = p == MAP_FAILED ? -errno : 0;
		if (p != MAP_FAILED)
			munmap(p, pg);
		ex_err(&e, ENODEV);
		if (!s->wr)
			ex_err(&e, EACCES);
		expect(w, OP_MMAP, &e, r, "mmap");
		break;
	}
	case 2:
		wlog(w, "lseek(%d)", s->fd);
		r = sys_ret(lseek(s->fd, below(&w->r, 100), SEEK_SET));
		ex_ok(&e, 0, 100);
		ex_err(&e, ESPIPE);
		ex_err(&e, EINVAL);
		expect(w, OP_LSEEK, &e, r, "lseek");
		break;
	default: {
		struct pollfd p = { .fd = s->fd, .events = POLLIN | POLLOUT };

		wlog(w, "poll(%d)", s->fd);
		r = sys_ret(poll(&p, 1, 0));
		ex_ok(&e, 0, 1);
		expect(w, OP_POLL, &e, r, "poll");
		break;
	}
	}
	check_stat(w, s, op_names[OP_READ + which]);
}

/* RO_FD: a read-only descriptor of the same container. */
static void op_ro_fd(struct worker *w, struct slot *from)
{
	struct slot *s = free_slot(w);
	unsigned long arg = one_in(&w->r, 10) ? 1 + below(&w->r, 1000) : 0;
	struct ex e = { 0 };
	long r;

	if (!s)
		return;
	wlog(w, "RO_FD(%d%s, %lu)", from->fd, from->wr ? "" : " O_RDONLY", arg);
	r = sys_ret(ioctl(from->fd, KIOVEC_IOC_RO_FD, arg));
	if (!(env.feat & KIOVEC_FEAT_RO_FD))
		ex_err(&e, ENOTTY);
	else if (arg)
		ex_err(&e, EINVAL);
	else {
		ex_ok(&e, 0, INT_MAX);
		ex_err(&e, ENOMEM);
		ex_err(&e, EMFILE);
	}
	expect(w, OP_RO_FD, &e, r, "RO_FD");
	if (r < 0)
		return;
	if ((fcntl(r, F_GETFL) & O_ACCMODE) != O_RDONLY || !(fcntl(r, F_GETFD) & FD_CLOEXEC))
		fail(w, "RO_FD gave a descriptor that is not O_RDONLY and close-on-exec");
	s->fd = r;
	s->wr = false;
	s->anon = true;
	s->c = from->c;
	s->c->nref++;
	check_stat(w, s, "RO_FD");
}

/* ---- INFO, STAT, RESET, unknown ioctls ---- */

static void op_info(struct worker *w, struct slot *s)
{
	struct kiovec_info info;
	enum argk k = arg_kind(w);
	struct ex e = { 0 };
	void *p;
	long r;

	memset(&info, 0x5a, sizeof(info));
	p = arg_ptr(w, k, &info, sizeof(info));
	wlog(w, "INFO(%d, %p)", s->fd, p);
	r = kioctl(s->fd, KIOVEC_IOC_INFO, p);
	if (k == ARG_OK)
		ex_ok(&e, 0, 0);
	else
		ex_err(&e, EFAULT);
	expect(w, OP_INFO, &e, r, "INFO");
	if (r == 0 && memcmp(&info, &env.info, sizeof(info)))
		fail(w, "INFO changed since the start");
}

static void op_stat(struct worker *w, struct slot *s)
{
	struct kiovec_stat st;
	enum argk k = arg_kind(w);
	struct ex e = { 0 };
	long r;

	if (k == ARG_OK) {
		check_stat(w, s, "nothing");
		record(OP_STAT, 0);
		return;
	}
	memset(&st, 0, sizeof(st));
	wlog(w, "STAT(%d, bad pointer)", s->fd);
	r = kioctl(s->fd, KIOVEC_IOC_STAT, arg_ptr(w, k, &st, sizeof(st)));
	ex_err(&e, EFAULT);
	expect(w, OP_STAT, &e, r, "STAT");
}

static void op_reset(struct worker *w, struct slot *s)
{
	unsigned long arg = one_in(&w->r, 8) ? (unsigned long)bad_ptr(w) | 1 : 0;
	struct ex e = { 0 };
	long r;

	wlog(w, "RESET(%d%s, %#lx) of %llu bytes", s->fd, s->wr ? "" : " O_RDONLY", arg,
	     (unsigned long long)s->c->bytes);
	r = sys_ret(ioctl(s->fd, KIOVEC_IOC_RESET, arg));
	if (arg)
		ex_err(&e, EINVAL);
	else if (!ro_refused(s, &e))
		ex_ok(&e, 0, 0);
	expect(w, OP_RESET, &e, r, "RESET");
	if (r == 0) {
		model_clear(s->c);
		mark_mutated(w, s->c);
	}
	check_stat(w, s, "RESET");
}

static const unsigned long known_cmds[] = {
	KIOVEC_IOC_INFO, KIOVEC_IOC_STAT, KIOVEC_IOC_RESET, KIOVEC_IOC_ADD_USER,
	KIOVEC_IOC_COPY_OUT, KIOVEC_IOC_TRANSMIT, KIOVEC_IOC_ADD_FILE,
	KIOVEC_IOC_TRANSMIT_BATCH, KIOVEC_IOC_RW, KIOVEC_IOC_ADD_ZERO, KIOVEC_IOC_RO_FD,
};

static void op_bad_ioctl(struct worker *w, struct slot *s)
{
	unsigned long cmd;
	struct ex e = { 0 };
	long r;

	do {
		unsigned long dir = below(&w->r, 4), nr = below(&w->r, 4) ? below(&w->r, 16) :
			below(&w->r, 256), size = below(&w->r, 3) ? below(&w->r, 128) :
			below(&w->r, 1 << 14);

		cmd = _IOC(dir, KIOVEC_IOC_MAGIC, nr, size);
		if (one_in(&w->r, 8))
			cmd = below(&w->r, 2) ? 0 : 0x5401 /* TCGETS */;
		for (unsigned int i = 0; i < sizeof(known_cmds) / sizeof(known_cmds[0]); i++)
			if (cmd == known_cmds[i])
				cmd = ~0UL;
	} while (cmd == ~0UL);
	wlog(w, "ioctl(%d, %#lx)", s->fd, cmd);
	r = kioctl(s->fd, cmd, (void *)(uintptr_t)(one_in(&w->r, 2) ? bad_ptr(w) :
					      (uintptr_t)w->rbuf));
	ex_err(&e, ENOTTY);
	expect(w, OP_BAD_IOCTL, &e, r, "an unknown ioctl");
	check_stat(w, s, "an unknown ioctl");
}

/* ---- ADD_USER ---- */

enum ucls { U_RW, U_RO, U_SHM, U_EXT4, U_THP, U_NONE, U_HOLE, U_NULL, U_KADDR, U_WRAP, U_HUGE,
	    U_ZERO, NUCLS };

static void gen_iov(struct worker *w, struct kiovec_iovec *v, enum ucls *cls)
{
	enum ucls c;
	uint64_t len;
	uint8_t *base;
	size_t room;

	do {
		static const uint8_t weights[NUCLS] = { 12, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 };
		unsigned int sum = 0, pick;

		for (int i = 0; i < NUCLS; i++)
			sum += weights[i];
		pick = below(&w->r, sum);
		for (c = 0; pick >= weights[c]; c++)
			pick -= weights[c];
	} while ((c == U_EXT4 && !w->pool_ext4) || (c == U_THP && !w->pool_thp));
	*cls = c;
	switch (c) {
	case U_RW: base = w->pool; room = w->pool_len; break;
	case U_RO: base = w->pool_ro; room = w->ro_len; break;
	case U_SHM: base = w->pool_shm; room = w->shm_len; break;
	case U_EXT4: base = w->pool_ext4; room = w->ext4_len; break;
	case U_THP: base = w->pool_thp; room = w->thp_len; break;
	case U_NONE:
		v->base = (uintptr_t)w->pool_none + below(&w->r, pg);
		v->len = 1 + below(&w->r, pg);
		return;
	case U_HOLE:
		/* From the mapped first page into the hole. */
		v->base = (uintptr_t)w->pool_hole + below(&w->r, pg);
		v->len = pg + 1;
		return;
	case U_NULL:
		v->base = 0;
		v->len = 1 + below(&w->r, 100);
		return;
	case U_KADDR:
		v->base = below(&w->r, 2) ? KADDR : KTEXT;
		v->len = 1 + below(&w->r, 2 * pg);
		return;
	case U_WRAP:
		v->base = ~0ULL - below(&w->r, pg);
		v->len = pg + below(&w->r, pg);
		return;
	case U_HUGE:
		v->base = (uintptr_t)w->pool;
		v->len = env.info.max_bytes + 1 + below(&w->r, 1 << 20);
		return;
	default:
		v->base = below(&w->r, 2) ? 0 : bad_ptr(w);
		v->len = 0;
		return;
	}
	len = gen_len(&w->r, room > 16 * pg ? 16 * pg : room);
	if (len == 0)
		len = 1;
	v->base = (uintptr_t)base + below(&w->r, room - len + 1);
	v->len = len;
}

static void op_add_user(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	struct kiovec_iovec *iov = (void *)w->bigarr;
	enum ucls cls[16];
	unsigned int cnt = 1 + below(&w->r, 4), flags = one_in(&w->r, 3) ? KIOVEC_ADD_WRITE : 0;
	uint64_t total = 0, segs = 0, pages = 0;
	bool efault = false, eoverflow = false, e2big = false, einval = false, bad_iov = false;
	struct kiovec_add_user req = { 0 }, *p;
	enum argk k = arg_kind(w);
	struct ex e = { 0 };
	long r;

	if (one_in(&w->r, 6))
		cnt = 1 + below(&w->r, 16);
	for (unsigned int i = 0; i < cnt && i < 16; i++)
		gen_iov(w, &iov[i], &cls[i]);
	if (one_in(&w->r, 30)) {
		/* Many iovecs, all empty past the first few: the iovec limit itself. */
		unsigned int first = cnt;

		cnt = one_in(&w->r, 2) ? env.info.max_iovecs : env.info.max_iovecs + 1;
		for (unsigned int i = first; i < cnt; i++) {
			if (i < 16)
				cls[i] = U_ZERO;
			iov[i].base = (uintptr_t)w->pool + below(&w->r, w->pool_len);
			iov[i].len = 0;
		}
	}
	if (one_in(&w->r, 40))
		cnt = 0;
	for (unsigned int i = 0; i < cnt; i++) {
		enum ucls u = i < 16 ? cls[i] : U_ZERO;

		if (!iov[i].len)
			continue;
		switch (u) {
		case U_RO: case U_EXT4:
			if (flags & KIOVEC_ADD_WRITE)
				efault = true;
			break;
		case U_NONE: case U_HOLE: case U_NULL: case U_KADDR:
			efault = true;
			break;
		case U_WRAP:
			eoverflow = true;
			efault = true;	/* not a user address either */
			break;
		case U_HUGE:
			e2big = true;
			break;
		default:
			break;
		}
		if (u != U_WRAP && u != U_HUGE) {
			total += iov[i].len;
			segs += spans(iov[i].base, iov[i].len);
			pages += spans(iov[i].base, iov[i].len);
		}
	}
	if (c->bytes + total > MODEL_CAP && !efault && !eoverflow && !e2big)
		return;
	req.iov = (uintptr_t)iov;
	req.iovcnt = cnt;
	req.flags = flags;
	switch (below(&w->r, 40)) {
	case 0: req.flags |= 1u << (1 + below(&w->r, 31)); einval = true; break;
	case 1: req.reserved[below(&w->r, 2)] = 1 + below(&w->r, 9); einval = true; break;
	case 2: req.offset = rnd(&w->r); req.bytes = rnd(&w->r); break; /* outputs: ignored */
	case 3:
		req.iov = bad_ptr(w);
		bad_iov = true;
		break;
	case 4:
		/* The array runs off the end of the readable scratch page. */
		if (cnt && cnt <= 16) {
			memmove(w->scratch + 2 * pg - cnt * sizeof(*iov) + 8, iov,
				cnt * sizeof(*iov) - 8);
			req.iov = (uintptr_t)w->scratch + 2 * pg - cnt * sizeof(*iov) + 8;
			bad_iov = true;
		}
		break;
	}
	if (cnt == 0 || cnt > env.info.max_iovecs)
		einval = true;
	p = arg_ptr(w, k, &req, sizeof(req));
	wlog(w, "ADD_USER(%d%s, %u iovecs, flags %#x, %llu bytes%s%s%s%s)", s->fd,
	     s->wr ? "" : " O_RDONLY", cnt, req.flags, (unsigned long long)total,
	     efault ? ", EFAULT" : "", eoverflow ? ", EOVERFLOW" : "", e2big ? ", E2BIG" : "",
	     bad_iov ? ", bad array" : "");
	r = kioctl(s->fd, KIOVEC_IOC_ADD_USER, p);
	if (ro_refused(s, &e)) {
		/* EBADF only */
	} else if (k == ARG_BAD) {
		ex_err(&e, EFAULT);
	} else {
		if (k == ARG_RO)
			ex_err(&e, EFAULT);
		if (einval)
			ex_err(&e, EINVAL);
		if (!einval && k == ARG_OK) {
			if (bad_iov || efault)
				ex_err(&e, EFAULT);
			if (eoverflow)
				ex_err(&e, EOVERFLOW);
			if (e2big || c->bytes + total > env.info.max_bytes ||
			    c->segs + segs > env.info.max_segments)
				ex_err(&e, E2BIG);
			if (!ex_any(&e) || (ex_has(&e, EBADF) && !eoverflow && !efault && !e2big &&
					     !bad_iov))
				ex_ok(&e, 0, 0);
			ex_err(&e, ENOMEM);
		}
	}
	expect(w, OP_ADD_USER, &e, r, "ADD_USER");
	if (r) {
		check_stat(w, s, "a failed ADD_USER");
		return;
	}
	if (req.offset != c->bytes || req.bytes != total || req.segments != segs ||
	    req.pinned_pages != pages)
		fail(w, "ADD_USER wrote back offset %llu bytes %llu segments %u pinned %u; "
		     "expected %llu, %llu, %llu, %llu", (unsigned long long)req.offset,
		     (unsigned long long)req.bytes, req.segments, req.pinned_pages,
		     (unsigned long long)c->bytes, (unsigned long long)total,
		     (unsigned long long)segs, (unsigned long long)pages);
	for (unsigned int i = 0; i < cnt; i++)
		if (iov[i].len)
			model_push(w, c, P_USER, flags & KIOVEC_ADD_WRITE,
				   (void *)(uintptr_t)iov[i].base, iov[i].len);
	c->pinned += pages;
	pack_other(c, segs);
	mark_mutated(w, c);
	check_stat(w, s, "ADD_USER");
}

/* ---- COPY_OUT ---- */

static void op_copy_out(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	struct kiovec_copy_out req = { 0 };
	enum argk k = arg_kind(w);
	uint64_t avail, want, valid;
	bool einval = false;
	struct ex e = { 0 };
	long r;
	int64_t at;

	switch (below(&w->r, 8)) {
	case 0: req.offset = c->bytes + below(&w->r, 3); break;
	case 1: req.offset = ~0ULL - below(&w->r, 2); break;
	default: req.offset = below(&w->r, c->bytes + 1); break;
	}
	req.len = gen_len(&w->r, w->rbuf_len);
	if (one_in(&w->r, 10))
		req.len = ~0ULL - below(&w->r, 3);
	avail = req.offset < c->bytes ? c->bytes - req.offset : 0;
	want = req.len < avail ? req.len : avail;
	switch (below(&w->r, 10)) {
	case 0:
		req.buf = bad_ptr(w);
		break;
	case 1:
		/* Runs into the guard page after rbuf. */
		req.buf = (uintptr_t)w->rbuf + w->rbuf_len - below(&w->r, want + 1);
		break;
	case 2:
		req.buf = (uintptr_t)w->ro_page;
		break;
	default:
		req.buf = (uintptr_t)w->rbuf;
		break;
	}
	switch (below(&w->r, 30)) {
	case 0: req.flags = 1u << below(&w->r, 32); einval = true; break;
	case 1: req.reserved0 = 1; einval = true; break;
	case 2: req.reserved[below(&w->r, 2)] = 1; einval = true; break;
	}
	valid = req.buf >= 0x800000000000ULL ? 0 : writable_prefix(w, req.buf, want);
	wlog(w, "COPY_OUT(%d, offset %llu, len %llu, buf %#llx) of %llu bytes", s->fd,
	     (unsigned long long)req.offset, (unsigned long long)req.len,
	     (unsigned long long)req.buf, (unsigned long long)c->bytes);
	r = kioctl(s->fd, KIOVEC_IOC_COPY_OUT, arg_ptr(w, k, &req, sizeof(req)));
	if (k == ARG_BAD) {
		ex_err(&e, EFAULT);
	} else if (einval) {
		ex_err(&e, EINVAL);
	} else if (want == 0) {
		ex_ok(&e, 0, 0);
	} else if (valid == 0) {
		ex_err(&e, EFAULT);
	} else if (valid < want) {
		ex_ok(&e, 1, valid);
		ex_err(&e, EFAULT);
	} else {
		ex_ok(&e, want, want);
	}
	expect(w, OP_COPY_OUT, &e, r, "COPY_OUT");
	if (r > 0) {
		at = model_cmp(c, req.offset, (uint8_t *)(uintptr_t)req.buf, r);
		if (at >= 0)
			fail(w, "COPY_OUT: container byte %lld differs from its source", (long long)at);
	}
}

/* ---- TRANSMIT, TRANSMIT_BATCH ---- */

static struct target *pick_target(struct worker *w, bool (*ok)(const struct target *))
{
	for (int tries = 0; tries < 100; tries++) {
		struct target *t = &env.t[below(&w->r, env.ntargets)];

		if (!ok || ok(t))
			return t;
	}
	return &env.t[0];
}

/* What a transmit to a non-connected target gives, beyond the argument checks. */
static void tx_target_errors(const struct target *t, uint64_t send, struct ex *e)
{
	if (t->kind == T_CLOSED || t->kind == T_NEG || t->kind == T_OPATH)
		ex_err(e, EBADF);
	else if (!t->socket)
		ex_err(e, ENOTSOCK);
	else if (!t->tcp)
		ex_err(e, EOPNOTSUPP);
	else if (send == 0)
		ex_ok(e, 0, 0);
	else
		ex_err(e, EPIPE);	/* unconnected or listening TCP */
}

struct txargs {
	uint32_t flags;
	uint64_t hdr, range;
	struct kiovec_iovec hv;
	struct kiovec_range rv;
	bool einval, efault, eoverflow;
	bool hbase_bad;		/* only the header's bytes are unreadable */
	uint8_t *hdrbytes;	/* the header's bytes (in wbuf) */
	uint64_t hdrlen, rstart, rlen;	/* what is sent: header, then [rstart, rstart + rlen) */
};

static void gen_txargs(struct worker *w, struct mcont *c, struct txargs *a)
{
	*a = (struct txargs){ 0 };
	a->flags = KIOVEC_TX_NOSIGNAL;
	if (one_in(&w->r, 4))
		a->flags |= KIOVEC_TX_DONTWAIT;
	if (one_in(&w->r, 30))
		a->flags &= ~KIOVEC_TX_NOSIGNAL;	/* SIGPIPE is ignored */
	if (one_in(&w->r, 40)) {
		a->flags |= 1u << (4 + below(&w->r, 28));
		a->einval = true;
	}
	a->rstart = 0;
	a->rlen = c->bytes;
	if (one_in(&w->r, 3)) {
		a->flags |= KIOVEC_TX_HEADER;
		if (!(env.feat & KIOVEC_FEAT_TX_HEADER))
			a->einval = true;
		fill(&w->r, w->wbuf, 256);
		a->hv.base = (uintptr_t)w->wbuf + below(&w->r, 64);
		a->hv.len = gen_len(&w->r, 3000);
		a->hdr = (uintptr_t)&a->hv;
		switch (below(&w->r, 20)) {
		case 0: a->hdr = bad_ptr(w); a->efault = true; break;
		case 1: a->hv.base = bad_ptr(w); a->hv.len |= 1; a->hbase_bad = true; break;
		case 2: a->hv.len = KIOVEC_MAX_HEADER + 1 + below(&w->r, 1000); a->einval = true;
			a->hv.base = (uintptr_t)w->pool;
			break;
		case 3: a->hv.len = KIOVEC_MAX_HEADER; a->hv.base = (uintptr_t)w->pool; break;
		}
		a->hdrbytes = (uint8_t *)(uintptr_t)a->hv.base;
		a->hdrlen = a->hv.len;
	} else if (one_in(&w->r, 40)) {
		a->hdr = (uintptr_t)w->wbuf;	/* a header pointer without the flag */
		a->einval = true;
	}
	if (one_in(&w->r, 3)) {
		a->flags |= KIOVEC_TX_RANGE;
		if (!(env.feat & KIOVEC_FEAT_TX_RANGE))
			a->einval = true;
		a->rv.start = one_in(&w->r, 10) ? ~0ULL - below(&w->r, 3) :
			below(&w->r, c->bytes + 2);
		a->rv.len = one_in(&w->r, 5) ? ~0ULL : gen_len(&w->r, c->bytes + 10);
		a->range = (uintptr_t)&a->rv;
		if (one_in(&w->r, 20)) {
			a->range = bad_ptr(w);
			a->efault = true;
		}
		/* start + len must not wrap (the module's rule): a "to the end" length is
		 * the container's size, not ~0. */
		if ((env.feat & KIOVEC_FEAT_TX_RANGE) && a->rv.start + a->rv.len < a->rv.start &&
		    a->range == (uintptr_t)&a->rv)
			a->eoverflow = true;
		a->rstart = a->rv.start < c->bytes ? a->rv.start : c->bytes;
		a->rlen = c->bytes - a->rstart;
		if (a->rv.len < a->rlen)
			a->rlen = a->rv.len;
	} else if (one_in(&w->r, 40)) {
		a->range = (uintptr_t)w->wbuf;
		a->einval = true;
	}
}

/* The bytes a transmit with these arguments sends from offset on, into buf; their count. */
static uint64_t tx_expected(struct worker *w, struct mcont *c, const struct txargs *a,
			    uint64_t offset, uint8_t *buf, uint8_t *known)
{
	uint64_t total = a->hdrlen + a->rlen, n = offset < total ? total - offset : 0, at = 0;

	if (!buf)
		return n;
	if (offset < a->hdrlen) {
		at = a->hdrlen - offset;
		memcpy(buf, a->hdrbytes + offset, at);
		memset(known, 1, at);
	}
	if (n > at) {
		uint64_t from = a->rstart + (offset > a->hdrlen ? offset - a->hdrlen : 0);
		uint64_t pos = 0;

		model_read(c, from, buf + at, n - at);
		memset(known + at, 1, n - at);
		for (int i = 0; i < c->npieces; i++) {
			const struct piece *p = &c->p[i];

			if (p->kind == P_UNKNOWN)
				for (uint64_t j = 0; j < p->len; j++)
					if (pos + j >= from && pos + j < from + n - at)
						known[at + pos + j - from] = 0;
			pos += p->len;
		}
	}
	return n;
}

static bool is_tx_target(const struct target *t)
{
	return true;
}

/* What a transmit to t (or the connected pair tp) from offset may return. */
static void tx_expect(const struct txargs *a, const struct target *t, const struct tcp *tp,
		      uint64_t offset, uint64_t send, uint32_t flags, struct ex *e)
{
	if (a->einval || a->efault || a->eoverflow) {
		/* The order of the checks is the module's: any of the applicable errors. */
		if (a->einval)
			ex_err(e, EINVAL);
		if (a->efault)
			ex_err(e, EFAULT);
		if (a->eoverflow)
			ex_err(e, EOVERFLOW);
		if (a->hbase_bad) {
			/* The header is checked first: a null base is EFAULT, a wrapping one
			 * EOVERFLOW. */
			ex_err(e, EFAULT);
			ex_err(e, EOVERFLOW);
		}
		if (t)
			tx_target_errors(t, send, e);
		return;
	}
	if (t) {
		tx_target_errors(t, send, e);
		if (a->hbase_bad) {
			ex_err(e, EFAULT);
			ex_err(e, EOVERFLOW);	/* a base near ~0 wraps */
		}
		return;
	}
	if (a->hbase_bad && offset < a->hdrlen) {
		ex_err(e, EFAULT);
		ex_err(e, EOVERFLOW);
		return;
	}
	if (send == 0) {
		ex_ok(e, 0, 0);
	} else if (flags & KIOVEC_TX_DONTWAIT) {
		ex_ok(e, 1, send);
		ex_err(e, EAGAIN);
	} else {
		ex_ok(e, send, send);
	}
	if (a->hbase_bad) {
		ex_err(e, EFAULT);	/* the header may be read even when skipped */
		ex_err(e, EOVERFLOW);
	}
	ex_err(e, ENOMEM);
	ex_err(e, ENOBUFS);
}

static void op_transmit(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	struct kiovec_transmit req = { 0 };
	struct txargs a;
	struct target *t = NULL;
	struct tcp *tp = NULL;
	enum argk k = arg_kind(w);
	uint64_t total, send;
	struct ex e = { 0 };
	long r;

	gen_txargs(w, c, &a);
	if (!w->child && below(&w->r, 3)) {
		tp = &w->tcp[below(&w->r, 2)];
		if (!tp->up)
			tp = NULL;
	}
	if (!tp)
		t = pick_target(w, is_tx_target);
	total = a.hdrlen + a.rlen;
	req.fd = tp ? tp->tx : t->fd;
	req.flags = a.flags;
	req.hdr = a.hdr;
	req.range = a.range;
	req.offset = one_in(&w->r, 6) ? total + below(&w->r, 3) : below(&w->r, total + 1);
	if (one_in(&w->r, 30))
		req.offset = ~0ULL;
	send = req.offset < total ? total - req.offset : 0;
	wlog(w, "TRANSMIT(%d, to %s, flags %#x, offset %llu, header %llu, range %llu+%llu) of %llu",
	     s->fd, tp ? "a connected TCP socket" : t->name, req.flags,
	     (unsigned long long)req.offset, (unsigned long long)a.hdrlen,
	     (unsigned long long)a.rstart, (unsigned long long)a.rlen,
	     (unsigned long long)c->bytes);
	r = kioctl(s->fd, KIOVEC_IOC_TRANSMIT, arg_ptr(w, k, &req, sizeof(req)));
	w->keyx = t ? t->kind + 1 : 0;
	if (k == ARG_BAD)
		ex_err(&e, EFAULT);
	else
		tx_expect(&a, t, tp, req.offset, send, req.flags, &e);
	expect(w, OP_TRANSMIT, &e, r, "TRANSMIT");
	if (tp && r > 0 && a.hbase_bad && req.offset < a.hdrlen)
		fail(w, "TRANSMIT sent %ld bytes of a header at an unreadable address", r);
	if (tp && r > 0) {
		uint8_t *want = malloc(send), *known = malloc(send);

		if (!want || !known)
			fail(w, "out of memory");
		tx_expected(w, c, &a, req.offset, want, known);
		tcp_check(w, tp, want, known, r, "TRANSMIT");
		free(want);
		free(known);
	}
}

static void op_batch(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	struct kiovec_target *tg = (void *)w->scratch;
	struct kiovec_transmit_batch req = { 0 };
	struct tcp *tps[8] = { 0 };
	struct target *ts[8] = { 0 };
	struct txargs a;
	unsigned int cnt = 1 + below(&w->r, 4), used_tcp = 0;
	enum argk k = arg_kind(w);
	bool einval = false, bad_array = false;
	struct ex e = { 0 };
	uint64_t total;
	long r;

	gen_txargs(w, c, &a);
	total = a.hdrlen + a.rlen;
	for (unsigned int i = 0; i < cnt; i++) {
		tg[i] = (struct kiovec_target){ .result = 0x5a5a5a5a5a5aLL };
		if (!w->child && used_tcp != 3 && one_in(&w->r, 2)) {
			/* Each connected socket at most once: two targets on one socket
			 * would interleave their bytes. */
			int j = (used_tcp & 1) ? 1 : 0;

			if (w->tcp[j].up) {
				tps[i] = &w->tcp[j];
				used_tcp |= 1u << j;
				tg[i].fd = tps[i]->tx;
			}
		}
		if (!tps[i]) {
			ts[i] = pick_target(w, is_tx_target);
			tg[i].fd = ts[i]->fd;
		}
		tg[i].offset = below(&w->r, total + 2);
		if (one_in(&w->r, 30))
			tg[i].reserved0 = 1;
	}
	req.targets = (uintptr_t)tg;
	req.count = cnt;
	req.flags = a.flags;
	req.hdr = a.hdr;
	req.range = a.range;
	switch (below(&w->r, 30)) {
	case 0: req.count = 0; einval = true; break;
	case 1: req.count = env.info.max_iovecs + 1; einval = true; break;
	case 2:
		if (!used_tcp) {
			req.targets = bad_ptr(w);
			bad_array = true;
		}
		break;
	case 3:
		if (!used_tcp) {
			req.targets = (uintptr_t)w->ro_page;
			bad_array = true;
		}
		break;
	}
	wlog(w, "TRANSMIT_BATCH(%d, %u targets%s, flags %#x, header %llu, range %llu+%llu) of %llu",
	     s->fd, req.count, used_tcp ? " incl. TCP" : "", req.flags,
	     (unsigned long long)a.hdrlen, (unsigned long long)a.rstart,
	     (unsigned long long)a.rlen, (unsigned long long)c->bytes);
	r = kioctl(s->fd, KIOVEC_IOC_TRANSMIT_BATCH, arg_ptr(w, k, &req, sizeof(req)));
	if (k == ARG_BAD) {
		ex_err(&e, EFAULT);
	} else if (einval || a.einval || a.efault || a.eoverflow || bad_array) {
		if (einval || a.einval)
			ex_err(&e, EINVAL);
		if (a.efault || bad_array)
			ex_err(&e, EFAULT);
		if (a.eoverflow)
			ex_err(&e, EOVERFLOW);
		if (a.hbase_bad) {
			/* The header is checked first (as in tx_expect). */
			ex_err(&e, EFAULT);
			ex_err(&e, EOVERFLOW);
		}
		if (!einval && !a.einval && !bad_array)
			ex_ok(&e, cnt, cnt);	/* a bad header may be each target's error */
	} else {
		ex_ok(&e, cnt, cnt);
		if (a.hbase_bad) {
			ex_err(&e, EFAULT);
			ex_err(&e, EOVERFLOW);
		}
	}
	expect(w, OP_BATCH, &e, r, "TRANSMIT_BATCH");
	if (r < 0 && !used_tcp)
		return;
	for (unsigned int i = 0; i < cnt; i++) {
		uint64_t send = tg[i].offset < total ? total - tg[i].offset : 0;
		struct ex te = { 0 };
		long res = tg[i].result;
		char what[128];

		if (r < 0) {
			/* Nothing sent, or sent with a result we can read. */
			if (res == 0x5a5a5a5a5a5aLL)
				continue;
		}
		if (tg[i].reserved0) {
			ex_err(&te, EINVAL);
			if (ts[i])
				tx_target_errors(ts[i], send, &te);
		} else {
			tx_expect(&a, ts[i], tps[i], tg[i].offset, send, req.flags, &te);
		}
		snprintf(what, sizeof(what), "TRANSMIT_BATCH target %u (%s)", i,
			 tps[i] ? "connected TCP" : ts[i]->name);
		expect(w, OP_BATCH, &te, res, what);
		if (tps[i] && res > 0 && a.hbase_bad && tg[i].offset < a.hdrlen)
			fail(w, "%s: sent %ld bytes of an unreadable header", what, res);
		if (tps[i] && res > 0) {
			uint8_t *want = malloc(send), *known = malloc(send);

			if (!want || !known)
				fail(w, "out of memory");
			tx_expected(w, c, &a, tg[i].offset, want, known);
			tcp_check(w, tps[i], want, known, res, what);
			free(want);
			free(known);
		}
	}
}

/* ---- ADD_FILE ---- */

static bool add_file_ok_target(const struct target *t)
{
	/* Without FILE_COPY the module oopses on files without a usable page cache. */
	if (!env.file_copy && !getenv("FUZZ_UNSAFE") && (t->needs_copy || t->secret))
		return false;
	return true;
}

static void op_add_file(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	struct target *t = pick_target(w, add_file_ok_target);
	struct kiovec_add_file req = { 0 };
	enum argk k = arg_kind(w);
	bool einval = false, wraps = false, huge = false, past = false, copy;
	uint64_t size, off, len, segs, outlen;
	ssize_t nread = 0;
	struct ex e = { 0 };
	long r;

	if (below(&w->r, 4) && !t->regular)
		t = pick_target(w, add_file_ok_target);
	/* A file ADD_FILE reads through read_iter (procfs, sysfs, overlayfs, hugetlbfs) is
	 * read until len bytes or its end, whatever st_size says. */
	copy = t->needs_copy && env.file_copy;
	size = t->size;
	switch (below(&w->r, 14)) {
	case 0: off = below(&w->r, size + 1); len = 0; break;
	case 1: off = below(&w->r, size + 1); len = size - off + 1 + below(&w->r, 3 * pg);
		past = true; break;
	case 2: off = ~0ULL - below(&w->r, pg); len = pg + below(&w->r, pg); wraps = true; break;
	case 3: off = 0; len = env.info.max_bytes + 1 + below(&w->r, pg); huge = true; break;
	case 4: off = (1ULL << 62) + below(&w->r, pg); len = 1; past = true; break;
	default:
		off = below(&w->r, 3) ? below(&w->r, size + 1) : (below(&w->r, size / pg + 1) * pg);
		if (off > size)
			off = size;
		len = gen_len(&w->r, size - off);
		break;
	}
	if (!past && !wraps && !huge && off + len > size)
		past = true;
	if (c->bytes + len > MODEL_CAP && !past && !wraps && !huge)
		len = 0;
	if (len > w->rbuf_len && !wraps && !huge)
		len = w->rbuf_len;
	if (c->nfiles > 3000 || c->npieces > MAX_PIECES - 40)
		return;
	req.fd = t->fd;
	req.offset = off;
	req.len = len;
	switch (below(&w->r, 40)) {
	case 0: req.flags = 1u << below(&w->r, 32); einval = true; break;
	case 1: req.reserved[below(&w->r, 2)] = 1; einval = true; break;
	case 2: req.at = rnd(&w->r); req.segments = rnd(&w->r); break;	/* outputs */
	case 3: req.copied = 1 + below(&w->r, 9); break;	/* an output: ignored on input */
	}
	segs = spans(off, len);
	wlog(w, "ADD_FILE(%d%s, %s, offset %llu, len %llu) size %llu", s->fd,
	     s->wr ? "" : " O_RDONLY", t->name, (unsigned long long)off,
	     (unsigned long long)len, (unsigned long long)size);
	/* What read(2) gives now: the model's expectation for the bytes. */
	if (t->regular && t->readable && !t->secret && !wraps && !huge && len &&
	    off < (1ULL << 62)) {
		nread = pread(t->fd, w->rbuf, len, off);
		if (nread < 0)
			nread = 0;
	}
	r = kioctl(s->fd, KIOVEC_IOC_ADD_FILE, arg_ptr(w, k, &req, sizeof(req)));
	w->keyx = t->kind + 1;
	if (ro_refused(s, &e)) {
		/* EBADF only */
	} else if (k == ARG_BAD) {
		ex_err(&e, EFAULT);
	} else if (einval) {
		ex_err(&e, EINVAL);
	} else if (k == ARG_RO) {
		ex_err(&e, EFAULT);
	} else if (t->kind == T_CLOSED || t->kind == T_NEG || t->kind == T_OPATH || !t->readable) {
		ex_err(&e, EBADF);
	} else if (!t->regular) {
		ex_err(&e, EINVAL);
	} else {
		if (t->secret || (t->no_read_iter && env.file_copy))
			ex_err(&e, EINVAL);
		if (wraps)
			ex_err(&e, EOVERFLOW);
		if (huge)
			ex_err(&e, E2BIG);
		if (off >= (1ULL << 62))
			ex_err(&e, EINVAL);	/* past the end, or rw_verify_area */
		if (past && !copy)
			ex_err(&e, EINVAL);
		if (copy && len && !nread)
			ex_err(&e, EINVAL);	/* no byte at offset */
		if (c->bytes + len > env.info.max_bytes ||
		    c->segs + segs > env.info.max_segments)
			ex_err(&e, E2BIG);
		if (!ex_any(&e) || (ex_has(&e, EBADF) && !t->secret && !wraps && !huge && !past &&
				     !t->no_read_iter))
			ex_ok(&e, 0, 0);
		ex_err(&e, ENOMEM);
	}
	expect(w, OP_ADD_FILE, &e, r, "ADD_FILE");
	if (r) {
		check_stat(w, s, "a failed ADD_FILE");
		return;
	}
	if (len == 0) {
		if (req.segments || req.copied || (req.at && req.at != c->bytes))
			fail(w, "ADD_FILE of 0 bytes wrote back at %llu segments %u copied %u",
			     (unsigned long long)req.at, req.segments, req.copied);
		check_stat(w, s, "ADD_FILE of 0 bytes");
		return;
	}
	/* The bytes added: all of them, or for a copied file up to its end (the module
	 * writes the count back into len). */
	outlen = req.len;
	if (req.at != c->bytes || req.copied > req.segments || outlen > len || !outlen ||
	    (!copy && (outlen != len || req.segments != segs)) ||
	    (copy && (outlen > (uint64_t)nread || req.segments != req.copied ||
		      req.segments < (outlen + pg - 1) / pg)))
		fail(w, "ADD_FILE wrote back at %llu len %llu segments %u copied %u; expected at "
		     "%llu, %s %llu bytes (read(2) gives %zd), %llu segments",
		     (unsigned long long)req.at, (unsigned long long)outlen, req.segments,
		     req.copied, (unsigned long long)c->bytes, copy ? "at most" : "",
		     (unsigned long long)len, nread, (unsigned long long)segs);
	if (!env.file_copy && req.copied)
		fail(w, "ADD_FILE says it copied pages, but the module lacks FILE_COPY");
	if (copy && outlen < (uint64_t)nread)
		__atomic_fetch_add(&sh->unknown_bytes, nread - outlen, __ATOMIC_RELAXED);
	/* Bytes past what read(2) returns (a referenced file shorter than st_size) are not
	 * checkable. */
	if ((uint64_t)nread >= outlen) {
		model_push(w, c, P_BYTES, false, w->rbuf, outlen);
	} else {
		model_push(w, c, P_BYTES, false, w->rbuf, nread);
		model_push(w, c, P_UNKNOWN, false, NULL, outlen - nread);
	}
	c->fsegs += req.segments;
	c->copied += req.copied;
	c->nfiles++;
	pack_other(c, req.segments);
	mark_mutated(w, c);
	check_stat(w, s, "ADD_FILE");
}

/* ---- ADD_ZERO ---- */

static void op_add_zero(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	struct kiovec_add_zero req = { 0 };
	enum argk k = arg_kind(w);
	bool einval = false, e2big = false;
	struct ex e = { 0 };
	long r;

	switch (below(&w->r, 10)) {
	case 0: req.len = 0; einval = true; break;
	case 1: req.len = 1 + below(&w->r, 4 * pg); einval = req.len % pg; break;
	case 2: req.len = (env.info.max_bytes / pg + 1 + below(&w->r, 100)) * pg; e2big = true;
		break;
	default: req.len = (1 + below(&w->r, 8)) * pg; break;
	}
	if (c->bytes + req.len > MODEL_CAP && !e2big && !einval)
		return;
	switch (below(&w->r, 40)) {
	case 0: req.flags = 1u << below(&w->r, 32); einval = true; break;
	case 1: req.reserved[below(&w->r, 2)] = 1; einval = true; break;
	case 2: req.at = rnd(&w->r); req.segments = rnd(&w->r); break;	/* outputs: ignored */
	}
	wlog(w, "ADD_ZERO(%d%s, %llu)", s->fd, s->wr ? "" : " O_RDONLY",
	     (unsigned long long)req.len);
	r = kioctl(s->fd, KIOVEC_IOC_ADD_ZERO, arg_ptr(w, k, &req, sizeof(req)));
	if (!(env.feat & KIOVEC_FEAT_ADD_ZERO)) {
		ex_err(&e, ENOTTY);
	} else if (ro_refused(s, &e)) {
		/* EBADF only */
	} else if (k == ARG_BAD) {
		ex_err(&e, EFAULT);
	} else {
		if (einval)
			ex_err(&e, EINVAL);
		if (e2big)
			ex_err(&e, E2BIG);
		if (k == ARG_RO && !einval && !e2big)
			ex_err(&e, EFAULT);
		if (!einval && !e2big && k == ARG_OK) {
			if (c->bytes + req.len > env.info.max_bytes ||
			    c->segs + req.len / pg > env.info.max_segments)
				ex_err(&e, E2BIG);
			if (!ex_any(&e) || ex_has(&e, EBADF))
				ex_ok(&e, 0, 0);
			ex_err(&e, ENOMEM);
		}
	}
	expect(w, OP_ADD_ZERO, &e, r, "ADD_ZERO");
	if (r) {
		check_stat(w, s, "a failed ADD_ZERO");
		return;
	}
	if (req.at != c->bytes || req.segments != req.len / pg)
		fail(w, "ADD_ZERO wrote back at %llu segments %u; expected %llu, %llu",
		     (unsigned long long)req.at, req.segments, (unsigned long long)c->bytes,
		     (unsigned long long)(req.len / pg));
	for (uint64_t i = 0; i < req.len / pg; i++)
		model_push(w, c, P_BYTES, true, NULL, pg);
	c->owned += req.len / pg;
	pack_other(c, req.len / pg);
	mark_mutated(w, c);
	check_stat(w, s, "ADD_ZERO");
}

/* ---- RW ---- */

/* Whether every byte of [off, off + n) may be read into (ADD_WRITE memory, ADD_ZERO pages). */
static bool range_writable(const struct mcont *c, uint64_t off, uint64_t n)
{
	uint64_t pos = 0;

	if (!n)
		return true;

	for (int i = 0; i < c->npieces; i++) {
		const struct piece *p = &c->p[i];

		if (pos + p->len > off && pos < off + n && !p->writable)
			return false;
		pos += p->len;
	}
	return true;
}

/* The kernel read data into [off, off + n): update our copies, check the pinned memory. */
static void model_store(struct worker *w, struct mcont *c, uint64_t off, const uint8_t *data,
			uint64_t n)
{
	uint64_t pos = 0;

	for (int i = 0; i < c->npieces; i++) {
		struct piece *p = &c->p[i];
		uint64_t a = pos > off ? pos : off, b = pos + p->len < off + n ? pos + p->len :
			off + n;

		if (a < b) {
			if (p->kind == P_BYTES)
				memcpy(p->data + (a - pos), data + (a - off), b - a);
			else if (p->kind == P_USER && memcmp(p->data + (a - pos), data + (a - off),
							     b - a))
				fail(w, "RW READ: the pinned user memory at container offset %llu "
				     "does not hold what was read", (unsigned long long)a);
		}
		pos += p->len;
	}
}

static bool rw_read_source(const struct target *t)
{
	return t->kind == T_MEMFD || t->kind == T_EXT4 || t->kind == T_TMPFILE ||
	       t->kind == T_BLOCKDEV || t->kind == T_SPARSE;
}

static void op_rw(struct worker *w, struct slot *s)
{
	struct mcont *c = s->c;
	struct kiovec_rw req = { 0 };
	enum argk k = arg_kind(w);
	struct target *t = NULL;
	struct tcp *tp = NULL;
	int mode = below(&w->r, 6);
	bool einval = false, to_scratch = false, from_source = false, good;
	uint64_t avail, eff;
	ssize_t nread = -1;
	struct ex e = { 0 };
	long r;

	req.dir = below(&w->r, 2) ? KIOVEC_READ : KIOVEC_WRITE;
	if (w->child)
		req.dir = KIOVEC_WRITE;	/* a child's pinned copies are not its memory */
	req.offset = below(&w->r, c->bytes + 1);
	req.len = gen_len(&w->r, c->bytes - req.offset + (one_in(&w->r, 8) ? pg : 0));
	req.pos = below(&w->r, 3) ? below(&w->r, 64 * pg) : 0;
	if (mode == 0 && !w->child && req.dir == KIOVEC_WRITE && w->tcp[0].up) {
		tp = &w->tcp[0];
		req.fd = tp->tx;
	} else if (mode <= 2 && req.dir == KIOVEC_WRITE) {
		req.fd = one_in(&w->r, 6) ? w->scratch_ro_fd : w->scratch_fd;
		to_scratch = req.fd == (uint32_t)w->scratch_fd;
	} else if (mode <= 3 && req.dir == KIOVEC_READ) {
		t = pick_target(w, rw_read_source);
		from_source = true;
		req.fd = t->fd;
	} else {
		t = pick_target(w, NULL);
		/* (Every socket here is non-blocking or unconnected: no read blocks.)
		 * Reads from files the model cannot predict, and writes into our sources:
		 * neither. The scratch file instead (secretmem stays: it must be refused). */
		if (t->regular && t->kind != T_SECRET &&
		    ((req.dir == KIOVEC_READ && !rw_read_source(t)) ||
		     (req.dir == KIOVEC_WRITE && t->writable))) {
			t = NULL;
			req.dir = KIOVEC_WRITE;
			req.fd = w->scratch_fd;
			to_scratch = true;
		} else {
			from_source = req.dir == KIOVEC_READ && rw_read_source(t);
			req.fd = t->fd;
		}
	}
	switch (below(&w->r, 40)) {
	case 0: req.flags = 1u << below(&w->r, 32); einval = true; break;
	case 1: req.reserved0 = 1; einval = true; break;
	case 2: req.reserved[below(&w->r, 2)] = 1; einval = true; break;
	case 3: req.dir = 2 + below(&w->r, 100); einval = true; break;
	}
	avail = req.offset < c->bytes ? c->bytes - req.offset : 0;
	wlog(w, "RW(%d, %s, %s, pos %llu, offset %llu, len %llu) of %llu", s->fd,
	     req.dir == KIOVEC_READ ? "READ" : req.dir == KIOVEC_WRITE ? "WRITE" : "bad dir",
	     tp ? "connected TCP" : t ? t->name : to_scratch ? "scratch memfd" : "O_RDONLY memfd",
	     (unsigned long long)req.pos, (unsigned long long)req.offset,
	     (unsigned long long)req.len, (unsigned long long)c->bytes);
	if (from_source && !einval) {
		nread = pread(t->fd, w->rbuf, req.len, req.pos);
		if (nread < 0)
			fail(w, "pread of %s: %s", t->name, errname(errno));
	}
	r = kioctl(s->fd, KIOVEC_IOC_RW, arg_ptr(w, k, &req, sizeof(req)));
	if (!(env.feat & KIOVEC_FEAT_RW)) {
		ex_err(&e, ENOTTY);
		expect(w, OP_RW, &e, r, "RW");
		return;
	}
	w->keyx = t ? t->kind + 1 : 0;
	/* The range is clamped to the container; a READ needs every byte of it writable. */
	eff = req.len < avail ? req.len : avail;
	good = req.dir != KIOVEC_READ || range_writable(c, req.offset, eff);
	if (k == ARG_BAD) {
		ex_err(&e, EFAULT);
	} else if (einval) {
		ex_err(&e, EINVAL);
	} else if (req.dir == KIOVEC_READ && ro_refused(s, &e)) {
		/* EBADF only: a read changes the container */
	} else if (t && (t->kind == T_CLOSED || t->kind == T_NEG || t->kind == T_OPATH)) {
		ex_err(&e, EBADF);
		if (!good)
			ex_err(&e, EINVAL);
	} else if (!good) {
		ex_err(&e, EINVAL);	/* page cache, write() bytes, read-only pins */
	} else if (tp || to_scratch || from_source) {
		ex_ok(&e, 0, eff);
		ex_err(&e, ENOMEM);
	} else if (!t) {
		if (eff == 0)
			ex_ok(&e, 0, 0);
		ex_err(&e, EBADF);	/* the scratch file open O_RDONLY */
	} else if (t->socket) {
		/* Non-blocking or unconnected sockets: their own errors, or what they take. */
		ex_ok(&e, 0, eff);
		ex_err(&e, EAGAIN);
		ex_err(&e, EPIPE);
		ex_err(&e, ENOTCONN);
		ex_err(&e, EDESTADDRREQ);
		ex_err(&e, ECONNRESET);
		ex_err(&e, EOPNOTSUPP);
		ex_err(&e, EMSGSIZE);	/* a UDP datagram past 64 KiB */
	} else if (t->regular || t->kind == T_BLOCKDEV) {
		if (eff == 0)
			ex_ok(&e, 0, 0);
		if ((req.dir == KIOVEC_READ && !t->readable) ||
		    (req.dir == KIOVEC_WRITE && !t->writable))
			ex_err(&e, EBADF);
		else
			ex_err(&e, EINVAL);	/* secretmem: no read_iter/write_iter */
	} else {
		ex_err(&e, EINVAL);	/* pipes, character devices, directories, eventfd */
	}
	expect(w, OP_RW, &e, r, "RW");
	if (r <= 0)
		goto out;
	if (tp) {
		uint8_t *want = malloc(r);

		if (!want)
			fail(w, "out of memory");
		model_read(c, req.offset, want, r);
		tcp_check(w, tp, want, NULL, r, "RW WRITE to TCP");
		free(want);
	} else if (to_scratch) {
		uint8_t *got = malloc(r);
		int64_t at;

		if (!got || pread(w->scratch_fd, got, r, req.pos) != r)
			fail(w, "RW WRITE: cannot read the scratch file back");
		at = model_cmp(c, req.offset, got, r);
		if (at >= 0)
			fail(w, "RW WRITE: the file's byte for container offset %lld differs",
			     (long long)at);
		free(got);
	} else if (from_source) {
		if (r > nread)
			fail(w, "RW READ returned %ld, read(2) gives only %zd", r, nread);
		model_store(w, c, req.offset, w->rbuf, r);
		mark_mutated(w, c);
	}
out:
	check_stat(w, s, "RW");
}

/* ---- the chaos threads: races on shared containers, checked only for sanity ---- */

static bool chaos_sane(long op, long r)
{
	static const int ok_err[] = { EFAULT, EINVAL, ENOMEM, E2BIG, EBADF, EOVERFLOW, EAGAIN,
				      EPIPE, ECONNRESET, ENOTSOCK, EOPNOTSUPP, ENOTTY, EINTR,
				      ENOTCONN, ENOBUFS, ESPIPE };

	if (r >= 0)
		return true;
	for (unsigned int i = 0; i < sizeof(ok_err) / sizeof(ok_err[0]); i++)
		if (-r == ok_err[i])
			return true;
	return false;
}

static void chaos_op(struct worker *w, struct rng *r, bool from_main)
{
	int fd = CHAOS_FD0 + below(r, NCHAOS), which = below(r, 11);
	struct kiovec_stat st;
	long ret = 0;

	static const char *const names[] = {
		"write", "ADD_USER", "ADD_USER", "ADD_FILE", "COPY_OUT", "STAT", "RESET",
		"TRANSMIT", "TRANSMIT", "replace the container (dup2)", "unmap/remap pinned memory",
	};

	if (!from_main)
		chaos_desc = names[which];
	switch (which) {
	case 0: {
		uint64_t len = gen_len(r, 3 * pg);

		ret = sys_ret(write(fd, w->chaos_pool, len));
		break;
	}
	case 1: case 2: {
		struct kiovec_iovec v = { (uintptr_t)(below(r, 3) ? w->chaos_pool : w->chaos_region) +
					  below(r, 8 * pg), gen_len(r, 8 * pg) };
		struct kiovec_add_user req = { .iov = (uintptr_t)&v, .iovcnt = 1,
					       .flags = below(r, 2) ? KIOVEC_ADD_WRITE : 0 };

		ret = kioctl(fd, KIOVEC_IOC_ADD_USER, &req);
		break;
	}
	case 3: {
		struct target *t = &env.t[below(r, env.ntargets)];
		struct kiovec_add_file req = { .fd = t->fd };

		if (t->needs_copy || t->secret) {
			if (!env.file_copy)
				break;
		}
		req.offset = below(r, t->size + 1);
		req.len = below(r, t->size - req.offset + 1);
		if (req.len > 64 * pg)
			req.len = 64 * pg;
		ret = kioctl(fd, KIOVEC_IOC_ADD_FILE, &req);
		break;
	}
	case 4: {
		struct kiovec_copy_out req = { .offset = below(r, 1 << 20), .len = 4 * pg,
					       .buf = (uintptr_t)w->chaos_pool + 32 * pg };

		ret = kioctl(fd, KIOVEC_IOC_COPY_OUT, &req);
		if (ret > (long)req.len)
			fail(w, "chaos: COPY_OUT of %llu returned %ld", (unsigned long long)req.len,
			     ret);
		break;
	}
	case 5:
		memset(&st, 0, sizeof(st));
		ret = kioctl(fd, KIOVEC_IOC_STAT, &st);
		if (ret == 0 && (st.bytes > env.info.max_bytes ||
				 st.segments > env.info.max_segments || st.reserved0 ||
				 st.reserved[0] || st.reserved[1]))
			fail(w, "chaos: STAT says %llu bytes, %u segments",
			     (unsigned long long)st.bytes, st.segments);
		if (ret == 0 && st.bytes > (1u << 20))
			ioctl(fd, KIOVEC_IOC_RESET, 0);
		break;
	case 6:
		ret = sys_ret(ioctl(fd, KIOVEC_IOC_RESET, 0));
		break;
	case 7: case 8: {
		struct kiovec_transmit req = { .fd = w->ctcp.up && below(r, 4) ? w->ctcp.tx :
					       env.t[below(r, env.ntargets)].fd,
					       .flags = KIOVEC_TX_NOSIGNAL |
					       (below(r, 2) ? KIOVEC_TX_DONTWAIT : 0),
					       .offset = below(r, 1 << 16) };

		ret = kioctl(fd, KIOVEC_IOC_TRANSMIT, &req);
		break;
	}
	case 9: {
		/* Replace the container under the other threads' feet. */
		int n = open(KIOVEC_DEV, (below(r, 4) ? O_RDWR : O_RDONLY) | O_CLOEXEC);

		if (n >= 0) {
			dup2(n, fd);
			close(n);
		}
		break;
	}
	default:
		if (!from_main) {
			/* Unmap and map again the region the other thread pins from. */
			if (below(r, 2))
				madvise(w->chaos_region, 8 * pg, MADV_DONTNEED);
			else
				mmap(w->chaos_region, 8 * pg, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			memset(w->chaos_region, 0x3c, 8 * pg);
		}
		break;
	}
	__atomic_fetch_add(&sh->chaos_hist[ret < 0 && -ret < NERR ? -ret : 0], 1, __ATOMIC_RELAXED);
	if (!chaos_sane(which, ret))
		fail(w, "chaos op %s on fd %d: %s", names[which], fd, errname(-ret));
}

static void *chaos_main(void *arg)
{
	struct worker *w = arg;
	struct rng r = { w->seed ^ (uint64_t)pthread_self() ^ 0xc4a05 };

	chaos_desc = "";
	while (!w->chaos_stop && !sh->failed) {
		chaos_op(w, &r, false);
		__atomic_fetch_add(&sh->w[w->idx].chaos_ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* ---- fork, exit ---- */

static void worker_op(struct worker *w, unsigned int which);

/* The parent reconciles the containers a child changed: reset, or dropped if it cannot. */
static void reconcile(struct worker *w, const int *ids, int n)
{
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &w->s[i];
		bool hit = false;

		if (s->fd < 0)
			continue;
		for (int j = 0; j < n; j++)
			hit |= s->c->id == ids[j];
		if (!hit || s->c->child_mutated)
			continue;
		s->c->child_mutated = true;
	}
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &w->s[i], *wr;

		if (s->fd < 0 || !s->c->child_mutated)
			continue;
		wr = writable_slot_of(w, s->c);
		if (wr) {
			wlog(w, "RESET(%d) after a child changed it", wr->fd);
			if (ioctl(wr->fd, KIOVEC_IOC_RESET, 0))
				fail(w, "RESET after a child: %s", errname(errno));
			model_clear(wr->c);
			wr->c->child_mutated = false;
			check_stat(w, wr, "RESET after a child");
		} else {
			for (int j = 0; j < NSLOTS; j++)
				if (w->s[j].fd >= 0 && w->s[j].c == s->c && j != i)
					slot_close(w, &w->s[j]);
			slot_close(w, s);
		}
	}
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * fork(): the child runs a few operations on everything it inherited, checking them
 * against its copy of the model; or it receives one container by SCM_RIGHTS and the
 * parent's descriptor goes.
 */
static void op_fork(struct worker *w)
{
	uint64_t child_seed = rnd(&w->r);
	int pfd[2], sv[2] = { -1, -1 }, ids[64], n, st;
	struct slot *handed = one_in(&w->r, 2) ? pick_slot(w) : NULL;
	unsigned int nops = 2 + below(&w->r, 12);
	pid_t pid;

	wlog(w, "fork: the child runs %u operations%s", nops,
	     handed ? ", one container passed by SCM_RIGHTS" : "");
	if (pipe2(pfd, O_CLOEXEC) || (handed && socketpair(AF_UNIX, SOCK_STREAM, 0, sv)))
		fail(w, "pipe: %s", errname(errno));
	pid = fork();
	if (pid < 0) {
		record(OP_FORK, -errno);
		if (errno == EAGAIN || errno == ENOMEM)
			return;
		fail(w, "fork: %s", errname(errno));
	}
	if (pid == 0) {
		w->child = true;
		w->r.s = child_seed;
		w->nmutated = 0;
		close(pfd[0]);
		if (handed) {
			int fd = recv_fd(sv[1]);

			if (fd < 0)
				fail(w, "the child's recvmsg: %s", errname(-fd));
			/* The received descriptor replaces the inherited one. */
			if (dup3(fd, handed->fd, O_CLOEXEC) < 0)
				fail(w, "dup3: %s", errname(errno));
			close(fd);
			check_stat(w, handed, "SCM_RIGHTS to a child");
			verify_all(w, handed, "SCM_RIGHTS to a child");
		}
		for (unsigned int i = 0; i < nops; i++)
			worker_op(w, below(&w->r, 100));
		if (write(pfd[1], w->mutated, w->nmutated * sizeof(int)) < 0)
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	if (handed) {
		int r = send_fd(sv[0], handed->fd);

		if (r)
			fail(w, "sendmsg to the child: %s", errname(-r));
		close(sv[0]);
		close(sv[1]);
		/* The container is the child's now as much as ours; it may change it. */
		handed->c->child_mutated = true;
	}
	n = read(pfd[0], ids, sizeof(ids));
	close(pfd[0]);
	st = wait_child(pid);
	record(OP_FORK, 0);
	if (st != 0) {
		if (sh->failed)
			_exit(1);
		fail(w, "the forked child exited with %d", st);
	}
	reconcile(w, ids, n > 0 ? n / (int)sizeof(int) : 0);
}

/*
 * A child opens a container, fills it (write, ADD_USER of its memory, ADD_FILE), and
 * exits, killed or not; sometimes it first passes the container to us by SCM_RIGHTS, and
 * the pages it pinned then outlive its address space.
 */
struct exit_report {
	long wr, au, af;
	struct kiovec_add_user aureq;
	struct kiovec_add_file afreq;
	ssize_t afread;
};

static void op_exit(struct worker *w)
{
	uint64_t wlen = gen_len(&w->r, 2 * pg), ulen = 1 + below(&w->r, 4 * pg),
		 uoff = below(&w->r, w->pool_len - ulen);
	unsigned int uflags = one_in(&w->r, 2) ? KIOVEC_ADD_WRITE : 0;
	struct target *t = &env.t[T_MEMFD];
	uint64_t foff = below(&w->r, t->size), flen = below(&w->r, t->size - foff + 1);
	bool pass = one_in(&w->r, 2), kill_self = one_in(&w->r, 3);
	int sv[2], pfd[2], st;
	struct exit_report rep = { 0 };
	pid_t pid;

	fill(&w->r, w->wbuf, wlen);
	wlog(w, "exit: a child fills a container (write %llu, ADD_USER %llu, ADD_FILE %llu)%s%s",
	     (unsigned long long)wlen, (unsigned long long)ulen, (unsigned long long)flen,
	     pass ? ", passes it to us" : "", kill_self ? ", SIGKILL" : "");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe2(pfd, O_CLOEXEC))
		fail(w, "socketpair: %s", errname(errno));
	pid = fork();
	if (pid < 0) {
		record(OP_EXIT, -errno);
		close(sv[0]); close(sv[1]); close(pfd[0]); close(pfd[1]);
		return;
	}
	if (pid == 0) {
		struct kiovec_iovec v = { (uintptr_t)w->pool + uoff, ulen };
		int fd = open(KIOVEC_DEV, O_RDWR | O_CLOEXEC);

		w->child = true;
		if (fd < 0)
			_exit(2);
		rep.wr = sys_ret(write(fd, w->wbuf, wlen));
		rep.aureq = (struct kiovec_add_user){ .iov = (uintptr_t)&v, .iovcnt = 1,
						      .flags = uflags };
		rep.au = kioctl(fd, KIOVEC_IOC_ADD_USER, &rep.aureq);
		rep.afread = pread(t->fd, w->rbuf, flen, foff);
		rep.afreq = (struct kiovec_add_file){ .fd = t->fd, .offset = foff, .len = flen };
		rep.af = kioctl(fd, KIOVEC_IOC_ADD_FILE, &rep.afreq);
		if (write(pfd[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(3);
		if (pass && send_fd(sv[1], fd))
			_exit(4);
		if (kill_self)
			raise(SIGKILL);
		_exit(0);
	}
	close(sv[1]);
	close(pfd[1]);
	if (pread(t->fd, w->rbuf, flen, foff) != (ssize_t)flen)
		fail(w, "pread of %s: %s", t->name, errname(errno));
	if (read(pfd[0], &rep, sizeof(rep)) != sizeof(rep)) {
		st = wait_child(pid);
		fail(w, "the exiting child reported nothing (status %d)", st);
	}
	{
		struct ex e = { 0 };

		ex_ok(&e, wlen ? 1 : 0, wlen);
		ex_err(&e, ENOMEM);
		expect(w, OP_EXIT, &e, rep.wr, "write in an exiting child");
		e = (struct ex){ 0 };
		ex_ok(&e, 0, 0);
		ex_err(&e, ENOMEM);
		expect(w, OP_EXIT, &e, rep.au, "ADD_USER in an exiting child");
		expect(w, OP_EXIT, &e, rep.af, "ADD_FILE in an exiting child");
	}
	if (pass) {
		struct slot *s = free_slot(w);
		int fd = recv_fd(sv[0]);

		if (fd < 0)
			fail(w, "recvmsg from the exiting child: %s", errname(-fd));
		st = wait_child(pid);
		if (st != 0 && st != 128 + SIGKILL)
			fail(w, "the exiting child exited with %d", st);
		if (!s) {
			close(fd);
		} else {
			struct mcont *c = model_new(w, w->uid == 0);

			s->fd = fd;
			s->wr = true;
			s->anon = false;
			s->c = c;
			c->nref = 1;
			/* The bytes it wrote and pinned are copies of ours: model them as ours. */
			if (rep.wr > 0)
				model_push(w, c, P_BYTES, false, w->wbuf, rep.wr);
			if (rep.au == 0) {
				model_push(w, c, P_BYTES, uflags, w->pool + uoff, ulen);
				c->pinned += rep.aureq.pinned_pages;
				pack_other(c, rep.aureq.segments);
			}
			if (rep.af == 0 && flen) {
				model_push(w, c, P_BYTES, false, w->rbuf, flen);
				c->fsegs += rep.afreq.segments;
				c->copied += rep.afreq.copied;
				pack_other(c, rep.afreq.segments);
				c->nfiles++;
			}
			/* How the child's write was packed: from STAT (see check_stat_write). */
			absorb_write(w, s, rep.wr > 0 ? rep.wr : 0, c->segs, 0,
				     rep.wr > 0 ? (rep.wr + pg - 1) / pg + 1 : 0);
			check_stat(w, s, "a container passed by a child that exited");
			verify_all(w, s, "a container passed by a child that exited");
		}
	} else {
		st = wait_child(pid);
		if (st != 0 && st != 128 + SIGKILL)
			fail(w, "the exiting child exited with %d", st);
	}
	close(sv[0]);
	close(pfd[0]);
}

/* The peer of a connected pair goes away with a RST; a transmit to it; a new pair. */
static void op_tcp_reset(struct worker *w)
{
	struct tcp *t = &w->tcp[below(&w->r, 2)];
	struct slot *s = pick_slot(w);
	struct linger l = { 1, 0 };
	struct ex e = { 0 };

	wlog(w, "the TCP peer resets; TRANSMIT to it; a new pair");
	if (!t->up)
		return;
	shutdown(t->rx, SHUT_RD);	/* the reader sees EOF and stops */
	pthread_join(t->th, NULL);
	setsockopt(t->rx, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(t->rx);
	if (s) {
		struct kiovec_transmit req = { .fd = t->tx, .flags = below(&w->r, 2) ?
					       KIOVEC_TX_NOSIGNAL : 0 };
		long r = kioctl(s->fd, KIOVEC_IOC_TRANSMIT, &req);

		ex_ok(&e, 0, s->c->bytes);
		ex_err(&e, EPIPE);
		ex_err(&e, ECONNRESET);
		expect(w, OP_TCP_RESET, &e, r, "TRANSMIT to a peer that reset");
	}
	close(t->tx);
	t->up = false;
	if (!tcp_up(t, true))
		fail(w, "a new TCP pair: %s", errname(errno));
}

/* ---- one step ---- */

static const uint8_t weights_all[NOPS] = {
	[OP_OPEN] = 3, [OP_OPEN_RO] = 1, [OP_REOPEN] = 1, [OP_CLOSE] = 3, [OP_DUP] = 2,
	[OP_SCM] = 2, [OP_FORK] = 1, [OP_EXIT] = 1, [OP_WRITE] = 10, [OP_WRITEV] = 3,
	[OP_READ] = 2, [OP_INFO] = 2, [OP_STAT] = 2, [OP_RESET] = 3, [OP_ADD_USER] = 12,
	[OP_COPY_OUT] = 8, [OP_TRANSMIT] = 7, [OP_BATCH] = 3, [OP_ADD_FILE] = 12, [OP_RW] = 5,
	[OP_ADD_ZERO] = 4, [OP_RO_FD] = 2, [OP_BAD_IOCTL] = 2, [OP_CHAOS] = 4,
	[OP_TCP_RESET] = 1, [OP_VERIFY] = 2,
};

static const uint8_t *weights = weights_all;

static unsigned int pick_op(struct worker *w)
{
	unsigned int sum = 0, v;

	for (int i = 0; i < NOPS; i++)
		sum += weights[i];
	v = below(&w->r, sum);
	for (int i = 0; i < NOPS; i++) {
		if (v < weights[i])
			return i;
		v -= weights[i];
	}
	return OP_STAT;
}

static void worker_op(struct worker *w, unsigned int which)
{
	struct slot *s;

	w->keyx = 0;
	which = pick_op(w);
	if (w->child && (which == OP_FORK || which == OP_EXIT || which == OP_SCM ||
			 which == OP_TCP_RESET || which == OP_CHAOS || which == OP_REOPEN))
		which = OP_STAT;
	s = pick_slot(w);
	if (!s && which != OP_OPEN_RO && which != OP_EXIT && which != OP_FORK)
		which = OP_OPEN;
	/* Keep the model small: a container near the cap is reset or closed. */
	if (s && (s->c->bytes > MODEL_CAP || s->c->npieces > MAX_PIECES - 40) &&
	    which != OP_CLOSE)
		which = s->wr ? OP_RESET : OP_CLOSE;
	switch (which) {
	case OP_OPEN: op_open(w, false); break;
	case OP_OPEN_RO: op_open(w, true); break;
	case OP_REOPEN: op_reopen(w); break;
	case OP_CLOSE: slot_close(w, s); break;
	case OP_DUP: op_dup(w); break;
	case OP_SCM: op_scm(w); break;
	case OP_FORK: op_fork(w); break;
	case OP_EXIT: op_exit(w); break;
	case OP_WRITE: op_write(w, s); break;
	case OP_WRITEV: op_writev(w, s); break;
	case OP_READ: op_misc(w, s); break;
	case OP_INFO: op_info(w, s); break;
	case OP_STAT: op_stat(w, s); break;
	case OP_RESET: op_reset(w, s); break;
	case OP_ADD_USER: op_add_user(w, s); break;
	case OP_COPY_OUT: op_copy_out(w, s); break;
	case OP_TRANSMIT: op_transmit(w, s); break;
	case OP_BATCH: op_batch(w, s); break;
	case OP_ADD_FILE: op_add_file(w, s); break;
	case OP_RW: op_rw(w, s); break;
	case OP_ADD_ZERO: op_add_zero(w, s); break;
	case OP_RO_FD: op_ro_fd(w, s); break;
	case OP_BAD_IOCTL: op_bad_ioctl(w, s); break;
	case OP_CHAOS:
		wlog(w, "an unchecked operation on a shared container");
		chaos_op(w, &w->r, true);
		record(OP_CHAOS, 0);
		break;
	case OP_TCP_RESET: op_tcp_reset(w); break;
	default:
		wlog(w, "verify all of fd %d (%llu bytes)", s->fd, (unsigned long long)s->c->bytes);
		check_stat(w, s, "nothing");
		verify_all(w, s, "nothing");
		record(OP_VERIFY, 0);
		break;
	}
}

/* ---- a worker process ---- */

static uint8_t *map_pool(struct worker *w, size_t len)
{
	/* Small pages only, a guard page after it (kiovec_test.h). */
	uint8_t *p = kiovec_map_small(len);

	if (!p)
		fail(w, "mmap: %s", errname(errno));
	return p;
}

static void worker_setup(struct worker *w)
{
	int mfd;

	w->pool_len = 256 * pg;
	w->pool = map_pool(w, w->pool_len);
	fill(&w->r, w->pool, w->pool_len);
	w->ro_len = 16 * pg;
	w->pool_ro = map_pool(w, w->ro_len);
	fill(&w->r, w->pool_ro, w->ro_len);
	mprotect(w->pool_ro, w->ro_len, PROT_READ);
	w->pool_none = map(2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (!w->pool_none)
		fail(w, "mmap: %s", errname(errno));
	/* A shared memfd mapping: can be pinned for writing (no dirty tracking). */
	w->shm_len = 16 * pg;
	mfd = memfd_create("fuzz-shm", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, w->shm_len))
		fail(w, "memfd: %s", errname(errno));
	w->pool_shm = map(w->shm_len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
	close(mfd);
	if (!w->pool_shm)
		fail(w, "mmap memfd: %s", errname(errno));
	fill(&w->r, w->pool_shm, w->shm_len);
	/* A shared ext4 mapping: read pins only (6.12 refuses long-term write pins). */
	if (env.ext4_rw_fd >= 0) {
		w->ext4_len = 8 * pg;
		w->pool_ext4 = map(w->ext4_len, PROT_READ, MAP_SHARED, env.ext4_rw_fd);
		if (!w->pool_ext4)
			w->ext4_len = 0;
	}
	/* Transparent huge pages, if the kernel gives them: charged whole by the new ABI. */
	{
		size_t len = 4u << 20;
		uint8_t *p = map(2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);

		if (p) {
			uint8_t *a = (uint8_t *)(((uintptr_t)p + len - 1) & ~(uintptr_t)(len / 2 - 1));

			w->pool_thp = a;
			w->thp_len = len / 2;
			madvise(a, w->thp_len, MADV_HUGEPAGE);
			fill(&w->r, a, w->thp_len);
		}
	}
	w->wbuf_len = 64 * pg;
	w->wbuf = map_pool(w, w->wbuf_len);
	w->rbuf_len = MODEL_CAP + 64 * pg;
	w->rbuf = map_pool(w, w->rbuf_len);
	/* scratch: 2 pages, then a guard page for arrays that run off it. */
	w->scratch = map_pool(w, 2 * pg);
	w->ro_page = map(pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	w->bigarr = map_pool(w, 8 * pg);	/* room for max_iovecs + 1 iovecs */
	w->scratch_fd = memfd_create("fuzz-rw", MFD_CLOEXEC);
	if (w->scratch_fd < 0 || ftruncate(w->scratch_fd, 64 * pg))
		fail(w, "memfd: %s", errname(errno));
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", w->scratch_fd);
		w->scratch_ro_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	for (int i = 0; i < NSLOTS; i++)
		w->s[i].fd = -1;
	if (!w->child)
		for (int i = 0; i < 2; i++)
			if (!tcp_up(&w->tcp[i], true))
				fail(w, "a TCP pair: %s", errname(errno));
	/* The chaos side. */
	w->chaos_pool = map_pool(w, 64 * pg);
	memset(w->chaos_pool, 0x77, 64 * pg);
	w->chaos_region = map(8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	for (int i = 0; i < NCHAOS; i++) {
		int fd = open(KIOVEC_DEV, O_RDWR | O_CLOEXEC);

		if (fd < 0 || dup2(fd, CHAOS_FD0 + i) < 0)
			fail(w, "a shared container: %s", errname(errno));
		close(fd);
	}
	if (!tcp_up(&w->ctcp, false))
		fail(w, "a TCP pair: %s", errname(errno));
	/* Last, so that no later small mapping lands in it: one mapped page, then a hole of
	 * 63 pages that nothing maps (glibc maps only 128 KiB and more). */
	w->pool_hole = map(64 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (!w->pool_hole)
		fail(w, "mmap: %s", errname(errno));
	munmap(w->pool_hole + pg, 63 * pg);
	fill(&w->r, w->pool_hole, pg);
}

static void worker_teardown(struct worker *w)
{
	w->chaos_stop = true;
	if (w->threads)
		for (int i = 0; i < 2; i++)
			pthread_join(w->chaos_th[i], NULL);
	/* Every container goes, and with it every pin and charge. */
	for (int i = 0; i < NSLOTS; i++)
		if (w->s[i].fd >= 0) {
			check_stat(w, &w->s[i], "the end");
			verify_all(w, &w->s[i], "the end");
			slot_close(w, &w->s[i]);
		}
	for (int i = 0; i < NCHAOS; i++)
		close(CHAOS_FD0 + i);
	for (int i = 0; i < 2; i++)
		tcp_down(&w->tcp[i], false);
	tcp_down(&w->ctcp, false);
}

static void worker_main(int idx, uint64_t seed, uid_t uid, rlim_t memlock, long nops,
			bool threads, time_t deadline)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		_exit(2);
	W = w;
	w->idx = idx;
	w->seed = seed;
	w->r.s = seed;
	w->uid = uid;
	w->memlock = memlock;
	w->nops = nops;
	w->threads = threads;
	w->deadline = deadline;
	sh->w[idx].seed = seed;
	sh->w[idx].uid = uid;
	sh->w[idx].memlock = memlock == RLIM_INFINITY ? -1 : (long)memlock;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	if (!kiovec_become_user(uid, memlock))
		fail(w, "cannot become uid %u with RLIMIT_MEMLOCK %ld", uid, (long)memlock);
	worker_setup(w);
	if (threads)
		for (int i = 0; i < 2; i++)
			if (pthread_create(&w->chaos_th[i], NULL, chaos_main, w))
				fail(w, "pthread_create: %s", errname(errno));
	for (w->op = 0; w->op < nops && !sh->failed; w->op++) {
		if (deadline && time(NULL) >= deadline)
			break;
		worker_op(w, 0);
		sh->w[idx].ops = w->op + 1;
	}
	if (sh->failed)
		_exit(1);
	worker_teardown(w);
	_exit(0);
}

/* ---- setup of the shared descriptors (as root) ---- */

static struct target *add_target(enum tkind kind, int fd, const char *name)
{
	struct target *t = &env.t[env.ntargets++];
	struct stat st;
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	t->fd = fd;
	t->kind = kind;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (fd >= 0 && fl >= 0 && fstat(fd, &st) == 0) {
		t->regular = S_ISREG(st.st_mode) && !(fl & O_PATH);
		t->socket = S_ISSOCK(st.st_mode);
		t->readable = !(fl & O_PATH) && (fl & O_ACCMODE) != O_WRONLY;
		t->writable = !(fl & O_PATH) && (fl & O_ACCMODE) != O_RDONLY;
		t->size = st.st_size;
		if (t->regular) {
			struct statfs sf;

			/* Only tmpfs, ramfs and ext4 page caches are referenced; every other
			 * file ADD_FILE reads through read_iter, up to its end (procfs and
			 * sysfs sizes say nothing). */
			if (fstatfs(fd, &sf) == 0 && sf.f_type != TMPFS_MAGIC &&
			    sf.f_type != RAMFS_MAGIC && sf.f_type != EXT4_SUPER_MAGIC)
				t->needs_copy = true;
			if (t->needs_copy && t->size < pg)
				t->size = pg;
		}
		if (S_ISBLK(st.st_mode)) {
			unsigned long long sz = 0;

			if (ioctl(fd, _IOR(0x12, 114, size_t), &sz) == 0)	/* BLKGETSIZE64 */
				t->size = sz;
		}
	}
	return t;
}

static int fd_high(int fd)
{
	/* Out of the way of the numbers the workers' containers get. */
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 200);

	close(fd);
	return n;
}

static void write_file(int fd, size_t len, uint64_t seed)
{
	struct rng r = { seed };
	uint8_t *buf = malloc(len);

	fill(&r, buf, len);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		perror("pwrite");
	free(buf);
}

static bool on_overlay(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	size_t n = strlen(env.notes);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(env.notes + n, sizeof(env.notes) - n, fmt, ap);
	va_end(ap);
}

/* Notes how long each stage of the setup took (NULL starts the clock). */
static void stage_time(const char *what)
{
	static struct timespec last;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (what)
		note("%s %.1f s; ", what, (now.tv_sec - last.tv_sec) +
		     (now.tv_nsec - last.tv_nsec) / 1e9);
	last = now;
}

static void setup_targets(uint64_t seed)
{
	int fd, p[2], sv[2];
	char path[128];
	struct target *t;

	env.ntargets = 0;
	env.ext4_rw_fd = -1;

	fd = memfd_create("fuzz-memfd", MFD_CLOEXEC);
	write_file(fd, 40 * pg + 123, seed + 1);
	add_target(T_MEMFD, fd_high(fd), "a memfd (tmpfs)");

	fd = memfd_create("fuzz-sparse", MFD_CLOEXEC);
	ftruncate(fd, 256 * pg);
	pwrite(fd, "island", 6, 100 * pg + 7);
	add_target(T_SPARSE, fd_high(fd), "a sparse memfd");

	snprintf(path, sizeof(path), "/tmp/kiovec-fuzz-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		write_file(fd, 9 * pg + 5, seed + 2);
		close(fd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		unlink(path);
		add_target(T_TMPFILE, fd_high(fd), "a file in /tmp");
	}

	stage_time(NULL);
	env.ext4 = kiovec_mount_ext4(env.ext4_dir) == 0;
	stage_time("mkfs+mount ext4");
	if (env.ext4) {
		snprintf(path, sizeof(path), "%s/small", env.ext4_dir);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		write_file(fd, 13 * pg + 77, seed + 3);
		fsync(fd);
		env.ext4_rw_fd = fd_high(fd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		add_target(T_EXT4, fd_high(fd), "an ext4 file");
		snprintf(path, sizeof(path), "%s/big", env.ext4_dir);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		write_file(fd, (1u << 20) + 3, seed + 4);
		fsync(fd);
		/* Cold page cache: ADD_FILE must read it from the disk. */
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		add_target(T_EXT4_BIG, fd_high(fd), "a 1 MiB ext4 file");
		{
			FILE *f;
			char dev[128] = "";

			snprintf(path, sizeof(path), "findmnt -no SOURCE %s", env.ext4_dir);
			f = popen(path, "r");
			if (f && fgets(dev, sizeof(dev), f)) {
				dev[strcspn(dev, "\n")] = 0;
				fd = open(dev, O_RDONLY | O_CLOEXEC);
				if (fd >= 0)
					add_target(T_BLOCKDEV, fd_high(fd), "a block device (loop)");
			}
			if (f)
				pclose(f);
		}
		stage_time("ext4 files");
	} else {
		note("no ext4 (needs root, mkfs.ext4 and a loop device); ");
	}

	snprintf(path, sizeof(path), "/proc/self/fd/%d", env.t[T_MEMFD].fd);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	add_target(T_WRONLY, fd_high(fd), "an O_WRONLY file");
	fd = open("/tmp", O_PATH | O_CLOEXEC);
	add_target(T_OPATH, fd_high(fd), "an O_PATH descriptor");
	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	add_target(T_DIR, fd_high(fd), "a directory");
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
		add_target(T_PIPE_R, fd_high(p[0]), "a pipe's read end");
		add_target(T_PIPE_W, fd_high(p[1]), "a pipe's write end");
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	add_target(T_UDP, fd_high(fd), "a UDP socket");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
		add_target(T_UNIX, fd_high(sv[0]), "a unix socket");
		close(sv[1]);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	t = add_target(T_TCP_UNCONN, fd_high(fd), "an unconnected TCP socket");
	t->tcp = true;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		bind(fd, (void *)&a, sizeof(a));
		listen(fd, 1);
	}
	t = add_target(T_TCP_LISTEN, fd_high(fd), "a listening TCP socket");
	t->tcp = true;

	/* Files without a usable page cache (issue 7, item 1). */
	/* proc_pid_status is a seq_file behind ->read, without read_iter. */
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	t = add_target(T_PROC, fd_high(fd), "/proc/self/status");
	t->needs_copy = true;
	t->no_read_iter = true;
	{
		FILE *f = popen("ls /proc/bus/pci/*/* 2>/dev/null | head -n 1", "r");
		char pci[128] = "";

		if (f && fgets(pci, sizeof(pci), f)) {
			pci[strcspn(pci, "\n")] = 0;
			fd = open(pci, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				t = add_target(T_PCI, fd_high(fd), "a /proc/bus/pci file");
				t->needs_copy = true;
				t->no_read_iter = true;
			}
		}
		if (f)
			pclose(f);
	}
	fd = open("/sys/kernel/uevent_seqnum", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		t = add_target(T_SYSFS, fd_high(fd), "/sys/kernel/uevent_seqnum");
		t->needs_copy = true;
	}
	if (on_overlay("/etc/hostname")) {
		fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			t = add_target(T_OVERLAY, fd_high(fd), "/etc/hostname (overlayfs)");
			t->needs_copy = true;
		}
	} else {
		/* An overlay of our own. */
		strcpy(env.ovl_dir, "/tmp/kiovec-ovl-XXXXXX");
		if (mkdtemp(env.ovl_dir)) {
			char opts[512];

			snprintf(path, sizeof(path), "mkdir -p %s/l %s/u %s/w %s/m && "
				 "head -c 20000 /dev/urandom > %s/l/f", env.ovl_dir, env.ovl_dir,
				 env.ovl_dir, env.ovl_dir, env.ovl_dir);
			snprintf(opts, sizeof(opts), "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w",
				 env.ovl_dir, env.ovl_dir, env.ovl_dir);
			if (system(path) == 0) {
				snprintf(path, sizeof(path), "%s/m", env.ovl_dir);
				env.ovl_mounted = mount("overlay", path, "overlay", 0, opts) == 0;
			}
			if (env.ovl_mounted) {
				snprintf(path, sizeof(path), "%s/m/f", env.ovl_dir);
				fd = open(path, O_RDONLY | O_CLOEXEC);
				t = add_target(T_OVERLAY, fd_high(fd), "a file on an overlay");
				t->needs_copy = true;
			} else {
				note("no overlayfs; ");
			}
		}
	}
	stage_time("procfs, sysfs, overlay");
	/* hugetlbfs: a few huge pages for the test, given back afterwards. */
	{
		FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r+");
		long n = 0;

		if (f && fscanf(f, "%ld", &n) == 1) {
			env.hugepages_saved = n;
			if (n < 2) {
				rewind(f);
				fprintf(f, "%ld\n", n + 2);
				env.hugepages_set = true;
			}
		}
		if (f)
			fclose(f);
		fd = memfd_create("fuzz-huge", MFD_CLOEXEC | MFD_HUGETLB);
		if (fd >= 0 && ftruncate(fd, 2u << 20) == 0) {
			uint8_t *m = map(2u << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd);

			if (m) {
				struct rng r = { seed + 5 };

				fill(&r, m, 1u << 20);
				munmap(m, 2u << 20);
				t = add_target(T_HUGETLB, fd_high(fd), "a hugetlb memfd");
				t->needs_copy = true;
				fd = -1;
			}
		}
		if (fd >= 0) {
			close(fd);
			note("no hugetlb memfd (no huge pages); ");
		}
	}
	stage_time("hugetlb");
	fd = syscall(SYS_memfd_secret, O_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, pg) == 0) {
		uint8_t *m = map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd);

		if (m) {
			memset(m, 0x5e, pg);
			munmap(m, pg);
		}
		t = add_target(T_SECRET, fd_high(fd), "a memfd_secret file");
		t->secret = true;
		t->regular = true;
		t->readable = true;
	} else {
		note("no memfd_secret (%s); ", errname(errno));
		if (fd >= 0)
			close(fd);
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	add_target(T_DEVNULL, fd_high(fd), "/dev/null");
	fd = open(KIOVEC_DEV, O_RDWR | O_CLOEXEC);
	add_target(T_KIOVEC, fd_high(fd), "a kiovec container");
	fd = open(KIOVEC_DEV, O_RDONLY | O_CLOEXEC);
	add_target(T_KIOVEC_RO, fd_high(fd), "an O_RDONLY kiovec container");
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	add_target(T_EVENTFD, fd_high(fd), "an eventfd");
	add_target(T_CLOSED, CLOSED_FD, "a closed descriptor");
	add_target(T_NEG, -1, "descriptor -1");
	for (int i = 0; i < env.ntargets; i++)
		if (env.t[i].needs_copy)
			note("%s: no usable page cache; ", env.t[i].name);
}

static void teardown_targets(void)
{
	for (int i = 0; i < env.ntargets; i++)
		if (env.t[i].fd >= 0 && env.t[i].fd != CLOSED_FD)
			close(env.t[i].fd);
	if (env.ext4_rw_fd >= 0)
		close(env.ext4_rw_fd);
	if (env.ext4)
		kiovec_umount_ext4(env.ext4_dir);
	if (env.ovl_mounted) {
		char path[128];

		snprintf(path, sizeof(path), "%s/m", env.ovl_dir);
		umount(path);
		snprintf(path, sizeof(path), "rm -rf %s", env.ovl_dir);
		system(path);
	}
	if (env.hugepages_set) {
		FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");

		if (f) {
			fprintf(f, "%ld\n", env.hugepages_saved);
			fclose(f);
		}
	}
}

/* ---- the test ---- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* In a child as uid with RLIMIT_MEMLOCK = limit: 0 if locked_vm is free (see kiovec_test.h). */
static int memlock_free_as(uid_t uid, size_t limit_pages)
{
	pid_t pid = fork();

	if (pid == 0) {
		int st = 1;

		if (!kiovec_become_user(uid, limit_pages * pg))
			_exit(10);
		/* Containers passed by SCM_RIGHTS that were still queued in a unix socket when
		 * their last process exited are freed by the unix garbage collector, from a
		 * work item: their charge may stay for a moment. Retried for a second: only
		 * a charge that stays is a leak. */
		for (int i = 0; i < 10 && st; i++) {
			if (i)
				usleep(100000);
			st = kiovec_memlock_is_free(limit_pages);
		}
		_exit(st);
	}
	return pid < 0 ? -1 : wait_child(pid);
}

FIXTURE(fuzz)
{
	bool ready;
};

FIXTURE_VARIANT(fuzz)
{
	const char *focus;
	uint64_t need;		/* feature bits this variant is about */
	int share;		/* percent of FUZZ_OPS */
	uint8_t weights[NOPS];
};

FIXTURE_VARIANT_ADD(fuzz, all)
{
	.focus = "every entry point",
	.share = 100,
};

/* Files without a usable page cache: procfs, sysfs, overlayfs, hugetlbfs, secretmem. */
FIXTURE_VARIANT_ADD(fuzz, file_copy)
{
	.focus = "ADD_FILE of every kind of file",
	.need = KIOVEC_FEAT_FILE_COPY,
	.share = 10,
	.weights = { [OP_OPEN] = 2, [OP_CLOSE] = 1, [OP_RESET] = 2, [OP_ADD_FILE] = 20,
		     [OP_COPY_OUT] = 6, [OP_TRANSMIT] = 6, [OP_WRITE] = 3, [OP_VERIFY] = 2,
		     [OP_FORK] = 1, [OP_EXIT] = 1, [OP_RW] = 3 },
};

FIXTURE_VARIANT_ADD(fuzz, tx_header_range)
{
	.focus = "TRANSMIT with KIOVEC_TX_HEADER and KIOVEC_TX_RANGE",
	.need = KIOVEC_FEAT_TX_HEADER | KIOVEC_FEAT_TX_RANGE,
	.share = 8,
	.weights = { [OP_OPEN] = 2, [OP_CLOSE] = 1, [OP_RESET] = 1, [OP_WRITE] = 5,
		     [OP_ADD_USER] = 4, [OP_ADD_FILE] = 4, [OP_TRANSMIT] = 12, [OP_BATCH] = 6,
		     [OP_TCP_RESET] = 1 },
};

FIXTURE_VARIANT_ADD(fuzz, rw_add_zero)
{
	.focus = "KIOVEC_IOC_RW and KIOVEC_IOC_ADD_ZERO",
	.need = KIOVEC_FEAT_RW | KIOVEC_FEAT_ADD_ZERO,
	.share = 8,
	.weights = { [OP_OPEN] = 2, [OP_CLOSE] = 1, [OP_RESET] = 1, [OP_WRITE] = 3,
		     [OP_ADD_USER] = 6, [OP_ADD_ZERO] = 8, [OP_ADD_FILE] = 3, [OP_RW] = 14,
		     [OP_COPY_OUT] = 4, [OP_VERIFY] = 2 },
};

/*
 * The descriptors every variant shares, set up once in the harness's own process before it
 * forks the tests (an ext4 image, huge pages, ...: seconds under TCG), and torn down when
 * it exits.
 */
static void __attribute__((constructor)) fuzz_setup_once(void)
{
	struct timespec t0, t1;

	pg = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0 || access(KIOVEC_DEV, F_OK))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setup_targets(env_u64("FUZZ_SEED", 0x5eed));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	env.setup_secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	env.targets_ready = true;
	atexit(teardown_targets);
}

FIXTURE_SETUP(fuzz)
{
	int fd;

	pg = sysconf(_SC_PAGESIZE);
	fd = kiovec_open();
	if (fd < 0 && errno == ENOENT)
		SKIP(return, "kiovec module not loaded");
	ASSERT_LE(0, fd);
	memset(&env.info, 0, sizeof(env.info));
	ASSERT_EQ(0, ioctl(fd, KIOVEC_IOC_INFO, &env.info));
	close(fd);
	env.feat = env.info.features;
	env.file_copy = env.feat & KIOVEC_FEAT_FILE_COPY;
	if ((env.feat & variant->need) != variant->need)
		SKIP(return, "the module lacks feature bits %#llx (%s)",
		     (unsigned long long)(variant->need & ~env.feat), variant->focus);
	if (geteuid() != 0 || !env.targets_ready)
		SKIP(return, "needs root: the workers become uid %d after opening files", NOBODY);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	self->ready = true;
}

FIXTURE_TEARDOWN(fuzz)
{
}

static void print_histogram(void)
{
	for (int op = 0; op < NOPS; op++) {
		char line[1024];
		size_t n = 0;
		long total = 0;

		for (int e = 0; e < NERR; e++)
			total += sh->hist[op][e];
		if (!total)
			continue;
		n += snprintf(line + n, sizeof(line) - n, "%-20s %7ld: ok %ld", op_names[op], total,
			      sh->hist[op][0]);
		for (int e = 1; e < NERR && n < sizeof(line); e++)
			if (sh->hist[op][e])
				n += snprintf(line + n, sizeof(line) - n, ", %s %ld", errname(e),
					      sh->hist[op][e]);
		ksft_print_msg("fuzz:   %s\n", line);
	}
	{
		char line[1024];
		size_t n = 0;

		for (int e = 0; e < NERR && n < sizeof(line); e++)
			if (sh->chaos_hist[e])
				n += snprintf(line + n, sizeof(line) - n, "%s%s %ld", n ? ", " : "",
					      e ? errname(e) : "ok", sh->chaos_hist[e]);
		if (n)
			ksft_print_msg("fuzz:   %-20s: %s\n", "chaos threads", line);
	}
}

TEST_F_TIMEOUT(fuzz, random_ops, 14400)
{
	uint64_t seed = env_u64("FUZZ_SEED", 0);
	long ops = env_u64("FUZZ_OPS", 0), seconds, total = 0, chaos = 0;
	int nworkers = env_u64("FUZZ_WORKERS", 3), threads = env_u64("FUZZ_THREADS", 1);
	uid_t uid0 = env_u64("FUZZ_UID", NOBODY);
	rlim_t mem0 = env_u64("FUZZ_MEMLOCK", 8 << 20);
	long pins0 = kiovec_pins_outstanding(), pins1;
	struct timespec t0, t1;
	pid_t pids[16];
	double secs;
	int bad = 0, st;

	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = mix64(ts.tv_sec * 1000000000ULL + ts.tv_nsec + getpid());
	}
	sh->seed = seed;
	/* make check's run: a fixed budget, bounded in time on a slow or busy machine (a
	 * variant's share of it). */
	seconds = env_u64("FUZZ_SECONDS", ops ? 0 : (DEFAULT_SECONDS * variant->share + 99) / 100);
	if (!ops)
		ops = DEFAULT_OPS;
	ops = ops * variant->share / 100;
	if (ops < 1)
		ops = 1;
	if (nworkers < 1 || nworkers > 16)
		nworkers = 3;
	if (variant->weights[OP_OPEN] || variant->weights[OP_WRITE])
		weights = variant->weights;
	ksft_print_msg("fuzz: setting up the descriptors took %.1f s (once for all variants)\n",
		       env.setup_secs);
	ksft_print_msg("fuzz: %s: seed %#llx, %ld operations, %d workers%s%s, features %#llx\n",
		       variant->focus, (unsigned long long)seed, ops, nworkers,
		       threads ? " with 2 chaos threads each" : ", single-threaded",
		       seconds ? "" : ", no time limit", (unsigned long long)env.feat);
	if (!env.file_copy)
		ksft_print_msg("fuzz: the module lacks FILE_COPY: files without a usable page "
			       "cache (procfs, sysfs, overlayfs, hugetlbfs, secretmem) are not "
			       "given to ADD_FILE (they oops it: issue 7, item 1)%s\n",
			       getenv("FUZZ_UNSAFE") ? "; FUZZ_UNSAFE is set: they are" : "");
	for (int f = 6; f <= 12; f++)
		if (!(env.feat & (1ULL << f)))
			ksft_print_msg("fuzz: the module lacks feature bit %d: its calls are checked "
				       "for ENOTTY/EINVAL only\n", f);
	if (env.notes[0])
		ksft_print_msg("fuzz: %s\n", env.notes);
	{
		char list[1024] = "";

		for (int i = 0; i < env.ntargets; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", env.t[i].name);
		ksft_print_msg("fuzz: descriptors: %s\n", list);
	}
	for (uid_t u = NOBODY - 1; u <= NOBODY; u++) {
		st = memlock_free_as(u, 16);
		if (st)
			ksft_print_msg("fuzz: before the run, uid %u could not pin exactly "
				       "RLIMIT_MEMLOCK (step %d): its locked_vm was not at zero\n",
				       u, st);
		EXPECT_EQ(0, st) TH_LOG("locked_vm of uid %u was not free before the fuzzer ran", u);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0, given = 0; i < nworkers; i++) {
		uint64_t wseed = i == 0 ? seed : mix64(seed + i * 0x1000193ULL);
		/* Worker 0: nobody at 8 MiB, half the budget (or FUZZ_UID/FUZZ_MEMLOCK);
		 * 1: uid 65533 at 64 KiB (its own locked_vm: replayable alone); 2: root
		 * (CAP_IPC_LOCK: counted, not limited); then again. */
		long n = i == nworkers - 1 ? ops - given : nworkers == 1 ? ops :
			i == 0 ? ops / 2 : (ops / 2) / (nworkers - 1);
		uid_t uid = i == 0 ? uid0 : i % 3 == 1 ? NOBODY - 1 : i % 3 == 2 ? 0 : NOBODY;
		rlim_t mem = i == 0 ? mem0 : i % 3 == 1 ? 64u << 10 : i % 3 == 2 ? RLIM_INFINITY :
			8u << 20;

		given += n;

		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			worker_main(i, wseed, uid, mem, n, threads,
				    seconds ? time(NULL) + seconds : 0);
	}
	for (int i = 0; i < nworkers; i++) {
		struct timespec tw;

		st = wait_child(pids[i]);
		clock_gettime(CLOCK_MONOTONIC, &tw);
		ksft_print_msg("fuzz: worker %d ended (status %d) after %.1f s\n", i, st,
			       (tw.tv_sec - t0.tv_sec) + (tw.tv_nsec - t0.tv_nsec) / 1e9);
		if (st) {
			bad = 1;
			if (!sh->failed)
				snprintf(sh->fail, sizeof(sh->fail), "worker %d died with status %d "
					 "(seed %#llx, after %ld operations)", i, st,
					 (unsigned long long)sh->w[i].seed, sh->w[i].ops);
			/* Stop the others quickly. */
			sh->failed = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (int i = 0; i < nworkers; i++) {
		total += sh->w[i].ops;
		chaos += sh->w[i].chaos_ops;
	}
	ksft_print_msg("fuzz: seed %#llx: %ld operations checked + %ld unchecked by chaos "
		       "threads in %.1f s: %.0f ops/s (%.0f checked ops/s)\n",
		       (unsigned long long)seed, total, chaos, secs, (total + chaos) / secs,
		       total / secs);
	ksft_print_msg("fuzz: %ld bytes received over TCP and checked; %llu bytes added past "
		       "what read(2) returns (not checkable)\n", sh->rx_bytes,
		       (unsigned long long)sh->unknown_bytes);
	print_histogram();
	if (bad || sh->failed) {
		ksft_print_msg("fuzz: FAILED: %s\n", sh->fail);
		for (int i = 0; i < nworkers; i++) {
			struct wstat *ws = &sh->w[i];

			ksft_print_msg("fuzz: worker %d's last operations:\n", i);
			for (int j = ws->lasti > NLOG ? ws->lasti - NLOG : 0; j < ws->lasti; j++)
				ksft_print_msg("fuzz:   %s\n", ws->last[j % NLOG]);
		}
	}
	EXPECT_EQ(0, bad) TH_LOG("seed %#llx", (unsigned long long)seed);
	if (sh->nfindings) {
		ksft_print_msg("fuzz: %d kinds of deviation from the ABI (each: its first "
			       "occurrence):\n", sh->nfindings);
		for (int i = 0; i < sh->nfindings && i < 32; i++)
			ksft_print_msg("fuzz:   [%ld times] %s\n", sh->finding_count[i],
				       sh->finding[i]);
	}
	EXPECT_EQ(0, sh->nfindings) TH_LOG("deviations from the ABI (see above)");
	if (total < ops && !bad && seconds)
		ksft_print_msg("fuzz: stopped at the time limit (%ld s) after %ld of %ld "
			       "operations\n", seconds, total, ops);

	/* Everything is closed: pins balanced, locked_vm back where it was. */
	for (int tries = 0; tries < 20; tries++) {
		pins1 = kiovec_pins_outstanding();
		if (pins1 == pins0)
			break;
		usleep(100000);
	}
	if (pins0 != LONG_MIN) {
		ksft_print_msg("fuzz: pins outstanding before %ld, after %ld\n", pins0, pins1);
		EXPECT_EQ(pins0, pins1);
	}
	for (uid_t u = NOBODY - 1; u <= NOBODY; u++) {
		st = memlock_free_as(u, 16);
		ksft_print_msg("fuzz: locked_vm of uid %u %s: a fresh container %s\n", u,
			       st ? "is NOT back at its start" : "is back at its start",
			       st == 0 ? "pinned exactly RLIMIT_MEMLOCK (64 KiB) and not a page "
			       "more" : st == 2 ? "could not pin RLIMIT_MEMLOCK" :
			       "failed another step");
		EXPECT_EQ(0, st) TH_LOG("uid %u", u);
	}
}

TEST_HARNESS_MAIN
