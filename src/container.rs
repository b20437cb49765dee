// SPDX-License-Identifier: GPL-2.0

//! The kiovec container: the state of one open file of `/dev/kiovec`.
//!
//! A container is an ordered list of segments, each a (page, offset, length) triple in the
//! shape of a `bio_vec`, so that any segment can start and end anywhere in its page. The
//! pages come from two sources: pages the container allocated for `write()` (bytes once
//! written are never rewritten, because they may already be on their way to a device or a
//! socket), and user pages pinned in place by `KIOVEC_IOC_ADD_USER` (kiobufs).

#![deny(unsafe_code)]

use crate::{
    filerange::FileRange,
    kernel_ext::{
        bvec::BioVecBatch,
        error::code,
        fs::File,
        memlock::MemlockAccount,
        net::{self, Socket},
        page::AppendOnlyPage,
    },
    kiobuf::Kiobuf,
    limits,
};
use kernel::{
    alloc::KVVec,
    current, new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
    types::ARef,
    uaccess::UserSliceReader,
};

/// Where a segment's bytes are.
#[derive(Clone, Copy)]
enum Source {
    /// In the container's own page `pages[index]`.
    Owned { index: usize },
    /// In page `page` of the pinned user range `kiobufs[buf]`.
    User { buf: usize, page: usize },
    /// In page `page` of the file range `files[range]`.
    File { range: usize, page: usize },
}

/// One contiguous run of bytes within one page.
#[derive(Clone, Copy)]
struct Segment {
    source: Source,
    offset: u32,
    len: u32,
}

impl Segment {
    /// Whether this segment is in owned page `index` and ends at `offset`.
    fn is_owned_until(&self, index: usize, offset: usize) -> bool {
        matches!(self.source, Source::Owned { index: i } if i == index)
            && (self.offset + self.len) as usize == offset
    }
}

/// What a container holds, under its lock.
struct Contents {
    /// The pages `write()` filled, in the order they were filled.
    pages: KVec<AppendOnlyPage>,
    /// The pinned user ranges, in the order they were added.
    kiobufs: KVec<Kiobuf>,
    /// The file ranges, in the order they were added.
    files: KVec<FileRange>,
    /// The segments, in transmit order.
    segments: KVVec<Segment>,
    /// The sum of the segments' lengths.
    bytes: u64,
    /// The sum of the kiobufs' pinned pages.
    pinned_pages: usize,
}

impl Contents {
    const fn new() -> Self {
        Self {
            pages: KVec::new(),
            kiobufs: KVec::new(),
            files: KVec::new(),
            segments: KVVec::new(),
            bytes: 0,
            pinned_pages: 0,
        }
    }

    /// Whether segment `s`'s bytes are still what was added: false for a file segment whose
    /// file has shrunk below it or whose page was truncated out of the file.
    fn is_valid(&self, s: &Segment) -> bool {
        match s.source {
            Source::File { range, page } => {
                self.files[range].still_in_file(page, (s.offset + s.len) as usize)
            }
            _ => true,
        }
    }

    /// Where container offset `offset` is: (segment index, bytes into that segment), or
    /// `None` at or past the end.
    fn seek(&self, offset: u64) -> Option<(usize, usize)> {
        let mut pos = 0u64;
        for (i, s) in self.segments.iter().enumerate() {
            let end = pos + s.len as u64;
            if offset < end {
                return Some((i, (offset - pos) as usize));
            }
            pos = end;
        }
        None
    }

