// SPDX-License-Identifier: GPL-2.0

//! The in-kernel API of `include/linux/kiovec.h`, for drivers: `extern "C"` functions that
//! `rust/exports.c` exports with `EXPORT_SYMBOL_GPL` (the way the kernel's `rust/exports.c`
//! exports its own Rust code).
//!
//! A `struct kiovec *` is an `Arc<Kiovec>` turned into a raw pointer (`Arc::into_raw`): each
//! pointer a driver holds is one reference. These are the module's entry points from C, so
//! they take raw pointers; each states what it needs of them.

// Only the `extern "C"` boundary is unsafe here; the work is done by safe code.
#![allow(unsafe_code)]

use crate::{
    container::Container,
    kernel_ext::{
        bindings,
        bvec::{BioVecs, OwnedBioVecs},
        fs::File,
        miscdevice,
        rw::{Completion, DoneFn},
    },
    kiovec::Kiovec,
    rw::{rw_kiovec as do_rw, Dir, Request},
};
use core::ffi::{c_int, c_uint, c_void};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// `ERR_PTR(e)`.
fn err_ptr<T>(e: Error) -> *mut T {
    e.to_errno() as isize as *mut T
}

fn dir(d: c_int) -> Result<Dir> {
    match d as u32 {
        bindings::KIOVEC_READ => Ok(Dir::Read),
        bindings::KIOVEC_WRITE => Ok(Dir::Write),
        _ => Err(EINVAL),
    }
}

