// SPDX-License-Identifier: GPL-2.0

//! A range of a file: references to its page-cache pages, or a copy of its bytes.
//!
//! Which one is decided by the file (see `kernel_ext::pagecache`): a file whose page cache
//! holds its bytes is referenced page by page, never copied; any other file (procfs, sysfs,
//! overlayfs, hugetlbfs, FUSE, ...) is read once through its own `read_iter` into pages the
//! range owns. A page-cache page in `ZONE_MOVABLE` is copied too: a long-lived reference would
//! keep memory offlining and migration from moving it (`FOLL_LONGTERM` migrates such pages
//! first; a module cannot, see the README).
//!
//! Every page the range holds is charged to the container's opener, a folio once for all of
//! its pages, before the memory is taken where that can be known (the page count), and
//! topped up for large folios once they are seen.

#![deny(unsafe_code)]

use crate::{
    kernel_ext::{
        bvec::BioVecs,
        fs::File,
        memlock::{MemlockAccount, MemlockCharge},
        page::PageBuf,
        pagecache::{backing, Backing, CacheableFile, CachedPage},
    },
    kiobuf::page_spans,
    limits,
};
use kernel::{alloc::KVVec, page::PAGE_SIZE, prelude::*, sync::Arc, types::ARef};

/// One page of a referenced range.
enum CachePage {
    /// A referenced page-cache page.
    Cached(CachedPage),
    /// A copy of a page-cache page that was in `ZONE_MOVABLE`.
    Copied(PageBuf),
    /// A hole of a tmpfs file: zeros, nothing allocated.
    Hole,
}

/// What holds the range's bytes.
enum Body {
    /// Page-cache pages: page `i` is file page `first_index + i`; the range starts `offset`
    /// bytes into page 0.
    Cached {
        file: CacheableFile,
        first_index: usize,
        offset: usize,
        pages: KVVec<CachePage>,
    },
    /// A copy: page `i` holds the file's bytes from `pos + i * PAGE_SIZE` on.
    Copied {
        file: ARef<File>,
        pages: KVVec<PageBuf>,
    },
}

/// `len > 0` bytes of a file from byte `pos` on.
pub(crate) struct FileRange {
    // Drop order: the pages (and the file), then their charge.
    body: Body,
    _charge: MemlockCharge,
    pos: u64,
    len: usize,
    referenced: usize,
    copied: usize,
    charged: usize,
}

/// A piece of a file range that the caller must look up again before it sends or copies it.
pub(crate) struct FilePiece<'a> {
    range: &'a FileRange,
    page: usize,
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

/// What a looked-up file piece is now.
pub(crate) enum Current {
    /// The page the file has there now, referenced for as long as the caller keeps it.
    Page(CachedPage),
    /// A hole: zeros.
    Zero,
}

impl FilePiece<'_> {
    /// Looks the piece up in the file as it is now: `ENODATA` if the file no longer covers it
    /// (truncated), else the page there now (read from disk if it has to be). Sleeps.
    pub(crate) fn current(&self) -> Result<Current> {
        let Body::Cached {
            file, first_index, ..
        } = &self.range.body
        else {
            return Err(EINVAL);
        };
        let index = first_index + self.page;
        if !covers(file.file(), index, self.offset + self.len) {
            return Err(crate::kernel_ext::error::code::enodata());
        }
        Ok(match file.read(index)? {
            Some(p) => Current::Page(p),
            None => Current::Zero,
        })
    }
}

/// Whether `file` still reaches the byte `end` of its page `index`.
fn covers(file: &File, index: usize, end: usize) -> bool {
    let file_end = (index as u64) * PAGE_SIZE as u64 + end as u64;
    file.size() >= file_end
}

impl FileRange {
    /// Reads up to `len > 0` bytes of `file` from `pos` on into the range, charging what it
    /// holds to `account`. The caller has checked the access (`File::verify_read`).
    ///
    /// For a file whose page cache is referenced the range must lie within the file now
    /// (`EINVAL` otherwise); a copied file is read until `len` bytes or its end, whichever
    /// comes first (procfs and sysfs sizes say nothing), and `EINVAL` if it has no byte at
    /// `pos`. `ENOMEM` past the opener's locked-memory limit; I/O errors as they come.
    pub(crate) fn read(
        account: &Arc<MemlockAccount>,
        file: ARef<File>,
        pos: u64,
        len: usize,
    ) -> Result<Self> {
        match backing(&file)? {
            Backing::Copy => Self::read_copy(account, file, pos, len),
            Backing::PageCache | Backing::Shmem => match CacheableFile::new(file) {
                Ok(file) => Self::read_cached(account, file, pos, len),
                Err(_) => Err(EINVAL),
            },
        }
    }

