// SPDX-License-Identifier: GPL-2.0
/*
 * kiovec-blkbench: block I/O at queue depth 1 on memory-backed block devices (null_blk,
 * brd), all in one run, per device and workload (4 KiB random reads and writes, 128 KiB
 * sequential reads and writes):
 *
 *   pread/pwrite   O_DIRECT pread()/pwrite() of an aligned buffer (pins its pages per call)
 *   io_uring       liburing, READ_FIXED/WRITE_FIXED from a registered buffer, one I/O in
 *                  flight (submit and wait for it), as fio --ioengine=io_uring --fixedbufs
 *   kiovec         KIOVEC_IOC_RW on a container prebuilt with KIOVEC_IOC_ADD_ZERO pages
 *   fio            fio --ioengine=io_uring --fixedbufs --iodepth=1, run once as a cross-check
 *                  that the io_uring figure above is what fio gets
 *
 * IOPS and CPU per I/O (the whole process: io_uring's workers are its threads) as ratios.
 * Targets (issue 8): kiovec >= 1.1x the IOPS of O_DIRECT pread/pwrite and >= 0.9x those of
 * io_uring with fixed buffers; the verdict is printed. Every figure is the best of ROUNDS
 * interleaved rounds. Data written is garbage; the devices must be scratch devices.
 *
 *   kiovec-blkbench [-t SECONDS_PER_CELL] [-r ROUNDS] [-F] DEVICE...    (-F: no fio)
 *   kiovec-blkbench [-t SECONDS] -m METHOD -w WORKLOAD DEVICE    one cell (for perf), e.g.
 *                                                   -m "kiovec RW" -w "4k randread"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/kiovec.h>

#define MAX_BS (128 << 10)
#define SPAN (256ULL << 20)	/* at most this much of a device is used */

static double cell_secs = 1.0;
static int rounds = 2;
static int use_fio = 1;

