// SPDX-License-Identifier: GPL-2.0

//! The kiovec container: the state of one open file of `/dev/kiovec`.
//!
//! A container is an ordered list of segments, each a (page, offset, length) triple in the
//! shape of a `bio_vec`, so that any segment can start and end anywhere in its page. `write()`
//! appends bytes to pages the container allocates itself, packing small writes into the last
//! page; bytes once written are never rewritten, because they may already be on their way to
//! a device or a socket.

#![deny(unsafe_code)]

use crate::{kernel_ext::page::AppendOnlyPage, limits};
use kernel::{new_mutex, prelude::*, sync::Mutex, uaccess::UserSliceReader};

/// Where a segment's bytes are.
#[derive(Clone, Copy)]
enum Source {
    /// In the container's own page `pages[index]`.
    Owned { index: usize },
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
    /// The segments, in transmit order.
    segments: KVec<Segment>,
    /// The sum of the segments' lengths.
    bytes: u64,
}

impl Contents {
    const fn new() -> Self {
        Self {
            pages: KVec::new(),
            segments: KVec::new(),
            bytes: 0,
        }
    }
}

/// Counts reported by `KIOVEC_IOC_STAT`.
pub(crate) struct Stat {
    pub(crate) bytes: u64,
    pub(crate) segments: u32,
    pub(crate) owned_pages: u32,
    pub(crate) pinned_pages: u32,
}

/// One open `/dev/kiovec`.
#[pin_data]
pub(crate) struct Container {
    #[pin]
    contents: Mutex<Contents>,
}

impl Container {
    /// Creates an empty container, charged to the opener's memory cgroup.
    pub(crate) fn new() -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(Self {
                contents <- new_mutex!(Contents::new(), "kiovec::Container::contents"),
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
            if c.segments.len() >= limits::MAX_SEGMENTS as usize {
                return Err(E2BIG);
            }
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

    /// Drops every segment and page: the container is empty again.
    pub(crate) fn reset(&self) {
        let old = core::mem::replace(&mut *self.contents.lock(), Contents::new());
        // Pages are freed outside the lock.
        drop(old);
    }

    /// Counts what the container holds.
    pub(crate) fn stat(&self) -> Stat {
        let c = self.contents.lock();
        Stat {
            bytes: c.bytes,
            segments: c.segments.len() as u32,
            owned_pages: c.pages.len() as u32,
            pinned_pages: 0,
        }
    }
}
