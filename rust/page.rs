// SPDX-License-Identifier: GPL-2.0

//! Pages the module allocates and fills.
//!
//! C header: [`include/linux/gfp.h`](srctree/include/linux/gfp.h),
//! [`include/linux/highmem.h`](srctree/include/linux/highmem.h). Builds on
//! `kernel::page::Page`, whose copy methods are unsafe because nothing stops two users of one
//! page from racing; the types here make the rules that keep them apart types.
//!
//! - [`PageBuf`]: a page being filled by its one owner (`&mut`), before anyone else sees it.
//! - [`OwnedPage`]: a shared page that only grows: bytes below `filled()` are final and may be
//!   handed to a socket or a bio at any time; appends (a kernel-to-kernel copy, under a
//!   spinlock) only write bytes above it, which nobody has been given.
//! - [`IoPage`]: a zero-filled page that I/O (a read from a file, a device or a socket) may
//!   write into while others read it, as with pinned user memory.

use crate::kernel_ext::{bindings, fs::File, memlock::MemlockCharge, pagecache::CachedPage};
use kernel::{
    alloc::{flags::__GFP_ZERO, Flags},
    new_spinlock,
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{Arc, SpinLock},
    uaccess::UserSliceReader,
};

/// A page being filled from the front by its only owner.
///
/// # Invariants
///
/// `fill <= PAGE_SIZE`.
pub(crate) struct PageBuf {
    page: Page,
    fill: usize,
}

impl PageBuf {
    /// Allocates an empty page.
    pub(crate) fn new(flags: Flags) -> Result<Self> {
        // INVARIANT: Empty.
        Ok(Self {
            page: Page::alloc_page(flags)?,
            fill: 0,
        })
    }

    /// How many bytes are filled.
    pub(crate) fn filled(&self) -> usize {
        self.fill
    }

    /// How many bytes can still be appended.
    pub(crate) fn room(&self) -> usize {
        PAGE_SIZE - self.fill
    }

    /// Appends `len` bytes read from user space, all or nothing.
    pub(crate) fn fill_from_user(&mut self, data: &mut UserSliceReader, len: usize) -> Result {
        if len > self.room() {
            return Err(EINVAL);
        }
        // SAFETY: `&mut self` excludes every other access to the page: it has not been shared.
        unsafe { self.page.copy_from_user_slice_raw(data, self.fill, len)? };
        // INVARIANT: `fill + len <= PAGE_SIZE`, checked above.
        self.fill += len;
        Ok(())
    }

    /// Fills the empty page with up to `len` bytes of `file` from `pos` on, read through the
    /// file's own `read_iter` (synchronously); returns how many (0 at the end of the file).
    /// The caller has checked the access (`File::verify_read`) and that `file` has a
    /// `read_iter`. Sleeps.
    pub(crate) fn read_file(&mut self, file: &File, pos: u64, len: usize) -> Result<usize> {
        if self.fill != 0 || len > PAGE_SIZE {
            return Err(EINVAL);
        }
        let pos = i64::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: `&mut self` excludes every other access to the page, and `len` is within it;
        // the file is valid and has a `read_iter` (the caller's check).
        let ret = unsafe {
            bindings::kiovec_helper_read_into_page(file.as_ptr(), self.page.as_ptr(), len, pos)
        };
        if ret < 0 {
            return Err(Error::from_errno(ret as i32));
        }
        // A file system may not return more than asked; never trust it past the page.
        let n = (ret as usize).min(len);
        // INVARIANT: `n <= len <= PAGE_SIZE`.
        self.fill = n;
        Ok(n)
    }

