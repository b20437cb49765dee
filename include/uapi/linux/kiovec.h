/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kiovec: zero-copy I/O containers on /dev/kiovec.
 *
 * Each open of /dev/kiovec is a container: an ordered scatter-gather list of segments
 * (page, offset, length). write() appends bytes to pages the module owns;
 * KIOVEC_IOC_ADD_USER appends user memory, pinned in place (a kiobuf); the other ioctls
 * describe the module and the container and copy its bytes out.
 *
 * This header is the single source of truth for the ABI: the module's Rust side is
 * generated from it by bindgen. Every struct is made of __u32/__u64 only, with no
 * implicit padding; reserved fields are written as zero by the kernel and must be zero
 * where user space passes a struct in.
 */
#ifndef _UAPI_LINUX_KIOVEC_H
#define _UAPI_LINUX_KIOVEC_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on any incompatible change of this header. */
#define KIOVEC_ABI_VERSION	1

/* 0xB9 is free in Documentation/userspace-api/ioctl/ioctl-number.rst as of 6.12. */
#define KIOVEC_IOC_MAGIC	0xB9

/* kiovec_info.features: what this module implements. */
#define KIOVEC_FEAT_WRITE	(1ULL << 0)	/* write() appends bytes to the container */
#define KIOVEC_FEAT_ADD_USER	(1ULL << 1)	/* KIOVEC_IOC_ADD_USER */
#define KIOVEC_FEAT_COPY_OUT	(1ULL << 2)	/* KIOVEC_IOC_COPY_OUT */
#define KIOVEC_FEAT_TRANSMIT	(1ULL << 3)	/* KIOVEC_IOC_TRANSMIT */
#define KIOVEC_FEAT_ADD_FILE	(1ULL << 4)	/* KIOVEC_IOC_ADD_FILE */
#define KIOVEC_FEAT_TRANSMIT_BATCH (1ULL << 5)	/* KIOVEC_IOC_TRANSMIT_BATCH */
#define KIOVEC_FEAT_FILE_COPY	(1ULL << 6)	/* ADD_FILE reads files without a usable page cache */
#define KIOVEC_FEAT_COMPAT	(1ULL << 7)	/* 32-bit callers (compat_ioctl) */
#define KIOVEC_FEAT_TX_HEADER	(1ULL << 8)	/* KIOVEC_TX_HEADER */
#define KIOVEC_FEAT_TX_RANGE	(1ULL << 9)	/* KIOVEC_TX_RANGE */
#define KIOVEC_FEAT_RW		(1ULL << 10)	/* KIOVEC_IOC_RW */
#define KIOVEC_FEAT_ADD_ZERO	(1ULL << 11)	/* KIOVEC_IOC_ADD_ZERO */
#define KIOVEC_FEAT_RO_FD	(1ULL << 12)	/* KIOVEC_IOC_RO_FD */

/**
 * struct kiovec_iovec - one user memory range: struct iovec with the same layout for 32-bit
 * and 64-bit callers
 * @base:	user address
 * @len:	length in bytes
 */
struct kiovec_iovec {
	__u64 base;
	__u64 len;
};

/**
 * struct kiovec_range - a byte range of the container
 * @start:	container byte offset where the range starts
 * @len:	its length in bytes (clamped to the container's end; EOVERFLOW if @start + @len
 *		wraps)
 */
struct kiovec_range {
	__u64 start;
	__u64 len;
};

/**
 * struct kiovec_info - the module's ABI version and limits (KIOVEC_IOC_INFO)
 * @abi_version:	KIOVEC_ABI_VERSION of the running module
 * @page_size:		the kernel's PAGE_SIZE
 * @max_segments:	segments (page, offset, length) one container can hold
 * @max_iovecs:		iovecs one call may pass
 * @max_bytes:		bytes one container can hold
 * @features:		KIOVEC_FEAT_* bits
 * @reserved:		zero
 */
struct kiovec_info {
	__u32 abi_version;
	__u32 page_size;
	__u32 max_segments;
	__u32 max_iovecs;
	__u64 max_bytes;
	__u64 features;
	__u64 reserved[4];
};

/**
 * struct kiovec_stat - what one container holds (KIOVEC_IOC_STAT)
 * @bytes:		bytes in the container, in transmit order
 * @segments:		segments in the container
 * @owned_pages:	pages the module allocated for write() data and ADD_ZERO
 * @pinned_pages:	user pages the container holds pinned
 * @file_pages:		page-cache pages the container holds references on
 * @charged_pages:	pages the above count as against the opener's locked memory (a
 *			large folio counts whole, once); reported whether or not the opener
 *			had CAP_IPC_LOCK, which only exempts it from the limit
 * @copied_pages:	pages the module owns holding a copy of file data (ADD_FILE of a
 *			file whose page cache cannot be referenced)
 * @reserved0:		zero
 * @reserved:		zero
 */
