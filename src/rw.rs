// SPDX-License-Identifier: GPL-2.0

//! rw_kiovec: a range of a kiovec read from or written to a regular file, a block device or
//! a socket, in one operation.
//!
//! Files and block devices go through their own `read_iter`/`write_iter` with a kiocb over a
//! bvec iterator (what io_uring does with registered buffers: no pinning per call), so the
//! VFS's checks, `O_DIRECT`, alignment rules and completions are the file's own. Sockets get
//! what a transmit sends, or a receive into the pages. A read may only write memory that is
//! the caller's to change (user memory pinned for writing, pages reserved for I/O): never a
//! page cache (the Dirty Pipe lesson) nor bytes `write()` appended.

#![deny(unsafe_code)]

use crate::{
    filerange::Current,
    kernel_ext::{
        bvec::{BioVecs, OwnedBioVecs},
        fs::File,
        net::{self, Socket},
        rw::{self, Completion, FileType},
    },
    kiovec::{Kiovec, Owner},
    limits,
    send::{self, Message},
};
use kernel::{alloc::KVVec, prelude::*, sync::Arc};

/// Which way the bytes go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// From the target into the kiovec.
    Read,
    /// From the kiovec to the target.
    Write,
}

/// What to move: `len` bytes of the kiovec from `offset` on, `dir`, at byte `pos` of the
/// target; `nonblock` makes a socket operation non-blocking.
#[derive(Clone, Copy)]
pub(crate) struct Request {
    pub(crate) dir: Dir,
    pub(crate) pos: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) nonblock: bool,
}

/// The bio_vecs of a range of a kiovec and what keeps their pages alive.
type FileVecs = OwnedBioVecs<(Arc<Kiovec>, KVVec<(usize, Current)>)>;

/// Moves `req.len` bytes of `kv` from `req.offset` on (clamped to its end) to or from `file`
/// at `req.pos`.
///
/// Without `done`, synchronous: returns the bytes moved. With it, returns `EIOCBQUEUED`, and
/// `done` gets the result exactly once, possibly before this returns, possibly in interrupt
/// context; errors found before anything started are returned instead, and `done` is dropped
/// uncalled.
pub(crate) fn rw_kiovec(
    kv: &Arc<Kiovec>,
    file: &File,
    req: Request,
    done: Option<Completion>,
) -> Result<isize> {
    let Request {
        dir,
        pos,
        offset,
        len,
        nonblock,
    } = req;
    let start = offset.min(kv.len());
    let len = len.min(kv.len() - start).min(limits::MAX_RW_COUNT as u64);
    if dir == Dir::Read && !kv.is_writable(start, len) {
        return Err(EINVAL);
    }
    if let Ok(sock) = Socket::from_file(file) {
        let r = rw_socket(kv, dir, &sock, start, len, nonblock);
        return finish(r, done);
    }
    if rw::file_type(file) == FileType::Other {
        return Err(EINVAL);
    }
    // The ABI's EBADF for a file not open for the direction asked: the VFS checks the mode
    // only after it looked for read_iter/write_iter, so /proc files would get EINVAL.
    let open_for = match dir {
        Dir::Read => file.is_readable(),
        Dir::Write => file.is_writable(),
    };
    if !open_for {
        return Err(EBADF);
    }
    let pos = i64::try_from(pos).map_err(|_| EINVAL)?;
    if len == 0 {
        return finish(Ok(0), done);
    }
    // The common synchronous case (a few pages, a page cache that needs no second look):
    // one walk, a batch on the stack, a kiocb on the stack, nothing allocated.
    if done.is_none() {
        if let Some(r) = rw_file_small(kv, dir, file, pos, start, len) {
            return r;
        }
    }
    let vecs = file_vecs(kv, start, len)?;
    if dir == Dir::Read {
        for p in kv.pieces(start, len) {
            p.owner.set_written();
        }
    }
    rw::rw_file(file, dir == Dir::Write, pos, vecs, done)
}