static void die(const char *what)
{
	fprintf(stderr, "kiovec-blkbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double process_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct workload {
	const char *name, *fio_rw;
	int write, random;
	size_t bs;
};

static const struct workload workloads[] = {
	{ "4k randread", "randread", 0, 1, 4096 },
	{ "4k randwrite", "randwrite", 1, 1, 4096 },
	{ "128k seqread", "read", 0, 0, MAX_BS },
	{ "128k seqwrite", "write", 1, 0, MAX_BS },
};

enum method { PSYNC, URING, KIOVEC, NR_METHODS };
static const char *const names[NR_METHODS] = { "pread/pwrite", "io_uring fixed", "kiovec RW" };

struct target {
	const char *path;
	int fd;			/* O_RDWR | O_DIRECT */
	uint64_t span;		/* bytes used, from 0 */
	void *buf;		/* MAX_BS, page-aligned */
	struct io_uring ring;
	int kdev;		/* a container with MAX_BS of ADD_ZERO pages, or -1 */
};

struct result {
	double iops, cpu_us;	/* best over the rounds; cpu_us: CPU microseconds per I/O */
};

/* Offsets: xorshift over the span for random workloads, wrapping for sequential ones. */
static uint64_t next_pos(const struct workload *w, const struct target *t, uint64_t *state,
			 uint64_t *seq)
{
	uint64_t blocks = t->span / w->bs;

	if (!w->random) {
		uint64_t p = *seq;

		*seq = (*seq + w->bs) % (blocks * w->bs);
		return p;
	}
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (*state % blocks) * w->bs;
}

static void one_io(enum method m, const struct workload *w, struct target *t, uint64_t pos)
{
	ssize_t n = -1;

	switch (m) {
	case PSYNC:
		n = w->write ? pwrite(t->fd, t->buf, w->bs, pos) : pread(t->fd, t->buf, w->bs, pos);
		break;
	case URING: {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
		struct io_uring_cqe *cqe;
		int ret;

		if (w->write)
			io_uring_prep_write_fixed(sqe, t->fd, t->buf, w->bs, pos, 0);
		else
			io_uring_prep_read_fixed(sqe, t->fd, t->buf, w->bs, pos, 0);
		ret = io_uring_submit_and_wait(&t->ring, 1);
		if (ret < 0) {
			errno = -ret;
			die("io_uring_submit_and_wait");
		}
		ret = io_uring_peek_cqe(&t->ring, &cqe);
		if (ret < 0) {
			errno = -ret;
			die("io_uring_peek_cqe");
		}
		n = cqe->res;
		if (n < 0) {
			errno = -n;
			n = -1;
		}
		io_uring_cqe_seen(&t->ring, cqe);
		break;
	}
	case KIOVEC: {
		struct kiovec_rw rw = {
			.fd = t->fd, .dir = w->write ? KIOVEC_WRITE : KIOVEC_READ,
			.pos = pos, .offset = 0, .len = w->bs,
		};

		n = ioctl(t->kdev, KIOVEC_IOC_RW, &rw);
		break;
	}
	default:
		break;
	}
	if (n != (ssize_t)w->bs) {
		fprintf(stderr, "kiovec-blkbench: %s %s of %zu bytes at %llu on %s: %zd (%s)\n",
			names[m], w->write ? "write" : "read", w->bs, (unsigned long long)pos,
			t->path, n, n < 0 ? strerror(errno) : "short");
		exit(1);
	}
}

static struct result measure(enum method m, const struct workload *w, struct target *t)
{
	uint64_t state = 0x9e3779b97f4a7c15ULL, seq = 0;
	long n = 0;
	double t0, c0, t1, c1;

	for (int i = 0; i < 16; i++)	/* warm up */
		one_io(m, w, t, next_pos(w, t, &state, &seq));
	t0 = now();
	c0 = process_cpu();
	do {
		for (int i = 0; i < 16; i++)
			one_io(m, w, t, next_pos(w, t, &state, &seq));
		n += 16;
	} while ((t1 = now()) < t0 + cell_secs);
	c1 = process_cpu();
	return (struct result){ .iops = n / (t1 - t0), .cpu_us = 1e6 * (c1 - c0) / n };
}

/* fio's own figure for the io_uring case; 0 IOPS if it could not run. */
static struct result run_fio(const struct workload *w, const struct target *t, char *why,
			     size_t why_len)
{
	char cmd[1024], line[8192], *f[128], *save, *tok;
	struct result r = { 0 };
	int nf = 0, ms = (int)(cell_secs * 1000);
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "fio --name=xcheck --filename=%s --ioengine=io_uring --fixedbufs --direct=1 "
		 "--rw=%s --bs=%zu --iodepth=1 --size=%llu --time_based --runtime=%dms "
		 "--ramp_time=100ms --norandommap --randrepeat=0 --output-format=terse "
		 "--terse-version=3 2>&1", t->path, w->fio_rw, w->bs,
		 (unsigned long long)t->span, ms < 500 ? 500 : ms);
	p = popen(cmd, "r");
	if (!p) {
		snprintf(why, why_len, "popen: %s", strerror(errno));
		return r;
	}
	line[0] = 0;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "3;", 2))
			break;
	if (pclose(p) != 0 || strncmp(line, "3;", 2)) {
		snprintf(why, why_len, "fio failed: %.200s", line);
		return r;
	}
	for (tok = strtok_r(line, ";", &save); tok && nf < 128; tok = strtok_r(NULL, ";", &save))
		f[nf++] = tok;
	if (nf < 90) {
		snprintf(why, why_len, "fio: %d terse fields", nf);
		return r;
	}
	/* terse v3 (1-based): 8 read IOPS, 49 write IOPS, 88 usr CPU %, 89 sys CPU % */
	r.iops = atof(f[w->write ? 48 : 7]);
	if (r.iops > 0)
		r.cpu_us = (atof(f[87]) + atof(f[88])) / 100 * 1e6 / r.iops;
	return r;
}