struct kiovec_stat {
	__u64 bytes;
	__u32 segments;
	__u32 owned_pages;
	__u32 pinned_pages;
	__u32 file_pages;
	__u64 charged_pages;
	__u32 copied_pages;
	__u32 reserved0;
	__u64 reserved[2];
};

/* kiovec_add_user.flags */
#define KIOVEC_ADD_WRITE	(1U << 0)	/* I/O may write into this memory: pin it writable */
#define KIOVEC_ADD_FLAGS	(KIOVEC_ADD_WRITE)

/**
 * struct kiovec_add_user - append user memory, pinned in place (KIOVEC_IOC_ADD_USER)
 * @iov:		in: user pointer to an array of struct kiovec_iovec (the layout of a
 *			64-bit struct iovec; 32-bit callers must use struct kiovec_iovec)
 * @iovcnt:		in: entries in @iov, 1 to kiovec_info.max_iovecs
 * @flags:		in: KIOVEC_ADD_*
 * @offset:		out: where the new bytes start in the container
 * @bytes:		out: bytes added (the sum of the iov_len)
 * @segments:		out: segments added
 * @pinned_pages:	out: pages pinned
 * @reserved:		in: zero
 *
 * The pages stay pinned (FOLL_LONGTERM) until the container is reset or closed. As for
 * io_uring's registered buffers, they are charged to the user that opened the container,
 * against the calling task's RLIMIT_MEMLOCK, unless the opener had CAP_IPC_LOCK: ENOMEM
 * past the limit. All or nothing: on any error nothing is added and nothing stays pinned (a
 * struct the results cannot be written into is EFAULT up front). An iovec of length 0 is
 * skipped, whatever its base. EFAULT for a range that is not mapped, or not accessible as
 * asked (a write pin of read-only memory or of a shared file mapping whose file system
 * tracks dirty pages); EOVERFLOW when base + len wraps; E2BIG past the container's limits.
 */
struct kiovec_add_user {
	__u64 iov;
	__u32 iovcnt;
	__u32 flags;
	__u64 offset;
	__u64 bytes;
	__u32 segments;
	__u32 pinned_pages;
	__u64 reserved[2];
};

/**
 * struct kiovec_copy_out - copy the container's bytes to user memory (KIOVEC_IOC_COPY_OUT)
 * @offset:	container byte offset to start at
 * @buf:	user buffer
 * @len:	its length
 * @flags:	zero
 * @reserved0:	zero
 * @reserved:	zero
 *
 * Returns the number of bytes copied: @len, or fewer at the end of the container (0 at or
 * past it). The bytes are read from the segments' pages as they are now: for pinned user
 * memory, what the process last wrote there.
 */
struct kiovec_copy_out {
	__u64 offset;
	__u64 buf;
	__u64 len;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * struct kiovec_add_file - append a range of a file's page cache (KIOVEC_IOC_ADD_FILE)
 * @fd:		in: a regular file open for reading
 * @flags:	in: zero
 * @offset:	in: where the range starts in the file
 * @len:	in: its length; the range must end at or before the file's end now (for a
 *		copied file: at most this much is read, up to what read(2) gives);
 *		out: the bytes added
 * @at:		out: where the new bytes start in the container
 * @segments:	out: segments added (one per page)
 * @copied:	out: pages read into pages the container owns instead of referenced (0 for
 *		a file whose page cache is referenced)
 * @reserved:	zero
 *
 * The out fields are ignored on input (one struct may be reused for many calls).
 * For a file whose page cache can be referenced (ext4, tmpfs, ramfs, ...) the pages are read
 * into the page cache as read(2) would, then referenced, never copied; holes of tmpfs read as
 * zeros without allocating. Every other regular file (procfs, sysfs, overlayfs, hugetlbfs,
 * FUSE, ...) is read once through its own read_iter into pages the container owns (@copied
 * says how many); either way every transmit after that is zero-copy. memfd_secret files are
 * refused (EINVAL). Before anything is read the access is checked as sendfile checks it
 * (rw_verify_area: LSM, fanotify permission events), and again for each transmit or copy-out
 * of the file's bytes. The container takes its own reference on the file, so @fd may be
 * closed afterwards. What a
 * transmit sends is the pages' contents at that time (a rewrite shows, as with sendfile). If
 * the file has shrunk below a segment by then, nothing from that segment on is sent: the
 * transmit stops short, or fails with ENODATA if it had sent nothing.
 * EBADF for a bad @fd or one not open for reading (O_WRONLY, O_PATH); EINVAL for a file that
 * is not regular (directory, pipe, socket, device, kiovec), a range past the end of the file,
 * unknown flags or non-zero reserved fields; EOVERFLOW when @offset + @len wraps; E2BIG past
 * the container's limits. A @len of 0 adds nothing.
 */
