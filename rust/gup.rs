// SPDX-License-Identifier: GPL-2.0

//! Pinning user pages.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h); see
//! `Documentation/core-api/pin_user_pages.rst`.
//!
//! Pages are pinned with `FOLL_PIN | FOLL_LONGTERM` (the kernel adds `FOLL_PIN`), the way RDMA
//! and io_uring's registered buffers pin them: long-term pins move pages out of CMA and
//! movable zones first, refuse file mappings that the file system would write back under us,
//! and make fork() give the child a copy instead of sharing a page we hold (the
//! get_user_pages/COW flaw of CVE-2020-29374). A pinned page is never a `kernel::page::Page`,
//! whose `Drop` would free it.

use crate::kernel_ext::{bindings, page::copy_page_to_user};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    alloc::{Flags, KVVec},
    ffi::c_int,
    page::PAGE_SIZE,
    prelude::*,
};

/// User pages pinned from one address range of the current process.
///
/// # Invariants
///
/// Each entry of `pages` is a page on which `self` owns one `FOLL_PIN` reference.
pub(crate) struct PinnedPages {
    pages: KVVec<*mut bindings::page>,
    /// Pinned with `FOLL_WRITE`: I/O may write into the pages.
    writable: bool,
    /// Set once I/O wrote into a page: the pages are dirtied when unpinned.
    written: AtomicBool,
}

// SAFETY: The pins are plain references on pages that are not tied to the pinning thread;
// unpinning from another thread or process is allowed.
unsafe impl Send for PinnedPages {}
// SAFETY: `&self` only copies page contents out, which is safe from any thread.
unsafe impl Sync for PinnedPages {}

impl PinnedPages {
    /// Pins `nr_pages` pages of the current process starting at the page-aligned user
    /// address `start`; `write` asks for pages that I/O may write into (`FOLL_WRITE`).
    ///
    /// All or nothing: when a page in the range cannot be pinned (unmapped, `PROT_NONE`, a
    /// write pin of read-only memory, a file mapping that refuses long-term pins) the pages
    /// pinned so far are released and the error returned (`EFAULT` for all of those).
    pub(crate) fn pin_current(
        start: usize,
        nr_pages: usize,
        write: bool,
        flags: Flags,
    ) -> Result<Self> {
        if start % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        // INVARIANT: No pages yet.
        let mut this = Self {
            pages: KVVec::with_capacity(nr_pages, flags)?,
            writable: write,
            written: AtomicBool::new(false),
        };
        let mut gup_flags = bindings::FOLL_LONGTERM;
        if write {
            gup_flags |= bindings::FOLL_WRITE;
        }
        while this.pages.len() < nr_pages {
            let done = this.pages.len();
            let want = (nr_pages - done).min(c_int::MAX as usize);
            let addr = start.checked_add(done * PAGE_SIZE).ok_or(EFAULT)?;
            let spare = this.pages.spare_capacity_mut();
            // SAFETY: `spare` has room for `want` page pointers (capacity is `nr_pages`), and
            // gup writes at most `want` entries. The flags are valid for pinning: no FOLL_PIN,
            // FOLL_GET or FOLL_TOUCH.
            let ret = unsafe {
                bindings::pin_user_pages_fast(
                    addr,
                    want as c_int,
                    gup_flags,
                    spare.as_mut_ptr().cast(),
                )
            };
            if ret <= 0 {
                // `this` is dropped here and unpins the `done` pages it holds.
                return Err(if ret < 0 {
                    Error::from_errno(ret)
                } else {
                    EFAULT
                });
            }
            // SAFETY: gup initialised `ret <= want` more entries, each holding a pin that is now
            // ours (the type invariant).
            unsafe { this.pages.set_len(done + ret as usize) };
        }
        Ok(this)
    }

    /// The number of pinned pages.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether the pages were pinned for writing.
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    /// Records that I/O wrote into the pages, so that they are dirtied when unpinned.
    pub(crate) fn set_written(&self) {
        self.written.store(true, Ordering::Relaxed);
    }

    /// How many pages the pinned folios hold, each folio counted once however many of its
    /// pages are pinned (a transparent huge page counts whole, as io_uring charges it).
    pub(crate) fn folio_pages(&self) -> usize {
        let mut total = 0usize;
        let mut last = core::ptr::null_mut();
        for &page in self.pages.iter() {
            // SAFETY: By the type invariant the page is pinned, so its folio stays.
            let folio = unsafe { bindings::kiovec_helper_page_folio(page) };
            if folio != last {
                // SAFETY: As above.
                total += unsafe { bindings::kiovec_helper_page_folio_nr_pages(page) } as usize;
                last = folio;
            }
        }
        total
    }

    /// Page `i`, for the kernel code the pinned bytes are handed to.
    pub(crate) fn page(&self, i: usize) -> *mut bindings::page {
        self.pages[i]
    }

    /// Copies `len` bytes at `offset` of page `i` to the user address `to`.
    ///
    /// User space may write the page at the same time (it is still mapped); that race is the
    /// same as with any user copy and gives it whatever bytes were there.
    pub(crate) fn copy_to_user(&self, i: usize, offset: usize, len: usize, to: usize) -> Result {
        if offset.checked_add(len).map_or(true, |end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant page `i` is pinned, so it stays allocated; the range
        // is within the page (checked above).
        unsafe { copy_page_to_user(self.pages[i], offset, len, to) }
    }
}

impl Drop for PinnedPages {
    fn drop(&mut self) {
        if self.pages.is_empty() {
            return;
        }
        // Only pages that I/O wrote into need dirtying (the kernel's own DIO does the same).
        let dirty = self.writable && self.written.load(Ordering::Relaxed);
        // SAFETY: By the type invariant we own one pin on each page. `Drop` runs in process
        // context: every owner of pinned pages is dropped by a syscall, the file's release or
        // a work item, never from an I/O completion (rw defers that), so the folio lock may
        // be taken.
        unsafe {
            bindings::unpin_user_pages_dirty_lock(
                self.pages.as_mut_ptr(),
                self.pages.len() as _,
                dirty,
            )
        };
    }
}