/// See `include/linux/kiovec.h`.
#[no_mangle]
pub(crate) extern "C" fn kiovec_get_fd(fd: c_int) -> *mut Kiovec {
    let get = || -> Result<Arc<Kiovec>> {
        let file = File::fget(u32::try_from(fd).map_err(|_| EBADF)?)?;
        let container = miscdevice::state::<Container>(&file).ok_or(EINVAL)?;
        Arc::new(container.snapshot(), GFP_KERNEL_ACCOUNT).map_err(Into::into)
    };
    match get() {
        Ok(kv) => Arc::into_raw(kv).cast_mut(),
        Err(e) => err_ptr(e),
    }
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `kv` is a reference the caller holds (from `kiovec_get_fd` or `kiovec_get`).
#[no_mangle]
pub(crate) unsafe extern "C" fn kiovec_get(kv: *mut Kiovec) -> *mut Kiovec {
    // SAFETY: The caller holds a reference, so the `Arc` is alive for this call.
    let b = unsafe { ArcBorrow::from_raw(kv) };
    Arc::into_raw(Arc::from(b)).cast_mut()
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `kv` is a reference the caller holds and gives up; process context.
#[no_mangle]
pub(crate) unsafe extern "C" fn kiovec_put(kv: *mut Kiovec) {
    // SAFETY: The caller gives up its reference, which came from `Arc::into_raw`.
    drop(unsafe { Arc::from_raw(kv) });
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `kv` is a reference the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn kiovec_len(kv: *const Kiovec) -> u64 {
    // SAFETY: The caller holds a reference, so the kiovec is alive for this call.
    unsafe { &*kv }.len()
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `kv` is a reference the caller holds; `bv` points to `max` writable `bio_vec`s and `bytes`
/// to a writable `size_t`.
#[no_mangle]
pub(crate) unsafe extern "C" fn kiovec_bvecs(
    kv: *const Kiovec,
    offset: u64,
    len: u64,
    bv: *mut bindings::bio_vec,
    max: c_uint,
    bytes: *mut usize,
) -> c_int {
    // SAFETY: The caller holds a reference, so the kiovec is alive for this call.
    let kv = unsafe { &*kv };
    let mut n = 0usize;
    let mut covered = 0usize;
    let mut batch = BioVecs::new();
    for p in kv.pieces(offset, len) {
        if n == max as usize {
            break;
        }
        if batch.is_full() {
            batch = BioVecs::new();
        }
        match p.push_to(&mut batch) {
            Ok(None) => {}
            Ok(Some(_)) => return crate::kernel_ext::error::code::enodata().to_errno(),
            Err(e) => return e.to_errno(),
        }
        let Some(v) = batch.as_slice().last() else {
            return EINVAL.to_errno();
        };
        // SAFETY: `n < max` and the caller gave room for `max` entries. The page lives while
        // the caller holds its reference to the kiovec, which keeps the page's owner.
        unsafe { bv.add(n).write(*v) };
        n += 1;
        covered += p.len;
    }
    // SAFETY: The caller gave a writable `size_t`.
    unsafe { bytes.write(covered) };
    n as c_int
}

/// An `iov_iter` over a kiovec range and what keeps it valid.
pub(crate) struct KiovecIter {
    iter: bindings::iov_iter,
    vecs: OwnedBioVecs<Arc<Kiovec>>,
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `kv` is a reference the caller holds.
#[no_mangle]
pub(crate) unsafe extern "C" fn kiovec_iter_new(
    kv: *mut Kiovec,
    d: c_int,
    offset: u64,
    len: u64,
) -> *mut KiovecIter {
    // SAFETY: The caller holds a reference, so the `Arc` is alive for this call.
    let kv: Arc<Kiovec> = Arc::from(unsafe { ArcBorrow::from_raw(kv) });
    let make = || -> Result<KBox<KiovecIter>> {
        let d = dir(d)?;
        let start = offset.min(kv.len());
        let len = len.min(kv.len() - start);
        if d == Dir::Read && !kv.is_writable(start, len) {
            return Err(EINVAL);
        }
        let nr = kv.pieces(start, len).count();
        let vecs = OwnedBioVecs::build(kv.clone(), nr, |kv, batch| {
            for p in kv.pieces(start, len) {
                if p.push_to(batch)?.is_some() {
                    return Err(crate::kernel_ext::error::code::enodata());
                }
            }
            Ok(())
        })?;
        if d == Dir::Read {
            for p in kv.pieces(start, len) {
                p.owner.set_written();
            }
        }
        let mut it = KBox::new(
            KiovecIter {
                // SAFETY: All zeros is a valid `iov_iter` (an empty one); it is set below.
                iter: unsafe { core::mem::zeroed() },
                vecs,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        let (ptr, n, bytes) = (
            it.vecs.as_slice().as_ptr(),
            it.vecs.as_slice().len(),
            it.vecs.bytes(),
        );
        let direction = if d == Dir::Write {
            bindings::ITER_SOURCE
        } else {
            bindings::ITER_DEST
        };
        // SAFETY: The iterator points at the boxed list's entries, which live (and do not
        // move) as long as the box; the pages are kept alive by its kiovec reference.
        unsafe { bindings::iov_iter_bvec(&mut it.iter, direction, ptr, n as _, bytes) };
        Ok(it)
    };
    match make() {
        Ok(it) => KBox::into_raw(it),
        Err(e) => err_ptr(e),
    }
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `it` comes from `kiovec_iter_new` and has not been freed.
#[no_mangle]
pub(crate) unsafe extern "C" fn kiovec_iter(it: *mut KiovecIter) -> *mut bindings::iov_iter {
    // SAFETY: By the function's contract `it` is a live `KiovecIter`.
    unsafe { core::ptr::addr_of_mut!((*it).iter) }
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `it` comes from `kiovec_iter_new` and is not used again; process context.
#[no_mangle]
pub(crate) unsafe extern "C" fn kiovec_iter_free(it: *mut KiovecIter) {
    // SAFETY: By the function's contract.
    drop(unsafe { KBox::from_raw(it) });
}

/// See `include/linux/kiovec.h`.
///
/// # Safety
///
/// `kv` is a reference the caller holds; `file` a file it holds a reference on; `done`, if
/// not NULL, may be called once with `private` from any context.
#[no_mangle]
pub(crate) unsafe extern "C" fn rw_kiovec(
    kv: *mut Kiovec,
    d: c_int,
    file: *mut bindings::file,
    pos: i64,
    offset: u64,
    len: u64,
    done: Option<DoneFn>,
    private: *mut c_void,
) -> isize {
    // SAFETY: The caller holds a reference, so the `Arc` is alive for this call.
    let kv: Arc<Kiovec> = Arc::from(unsafe { ArcBorrow::from_raw(kv) });
    // SAFETY: The caller holds a reference on the file for the call.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: The caller's contract for `done`.
    let done = done.map(|f| unsafe { Completion::new(f, private) });
    let nonblock = file.flags() & bindings::O_NONBLOCK != 0;
    let r = dir(d).and_then(|d| {
        let req = Request {
            dir: d,
            pos: u64::try_from(pos).map_err(|_| EINVAL)?,
            offset,
            len,
            nonblock,
        };
        do_rw(&kv, file, req, done)
    });
    match r {
        Ok(n) => n,
        Err(e) => e.to_errno() as isize,
    }
}
