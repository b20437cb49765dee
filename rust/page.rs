// SPDX-License-Identifier: GPL-2.0

//! Pages the module allocates and fills.
//!
//! C header: [`include/linux/gfp.h`](srctree/include/linux/gfp.h). Builds on
//! `kernel::page::Page`, whose copy methods are unsafe because nothing stops two users of one
//! page from racing; [`AppendOnlyPage`] makes the rule that keeps them apart a type.

use crate::kernel_ext::bindings;
use kernel::{
    alloc::Flags,
    page::{Page, PAGE_SIZE},
    prelude::*,
    uaccess::UserSliceReader,
};

/// A page that is only ever appended to.
///
/// Bytes below `filled()` are final: they may be handed to other kernel code (a socket, a
/// bio) that reads them at any time, and are never written again. Appends only touch bytes at
/// and above `filled()`, which nobody else has been given.
///
/// # Invariants
///
/// `fill <= PAGE_SIZE`; no byte of `page` at or above `fill` has been made visible outside this
/// object.
pub(crate) struct AppendOnlyPage {
    page: Page,
    fill: usize,
}

impl AppendOnlyPage {
    /// Allocates an empty page.
    pub(crate) fn new(flags: Flags) -> Result<Self> {
        // INVARIANT: The page is new and empty.
        Ok(Self {
            page: Page::alloc_page(flags)?,
            fill: 0,
        })
    }

    /// How many bytes are filled (and final).
    pub(crate) fn filled(&self) -> usize {
        self.fill
    }

    /// The page, for the kernel code the filled bytes are handed to.
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// How many bytes can still be appended.
    pub(crate) fn room(&self) -> usize {
        PAGE_SIZE - self.fill
    }

    /// Appends `len` bytes read from user space, all or nothing: on a fault nothing counts as
    /// appended and the error is returned.
    pub(crate) fn append_from_user(&mut self, data: &mut UserSliceReader, len: usize) -> Result {
        if len > self.room() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant the bytes `fill..fill + len` (within the page, checked
        // above) were never made visible outside `self`, and `&mut self` excludes another
        // append, so nothing reads or writes them concurrently.
        unsafe { self.page.copy_from_user_slice_raw(data, self.fill, len)? };
        // INVARIANT: `fill + len <= PAGE_SIZE`, checked above.
        self.fill += len;
        Ok(())
    }

    /// Copies `len` filled bytes at `offset` to the user address `to`.
    pub(crate) fn copy_filled_to_user(&self, offset: usize, len: usize, to: usize) -> Result {
        if offset.checked_add(len).map_or(true, |end| end > self.fill) {
            return Err(EINVAL);
        }
        // SAFETY: The page is ours and allocated; the range is within its filled bytes, which
        // are final, so nothing writes them (type invariant).
        unsafe { copy_page_to_user(self.page.as_ptr(), offset, len, to) }
    }
}

/// Copies `len` bytes at `offset` of `page` to the user address `to`; `EFAULT` if `to` is not
/// writable for that long.
///
/// # Safety
///
/// `page` must stay allocated during the call, and `offset + len <= PAGE_SIZE`.
pub(crate) unsafe fn copy_page_to_user(
    page: *mut bindings::page,
    offset: usize,
    len: usize,
    to: usize,
) -> Result {
    // SAFETY: The caller keeps `page` alive and the range within it; `copy_to_user` checks
    // `to` itself.
    let left = unsafe { bindings::kiovec_helper_copy_page_to_user(to as _, page, offset, len) };
    if left != 0 {
        return Err(EFAULT);
    }
    Ok(())
}