/// A synchronous read or write of a range that fits an inline batch; `None` when it does
/// not (too many pieces, or a file page to look up again), for the general path to do it.
fn rw_file_small(
    kv: &Kiovec,
    dir: Dir,
    file: &File,
    pos: i64,
    start: u64,
    len: u64,
) -> Option<Result<isize>> {
    let mut batch = BioVecs::new();
    let mut last_file = None;
    for p in kv.pieces(start, len) {
        if batch.is_full() {
            return None;
        }
        if let Owner::File(f) = p.owner {
            if last_file != Some(p.owner_index) {
                if let Err(e) = f.verify() {
                    return Some(Err(e));
                }
                last_file = Some(p.owner_index);
            }
        }
        match p.push_to(&mut batch) {
            Ok(None) => {}
            Ok(Some(_)) => return None,
            Err(e) => return Some(Err(e)),
        }
        if dir == Dir::Read {
            p.owner.set_written();
        }
    }
    Some(rw::rw_file_sync(file, dir == Dir::Write, pos, &batch))
}

/// Hands a synchronous result to `done`, if there is one.
fn finish(r: Result<isize>, done: Option<Completion>) -> Result<isize> {
    match done {
        None => r,
        Some(c) => {
            c.complete(r);
            Err(EIOCBQUEUED)
        }
    }
}

/// The bio_vecs of a range, owning what keeps their pages alive: the kiovec, and the file
/// pages looked up again because they left the page cache.
fn file_vecs(kv: &Arc<Kiovec>, start: u64, len: u64) -> Result<FileVecs> {
    let mut extra = KVVec::new();
    let mut nr = 0usize;
    let mut last_file = None;
    for (i, p) in kv.pieces(start, len).enumerate() {
        nr += 1;
        if let Owner::File(f) = p.owner {
            // A write of file bytes is a read of that file: checked as sendfile checks it.
            if last_file != Some(p.owner_index) {
                f.verify()?;
                last_file = Some(p.owner_index);
            }
            if f.needs_lookup(p.page, p.offset, p.len)? {
                let again = f.push_to(&mut BioVecs::new(), p.page, p.offset, p.len)?;
                if let Some(fp) = again {
                    extra.push((i, fp.current()?), GFP_KERNEL_ACCOUNT)?;
                }
            }
        }
    }
    OwnedBioVecs::build((kv.clone(), extra), nr, |keep, batch| {
        let (kv, extra) = (&keep.0, &keep.1);
        let mut next = extra.iter().peekable();
        for (i, p) in kv.pieces(start, len).enumerate() {
            if let Some((_, cur)) = next.next_if(|(j, _)| *j == i) {
                match cur {
                    Current::Page(page) => batch.push_cached(page, p.offset, p.len)?,
                    Current::Zero => batch.push_zero(p.offset, p.len)?,
                }
                continue;
            }
            // A page invalidated between the two walks: the caller may try again.
            if p.push_to(batch)?.is_some() {
                return Err(EAGAIN);
            }
        }
        Ok(())
    })
}

/// Sends the range to `sock` (what a transmit does), or receives into it.
fn rw_socket(
    kv: &Kiovec,
    dir: Dir,
    sock: &Socket<'_>,
    start: u64,
    len: u64,
    nonblock: bool,
) -> Result<isize> {
    if len == 0 {
        return Ok(0);
    }
    let mut flags = net::flags::NOSIGNAL;
    if nonblock {
        flags |= net::flags::DONTWAIT;
    }
    if dir == Dir::Write {
        let msg = Message {
            header: None,
            start,
            len,
        };
        return Ok(send::transmit(kv, sock, &msg, 0, flags)? as isize);
    }
    for p in kv.pieces(start, len) {
        p.owner.set_written();
    }
    // Like recv(2): what the first receive gives (blocking until some bytes come, unless
    // non-blocking); then more only while it fills whole batches and more is there now.
    let mut got = 0usize;
    let mut pieces = kv.pieces(start, len).peekable();
    let mut rflags = if nonblock { net::flags::DONTWAIT } else { 0 };
    while pieces.peek().is_some() {
        let mut batch = BioVecs::new();
        while !batch.is_full() {
            let Some(p) = pieces.next() else { break };
            if p.push_to(&mut batch)?.is_some() {
                return Err(EINVAL);
            }
        }
        match sock.recv_pages(&batch, rflags) {
            Ok(n) => {
                got += n;
                if n < batch.bytes() {
                    break;
                }
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        rflags = net::flags::DONTWAIT;
    }
    Ok(got as isize)
}