static int open_target(struct target *t, const char *path, int have_kiovec, char *why,
		       size_t why_len)
{
	struct iovec iov;
	struct stat st;
	uint64_t size = 0;
	int ret;

	memset(t, 0, sizeof(*t));
	t->path = path;
	t->kdev = -1;
	t->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (t->fd >= 0 && !fstat(t->fd, &st) && S_ISREG(st.st_mode))
		size = st.st_size;	/* a file works too (for trying the program out) */
	else if (t->fd < 0 || ioctl(t->fd, BLKGETSIZE64, &size)) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	t->span = size < SPAN ? size / MAX_BS * MAX_BS : SPAN;
	if (t->span < 16 * MAX_BS) {
		snprintf(why, why_len, "%s: only %llu bytes", path, (unsigned long long)size);
		return -1;
	}
	if (posix_memalign(&t->buf, 4096, MAX_BS))
		die("posix_memalign");
	memset(t->buf, 0x5a, MAX_BS);
	ret = io_uring_queue_init(8, &t->ring, 0);
	if (ret < 0) {
		errno = -ret;
		die("io_uring_queue_init");
	}
	iov = (struct iovec){ t->buf, MAX_BS };
	ret = io_uring_register_buffers(&t->ring, &iov, 1);
	if (ret < 0) {
		errno = -ret;
		die("io_uring_register_buffers");
	}
	if (have_kiovec) {
		struct kiovec_add_zero z = { .len = MAX_BS };

		t->kdev = open("/dev/kiovec", O_RDWR | O_CLOEXEC);
		if (t->kdev < 0 || ioctl(t->kdev, KIOVEC_IOC_ADD_ZERO, &z))
			die("building the container (ADD_ZERO)");
	}
	/* Write the span once: reads of never-written blocks skip the memory copy. */
	for (uint64_t pos = 0; pos < t->span; pos += MAX_BS)
		if (pwrite(t->fd, t->buf, MAX_BS, pos) != MAX_BS)
			die("filling the device");
	return 0;
}

static void close_target(struct target *t)
{
	io_uring_queue_exit(&t->ring);
	if (t->kdev >= 0)
		close(t->kdev);
	close(t->fd);
	free(t->buf);
}

