// SPDX-License-Identifier: GPL-2.0

//! kiobuf: one range of user memory, pinned and charged, seen as page segments.
//!
//! Unlike the 2.4 kiobuf, which had one offset and length for a whole page array, a kiobuf
//! here is only a source of pages: the container's segments say, for each page, which bytes
//! of it belong to the I/O.

#![deny(unsafe_code)]

use crate::kernel_ext::{
    error::code,
    gup::PinnedPages,
    memlock::{MemlockAccount, MemlockCharge},
};
use kernel::{page::PAGE_SIZE, prelude::*, sync::Arc};

/// A pinned user range.
pub(crate) struct Kiobuf {
    // Field order is drop order: the pins go before the charge for them.
    pages: PinnedPages,
    charge: MemlockCharge,
    /// Where the range starts in its first page.
    offset: usize,
    /// The range's length in bytes (at least 1).
    len: usize,
}

impl Kiobuf {
    /// Pins `len > 0` bytes of the current process's memory at `addr`, for I/O that reads
    /// them, or that writes them too if `write`, charging them to `account`.
    ///
    /// The charge comes first, so that a request over `RLIMIT_MEMLOCK` fails with `ENOMEM`
    /// before anything is allocated or pinned.
    pub(crate) fn pin(
        account: &Arc<MemlockAccount>,
        addr: usize,
        len: usize,
        write: bool,
    ) -> Result<Self> {
        let end = addr.checked_add(len).ok_or_else(code::eoverflow)?;
        let first = addr & !(PAGE_SIZE - 1);
        let nr_pages = (end - first).div_ceil(PAGE_SIZE);
        let mut charge = MemlockAccount::charge(account, nr_pages)?;
        let pages = PinnedPages::pin_current(first, nr_pages, write, GFP_KERNEL_ACCOUNT)?;
        // A pinned huge page keeps all of its folio: charge the folio whole, once, as io_uring
        // does; known only now that the pages are pinned. On failure the pins are dropped.
        let folio_pages = pages.folio_pages();
        if folio_pages > charge.pages() {
            charge.grow(folio_pages - charge.pages())?;
        }
        Ok(Self {
            pages,
            charge,
            offset: addr - first,
            len,
        })
    }

    /// How many pages are pinned.
    pub(crate) fn nr_pages(&self) -> usize {
        self.pages.len()
    }

    /// How many pages are charged for it (whole folios).
    pub(crate) fn charged(&self) -> usize {
        self.charge.pages()
    }

    /// The pinned pages behind this kiobuf.
    pub(crate) fn pages(&self) -> &PinnedPages {
        &self.pages
    }

    /// The segments of the range, in order: (page index, offset in page, length).
    pub(crate) fn segments(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        page_spans(self.offset, self.len)
    }
}

/// The per-page pieces of `len > 0` bytes that start `offset` bytes into their first page:
/// (page index, offset in page, length), one per page.
pub(crate) fn page_spans(offset: usize, len: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..(offset + len).div_ceil(PAGE_SIZE)).map(move |i| {
        let start = if i == 0 { offset } else { 0 };
        let end = (offset + len - i * PAGE_SIZE).min(PAGE_SIZE);
        (i, start, end - start)
    })
}