    fn read_cached(
        account: &Arc<MemlockAccount>,
        file: CacheableFile,
        pos: u64,
        len: usize,
    ) -> Result<Self> {
        let end = pos.checked_add(len as u64).ok_or(EINVAL)?;
        // A range past the end now is a caller's mistake, not something to clamp silently.
        if end > file.file().size() {
            return Err(EINVAL);
        }
        let first_index = usize::try_from(pos / PAGE_SIZE as u64).map_err(|_| EINVAL)?;
        let offset = (pos % PAGE_SIZE as u64) as usize;
        let nr = (offset + len).div_ceil(PAGE_SIZE);
        // The bound first: nothing is read or allocated past the opener's limit. A tmpfs file
        // may be mostly holes, which cost nothing: its pages are charged one by one, each
        // before it is looked up; any other file's reads allocate page cache, so all of the
        // range is charged up front.
        let mut charge = MemlockAccount::charge(account, if file.is_shmem() { 0 } else { nr })?;
        let mut pages = KVVec::with_capacity(nr, GFP_KERNEL_ACCOUNT)?;
        let (mut charged, mut referenced, mut copied) = (0usize, 0usize, 0usize);
        let mut last_folio = 0usize;
        for i in 0..nr {
            if charge.pages() < charged + 1 {
                charge.grow(charged + 1 - charge.pages())?;
            }
            // On error everything taken so far is dropped with `pages` and `charge`.
            let page = match file.read(first_index + i)? {
                None => CachePage::Hole,
                Some(p) if p.is_movable() => {
                    let mut copy = PageBuf::new(GFP_KERNEL_ACCOUNT)?;
                    copy.copy_from_cached(&p, 0, PAGE_SIZE)?;
                    charged += 1;
                    copied += 1;
                    CachePage::Copied(copy)
                }
                Some(p) => {
                    let folio = p.folio_id();
                    if folio != last_folio {
                        charged += p.folio_nr_pages();
                        last_folio = folio;
                    }
                    referenced += 1;
                    CachePage::Cached(p)
                }
            };
            // Large folios count whole: top up as soon as one is seen.
            if charged > charge.pages() {
                charge.grow(charged - charge.pages())?;
            }
            pages.push(page, GFP_KERNEL_ACCOUNT)?;
        }
        charge.shrink(charge.pages() - charged);
        file.file().accessed();
        Ok(Self {
            body: Body::Cached {
                file,
                first_index,
                offset,
                pages,
            },
            _charge: charge,
            pos,
            len,
            referenced,
            copied,
            charged,
        })
    }

    fn read_copy(
        account: &Arc<MemlockAccount>,
        file: ARef<File>,
        pos: u64,
        len: usize,
    ) -> Result<Self> {
        pos.checked_add(len as u64).ok_or(EINVAL)?;
        let mut charge = MemlockAccount::charge(account, 0)?;
        let mut pages = KVVec::new();
        let mut got = 0usize;
        while got < len {
            // One page at a time, each charged before it is allocated: the file's size is
            // unknown, and a short file must not cost what `len` asked for.
            charge.grow(1)?;
            let mut page = PageBuf::new(GFP_KERNEL_ACCOUNT)?;
            let want = (len - got).min(PAGE_SIZE);
            let n = page.read_file(&file, pos + got as u64, want)?;
            if n == 0 {
                charge.shrink(1);
                break;
            }
            pages.push(page, GFP_KERNEL_ACCOUNT)?;
            got += n;
            if n < want {
                // A short read is the end of what the file has now (as read(2) sees it).
                break;
            }
        }
        if got == 0 {
            return Err(EINVAL);
        }
        file.accessed();
        let copied = pages.len();
        Ok(Self {
            body: Body::Copied { file, pages },
            _charge: charge,
            pos,
            len: got,
            referenced: 0,
            copied,
            charged: copied,
        })
    }

    /// The bytes the range holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Page-cache pages referenced.
    pub(crate) fn referenced(&self) -> usize {
        self.referenced
    }

    /// Pages holding a copy of file bytes.
    pub(crate) fn copied(&self) -> usize {
        self.copied
    }