    /// Appends one segment per (page index, offset, length) span, from `source(page index)`.
    fn push_spans(
        &mut self,
        spans: impl Iterator<Item = (usize, usize, usize)>,
        source: impl Fn(usize) -> Source,
    ) -> Result {
        for (page, offset, len) in spans {
            self.segments.push(
                Segment {
                    source: source(page),
                    offset: offset as u32,
                    len: len as u32,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        Ok(())
    }

    /// Fails with `E2BIG` unless `bytes` more bytes in `segments` more segments fit.
    fn check_room(&self, bytes: u64, segments: usize) -> Result {
        let bytes_ok = self
            .bytes
            .checked_add(bytes)
            .is_some_and(|b| b <= limits::MAX_BYTES);
        let segments_ok = self
            .segments
            .len()
            .checked_add(segments)
            .is_some_and(|s| s <= limits::MAX_SEGMENTS as usize);
        if bytes_ok && segments_ok {
            Ok(())
        } else {
            Err(E2BIG)
        }
    }
}

/// How many page segments `len > 0` bytes from byte `pos` of a file make.
fn page_spans_count(pos: u64, len: usize) -> usize {
    ((pos % PAGE_SIZE as u64) as usize + len).div_ceil(PAGE_SIZE)
}

/// Counts reported by `KIOVEC_IOC_STAT`.
pub(crate) struct Stat {
    pub(crate) bytes: u64,
    pub(crate) segments: u32,
    pub(crate) owned_pages: u32,
    pub(crate) pinned_pages: u32,
}

/// What `KIOVEC_IOC_ADD_USER` added.
pub(crate) struct Added {
    pub(crate) offset: u64,
    pub(crate) bytes: u64,
    pub(crate) segments: u32,
    pub(crate) pinned_pages: u32,
}

/// One user range to pin: base address and length, as in a `struct iovec`.
#[derive(Clone, Copy)]
pub(crate) struct UserRange {
    pub(crate) base: usize,
    pub(crate) len: usize,
}

/// One open `/dev/kiovec`.
#[pin_data]
pub(crate) struct Container {
    #[pin]
    contents: Mutex<Contents>,
    /// Whom pinned pages are charged to: the opener, as for an io_uring ring.
    account: Arc<MemlockAccount>,
}

impl Container {
    /// Creates an empty container for the current task, which pays for it: its memory
    /// cgroup for the metadata, its user and mm for pinned pages.
    pub(crate) fn new() -> Result<Pin<KBox<Self>>> {
        let account = Arc::new(MemlockAccount::current(), GFP_KERNEL_ACCOUNT)?;
        KBox::pin_init(
            pin_init!(Self {
                contents <- new_mutex!(Contents::new(), "kiovec::Container::contents"),
                account,
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Appends what `data` holds, returning how much was taken.
    ///
    /// Like `write(2)` on a file that fills up: a short count when only part fits or a fault
    /// or allocation failure happens after some bytes went in; `E2BIG` when the container is
    /// full, `EFAULT`/`ENOMEM` when nothing could be taken.
    pub(crate) fn write(&self, data: &mut UserSliceReader) -> Result<usize> {
        let mut c = self.contents.lock();
        let room = usize::try_from(limits::MAX_BYTES - c.bytes).unwrap_or(usize::MAX);
        let want = data.len().min(room);
        if want == 0 {
            return if data.is_empty() { Ok(0) } else { Err(E2BIG) };
        }
        let mut done = 0;
        while done < want {
            match Self::append_some(&mut c, data, want - done) {
                Ok(n) => done += n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// Appends up to one page's worth of `data`; returns how many bytes went in.
    fn append_some(c: &mut Contents, data: &mut UserSliceReader, max: usize) -> Result<usize> {
        // The bytes go to the unfilled tail of the last page, or to a new page.
        let tail = match c.pages.last() {
            Some(p) if p.room() > 0 => Some((c.pages.len() - 1, p.filled())),
            _ => None,
        };
        // Consecutive writes extend one segment, unless something else came in between.
        let extends = match (tail, c.segments.last()) {
            (Some((index, offset)), Some(s)) => s.is_owned_until(index, offset),
            _ => false,
        };
        if !extends {
            c.check_room(0, 1)?;
            // Allocate before the bytes go in, so that a failure leaves the container as it was.
            c.segments.reserve(1, GFP_KERNEL_ACCOUNT)?;
        }
        let index = match tail {
            Some((index, _)) => index,
            None => {
                c.pages
                    .push(AppendOnlyPage::new(GFP_KERNEL_ACCOUNT)?, GFP_KERNEL_ACCOUNT)?;
                c.pages.len() - 1
            }
        };
        let page = &mut c.pages[index];
        let offset = page.filled();
        let len = max.min(page.room());
        page.append_from_user(data, len)?;
        match c.segments.last_mut() {
            Some(last) if extends => last.len += len as u32,
            _ => c.segments.push(
                Segment {
                    source: Source::Owned { index },
                    offset: offset as u32,
                    len: len as u32,
                },
                GFP_KERNEL_ACCOUNT,
            )?,
        }
        c.bytes += len as u64;
        Ok(len)
    }

    /// Pins `ranges` of the caller's memory and appends them, in order, all or nothing.
    ///
    /// Ranges of length 0 are skipped. The caller has checked each range for overflow and
    /// null bases.
    pub(crate) fn add_user(&self, ranges: &[UserRange], write: bool) -> Result<Added> {
        let mut c = self.contents.lock();
        // Check the limits before pinning anything: a request that cannot fit must not
        // fault in or pin a single page.
        let mut bytes = 0u64;
        let mut segments = 0usize;
        for r in ranges.iter().filter(|r| r.len > 0) {
            bytes = bytes.checked_add(r.len as u64).ok_or(E2BIG)?;
            segments += page_spans_count(r.base as u64, r.len);
        }
        c.check_room(bytes, segments)?;

        let mut bufs = KVec::with_capacity(ranges.len(), GFP_KERNEL_ACCOUNT)?;
        for r in ranges.iter().filter(|r| r.len > 0) {
            // On error the kiobufs pinned so far are dropped: unpinned and uncharged.
            bufs.push(
                Kiobuf::pin(&self.account, r.base, r.len, write)?,
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        c.kiobufs.reserve(bufs.len(), GFP_KERNEL_ACCOUNT)?;
        c.segments.reserve(segments, GFP_KERNEL_ACCOUNT)?;

        // Nothing below can fail: the room is reserved.
        let added = Added {
            offset: c.bytes,
            bytes,
            segments: segments as u32,
            pinned_pages: bufs.iter().map(Kiobuf::nr_pages).sum::<usize>() as u32,
        };
        for buf in bufs.into_iter() {
            let index = c.kiobufs.len();
            c.push_spans(buf.segments(), |page| Source::User { buf: index, page })?;
            c.pinned_pages += buf.nr_pages();
            c.kiobufs.push(buf, GFP_KERNEL_ACCOUNT)?;
        }
        c.bytes += bytes;
        Ok(added)
    }

    /// Appends `len > 0` bytes of `file` from `pos` on, by reference to its page cache.
    /// The caller has checked that the range lies within the file.
    pub(crate) fn add_file(&self, file: ARef<File>, pos: u64, len: usize) -> Result<Added> {
        let mut c = self.contents.lock();
        let segments = page_spans_count(pos, len);
        c.check_room(len as u64, segments)?;
        let range = FileRange::read(file, pos, len)?;
        c.files.reserve(1, GFP_KERNEL_ACCOUNT)?;
        c.segments.reserve(segments, GFP_KERNEL_ACCOUNT)?;

        // Nothing below can fail: the room is reserved.
        let index = c.files.len();
        c.push_spans(range.segments(), |page| Source::File { range: index, page })?;
        c.files.push(range, GFP_KERNEL_ACCOUNT)?;
        let added = Added {
            offset: c.bytes,
            bytes: len as u64,
            segments: segments as u32,
            pinned_pages: 0,
        };
        c.bytes += len as u64;
        Ok(added)
    }

    /// Copies up to `len` bytes from container offset `offset` to the user address `to`;
    /// returns how many were copied (fewer at the end of the container).
    ///
    /// A fault after some bytes were copied gives a short count; with none, `EFAULT`.
    pub(crate) fn copy_out(&self, offset: u64, to: usize, len: usize) -> Result<usize> {
        let c = self.contents.lock();
        let Some((first, mut skip)) = c.seek(offset) else {
            return Ok(0);
        };
        let mut done = 0usize;
        for s in c.segments.iter().skip(first) {
            if done == len {
                break;
            }
            if !c.is_valid(s) {
                // The file shrank under this segment: nothing from here on is readable.
                return if done == 0 {
                    Err(code::enodata())
                } else {
                    Ok(done)
                };
            }
            let n = (s.len as usize - skip).min(len - done);
            let at = s.offset as usize + skip;
            let dst = to.checked_add(done).ok_or(EFAULT)?;
            let copied = match s.source {
                Source::Owned { index } => c.pages[index].copy_filled_to_user(at, n, dst),
                Source::User { buf, page } => c.kiobufs[buf].pages().copy_to_user(page, at, n, dst),
                Source::File { range, page } => c.files[range].page(page).copy_to_user(at, n, dst),
            };
            match copied {
                Ok(()) => done += n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
            skip = 0;
        }
        Ok(done)
    }

    /// Sends the bytes from container offset `offset` on to `sock`, by page reference, in
    /// batches of `bvec::BATCH` segments; returns how many bytes were sent.
    ///
    /// Stops early, with what was sent so far, when the socket takes less than a batch
    /// (non-blocking, signal) or a signal is pending; an error with nothing sent is returned.
    /// The container is only read: it can be sent again, and the lock keeps `RESET` from
    /// freeing pages while a batch is being handed over.
    pub(crate) fn transmit(&self, sock: &Socket<'_>, offset: u64, flags: u32) -> Result<usize> {
        let c = self.contents.lock();
        let Some((mut next, mut skip)) = c.seek(offset) else {
            return Ok(0);
        };
        let mut sent = 0usize;
        loop {
            let mut batch = BioVecBatch::new();
            let mut truncated = false;
            while next < c.segments.len() && !batch.is_full() {
                let s = &c.segments[next];
                if !c.is_valid(s) {
                    // The file shrank under this segment: send what came before, then stop.
                    truncated = true;
                    break;
                }
                let (at, len) = (s.offset as usize + skip, s.len as usize - skip);
                match s.source {
                    Source::Owned { index } => batch.push_owned(&c.pages[index], at, len)?,
                    Source::User { buf, page } => {
                        batch.push_pinned(c.kiobufs[buf].pages(), page, at, len)?
                    }
                    Source::File { range, page } => {
                        batch.push_cached(c.files[range].page(page), at, len)?
                    }
                }
                next += 1;
                skip = 0;
            }
            if batch.bytes() == 0 {
                // Only when the very next segment was truncated.
                return if sent == 0 {
                    Err(code::enodata())
                } else {
                    Ok(sent)
                };
            }
            let last = next == c.segments.len() || truncated;
            // MSG_MORE until the last batch, as sendfile keeps SPLICE_F_MORE.
            let f = if last {
                flags
            } else {
                flags | net::flags::MORE
            };
            match sock.send_pages(&batch, f) {
                Ok(n) => {
                    sent += n;
                    if n < batch.bytes() || last {
                        break;
                    }
                }
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break,
            }
            if current!().signal_pending() {
                break;
            }
        }
        Ok(sent)
    }

    /// Drops every segment, page and pin: the container is empty again.
    pub(crate) fn reset(&self) {
        let old = core::mem::replace(&mut *self.contents.lock(), Contents::new());
        // Pages are freed and unpinned outside the lock.
        drop(old);
    }

    /// Counts what the container holds.
    pub(crate) fn stat(&self) -> Stat {
        let c = self.contents.lock();
        Stat {
            bytes: c.bytes,
            segments: c.segments.len() as u32,
            owned_pages: c.pages.len() as u32,
            pinned_pages: c.pinned_pages as u32,
        }
    }
}
