// SPDX-License-Identifier: GPL-2.0

//! The kiovec: a scatter-gather list of page segments that can be lent out.
//!
//! A [`Kiovec`] is a snapshot: the segments a container held when it was taken, and the
//! owners that keep their pages alive (pages `write()` filled, pinned user memory, file
//! ranges, pages reserved for I/O). It is read with no lock at all, by as many senders,
//! copy-outs and I/O requests as want it, while the container goes on appending (readers
//! never see a half-done append: see [`AppendVec`]) or is reset (readers keep what they
//! have). Pages stay alive while any snapshot, bio or skb needs them: snapshots by the
//! owners they hold, skbs by their own page references.
//!
//! Each segment is (page, offset in page, length) with its start offset in the kiovec, so
//! that finding a byte offset is a binary search; [`Kiovec::pieces`] walks a byte range as
//! page pieces, for copy-out, transmit and rw alike.

#![deny(unsafe_code)]

use crate::kernel_ext::{appendvec::Snapshot, bvec::BioVecs, page::OwnedPage};
use crate::{
    filerange::{FilePiece, FileRange},
    iorange::IoRange,
    kiobuf::Kiobuf,
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{prelude::*, sync::Arc};

/// What keeps a segment's page alive, and what kind of memory it is.
#[derive(Clone)]
pub(crate) enum Owner {
    /// Bytes `write()` appended, in a page the container owns.
    Written(Arc<OwnedPage>),
    /// Pinned user memory.
    Pinned(Arc<Kiobuf>),
    /// A file range: referenced page-cache pages, or a copy of the file's bytes.
    File(Arc<FileRange>),
    /// Zero-filled pages reserved for I/O (`KIOVEC_IOC_ADD_ZERO`).
    Io(Arc<IoRange>),
}

impl Owner {
    /// Whether I/O may write into this owner's pages: only memory that is the caller's to
    /// change (pinned for writing, or reserved for I/O), never a page cache or `write()` bytes.
    pub(crate) fn is_writable(&self) -> bool {
        match self {
            Owner::Pinned(k) => k.pages().is_writable(),
            Owner::Io(_) => true,
            Owner::Written(_) | Owner::File(_) => false,
        }
    }

    /// Records that I/O wrote into this owner's pages (pinned pages are then dirtied).
    pub(crate) fn set_written(&self) {
        match self {
            Owner::Pinned(k) => k.pages().set_written(),
            Owner::Io(_) | Owner::Written(_) | Owner::File(_) => {}
        }
    }
}

/// One segment: `len` bytes at `offset` of page `page` of owner `owner`, starting at byte
/// `start` of the kiovec.
pub(crate) struct Seg {
    pub(crate) start: u64,
    /// Grows only while this is the container's last segment, when `write()` packs more bytes
    /// into its page; a snapshot clamps it to its own length.
    pub(crate) len: AtomicU32,
    pub(crate) offset: u32,
    pub(crate) owner: u32,
    pub(crate) page: u32,
}

impl Clone for Seg {
    fn clone(&self) -> Self {
        Self {
            start: self.start,
            len: AtomicU32::new(self.len.load(Ordering::Relaxed)),
            offset: self.offset,
            owner: self.owner,
            page: self.page,
        }
    }
}

/// A run of bytes within one page of one owner.
pub(crate) struct Piece<'a> {
    pub(crate) owner: &'a Owner,
    /// The owner's index in the kiovec: pieces of one owner have the same.
    pub(crate) owner_index: u32,
    pub(crate) page: usize,
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl<'a> Piece<'a> {
    /// Adds the piece to `batch`; for a file page whose page left the page cache (or a
    /// hole), nothing is added and the file piece is returned for the caller to look up.
    pub(crate) fn push_to(&self, batch: &mut BioVecs<'a>) -> Result<Option<FilePiece<'a>>> {
        match self.owner {
            Owner::Written(p) => batch.push_owned(p, self.offset, self.len)?,
            Owner::Pinned(k) => batch.push_pinned(k.pages(), self.page, self.offset, self.len)?,
            Owner::Io(r) => batch.push_io(r.page(self.page)?, self.offset, self.len)?,
            Owner::File(f) => return f.push_to(batch, self.page, self.offset, self.len),
        }
        Ok(None)
    }

    /// Copies the piece to the user address `to`.
    pub(crate) fn copy_to_user(&self, to: usize) -> Result {
        match self.owner {
            Owner::Written(p) => p.copy_filled_to_user(self.offset, self.len, to),
            Owner::Pinned(k) => k.pages().copy_to_user(self.page, self.offset, self.len, to),
            Owner::Io(r) => r.page(self.page)?.copy_to_user(self.offset, self.len, to),
            Owner::File(f) => f.copy_to_user(self.page, self.offset, self.len, to),
        }
    }
}

/// A snapshot of a container's segments.
///
/// # Invariants
///
/// Every segment's `owner` indexes `owners`, and its page range is within that owner's pages;
/// `bytes` is where the snapshot ends (the segments' lengths, clamped to it, add up to it).
#[derive(Clone)]
pub(crate) struct Kiovec {
    pub(crate) segs: Snapshot<Seg>,
    pub(crate) owners: Snapshot<Owner>,
    pub(crate) bytes: u64,
}

impl Kiovec {
    /// The kiovec's length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.bytes
    }

    /// The pieces of the byte range `from..from + len` (clamped to the end), in order.
    pub(crate) fn pieces(&self, from: u64, len: u64) -> Pieces<'_> {
        let end = from.saturating_add(len).min(self.bytes);
        // The segment that holds `from`: the last one that starts at or before it.
        let next = self
            .segs
            .partition_point(|s| s.start <= from)
            .saturating_sub(1);
        Pieces {
            kv: self,
            next,
            pos: from,
            end,
        }
    }

    /// The length of segment `s` as this snapshot sees it.
    fn seg_len(&self, s: &Seg) -> u64 {
        (s.len.load(Ordering::Relaxed) as u64).min(self.bytes.saturating_sub(s.start))
    }

    /// Whether I/O may write into every byte of `from..from + len`.
    pub(crate) fn is_writable(&self, from: u64, len: u64) -> bool {
        self.pieces(from, len).all(|p| p.owner.is_writable())
    }
}

/// The pieces of a byte range of a [`Kiovec`].
pub(crate) struct Pieces<'a> {
    kv: &'a Kiovec,
    next: usize,
    pos: u64,
    end: u64,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        while self.pos < self.end {
            let s = self.kv.segs.get(self.next)?;
            let seg_end = s.start + self.kv.seg_len(s);
            if self.pos >= seg_end {
                self.next += 1;
                continue;
            }
            let skip = (self.pos - s.start) as usize;
            let len = (seg_end.min(self.end) - self.pos) as usize;
            let piece = Piece {
                owner: self.kv.owners.get(s.owner as usize)?,
                owner_index: s.owner,
                page: s.page as usize,
                offset: s.offset as usize + skip,
                len,
            };
            self.pos += len as u64;
            return Some(piece);
        }
        None
    }
}