    /// Pages charged to the opener.
    pub(crate) fn charged(&self) -> usize {
        self.charged
    }

    /// The segments of the range, in order: (page index, offset in page, length).
    pub(crate) fn segments(&self) -> KVVec<(usize, usize, usize)> {
        let mut v = KVVec::new();
        match &self.body {
            Body::Cached { offset, .. } => {
                for s in page_spans(*offset, self.len) {
                    // Room was counted by `nr_segments`; a failure here only shortens.
                    if v.push(s, GFP_KERNEL_ACCOUNT).is_err() {
                        break;
                    }
                }
            }
            Body::Copied { pages, .. } => {
                for (i, p) in pages.iter().enumerate() {
                    if v.push((i, 0, p.filled()), GFP_KERNEL_ACCOUNT).is_err() {
                        break;
                    }
                }
            }
        }
        v
    }

    fn file(&self) -> &File {
        match &self.body {
            Body::Cached { file, .. } => file.file(),
            Body::Copied { file, .. } => file,
        }
    }

    /// Checks, as `sendfile` does for every call, that the caller may still read the file
    /// (LSM, fanotify permission events), and leaves an access event and the atime, as a
    /// read would. Sleeps.
    pub(crate) fn verify(&self) -> Result {
        let file = self.file();
        file.verify_read(self.pos, self.len.min(limits::MAX_RW_COUNT))?;
        file.accessed();
        Ok(())
    }

    /// Whether [`Self::push_to`] would hand the piece back to be looked up again.
    pub(crate) fn needs_lookup(&self, page: usize, offset: usize, len: usize) -> Result<bool> {
        Ok(match &self.body {
            Body::Copied { .. } => false,
            Body::Cached {
                file,
                first_index,
                pages,
                ..
            } => {
                !covers(file.file(), first_index + page, offset + len)
                    || match pages.get(page).ok_or(EINVAL)? {
                        CachePage::Cached(p) => !p.is_in(file.file()),
                        CachePage::Copied(_) => false,
                        CachePage::Hole => true,
                    }
            }
        })
    }

    /// Adds `len` bytes at `offset` of page `page` to `batch`; a page that must be looked up
    /// again first (it left the page cache, the file shrank, or it was a hole) is returned
    /// instead.
    pub(crate) fn push_to<'a>(
        &'a self,
        batch: &mut BioVecs<'a>,
        page: usize,
        offset: usize,
        len: usize,
    ) -> Result<Option<FilePiece<'a>>> {
        let again = Some(FilePiece {
            range: self,
            page,
            offset,
            len,
        });
        match &self.body {
            Body::Copied { pages, .. } => {
                batch.push_buf(pages.get(page).ok_or(EINVAL)?, offset, len)?
            }
            Body::Cached {
                file,
                first_index,
                pages,
                ..
            } => {
                if !covers(file.file(), first_index + page, offset + len) {
                    return Ok(again);
                }
                match pages.get(page).ok_or(EINVAL)? {
                    CachePage::Cached(p) if p.is_in(file.file()) => {
                        batch.push_cached(p, offset, len)?
                    }
                    CachePage::Copied(b) => batch.push_buf(b, offset, len)?,
                    CachePage::Cached(_) | CachePage::Hole => return Ok(again),
                }
            }
        }
        Ok(None)
    }

    /// Copies `len` bytes at `offset` of page `page` to the user address `to`, looking the
    /// page up again if it left the page cache; `ENODATA` if the file no longer covers it.
    pub(crate) fn copy_to_user(&self, page: usize, offset: usize, len: usize, to: usize) -> Result {
        let mut batch = BioVecs::new();
        match self.push_to(&mut batch, page, offset, len)? {
            None => match &self.body {
                Body::Copied { pages, .. } => pages
                    .get(page)
                    .ok_or(EINVAL)?
                    .copy_filled_to_user(offset, len, to),
                Body::Cached { pages, .. } => match pages.get(page).ok_or(EINVAL)? {
                    CachePage::Cached(p) => p.copy_to_user(offset, len, to),
                    CachePage::Copied(b) => b.copy_filled_to_user(offset, len, to),
                    CachePage::Hole => Err(EINVAL),
                },
            },
            Some(piece) => match piece.current()? {
                Current::Page(p) => p.copy_to_user(offset, len, to),
                Current::Zero => crate::kernel_ext::page::clear_user(to, len),
            },
        }
    }
}
