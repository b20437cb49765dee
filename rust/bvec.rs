// SPDX-License-Identifier: GPL-2.0

//! Batches of `bio_vec`s over pages that stay alive while the batch exists.
//!
//! C header: [`include/linux/bvec.h`](srctree/include/linux/bvec.h).
//!
//! A `bio_vec` is a raw (page, offset, length) triple; whoever consumes one (a socket with
//! `MSG_SPLICE_PAGES`, a bio, a read or write through a kiocb) needs the page to be valid and
//! its bytes in range. A [`BioVecs`] can only be filled from page owners it borrows for its
//! lifetime, with bounds checked, so that handing it to such a consumer is safe.

use crate::kernel_ext::{
    bindings,
    gup::PinnedPages,
    page::{IoPage, OwnedPage, PageBuf},
    pagecache::{zero_page, CachedPage},
};
use core::marker::PhantomData;
use kernel::{alloc::KVVec, page::PAGE_SIZE, prelude::*};

/// How many ranges one inline batch holds: four times what `splice_to_socket` sends at once,
/// so that a 256 KiB body goes to TCP in one call.
pub(crate) const BATCH: usize = 64;

/// Where a batch keeps its entries.
// The inline array is the point: a send's batch lives on the stack, no allocation per call.
#[allow(clippy::large_enum_variant)]
enum Store {
    Inline([bindings::bio_vec; BATCH]),
    Heap(KVVec<bindings::bio_vec>),
}

/// Page ranges, in order: up to [`BATCH`] inline (for sends, on the stack), or as many as
/// asked on the heap (for a read or write that must see the whole range at once).
///
/// # Invariants
///
/// The first `n` entries describe ranges within one page each that are kept alive (a
/// reference, a pin, the zero page) by owners borrowed for `'a`; `bytes` is the sum of their
/// lengths; for a heap store, `n` is its length.
pub(crate) struct BioVecs<'a> {
    store: Store,
    n: usize,
    bytes: usize,
    _owners: PhantomData<&'a ()>,
}

impl<'a> BioVecs<'a> {
    /// An empty inline batch of up to [`BATCH`] ranges.
    pub(crate) fn new() -> Self {
        // INVARIANT: No entries.
        Self {
            store: Store::Inline([bindings::bio_vec::default(); BATCH]),
            n: 0,
            bytes: 0,
            _owners: PhantomData,
        }
    }

    /// An empty list with room for `cap` ranges, on the heap.
    pub(crate) fn with_capacity(cap: usize) -> Result<Self> {
        // INVARIANT: No entries.
        Ok(Self {
            store: Store::Heap(KVVec::with_capacity(cap, GFP_KERNEL_ACCOUNT)?),
            n: 0,
            bytes: 0,
            _owners: PhantomData,
        })
    }

    /// Whether no more ranges fit.
    pub(crate) fn is_full(&self) -> bool {
        match &self.store {
            Store::Inline(_) => self.n == BATCH,
            Store::Heap(v) => self.n == v.capacity(),
        }
    }

    /// The total length in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The ranges, for a consumer that reads them while `'a` lasts.
    pub(crate) fn as_slice(&self) -> &[bindings::bio_vec] {
        match &self.store {
            Store::Inline(a) => &a[..self.n],
            Store::Heap(v) => &v[..],
        }
    }

    fn push(&mut self, page: *mut bindings::page, offset: usize, len: usize) -> Result {
        if self.is_full() || len == 0 || offset.checked_add(len).map_or(true, |e| e > PAGE_SIZE) {
            return Err(EINVAL);
        }
        let bv = bindings::bio_vec {
            bv_page: page,
            bv_len: len as u32,
            bv_offset: offset as u32,
        };
        // INVARIANT: The callers pass a page kept alive for 'a; the range is within it.
        match &mut self.store {
            Store::Inline(a) => a[self.n] = bv,
            Store::Heap(v) => v.push(bv, GFP_KERNEL_ACCOUNT)?,
        }
        self.n += 1;
        self.bytes += len;
        Ok(())
    }

    /// Adds `len` filled bytes at `offset` of a page the container owns.
    pub(crate) fn push_owned(&mut self, page: &'a OwnedPage, offset: usize, len: usize) -> Result {
        if offset
            .checked_add(len)
            .map_or(true, |end| end > page.filled())
        {
            return Err(EINVAL);
        }
        self.push(page.as_ptr(), offset, len)
    }

    /// Adds `len` filled bytes at `offset` of a page being filled by its one owner (a copy
    /// of file bytes): the borrow keeps the owner from appending meanwhile.
    pub(crate) fn push_buf(&mut self, page: &'a PageBuf, offset: usize, len: usize) -> Result {
        if offset
            .checked_add(len)
            .map_or(true, |end| end > page.filled())
        {
            return Err(EINVAL);
        }
        self.push(page.as_ptr(), offset, len)
    }

    /// Adds `len` bytes at `offset` of a page the container owns for I/O.
    pub(crate) fn push_io(&mut self, page: &'a IoPage, offset: usize, len: usize) -> Result {
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
        if i >= pages.len() {
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
        self.push(page.as_ptr(), offset, len)
    }

    /// The entries, given up by the batch (whose owners the caller then keeps alive).
    fn into_vec(self) -> Result<KVVec<bindings::bio_vec>> {
        match self.store {
            Store::Heap(v) => Ok(v),
            Store::Inline(a) => {
                let mut v = KVVec::with_capacity(self.n, GFP_KERNEL_ACCOUNT)?;
                v.extend_from_slice(&a[..self.n], GFP_KERNEL_ACCOUNT)?;
                Ok(v)
            }
        }
    }

    /// Adds `len` zero bytes (of the shared zero page, which is never freed).
    pub(crate) fn push_zero(&mut self, offset: usize, len: usize) -> Result {
        self.push(zero_page(), offset, len)
    }
}

/// Page ranges that own what keeps their pages alive, so that they can outlive the call that
/// built them (an asynchronous read or write holds them until it completes).
///
/// # Invariants
///
/// Every entry of `vecs` is a range within a page kept alive by `*_keep`, which is never
/// changed or moved (it is boxed and only lent out shared); `bytes` is their total length.
pub(crate) struct OwnedBioVecs<K> {
    vecs: KVVec<bindings::bio_vec>,
    bytes: usize,
    _keep: KBox<K>,
}

impl<K> OwnedBioVecs<K> {
    /// Boxes `keep`, then lets `fill` add up to `cap` ranges of pages that it keeps alive.
    pub(crate) fn build(
        keep: K,
        cap: usize,
        fill: impl for<'a> FnOnce(&'a K, &mut BioVecs<'a>) -> Result,
    ) -> Result<Self> {
        let keep = KBox::new(keep, GFP_KERNEL_ACCOUNT)?;
        let mut batch = BioVecs::with_capacity(cap)?;
        fill(&keep, &mut batch)?;
        let bytes = batch.bytes();
        let vecs = batch.into_vec()?;
        // INVARIANT: `fill` could only add ranges of pages that `*keep` keeps alive (the
        // batch borrowed it); moving the box does not move what it points to.
        Ok(Self {
            vecs,
            bytes,
            _keep: keep,
        })
    }

    /// The ranges.
    pub(crate) fn as_slice(&self) -> &[bindings::bio_vec] {
        &self.vecs
    }

    /// Their total length.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}
