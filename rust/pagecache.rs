// SPDX-License-Identifier: GPL-2.0

//! References to page-cache pages.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h).
//!
//! A page is brought up to date through the page cache (`read_cache_folio`, or
//! `shmem_read_folio_gfp` for tmpfs/memfd, whose mappings have no `read_folio`) and
//! referenced, never copied, and never written: the Dirty Pipe lesson. The reference keeps
//! the page from being freed or reused; truncation can still take it out of the file, which
//! [`CachedPage::is_in`] tells.

use crate::kernel_ext::{bindings, fs::File, page::copy_page_to_user};
use core::ptr::NonNull;
use kernel::{error::from_err_ptr, page::PAGE_SIZE, prelude::*};

/// One page of a file's page cache, up to date when it was taken.
///
/// # Invariants
///
/// `page` is a page of a folio on which `self` owns one reference.
pub(crate) struct CachedPage {
    page: NonNull<bindings::page>,
}

// SAFETY: A folio reference may be dropped from any thread.
unsafe impl Send for CachedPage {}
// SAFETY: `&self` methods only read the page's contents or its folio's mapping.
unsafe impl Sync for CachedPage {}

impl CachedPage {
    /// Reads page `index` of `file` into the page cache (or finds it there, up to date)
    /// and takes a reference on it. Sleeps; I/O errors come back as they are.
    pub(crate) fn read(file: &File, index: usize) -> Result<Self> {
        let mapping = file.mapping();
        // SAFETY: `mapping` is the file's, alive while the file is.
        let folio = if unsafe { bindings::shmem_mapping(mapping) } {
            // SAFETY: As above; tmpfs reads take no lock of ours.
            let gfp = unsafe { bindings::kiovec_helper_mapping_gfp_mask(mapping) };
            // SAFETY: As above; returns a referenced, up-to-date folio or an ERR_PTR.
            from_err_ptr(unsafe { bindings::shmem_read_folio_gfp(mapping, index as _, gfp) })?
        } else {
            // read_cache_folio expects the invalidate lock to be held, as the page-fault and
            // read paths hold it, so that hole punching cannot race with the read.
            // SAFETY: As above.
            unsafe { bindings::kiovec_helper_filemap_invalidate_lock_shared(mapping) };
            // SAFETY: As above; no filler means the mapping's own `read_folio`.
            let folio =
                unsafe { bindings::read_cache_folio(mapping, index as _, None, file.as_ptr()) };
            // SAFETY: Taken just above.
            unsafe { bindings::kiovec_helper_filemap_invalidate_unlock_shared(mapping) };
            from_err_ptr(folio)?
        };
        // SAFETY: `folio` is a referenced folio of this mapping that contains `index`.
        let page = unsafe { bindings::kiovec_helper_folio_file_page(folio, index as _) };
        // INVARIANT: The folio reference from the read is now ours, through its page.
        Ok(Self {
            page: NonNull::new(page).ok_or(EIO)?,
        })
    }

    /// The page, for the kernel code it is handed to.
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Copies `len` bytes at `offset` to the user address `to`.
    pub(crate) fn copy_to_user(&self, offset: usize, len: usize, to: usize) -> Result {
        if offset.checked_add(len).map_or(true, |end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        // SAFETY: The page is referenced (type invariant); the range is within it.
        unsafe { copy_page_to_user(self.page.as_ptr(), offset, len, to) }
    }

    /// Whether the page still belongs to `file`'s page cache: false once truncation or hole
    /// punching removed it (its data is then stale, though the memory stays ours).
    pub(crate) fn is_in(&self, file: &File) -> bool {
        // SAFETY: The page is referenced (type invariant); the helper reads its folio's
        // `mapping` once.
        unsafe { bindings::kiovec_helper_page_folio_mapping(self.page.as_ptr()) == file.mapping() }
    }
}

impl Drop for CachedPage {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference on the page's folio.
        unsafe { bindings::kiovec_helper_put_page(self.page.as_ptr()) };
    }
}
