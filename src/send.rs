// SPDX-License-Identifier: GPL-2.0

//! Reading a kiovec out: to a TCP socket by page reference (transmit), and to user memory
//! (copy-out). Both work on a [`Kiovec`] snapshot and hold no lock while they block.
//!
//! File bytes are checked the way `sendfile` checks them on every call (`rw_verify_area`:
//! LSM, fanotify permission events) and leave an access event; a file page that left the
//! page cache while the file still covers it is looked up again (FUSE and NFS invalidation,
//! O_DIRECT writes); a segment the file no longer covers (truncation) stops the transfer:
//! what came before is delivered, and with nothing delivered the result is `ENODATA`.

#![deny(unsafe_code)]

use crate::{
    filerange::Current,
    kernel_ext::{
        bvec::BioVecs,
        net::{self, Socket},
    },
    kiovec::{Kiovec, Owner},
};
use kernel::{current, prelude::*};

/// Header bytes to send first: user memory of the caller, copied by the stack.
#[derive(Clone, Copy)]
pub(crate) struct Header {
    pub(crate) base: usize,
    pub(crate) len: usize,
}

/// What one transmit sends: an optional header, then `len` bytes of the kiovec from `start`.
#[derive(Clone, Copy)]
pub(crate) struct Message {
    pub(crate) header: Option<Header>,
    pub(crate) start: u64,
    pub(crate) len: u64,
}

impl Message {
    /// The whole kiovec, no header.
    pub(crate) fn whole(kv: &Kiovec) -> Self {
        Self {
            header: None,
            start: 0,
            len: kv.len(),
        }
    }
}

/// Tracks which file ranges a transfer has checked, so that each is checked once per call.
struct Verified {
    last: Option<u32>,
}

impl Verified {
    fn check(&mut self, owner: &Owner, index: u32) -> Result {
        if let Owner::File(f) = owner {
            if self.last != Some(index) {
                f.verify()?;
                self.last = Some(index);
            }
        }
        Ok(())
    }
}

/// Sends `msg` from its byte `offset` on (header bytes first) to `sock`; returns how many
/// bytes were sent. `flags` are `MSG_*` (`MSG_DONTWAIT`, `MSG_NOSIGNAL`).
///
/// Like `send(2)`: a short count when the socket takes less (non-blocking) or a signal
/// comes; an error only when nothing was sent. `MSG_MORE` is set on every send but the last,
/// so that TCP packs the header with the body, as `sendfile` keeps `SPLICE_F_MORE`.
pub(crate) fn transmit(
    kv: &Kiovec,
    sock: &Socket<'_>,
    msg: &Message,
    offset: u64,
    flags: u32,
) -> Result<usize> {
    let body_start = msg.start.min(kv.len());
    let body_len = msg.len.min(kv.len() - body_start);
    let hdr_len = msg.header.map_or(0, |h| h.len) as u64;
    let mut sent = 0usize;
    let mut body_off = offset.saturating_sub(hdr_len);
    if let Some(h) = msg.header {
        if offset < hdr_len {
            let skip = offset as usize;
            let more = if body_len > 0 { net::flags::MORE } else { 0 };
            let n = sock.send_user(h.base + skip, h.len - skip, flags | more)?;
            sent = n;
            if n < h.len - skip || body_len == 0 {
                return Ok(sent);
            }
            body_off = 0;
        }
    }
    if body_off >= body_len {
        return Ok(sent);
    }
    match send_body(kv, sock, body_start + body_off, body_len - body_off, flags) {
        Ok(n) => Ok(sent + n),
        Err(_) if sent > 0 => Ok(sent),
        Err(e) => Err(e),
    }
}

/// Sends `len > 0` bytes of the kiovec from `from` on, by page reference.
fn send_body(kv: &Kiovec, sock: &Socket<'_>, from: u64, len: u64, flags: u32) -> Result<usize> {
    let mut verified = Verified { last: None };
    let mut pieces = kv.pieces(from, len).peekable();
    let mut sent = 0usize;
    // Sends one batch: Ok(true) to go on, Ok(false) when the socket took less than offered.
    let send = |batch: &BioVecs<'_>, last: bool, sent: &mut usize| -> Result<bool> {
        let f = if last {
            flags
        } else {
            flags | net::flags::MORE
        };
        match sock.send_pages(batch, f) {
            Ok(n) => {
                *sent += n;
                Ok(n == batch.bytes() && !current!().signal_pending())
            }
            Err(e) if *sent == 0 => Err(e),
            Err(_) => Ok(false),
        }
    };
    loop {
        let mut batch = BioVecs::new();
        let mut detour = None;
        let mut stop = None;
        while !batch.is_full() {
            let Some(p) = pieces.peek() else { break };
            if let Err(e) = verified.check(p.owner, p.owner_index) {
                stop = Some(e);
                break;
            }
            match p.push_to(&mut batch)? {
                None => {}
                Some(fp) => {
                    // Looked up below, with the batch so far sent first.
                    detour = Some(fp);
                    pieces.next();
                    break;
                }
            }
            pieces.next();
        }
        let at_end = pieces.peek().is_none() && detour.is_none();
        if batch.bytes() > 0 && !send(&batch, at_end || stop.is_some(), &mut sent)? {
            return Ok(sent);
        }
        if let Some(e) = stop {
            return if sent == 0 { Err(e) } else { Ok(sent) };
        }
        if let Some(fp) = detour {
            let last = pieces.peek().is_none();
            let page;
            let mut one = BioVecs::new();
            match fp.current() {
                Ok(Current::Page(p)) => {
                    page = p;
                    one.push_cached(&page, fp.offset, fp.len)?;
                }
                Ok(Current::Zero) => one.push_zero(fp.offset, fp.len)?,
                // Truncated below this piece: what came before is all there is.
                Err(e) => return if sent == 0 { Err(e) } else { Ok(sent) },
            }
            if !send(&one, last, &mut sent)? {
                return Ok(sent);
            }
        }
        if pieces.peek().is_none() {
            return Ok(sent);
        }
    }
}

/// Copies up to `len` bytes from kiovec offset `offset` to the user address `to`; returns
/// how many were copied (fewer at the end, 0 past it). A fault after some bytes gives a
/// short count; with none, `EFAULT`. File bytes are checked as for a transmit.
pub(crate) fn copy_out(kv: &Kiovec, offset: u64, to: usize, len: usize) -> Result<usize> {
    let mut done = 0usize;
    let mut verified = Verified { last: None };
    for p in kv.pieces(offset, len as u64) {
        let dst = to.checked_add(done).ok_or(EFAULT)?;
        let r = verified
            .check(p.owner, p.owner_index)
            .and_then(|()| p.copy_to_user(dst));
        match r {
            Ok(()) => done += p.len,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}
