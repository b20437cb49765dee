// SPDX-License-Identifier: GPL-2.0

//! References to page-cache pages, and the question of which files have a page cache that
//! may be referenced at all.
//!
//! C header: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h).
//!
//! Not every regular file keeps its bytes in its page cache: procfs has no `read_folio` at
//! all, sysfs's `simple_read_folio` reads zeros, overlayfs keeps the data in another file,
//! FUSE may bypass the cache, hugetlbfs and secretmem have no `read_folio` either (and
//! secretmem's pages are off the direct map). [`CacheableFile::new`] says whether `file` is
//! one whose page cache holds its bytes; only such a file hands out [`CachedPage`]s. A page is
//! brought up to date as `read(2)` would bring it (`read_cache_folio`; tmpfs through
//! `shmem_get_folio(SGP_READ)`, where a hole is the zero page and allocates nothing), then
//! referenced: never copied, never written (the Dirty Pipe lesson). The reference keeps the
//! page from being freed or reused; truncation or invalidation can still take it out of the
//! file, which [`CachedPage::is_in`] tells.

use crate::kernel_ext::{bindings, fs::File, page::copy_page_to_user};
use core::ptr::NonNull;
use kernel::{page::PAGE_SIZE, prelude::*, types::ARef};

/// How a file's bytes can be held by a container (values of `kiovec_helper_file_backing`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backing {
    /// Its page cache holds its bytes and has a `read_folio`.
    PageCache,
    /// tmpfs, memfd, SysV shm: the page cache is the file.
    Shmem,
    /// Anything else with a `read_iter`: read once into pages the container owns.
    Copy,
}

/// What backs `file`: `EINVAL` for files whose bytes must never be held (memfd_secret,
/// guest_memfd) or that cannot be read from the kernel (no `read_iter`, as for `sendfile`).
pub(crate) fn backing(file: &File) -> Result<Backing> {
    // SAFETY: `file` is valid; the helper only reads its inode, mapping and operations.
    match unsafe { bindings::kiovec_helper_file_backing(file.as_ptr()) } {
        0 => Ok(Backing::PageCache),
        1 => Ok(Backing::Shmem),
        2 => Ok(Backing::Copy),
        _ => Err(EINVAL),
    }
}

/// A file whose page cache holds its bytes, so that its pages may be referenced.
///
/// # Invariants
///
/// `backing(&file)` is `PageCache` or `Shmem`, and `shmem` says which; both are fixed for the
/// life of the file (they depend on its inode's file system and operations only).
pub(crate) struct CacheableFile {
    file: ARef<File>,
    shmem: bool,
}

impl CacheableFile {
    /// `file`, if its page cache may be referenced; otherwise it is given back.
    pub(crate) fn new(file: ARef<File>) -> core::result::Result<Self, ARef<File>> {
        match backing(&file) {
            // INVARIANT: Just checked.
            Ok(Backing::PageCache) => Ok(Self { file, shmem: false }),
            Ok(Backing::Shmem) => Ok(Self { file, shmem: true }),
            _ => Err(file),
        }
    }

    /// Whether it is a tmpfs/shmem file (whose holes read as zeros and cost nothing).
    pub(crate) fn is_shmem(&self) -> bool {
        self.shmem
    }

    /// The file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Brings page `index` up to date and references it; `None` for a hole of a tmpfs file
    /// (it reads as zeros, and nothing is allocated for it). Sleeps.
    pub(crate) fn read(&self, index: usize) -> Result<Option<CachedPage>> {
        // SAFETY: By the type invariant the file's page cache may be read this way.
        unsafe { CachedPage::read(&self.file, self.shmem, index) }
    }
}

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
// SAFETY: `&self` methods only read the page's contents or its folio's fields.
unsafe impl Sync for CachedPage {}

impl CachedPage {
    /// Brings page `index` of `file` up to date in its page cache and takes a reference on it;
    /// `None` for a hole of a shmem file. Sleeps; I/O errors come back as they are.
    ///
    /// # Safety
    ///
    /// `file`'s mapping must be its inode's own and must be read this way: `shmem` set for a
    /// shmem mapping, else a mapping whose `a_ops->read_folio` is not NULL and fills the page
    /// with the file's bytes (what [`backing`] returns `PageCache` for). With a NULL
    /// `read_folio` this calls a NULL pointer.
    pub(crate) unsafe fn read(file: &File, shmem: bool, index: usize) -> Result<Option<Self>> {
        let mut page: *mut bindings::page = core::ptr::null_mut();
        // SAFETY: The file's mapping lives while the file does; the caller guarantees that it
        // is shmem (for `shmem`) or has a `read_folio`. The helper returns a referenced page
        // in `page`, or null for a hole, or an errno.
        let ret = unsafe {
            bindings::kiovec_helper_read_cache_page(file.as_ptr(), shmem, index as _, &mut page)
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: The reference from the read is now ours.
        Ok(NonNull::new(page).map(|page| Self { page }))
    }

    /// The page, for the kernel code it is handed to.
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// The folio's identity (its address), to count each folio once.
    pub(crate) fn folio_id(&self) -> usize {
        // SAFETY: The page is referenced (type invariant).
        unsafe { bindings::kiovec_helper_page_folio(self.page.as_ptr()) as usize }
    }

    /// How many pages the folio has (1 for a small folio).
    pub(crate) fn folio_nr_pages(&self) -> usize {
        // SAFETY: The page is referenced (type invariant).
        unsafe { bindings::kiovec_helper_page_folio_nr_pages(self.page.as_ptr()) as usize }
    }

    /// Whether the page is in `ZONE_MOVABLE`, where a long-lived reference would keep memory
    /// offlining and migration from moving it.
    pub(crate) fn is_movable(&self) -> bool {
        // SAFETY: The page is referenced (type invariant).
        unsafe { bindings::kiovec_helper_page_is_zone_movable(self.page.as_ptr()) }
    }

    /// Copies `len` bytes at `offset` to the user address `to`.
    pub(crate) fn copy_to_user(&self, offset: usize, len: usize, to: usize) -> Result {
        if offset.checked_add(len).map_or(true, |end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        // SAFETY: The page is referenced (type invariant); the range is within it.
        unsafe { copy_page_to_user(self.page.as_ptr(), offset, len, to) }
    }

    /// Whether the page still belongs to `file`'s page cache: false once truncation, hole
    /// punching or invalidation removed it (its data may then be stale, though the memory
    /// stays ours).
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

/// The shared zero page, for holes: it is never freed and never written.
pub(crate) fn zero_page() -> *mut bindings::page {
    // SAFETY: No preconditions.
    unsafe { bindings::kiovec_helper_zero_page() }
}
