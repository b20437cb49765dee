// SPDX-License-Identifier: GPL-2.0

//! The kiovec container: the state behind one open file of `/dev/kiovec`.
//!
//! # Locks
//!
//! One lock per container, [`Container::contents`] (a mutex), held only to read or publish
//! the segment list: never across anything that sleeps for long or for someone else — no
//! socket send, no page-cache read, no pinning, no user copy that may fault. Those run
//! before (the appends: the work is done, then published under the lock) or after it (the
//! readers: they take a [`Kiovec`] snapshot under the lock, drop it, and then block as long
//! as they must). Under it, only `OwnedPage::fill` (a spinlock) is taken, by `write()`
//! packing bytes it has already copied into the last page. Lock order: `contents`, then
//! `OwnedPage::fill`.
//!
//! Memory: everything a container holds — `write()` pages, pinned pages, referenced or
//! copied file pages, pages reserved for I/O — is charged to its opener's locked memory
//! (`RLIMIT_MEMLOCK`, as io_uring's registered buffers; `CAP_IPC_LOCK` exempts), each folio
//! once, before the memory is taken.

#![deny(unsafe_code)]

use crate::{
    filerange::FileRange,
    iorange::IoRange,
    kernel_ext::{
        appendvec::AppendVec,
        fs::File,
        memlock::MemlockAccount,
        page::{OwnedPage, PageBuf},
    },
    kiobuf::Kiobuf,
    kiovec::{Kiovec, Owner, Seg},
    limits,
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    alloc::KVVec,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
    types::ARef,
    uaccess::UserSliceReader,
};

/// Counts reported by `KIOVEC_IOC_STAT`.
#[derive(Clone, Copy, Default)]
pub(crate) struct Stat {
    pub(crate) bytes: u64,
    pub(crate) segments: u32,
    pub(crate) owned_pages: u32,
    pub(crate) pinned_pages: u32,
    pub(crate) file_pages: u32,
    pub(crate) copied_pages: u32,
    pub(crate) charged_pages: u64,
}

/// What an append added.
#[derive(Default)]
pub(crate) struct Added {
    pub(crate) offset: u64,
    pub(crate) bytes: u64,
    pub(crate) segments: u32,
    pub(crate) pinned_pages: u32,
    pub(crate) copied_pages: u32,
    /// The segment and owner counts just after it, and what it added to the counters: to
    /// take it back (see [`Container::truncate`]).
    segs_end: usize,
    owners_end: usize,
    owners_added: usize,
    delta: Stat,
}

/// One user range to pin: base address and length, as in a `struct kiovec_iovec`.
#[derive(Clone, Copy)]
pub(crate) struct UserRange {
    pub(crate) base: usize,
    pub(crate) len: usize,
}

/// What a container holds, under its lock.
struct Contents {
    segs: AppendVec<Seg>,
    owners: AppendVec<Owner>,
    /// The sum of the segments' lengths.
    bytes: u64,
    /// The page `write()` packs bytes into: set only while the last segment is in it and
    /// ends at its fill.
    tail: Option<Arc<OwnedPage>>,
    stat: Stat,
}

impl Contents {
    const fn new() -> Self {
        Self {
            segs: AppendVec::new(),
            owners: AppendVec::new(),
            bytes: 0,
            tail: None,
            stat: Stat {
                bytes: 0,
                segments: 0,
                owned_pages: 0,
                pinned_pages: 0,
                file_pages: 0,
                copied_pages: 0,
                charged_pages: 0,
            },
        }
    }

    /// Fails with `E2BIG` unless `bytes` more bytes in `segments` more segments fit.
    fn check_room(&self, bytes: u64, segments: usize) -> Result {
        let bytes_ok = self
            .bytes
            .checked_add(bytes)
            .is_some_and(|b| b <= limits::MAX_BYTES);
        let segments_ok = self
            .segs
            .len()
            .checked_add(segments)
            .is_some_and(|s| s <= limits::MAX_SEGMENTS as usize);
        if bytes_ok && segments_ok {
            Ok(())
        } else {
            Err(E2BIG)
        }
    }

    /// Makes room for `segs` segments and `owners` owners, so that pushing them cannot fail.
    fn reserve(&mut self, segs: usize, owners: usize) -> Result {
        self.segs.reserve(segs, GFP_KERNEL_ACCOUNT)?;
        self.owners.reserve(owners, GFP_KERNEL_ACCOUNT)
    }

