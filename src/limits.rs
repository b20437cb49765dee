// SPDX-License-Identifier: GPL-2.0

//! The limits one container lives within, reported to user space by `KIOVEC_IOC_INFO`.

#![deny(unsafe_code)]

/// Bytes one container can hold: large enough for any single response a web server caches,
/// small enough that the segment array stays a modest `kvmalloc`.
pub(crate) const MAX_BYTES: u64 = 1 << 30;

/// Segments one container can hold: a page-sized segment for every page of `MAX_BYTES`, and
/// as many again for ranges that start or end inside a page.
pub(crate) const MAX_SEGMENTS: u32 = 1 << 19;

/// iovecs one call may pass, as for `readv(2)`/`writev(2)`.
pub(crate) const MAX_IOVECS: u32 = kernel::bindings::UIO_MAXIOV;

/// The most one read or write moves, as the VFS clamps it (`MAX_RW_COUNT`).
pub(crate) const MAX_RW_COUNT: usize = (i32::MAX as usize) & !(kernel::page::PAGE_SIZE - 1);

/// The longest header `KIOVEC_TX_HEADER` takes.
pub(crate) const MAX_HEADER: usize = crate::kernel_ext::uapi::KIOVEC_MAX_HEADER as usize;
