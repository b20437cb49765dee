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
