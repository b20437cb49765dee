// SPDX-License-Identifier: GPL-2.0

//! Sockets.
//!
//! C headers: [`include/linux/net.h`](srctree/include/linux/net.h),
//! [`include/net/sock.h`](srctree/include/net/sock.h).
//!
//! Pages go to a socket the way `splice_to_socket` (and so `sendfile`) sends them:
//! `sock_sendmsg` with `MSG_SPLICE_PAGES` over a `bio_vec` iterator. The stack takes its own
//! page references (`skb_append_pagefrags`) and holds them until the data is acknowledged;
//! no completion calls back into this module, so skbs that outlive it are harmless.

use crate::kernel_ext::{bindings, bvec::BioVecs, fs::File};
use core::{marker::PhantomData, mem::MaybeUninit, ptr::NonNull};
use kernel::prelude::*;

/// Message flags for [`Socket::send_pages`].
pub(crate) mod flags {
    use super::bindings;

    /// Don't block (`MSG_DONTWAIT`).
    pub(crate) const DONTWAIT: u32 = bindings::MSG_DONTWAIT;
    /// More data follows (`MSG_MORE`): let TCP fill segments across calls.
    pub(crate) const MORE: u32 = bindings::MSG_MORE;
    /// No `SIGPIPE` on a broken connection (`MSG_NOSIGNAL`).
    pub(crate) const NOSIGNAL: u32 = bindings::MSG_NOSIGNAL;
}

/// The socket behind an open file.
///
/// # Invariants
///
/// `sock` is the `struct socket` of a socket file borrowed for `'a`, which keeps it alive.
pub(crate) struct Socket<'a> {
    sock: NonNull<bindings::socket>,
    _file: PhantomData<&'a File>,
}

impl<'a> Socket<'a> {
    /// The socket of `file`, or `ENOTSOCK`.
    pub(crate) fn from_file(file: &'a File) -> Result<Self> {
        // SAFETY: `file` is a valid file; `sock_from_file` only reads it and takes no reference.
        let sock = unsafe { bindings::sock_from_file(file.as_ptr()) };
        // INVARIANT: A socket file's socket lives as long as the file.
        Ok(Self {
            sock: NonNull::new(sock).ok_or_else(crate::kernel_ext::error::code::enotsock)?,
            _file: PhantomData,
        })
    }

    /// Whether this is a TCP socket (IPv4 or IPv6).
    pub(crate) fn is_tcp(&self) -> bool {
        // SAFETY: `sock` is valid for 'a (type invariant).
        unsafe { bindings::kiovec_helper_sock_is_tcp(self.sock.as_ptr()) }
    }

    /// Sends the batch's pages by reference; returns how many bytes the stack took, which
    /// may be fewer than the batch holds (non-blocking, signal). `MSG_SPLICE_PAGES` is added.
    pub(crate) fn send_pages(&self, batch: &BioVecs<'_>, flags: u32) -> Result<usize> {
        // SAFETY: All zeros is a valid `msghdr`: no address, no control data, no iocb/ubuf.
        let mut msg: bindings::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
        let vecs = batch.as_slice();
        // SAFETY: `msg_iter` is valid for writes. The iterator points at `vecs`, which outlives
        // `msg` (both live until the end of this function); every entry is a range within a
        // page kept alive by an owner the batch borrows (its type invariant).
        unsafe {
            bindings::iov_iter_bvec(
                &mut msg.msg_iter,
                bindings::ITER_SOURCE,
                vecs.as_ptr(),
                vecs.len() as _,
                batch.bytes(),
            )
        };
        msg.msg_flags = flags | bindings::MSG_SPLICE_PAGES;
        // SAFETY: `sock` is valid (type invariant) and `msg` is a valid message over pages that
        // stay alive during the call; the stack takes its own references for what it keeps.
        let ret = unsafe { bindings::sock_sendmsg(self.sock.as_ptr(), &mut msg) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ret as usize)
    }

    /// Sends `len` bytes of the current task's memory at user address `buf`, copied by the
    /// stack as `send(2)` copies them; returns how many it took (fewer when non-blocking or on
    /// a signal). `EFAULT` for a bad `buf`.
    pub(crate) fn send_user(&self, buf: usize, len: usize, flags: u32) -> Result<usize> {
        // SAFETY: `sock` is valid (type invariant); the helper builds a user-backed iterator,
        // which checks `buf` itself, as `send(2)` does.
        let ret =
            unsafe { bindings::kiovec_helper_send_user(self.sock.as_ptr(), buf as _, len, flags) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ret as usize)
    }

    /// Receives into the batch's pages; returns how many bytes arrived (0 when the peer has
    /// closed). `flags` are `MSG_*` (`MSG_DONTWAIT` for a non-blocking receive).
    ///
    /// The pages are written by a CPU copy; the batch's owners must be pages that may be
    /// written (the caller's check: never page-cache pages).
    pub(crate) fn recv_pages(&self, batch: &BioVecs<'_>, flags: u32) -> Result<usize> {
        // SAFETY: All zeros is a valid `msghdr`: no address, no control data, no iocb/ubuf.
        let mut msg: bindings::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
        let vecs = batch.as_slice();
        // SAFETY: `msg_iter` is valid for writes; the iterator points at `vecs`, which outlives
        // `msg`, over pages the batch keeps alive; the stack writes into them by copying.
        unsafe {
            bindings::iov_iter_bvec(
                &mut msg.msg_iter,
                bindings::ITER_DEST,
                vecs.as_ptr(),
                vecs.len() as _,
                batch.bytes(),
            )
        };
        // SAFETY: `sock` is valid (type invariant); `msg` is a valid message over live pages.
        let ret = unsafe { bindings::sock_recvmsg(self.sock.as_ptr(), &mut msg, flags as _) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ret as usize)
    }
}
