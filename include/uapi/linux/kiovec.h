/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kiovec: zero-copy I/O containers on /dev/kiovec.
 *
 * Each open of /dev/kiovec is a container: an ordered scatter-gather list of segments
 * (page, offset, length). write() appends bytes to pages the module owns; the ioctls
 * below describe the module and the container.
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
 * @owned_pages:	pages the module allocated for write() data
 * @pinned_pages:	user pages the container holds pinned
 * @reserved0:		zero
 * @reserved:		zero
 */
struct kiovec_stat {
	__u64 bytes;
	__u32 segments;
	__u32 owned_pages;
	__u32 pinned_pages;
	__u32 reserved0;
	__u64 reserved[4];
};

#define KIOVEC_IOC_INFO		_IOR(KIOVEC_IOC_MAGIC, 0x00, struct kiovec_info)
#define KIOVEC_IOC_STAT		_IOR(KIOVEC_IOC_MAGIC, 0x01, struct kiovec_stat)
/* Drops every segment; the container is empty again, as after open(). */
#define KIOVEC_IOC_RESET	_IO(KIOVEC_IOC_MAGIC, 0x02)

#endif /* _UAPI_LINUX_KIOVEC_H */
