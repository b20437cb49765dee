// SPDX-License-Identifier: GPL-2.0

//! Reads and writes through a file's `read_iter`/`write_iter` over page ranges, synchronous
//! or asynchronous (the request engine is in `helpers/rw.c`).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h) (`struct kiocb`,
//! `vfs_iocb_iter_read`/`vfs_iocb_iter_write`).

use crate::kernel_ext::{
    bindings,
    bvec::{BioVecs, OwnedBioVecs},
    fs::File,
};
use core::ffi::c_void;
use kernel::prelude::*;

/// What a file is, for rw.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileType {
    Regular,
    Block,
    Other,
}

/// Whether `file` is a regular file, a block device or something else.
pub(crate) fn file_type(file: &File) -> FileType {
    // SAFETY: `file` is valid; the helper reads its inode's mode.
    match unsafe { bindings::kiovec_helper_file_type(file.as_ptr()) } {
        1 => FileType::Regular,
        2 => FileType::Block,
        _ => FileType::Other,
    }
}

/// A completion callback of a driver: called once with the result (bytes or -errno), in
/// any context.
pub(crate) type DoneFn = unsafe extern "C" fn(private: *mut c_void, result: isize);

/// A driver's completion: its callback and its private pointer, to be called exactly once.
///
/// # Invariants
///
/// `done(private, result)` may be called once, in any context (the driver's contract).
pub(crate) struct Completion {
    done: DoneFn,
    private: *mut c_void,
}

// SAFETY: The driver's contract allows the callback from any context, so from any thread.
unsafe impl Send for Completion {}

impl Completion {
    /// A completion from a driver's callback and private pointer.
    ///
    /// # Safety
    ///
    /// `done(private, result)` must be safe to call once, from any context.
    pub(crate) unsafe fn new(done: DoneFn, private: *mut c_void) -> Self {
        // INVARIANT: By the function's contract.
        Self { done, private }
    }

    /// Calls the callback with `result` (bytes, or a negative errno).
    pub(crate) fn complete(self, result: Result<isize>) {
        let value = match result {
            Ok(n) => n,
            Err(e) => e.to_errno() as isize,
        };
        // SAFETY: Called once (`self` is consumed), which the type invariant allows.
        unsafe { (self.done)(self.private, value) };
    }
}

/// Drops the owner of an asynchronous request's pages, from the request's work item.
///
/// # Safety
///
/// `owner` comes from `KBox::into_raw` of a `KBox<OwnedBioVecs<K>>` and is not used again.
unsafe extern "C" fn release<K>(owner: *mut c_void) {
    // SAFETY: By the function's contract.
    drop(unsafe { KBox::from_raw(owner.cast::<OwnedBioVecs<K>>()) });
}

/// Reads (`write` false) or writes `vecs` at byte `pos` of `file` through its
/// `read_iter`/`write_iter`, with the VFS's checks (`FMODE_*`, `rw_verify_area`,
/// freeze protection, fsnotify).
///
/// Without `done`: synchronous, returns the bytes moved. With `done`: returns
/// `EIOCBQUEUED` and calls `done(private, result)` exactly once, possibly before returning,
/// possibly in interrupt context; `vecs` is dropped afterwards in process context.
pub(crate) fn rw_file<K: Send + Sync>(
    file: &File,
    write: bool,
    pos: i64,
    vecs: OwnedBioVecs<K>,
    done: Option<Completion>,
) -> Result<isize> {
    let owner = KBox::new(vecs, GFP_KERNEL_ACCOUNT)?;
    let (bv, nr, bytes) = (
        owner.as_slice().as_ptr(),
        owner.as_slice().len(),
        owner.bytes(),
    );
    let owner = KBox::into_raw(owner);
    let (done, private) = match done {
        Some(c) => (Some(c.done), c.private),
        None => (None, core::ptr::null_mut()),
    };
    // SAFETY: `file` is valid (the helper takes its own reference); `bv[..nr]` are ranges of
    // pages kept alive by `*owner` (the invariant of `OwnedBioVecs`), which the helper
    // releases through `release::<K>` exactly once, after the I/O is over; `done` is called
    // once with `private`, which the `Completion` allows.
    let ret = unsafe {
        bindings::kiovec_helper_rw_file(
            file.as_ptr(),
            write,
            pos,
            bv,
            nr as _,
            bytes,
            done,
            private,
            Some(release::<K>),
            owner.cast(),
        )
    };
    if ret < 0 {
        return Err(Error::from_errno(ret as i32));
    }
    Ok(ret)
}

/// Reads (`write` false) or writes the pages of `batch` at byte `pos` of `file`,
/// synchronously, with the same checks as [`rw_file`]; returns the bytes moved.
pub(crate) fn rw_file_sync(
    file: &File,
    write: bool,
    pos: i64,
    batch: &BioVecs<'_>,
) -> Result<isize> {
    let vecs = batch.as_slice();
    // SAFETY: `file` is valid for the call; `vecs` are ranges of pages the batch's owners keep
    // alive for the whole call, which does not return before the I/O is over (a synchronous
    // kiocb).
    let ret = unsafe {
        bindings::kiovec_helper_rw_file_sync(
            file.as_ptr(),
            write,
            pos,
            vecs.as_ptr(),
            vecs.len() as _,
            batch.bytes(),
        )
    };
    if ret < 0 {
        return Err(Error::from_errno(ret as i32));
    }
    Ok(ret)
}
