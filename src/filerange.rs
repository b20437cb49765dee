// SPDX-License-Identifier: GPL-2.0

//! A range of a file, as references to its page-cache pages.

#![deny(unsafe_code)]

use crate::{
    kernel_ext::{fs::File, pagecache::CachedPage},
    kiobuf::page_spans,
};
use kernel::{alloc::KVVec, page::PAGE_SIZE, prelude::*, types::ARef};

/// `len > 0` bytes of `file` from byte `pos` on; the container's own reference on the file
/// keeps the page cache (and the caller's fd may be closed).
pub(crate) struct FileRange {
    // Drop order: the page references, then the file.
    pages: KVVec<CachedPage>,
    file: ARef<File>,
    /// The file page index of `pages[0]`.
    first_index: usize,
    /// Where the range starts in its first page.
    offset: usize,
    len: usize,
}

impl FileRange {
    /// Reads the range into the page cache and references its pages. The caller has checked
    /// that the range lies within the file.
    pub(crate) fn read(file: ARef<File>, pos: u64, len: usize) -> Result<Self> {
        let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
        let first_index = pos / PAGE_SIZE;
        let offset = pos % PAGE_SIZE;
        let nr = (offset + len).div_ceil(PAGE_SIZE);
        let mut pages = KVVec::with_capacity(nr, GFP_KERNEL_ACCOUNT)?;
        for i in 0..nr {
            // On error the references taken so far are dropped with `pages`.
            pages.push(
                CachedPage::read(&file, first_index + i)?,
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        Ok(Self {
            pages,
            file,
            first_index,
            offset,
            len,
        })
    }

    /// The segments of the range, in order: (page index, offset in page, length).
    pub(crate) fn segments(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        page_spans(self.offset, self.len)
    }

    /// Page `i` of the range.
    pub(crate) fn page(&self, i: usize) -> &CachedPage {
        &self.pages[i]
    }

    /// Whether the bytes of page `i` up to `end` (an offset in the page) are still in the
    /// file: it has not shrunk below them, and the page was not truncated out of it.
    pub(crate) fn still_in_file(&self, i: usize, end: usize) -> bool {
        let file_end = ((self.first_index + i) * PAGE_SIZE + end) as u64;
        self.file.size() >= file_end && self.pages[i].is_in(&self.file)
    }
}