    /// Fills the empty page with a copy of `len` bytes at `offset` of `page`.
    pub(crate) fn copy_from_cached(
        &mut self,
        page: &CachedPage,
        offset: usize,
        len: usize,
    ) -> Result {
        if self.fill != 0 || offset.checked_add(len).map_or(true, |end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        // SAFETY: Both pages are allocated (ours; `page` is referenced); `&mut self` excludes
        // every other access to ours; the ranges are within the pages.
        unsafe {
            bindings::kiovec_helper_memcpy_page(self.page.as_ptr(), 0, page.as_ptr(), offset, len)
        };
        // INVARIANT: `len <= PAGE_SIZE`.
        self.fill = len;
        Ok(())
    }

    /// The page, for the kernel code its filled bytes are handed to through `&self` (they are
    /// final: only `&mut self` appends).
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Copies `len` filled bytes at `offset` to the user address `to`.
    pub(crate) fn copy_filled_to_user(&self, offset: usize, len: usize, to: usize) -> Result {
        if offset.checked_add(len).map_or(true, |end| end > self.fill) {
            return Err(EINVAL);
        }
        // SAFETY: The page is ours and allocated; the range is within its filled bytes, which
        // only `&mut self` could change.
        unsafe { copy_page_to_user(self.page.as_ptr(), offset, len, to) }
    }

    /// Makes the page shared, holding `charge` for it; its filled bytes are final from now on.
    pub(crate) fn share(self, charge: MemlockCharge, flags: Flags) -> Result<Arc<OwnedPage>> {
        Arc::pin_init(
            pin_init!(OwnedPage {
                page: self.page,
                _charge: charge,
                fill <- new_spinlock!(self.fill, "kiovec::OwnedPage::fill"),
            }),
            flags,
        )
    }
}

/// A shared page that is only ever appended to.
///
/// # Invariants
///
/// `*fill <= PAGE_SIZE`. Bytes below `*fill` are final: never written again. No byte at or
/// above `*fill` has been made visible outside this object; only the holder of `fill`'s lock
/// writes them.
#[pin_data]
pub(crate) struct OwnedPage {
    page: Page,
    _charge: MemlockCharge,
    #[pin]
    fill: SpinLock<usize>,
}

impl OwnedPage {
    /// How many bytes are filled (and final).
    pub(crate) fn filled(&self) -> usize {
        *self.fill.lock()
    }

    /// The page, for the kernel code its filled bytes are handed to.
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Appends up to `len` bytes copied from `src` at `offset`, as many as fit; returns where
    /// they went in this page and how many there were. A kernel-to-kernel copy: no fault.
    pub(crate) fn append_from(
        &self,
        src: &PageBuf,
        offset: usize,
        len: usize,
    ) -> Result<(usize, usize)> {
        if offset
            .checked_add(len)
            .map_or(true, |end| end > src.filled())
        {
            return Err(EINVAL);
        }
        let mut fill = self.fill.lock();
        let at = *fill;
        let n = len.min(PAGE_SIZE - at);
        if n > 0 {
            // SAFETY: Both pages are allocated; the source range is within its filled bytes and
            // the destination `at..at + n` is within the page, above `fill`: by the type
            // invariant nobody else reads or writes it, and we hold the lock that appends take.
            unsafe {
                bindings::kiovec_helper_memcpy_page(
                    self.page.as_ptr(),
                    at,
                    src.page.as_ptr(),
                    offset,
                    n,
                )
            };
        }
        // INVARIANT: `at + n <= PAGE_SIZE`; the new bytes are final from now on.
        *fill = at + n;
        Ok((at, n))
    }

    /// Copies `len` filled bytes at `offset` to the user address `to`.
    pub(crate) fn copy_filled_to_user(&self, offset: usize, len: usize, to: usize) -> Result {
        if offset
            .checked_add(len)
            .map_or(true, |end| end > self.filled())
        {
            return Err(EINVAL);
        }
        // SAFETY: The page is ours and allocated; the range is within its filled bytes, which
        // are final, so nothing writes them (type invariant).
        unsafe { copy_page_to_user(self.page.as_ptr(), offset, len, to) }
    }
}

/// A zero-filled page the module owns and I/O may write into.
///
/// # Invariants
///
/// `page` is allocated and zeroed when created; its bytes are only ever written by kernel I/O
/// that the container started (a read into it), never through a Rust reference.
pub(crate) struct IoPage {
    page: Page,
}

impl IoPage {
    /// Allocates a zero-filled page.
    pub(crate) fn new(flags: Flags) -> Result<Self> {
        // INVARIANT: `__GFP_ZERO` zeroes it.
        Ok(Self {
            page: Page::alloc_page(flags | __GFP_ZERO)?,
        })
    }

    /// The page, for the kernel code that reads or writes it.
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Copies `len` bytes at `offset` to the user address `to` (as they are now).
    pub(crate) fn copy_to_user(&self, offset: usize, len: usize, to: usize) -> Result {
        if offset.checked_add(len).map_or(true, |end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        // SAFETY: The page is ours and allocated; I/O writing it at the same time gives the
        // reader whatever bytes are there, as with any DMA buffer (no Rust reference exists).
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

/// Writes `len` zero bytes to the user address `to`; `EFAULT` if it is not writable.
pub(crate) fn clear_user(to: usize, len: usize) -> Result {
    // SAFETY: `clear_user` checks the user range itself.
    let left = unsafe { bindings::kiovec_helper_clear_user(to as _, len) };
    if left != 0 {
        return Err(EFAULT);
    }
    Ok(())
}