int main(int argc, char **argv)
{
	struct kiovec_info info = { 0 };
	const char *kiovec_skip = NULL, *only_m = NULL, *only_w = NULL;
	int opt, dev, met_all = 1, measured = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress shows through a VM's console */
	while ((opt = getopt(argc, argv, "t:r:Fm:w:")) != -1) {
		switch (opt) {
		case 't':
			cell_secs = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'F':
			use_fio = 0;
			break;
		case 'm':
			only_m = optarg;
			break;
		case 'w':
			only_w = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || cell_secs <= 0 || rounds < 1) {
usage:
		fprintf(stderr, "usage: %s [-t SECONDS_PER_CELL] [-r ROUNDS] [-F] DEVICE...\n",
			argv[0]);
		return 2;
	}
	dev = open("/dev/kiovec", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		kiovec_skip = "no /dev/kiovec";
	else if (ioctl(dev, KIOVEC_IOC_INFO, &info))
		die("KIOVEC_IOC_INFO");
	else if (!(info.features & KIOVEC_FEAT_RW) || !(info.features & KIOVEC_FEAT_ADD_ZERO))
		kiovec_skip = "module without KIOVEC_FEAT_RW / KIOVEC_FEAT_ADD_ZERO";
	if (dev >= 0)
		close(dev);
	if (only_m || only_w) {	/* one cell, e.g. under perf */
		struct target t;
		char why[256];

		for (unsigned int wi = 0; only_m && only_w && wi < 4; wi++)
			for (int m = 0; m < NR_METHODS; m++) {
				struct result r;

				if (strcmp(only_m, names[m]) || strcmp(only_w, workloads[wi].name))
					continue;
				if (m == KIOVEC && kiovec_skip)
					return fprintf(stderr, "%s\n", kiovec_skip), 1;
				if (open_target(&t, argv[optind], !kiovec_skip, why, sizeof(why)))
					return fprintf(stderr, "%s\n", why), 1;
				r = measure(m, &workloads[wi], &t);
				printf("%s, %s on %s: %.0f IOPS, %.2f CPU us/IO\n", names[m],
				       workloads[wi].name, t.path, r.iops, r.cpu_us);
				close_target(&t);
				return 0;
			}
		fprintf(stderr, "-m and -w need a method and a workload named as in the table\n");
		return 2;
	}

	printf("kiovec-blkbench -t %g -r %d%s:", cell_secs, rounds, use_fio ? "" : " -F");
	for (int i = optind; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n== block I/O, queue depth 1, O_DIRECT; %g s per cell, best of %d rounds; "
	       "CPU: the whole process per I/O\n"
	       "   ratios: kiovec's IOPS and CPU/IO over each peer's (IOPS: higher is better; "
	       "CPU: lower is better)\n\n", cell_secs, rounds);
	for (int a = optind; a < argc; a++) {
		struct target t;
		char why[256];

		if (open_target(&t, argv[a], !kiovec_skip, why, sizeof(why))) {
			printf("%s: SKIP: %s\n\n", argv[a], why);
			continue;
		}
		printf("-- %s (%llu MiB used)\n", t.path, (unsigned long long)(t.span >> 20));
		printf("%-14s %-15s %10s %9s %14s %14s\n", "workload", "method", "IOPS", "CPU us/IO",
		       "kiovec IOPS x", "kiovec CPU x");
		for (unsigned int wi = 0; wi < sizeof(workloads) / sizeof(workloads[0]); wi++) {
			const struct workload *w = &workloads[wi];
			struct result r[NR_METHODS], fio = { 0, 1e30 };
			char fio_why[256] = "";

			for (int m = 0; m < NR_METHODS; m++)
				r[m] = (struct result){ 0, 1e30 };
			for (int round = 0; round < rounds; round++) {
				for (int m = 0; m < NR_METHODS; m++) {
					struct result x;

					if (m == KIOVEC && kiovec_skip)
						continue;
					x = measure(m, w, &t);
					if (x.iops > r[m].iops)
						r[m].iops = x.iops;
					if (x.cpu_us < r[m].cpu_us)
						r[m].cpu_us = x.cpu_us;
				}
				/* fio starts slowly: two of its runs at most, among ours */
				if (use_fio && round < 2) {
					struct result x = run_fio(w, &t, fio_why, sizeof(fio_why));

					if (x.iops > fio.iops)
						fio.iops = x.iops;
					if (x.iops > 0 && x.cpu_us < fio.cpu_us)
						fio.cpu_us = x.cpu_us;
				}
			}
			for (int m = 0; m < NR_METHODS; m++) {
				if (m == KIOVEC && kiovec_skip) {
					printf("%-14s %-15s SKIP: %s\n", w->name, names[m], kiovec_skip);
					continue;
				}
				printf("%-14s %-15s %10.0f %9.2f", w->name, names[m], r[m].iops,
				       r[m].cpu_us);
				if (m != KIOVEC && !kiovec_skip)
					printf(" %13.2fx %13.2fx", r[KIOVEC].iops / r[m].iops,
					       r[KIOVEC].cpu_us / r[m].cpu_us);
				printf("\n");
			}
			if (!use_fio)
				printf("%-14s %-15s SKIP: -F given\n", w->name, "fio io_uring");
			else if (fio.iops > 0)
				printf("%-14s %-15s %10.0f %9.2f   (our io_uring / fio: %.2fx IOPS, "
				       "%.2fx CPU)\n", w->name, "fio io_uring", fio.iops, fio.cpu_us,
				       r[URING].iops / fio.iops, r[URING].cpu_us / fio.cpu_us);
			else
				printf("%-14s %-15s SKIP: %s\n", w->name, "fio io_uring", fio_why);
			if (!kiovec_skip) {
				double vp = r[KIOVEC].iops / r[PSYNC].iops;
				double vu = r[KIOVEC].iops / r[URING].iops;

				printf("%-14s targets: kiovec >= 1.10x %s IOPS: %.2fx %s; >= 0.90x "
				       "io_uring fixed: %.2fx %s\n", w->name, w->write ? "pwrite" : "pread",
				       vp, vp >= 1.1 ? "MET" : "MISSED", vu, vu >= 0.9 ? "MET" : "MISSED");
				met_all &= vp >= 1.1 && vu >= 0.9;
				measured = 1;
			}
			fflush(stdout);
		}
		printf("\n");
		close_target(&t);
	}
	if (measured)
		printf("kiovec-blkbench: targets %s\n", met_all ? "all MET" : "not all met (see above)");
	return 0;
}
