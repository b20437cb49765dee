// SPDX-License-Identifier: GPL-2.0

//! Batches of `bio_vec`s over pages that stay alive while the batch exists.
//!
//! C header: [`include/linux/bvec.h`](srctree/include/linux/bvec.h).
//!
//! A `bio_vec` is a raw (page, offset, length) triple; whoever consumes one (a socket with
//! `MSG_SPLICE_PAGES`, a bio) needs the page to be valid and its bytes in range. A
//! [`BioVecBatch`] can only be filled from page owners it borrows for its lifetime, with
//! bounds checked, so that handing it to such a consumer is safe.

use crate::kernel_ext::{bindings, gup::PinnedPages, page::AppendOnlyPage, pagecache::CachedPage};
use core::marker::PhantomData;
use kernel::{page::PAGE_SIZE, prelude::*};

/// How many ranges one batch holds (what `splice_to_socket` sends at once).
pub(crate) const BATCH: usize = 16;

/// Up to [`BATCH`] page ranges, in order.
///
/// # Invariants
///
/// The first `n` entries of `vecs` each describe a range within one page that is kept alive
/// (a reference, a pin) by an owner borrowed for `'a`; `bytes` is the sum of their lengths.
pub(crate) struct BioVecBatch<'a> {
    vecs: [bindings::bio_vec; BATCH],
    n: usize,
    bytes: usize,
    _owners: PhantomData<&'a ()>,
}

impl<'a> BioVecBatch<'a> {
    /// An empty batch.
    pub(crate) fn new() -> Self {
        // INVARIANT: No entries.
        Self {
            vecs: [bindings::bio_vec::default(); BATCH],
            n: 0,
            bytes: 0,
            _owners: PhantomData,
        }
    }

    /// Whether no more ranges fit.
    pub(crate) fn is_full(&self) -> bool {
        self.n == BATCH
    }

    /// The total length in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The ranges, for a consumer that reads them while `'a` lasts.
    pub(crate) fn as_slice(&self) -> &[bindings::bio_vec] {
        &self.vecs[..self.n]
    }

    fn push(&mut self, page: *mut bindings::page, offset: usize, len: usize) -> Result {
        if self.is_full() || len == 0 {
            return Err(EINVAL);
        }
        // INVARIANT: The callers checked that the range is within a page kept alive for 'a.
        self.vecs[self.n] = bindings::bio_vec {
            bv_page: page,
            bv_len: len as u32,
            bv_offset: offset as u32,
        };
        self.n += 1;
        self.bytes += len;
        Ok(())
    }

    /// Adds `len` filled bytes at `offset` of a page the container owns.
    pub(crate) fn push_owned(
        &mut self,
        page: &'a AppendOnlyPage,
        offset: usize,
        len: usize,
    ) -> Result {
        if offset
            .checked_add(len)
            .map_or(true, |end| end > page.filled())
        {
            return Err(EINVAL);
        }
        self.push(page.as_ptr(), offset, len)
    }

    /// Adds `len` bytes at `offset` of pinned page `i`.
    pub(crate) fn push_pinned(
        &mut self,
        pages: &'a PinnedPages,
        i: usize,
        offset: usize,
        len: usize,
    ) -> Result {
        if i >= pages.len() || offset.checked_add(len).map_or(true, |end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        self.push(pages.page(i), offset, len)
    }

    /// Adds `len` bytes at `offset` of a referenced page-cache page.
    pub(crate) fn push_cached(
        &mut self,
        page: &'a CachedPage,
        offset: usize,
        len: usize,
    ) -> Result {
        if offset.checked_add(len).map_or(true, |end| end > PAGE_SIZE) {
            return Err(EINVAL);
        }
        self.push(page.as_ptr(), offset, len)
    }
}