    /// Appends an owner (room reserved); returns its index.
    fn push_owner(&mut self, owner: Owner) -> Result<u32> {
        let index = self.owners.len() as u32;
        self.owners.push(owner, GFP_KERNEL_ACCOUNT)?;
        // Whatever comes next is not in the packing page.
        self.tail = None;
        Ok(index)
    }

    /// Appends a segment (room reserved).
    fn push_seg(&mut self, owner: u32, page: usize, offset: usize, len: usize) -> Result {
        self.segs.push(
            Seg {
                start: self.bytes,
                len: AtomicU32::new(len as u32),
                offset: offset as u32,
                owner,
                page: page as u32,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        self.bytes += len as u64;
        Ok(())
    }

    /// Adds `added`'s counters to the container's and records where the append ended.
    fn apply(&mut self, added: &mut Added) {
        let d = &added.delta;
        self.stat.owned_pages += d.owned_pages;
        self.stat.pinned_pages += d.pinned_pages;
        self.stat.file_pages += d.file_pages;
        self.stat.copied_pages += d.copied_pages;
        self.stat.charged_pages += d.charged_pages;
        added.segs_end = self.segs.len();
        added.owners_end = self.owners.len();
    }

    fn snapshot(&self) -> Kiovec {
        Kiovec {
            segs: self.segs.snapshot(),
            owners: self.owners.snapshot(),
            bytes: self.bytes,
        }
    }
}

/// One open `/dev/kiovec`.
#[pin_data]
pub(crate) struct Container {
    #[pin]
    contents: Mutex<Contents>,
    /// Whom everything the container holds is charged to: the opener, as for an io_uring ring.
    account: Arc<MemlockAccount>,
}

impl Container {
    /// Creates an empty container for the current task, which pays for it: its memory
    /// cgroup for the metadata, its user and mm for the pages.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let account = Arc::new(MemlockAccount::current(), GFP_KERNEL_ACCOUNT)?;
        Arc::pin_init(
            pin_init!(Self {
                contents <- new_mutex!(Contents::new(), "kiovec::Container::contents"),
                account,
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The contents now, to read with no lock held.
    pub(crate) fn snapshot(&self) -> Kiovec {
        self.contents.lock().snapshot()
    }

    /// Appends what `data` holds, returning how much was taken.
    ///
    /// Like `write(2)` on a file that fills up: a short count when only part fits or a fault
    /// or allocation failure happens after some bytes went in; `E2BIG` when the container is
    /// full, `EFAULT`/`ENOMEM` when nothing could be taken. The bytes are copied into pages
    /// of our own before the lock is taken; under it they are only published (and a first
    /// few packed into the last page, a copy that cannot fault).
    pub(crate) fn write(&self, data: &mut UserSliceReader) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // How much fits, and how much the last page can still take: the first chunk is cut
        // to that, so that the common case packs it whole into that page.
        let (room, tail_room) = {
            let c = self.contents.lock();
            let tail_room = c.tail.as_ref().map_or(0, |t| PAGE_SIZE - t.filled());
            (limits::MAX_BYTES - c.bytes, tail_room)
        };
        let want = data.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if want == 0 {
            return Err(E2BIG);
        }
        let first = if tail_room > 0 {
            tail_room.min(want)
        } else {
            PAGE_SIZE
        };
        let nr = 1 + (want - first.min(want)).div_ceil(PAGE_SIZE);
        let mut charge = MemlockAccount::charge(&self.account, nr)?;
        let mut bufs = KVVec::with_capacity(nr, GFP_KERNEL_ACCOUNT)?;
        let mut got = 0usize;
        while got < want {
            let chunk = if got == 0 { first } else { PAGE_SIZE };
            let n = (want - got).min(chunk);
            let filled = PageBuf::new(GFP_KERNEL_ACCOUNT).and_then(|mut b| {
                b.fill_from_user(data, n)?;
                Ok(b)
            });
            match filled {
                Ok(b) => bufs.push(b, GFP_KERNEL_ACCOUNT)?,
                Err(e) if got == 0 => return Err(e),
                Err(_) => break,
            }
            got += n;
        }

        let mut c = self.contents.lock();
        // Another writer may have filled the container meanwhile.
        let room = usize::try_from(limits::MAX_BYTES - c.bytes).unwrap_or(usize::MAX);
        let mut take = got.min(room);
        if take == 0 {
            return Err(E2BIG);
        }
        c.check_room(0, bufs.len())?;
        c.reserve(bufs.len(), bufs.len())?;
        // Nothing below fails, but for an allocation after some bytes went in (a short count).
        let mut done = 0usize;
        let mut packed = 0usize;
        if let (Some(tail), Some(first)) = (c.tail.clone(), bufs.first()) {
            let (_, n) = tail.append_from(first, 0, first.filled().min(take))?;
            if let Some(last) = c.segs.last() {
                last.len.fetch_add(n as u32, Ordering::Relaxed);
            }
            c.bytes += n as u64;
            if tail.filled() == PAGE_SIZE {
                c.tail = None;
            }
            packed = n;
            done += n;
            take -= n;
        }
        for (i, b) in bufs.into_iter().enumerate() {
            let offset = if i == 0 { packed } else { 0 };
            let n = (b.filled() - offset).min(take);
            if n == 0 {
                // Everything of it went into the last page: it goes, and its charge with it.
                continue;
            }
            let page = match b.share(charge.split(1), GFP_KERNEL_ACCOUNT) {
                Ok(p) => p,
                Err(_) => break,
            };
            let owner = c.push_owner(Owner::Written(page.clone()))?;
            c.push_seg(owner, 0, offset, n)?;
            c.stat.owned_pages += 1;
            c.stat.charged_pages += 1;
            if offset + n == page.filled() && page.filled() < PAGE_SIZE {
                c.tail = Some(page);
            }
            done += n;
            take -= n;
        }
        Ok(done)
    }

    /// Pins `ranges` of the caller's memory and appends them, in order, all or nothing.
    ///
    /// Ranges of length 0 are skipped. The caller has checked each range for overflow and
    /// null bases.
    pub(crate) fn add_user(&self, ranges: &[UserRange], write: bool) -> Result<Added> {
        let mut bytes = 0u64;
        let mut segments = 0usize;
        for r in ranges.iter().filter(|r| r.len > 0) {
            bytes = bytes.checked_add(r.len as u64).ok_or(E2BIG)?;
            segments += page_spans_count(r.base as u64, r.len);
        }
        // A request that cannot fit must not fault in or pin a single page.
        self.contents.lock().check_room(bytes, segments)?;

        let mut bufs = KVVec::with_capacity(ranges.len(), GFP_KERNEL_ACCOUNT)?;
        for r in ranges.iter().filter(|r| r.len > 0) {
            // On error the kiobufs pinned so far are dropped: unpinned and uncharged.
            bufs.push(
                Arc::new(
                    Kiobuf::pin(&self.account, r.base, r.len, write)?,
                    GFP_KERNEL_ACCOUNT,
                )?,
                GFP_KERNEL_ACCOUNT,
            )?;
        }

        let mut c = self.contents.lock();
        c.check_room(bytes, segments)?;
        c.reserve(segments, bufs.len())?;
        // Nothing below can fail: the room is reserved.
        let mut added = Added {
            offset: c.bytes,
            bytes,
            segments: segments as u32,
            ..Default::default()
        };
        for buf in bufs.iter() {
            let owner = c.push_owner(Owner::Pinned(buf.clone()))?;
            for (page, offset, len) in buf.segments() {
                c.push_seg(owner, page, offset, len)?;
            }
            added.pinned_pages += buf.nr_pages() as u32;
            added.delta.pinned_pages += buf.nr_pages() as u32;
            added.delta.charged_pages += buf.charged() as u64;
            added.owners_added += 1;
        }
        c.apply(&mut added);
        Ok(added)
    }

    /// Appends up to `len > 0` bytes of `file` from `pos` on (see [`FileRange::read`]).
    pub(crate) fn add_file(&self, file: ARef<File>, pos: u64, len: usize) -> Result<Added> {
        // What sendfile checks before it reads, for the whole range.
        file.verify_read(pos, len.min(limits::MAX_RW_COUNT))?;
        self.contents
            .lock()
            .check_room(len as u64, page_spans_count(pos, len))?;
        let range = Arc::new(
            FileRange::read(&self.account, file, pos, len)?,
            GFP_KERNEL_ACCOUNT,
        )?;
        let segs = range.segments();
        let bytes = range.len() as u64;

        let mut c = self.contents.lock();
        c.check_room(bytes, segs.len())?;
        c.reserve(segs.len(), 1)?;
        // Nothing below can fail: the room is reserved.
        let mut added = Added {
            offset: c.bytes,
            bytes,
            segments: segs.len() as u32,
            copied_pages: range.copied() as u32,
            ..Default::default()
        };
        let owner = c.push_owner(Owner::File(range.clone()))?;
        for &(page, offset, len) in segs.iter() {
            c.push_seg(owner, page, offset, len)?;
        }
        added.owners_added = 1;
        added.delta.file_pages = range.referenced() as u32;
        added.delta.copied_pages = range.copied() as u32;
        added.delta.charged_pages = range.charged() as u64;
        c.apply(&mut added);
        Ok(added)
    }

    /// Appends `len` zero bytes in pages of the container's own, for I/O to read into.
    /// `len` is a non-zero multiple of the page size (the caller checked).
    pub(crate) fn add_zero(&self, len: usize) -> Result<Added> {
        let nr = len / PAGE_SIZE;
        self.contents.lock().check_room(len as u64, nr)?;
        let range = Arc::new(IoRange::new(&self.account, nr)?, GFP_KERNEL_ACCOUNT)?;

        let mut c = self.contents.lock();
        c.check_room(len as u64, nr)?;
        c.reserve(nr, 1)?;
        let mut added = Added {
            offset: c.bytes,
            bytes: len as u64,
            segments: nr as u32,
            ..Default::default()
        };
        let owner = c.push_owner(Owner::Io(range.clone()))?;
        for page in 0..range.nr_pages() {
            c.push_seg(owner, page, 0, PAGE_SIZE)?;
        }
        added.owners_added = 1;
        added.delta.owned_pages = nr as u32;
        added.delta.charged_pages = nr as u64;
        c.apply(&mut added);
        Ok(added)
    }

    /// Takes back what `added` appended, if nothing was appended after it: for a call that
    /// cannot tell the caller what it added (its result struct became unwritable), so that
    /// it is all or nothing to the end.
    pub(crate) fn truncate(&self, added: &Added) {
        let mut c = self.contents.lock();
        if c.segs.len() != added.segs_end
            || c.owners.len() != added.owners_end
            || c.bytes != added.offset + added.bytes
        {
            return;
        }
        let segs = added.segs_end - added.segments as usize;
        let owners = added.owners_end - added.owners_added;
        // Moving the entries that stay may fail to allocate: then the append stays, and the
        // caller's error still says it failed. It is all it can be without memory.
        let Ok(old_owners) = c.owners.truncate(owners, GFP_KERNEL_ACCOUNT) else {
            return;
        };
        let Ok(old_segs) = c.segs.truncate(segs, GFP_KERNEL_ACCOUNT) else {
            drop(c);
            drop(old_owners);
            return;
        };
        c.bytes = added.offset;
        c.tail = None;
        let d = &added.delta;
        c.stat.owned_pages -= d.owned_pages;
        c.stat.pinned_pages -= d.pinned_pages;
        c.stat.file_pages -= d.file_pages;
        c.stat.copied_pages -= d.copied_pages;
        c.stat.charged_pages -= d.charged_pages;
        // Unpinning and freeing sleep: outside the lock.
        drop(c);
        drop(old_segs);
        drop(old_owners);
    }

    /// Drops every segment: the container is empty again. Readers keep what they have;
    /// pages are freed and unpinned when the last of them lets go, outside the lock.
    pub(crate) fn reset(&self) {
        let old = core::mem::replace(&mut *self.contents.lock(), Contents::new());
        drop(old);
    }

    /// Counts what the container holds.
    pub(crate) fn stat(&self) -> Stat {
        let c = self.contents.lock();
        Stat {
            bytes: c.bytes,
            segments: c.segs.len() as u32,
            ..c.stat
        }
    }
}

/// How many page segments `len > 0` bytes from byte `pos` make.
fn page_spans_count(pos: u64, len: usize) -> usize {
    ((pos % PAGE_SIZE as u64) as usize + len).div_ceil(PAGE_SIZE)
}