struct kiovec_add_file {
	__u32 fd;
	__u32 flags;
	__u64 offset;
	__u64 len;
	__u64 at;
	__u32 segments;
	__u32 copied;
	__u64 reserved[2];
};

/* kiovec_transmit.flags */
#define KIOVEC_TX_NOSIGNAL	(1U << 0)	/* no SIGPIPE on a broken connection */
#define KIOVEC_TX_DONTWAIT	(1U << 1)	/* don't block, as on an O_NONBLOCK socket */
#define KIOVEC_TX_HEADER	(1U << 2)	/* @hdr: send these bytes first */
#define KIOVEC_TX_RANGE		(1U << 3)	/* @range: send only this range of the container */
#define KIOVEC_TX_FLAGS		(KIOVEC_TX_NOSIGNAL | KIOVEC_TX_DONTWAIT | KIOVEC_TX_HEADER | \
				 KIOVEC_TX_RANGE)

/* Longest header KIOVEC_TX_HEADER takes. */
#define KIOVEC_MAX_HEADER	65536

/**
 * struct kiovec_transmit - send the container to a TCP socket (KIOVEC_IOC_TRANSMIT)
 * @fd:		a connected TCP socket
 * @flags:	KIOVEC_TX_*
 * @offset:	byte offset to start at in what this call sends (the header, then the
 *		container's range): 0, or where a short transmit stopped
 * @hdr:	with KIOVEC_TX_HEADER: user pointer to a struct kiovec_iovec, the header to
 *		send before the container's bytes (copied by the socket, as send(2) copies;
 *		at most KIOVEC_MAX_HEADER bytes); zero otherwise
 * @range:	with KIOVEC_TX_RANGE: user pointer to a struct kiovec_range, the part of the
 *		container to send (an HTTP Range request); zero otherwise (the whole container)
 *
 * What is sent is the header (if any) followed by the range (the whole container by
 * default), with MSG_MORE between them so that TCP packs them together; the returned count
 * covers header bytes first, and an @offset inside the header resends only the rest of it.
 * Sends the container's bytes from @offset on, in order, by page reference (MSG_SPLICE_PAGES,
 * as sendfile does): nothing is copied, and the container is unchanged, so it can be sent
 * again, to any number of sockets. Returns the number of bytes sent. Like send(2) and
 * nginx's send chains: a non-blocking socket (or KIOVEC_TX_DONTWAIT) gives a short count or
 * EAGAIN, a signal a short count or EINTR; resume with @offset advanced by the count, and no
 * byte is sent twice. A broken connection gives EPIPE or ECONNRESET once nothing more could
 * be sent (and SIGPIPE unless KIOVEC_TX_NOSIGNAL). Bytes of pinned user memory are sent as
 * they are when the stack reads them. EBADF for a bad @fd, ENOTSOCK for a file that is not a
 * socket, EOPNOTSUPP for a socket that is not TCP, EINVAL for unknown flags or non-zero
 * reserved fields, EOVERFLOW for a range whose end wraps; 0 at or past the end of the
 * container (or of the range).
 */
struct kiovec_transmit {
	__u32 fd;
	__u32 flags;
	__u64 offset;
	__u64 hdr;
	__u64 range;
};

/**
 * struct kiovec_target - one socket of a batch transmit
 * @fd:		in: a connected TCP socket
 * @reserved0:	in: zero
 * @offset:	in: container byte offset to start at for this socket
 * @result:	out: bytes sent from @offset, or a negative errno, as KIOVEC_IOC_TRANSMIT
 *		would have returned for this socket alone (EINTR for an interrupted send)
 */
struct kiovec_target {
	__u32 fd;
	__u32 reserved0;
	__u64 offset;
	__s64 result;
};

/**
 * struct kiovec_transmit_batch - send the container to many sockets (KIOVEC_IOC_TRANSMIT_BATCH)
 * @targets:	user pointer to an array of struct kiovec_target
 * @count:	entries, 1 to kiovec_info.max_iovecs
 * @flags:	KIOVEC_TX_*, for every target
 * @hdr:	as for KIOVEC_IOC_TRANSMIT, the same header for every target
 * @range:	as for KIOVEC_IOC_TRANSMIT, the same range for every target
 *
 * Sends the container to each target as KIOVEC_IOC_TRANSMIT would, and writes each
 * target's result into its @result; one target's failure does not stop the others, and a
 * slow target does not hold back the others: every target is first sent what it takes
 * without blocking, then (unless KIOVEC_TX_DONTWAIT) the targets left are waited on one
 * after the other. Returns the number of targets (all are tried). EINVAL for @count 0 or too large, unknown flags or
 * non-zero reserved fields (the batch's or a target's: that target gets -EINVAL); EFAULT if
 * the array cannot be read or a result written.
 */
struct kiovec_transmit_batch {
	__u64 targets;
	__u32 count;
	__u32 flags;
	__u64 hdr;
	__u64 range;
};

/* kiovec_rw.dir */
#define KIOVEC_READ		0	/* from the target into the container */
#define KIOVEC_WRITE		1	/* from the container to the target */

/**
 * struct kiovec_rw - move a range of the container to or from a file, block device or
 * socket (KIOVEC_IOC_RW)
 * @fd:		the target: a regular file, a block device or a connected socket
 * @dir:	KIOVEC_READ or KIOVEC_WRITE
 * @pos:	file or device byte offset (ignored for sockets)
 * @offset:	container byte offset where the range starts
 * @len:	the range's length
 * @flags:	zero
 * @reserved0:	zero
 * @reserved:	zero
 *
 * Synchronous, honouring O_DIRECT and O_NONBLOCK of @fd. Returns the bytes moved (short
 * counts as read(2)/write(2)). A READ may write only into user memory added with
 * KIOVEC_ADD_WRITE and into pages the container owns from KIOVEC_IOC_ADD_ZERO: a range that
 * touches a file's page cache, write() bytes or read-only pinned memory is EINVAL (the page
 * cache is never written through a kiovec). O_DIRECT on a block device needs pos, offsets
 * and lengths aligned to its logical block size (EINVAL otherwise). EBADF if @fd is not
 * open for the direction asked; EINVAL for other files; EAGAIN, EINTR, EIO, ENOSPC, EPIPE
 * and the rest of what the target gives (a socket's own errors, e.g. EMSGSIZE for a UDP
 * datagram past its limit) as they come.
 */
struct kiovec_rw {
	__u32 fd;
	__u32 dir;
	__u64 pos;
	__u64 offset;
	__u64 len;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * struct kiovec_add_zero - append zero-filled pages the container owns (KIOVEC_IOC_ADD_ZERO)
 * @len:	in: bytes to add, a multiple of the page size
 * @flags:	in: zero
 * @segments:	out: segments added (one per page)
 * @at:		out: where the new bytes start in the container
 * @reserved:	zero
 *
 * The out fields are ignored on input. The pages may be read into by KIOVEC_IOC_RW (a
 * receive buffer without user memory). They are charged as pinned pages are. E2BIG past
 * the container's limits, ENOMEM past the opener's locked-memory limit, EINVAL for a length
 * that is zero or not page-aligned.
 */
struct kiovec_add_zero {
	__u64 len;
	__u32 flags;
	__u32 segments;
	__u64 at;
	__u64 reserved[2];
};

#define KIOVEC_IOC_INFO		_IOR(KIOVEC_IOC_MAGIC, 0x00, struct kiovec_info)
#define KIOVEC_IOC_STAT		_IOR(KIOVEC_IOC_MAGIC, 0x01, struct kiovec_stat)
/* Drops every segment; the container is empty again, as after open(). */
#define KIOVEC_IOC_RESET	_IO(KIOVEC_IOC_MAGIC, 0x02)
#define KIOVEC_IOC_ADD_USER	_IOWR(KIOVEC_IOC_MAGIC, 0x03, struct kiovec_add_user)
#define KIOVEC_IOC_COPY_OUT	_IOW(KIOVEC_IOC_MAGIC, 0x04, struct kiovec_copy_out)
#define KIOVEC_IOC_TRANSMIT	_IOW(KIOVEC_IOC_MAGIC, 0x05, struct kiovec_transmit)
#define KIOVEC_IOC_ADD_FILE	_IOWR(KIOVEC_IOC_MAGIC, 0x06, struct kiovec_add_file)
#define KIOVEC_IOC_TRANSMIT_BATCH _IOW(KIOVEC_IOC_MAGIC, 0x07, struct kiovec_transmit_batch)
#define KIOVEC_IOC_RW		_IOW(KIOVEC_IOC_MAGIC, 0x08, struct kiovec_rw)
#define KIOVEC_IOC_ADD_ZERO	_IOWR(KIOVEC_IOC_MAGIC, 0x09, struct kiovec_add_zero)
/*
 * Returns a new descriptor (O_RDONLY, close-on-exec) of the same container: it can transmit,
 * copy out, describe and be used for rw_kiovec, but write(), ADD_*, RESET on it are EBADF —
 * what a process hands to another (SCM_RIGHTS) that may send a cached response but not
 * change it. (Reopening /proc/self/fd/N opens /dev/kiovec again: a new, empty container.)
 * The argument must be 0.
 */
#define KIOVEC_IOC_RO_FD	_IO(KIOVEC_IOC_MAGIC, 0x0a)

#endif /* _UAPI_LINUX_KIOVEC_H */
