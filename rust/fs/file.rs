// SPDX-License-Identifier: GPL-2.0

//! Files and file descriptors.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h) and
//! [`include/linux/file.h`](srctree/include/linux/file.h). Mirrors upstream `kernel::fs::file`.

use crate::kernel_ext::bindings;
use core::ptr;
use kernel::{
    prelude::*,
    types::{ARef, AlwaysRefCounted, Opaque},
};

/// Wraps the kernel's `struct file`.
///
/// # Invariants
///
/// Instances of this type are always refcounted, that is, a call to `get_file` ensures that the
/// allocation remains valid at least until the matching call to `fput`.
#[repr(transparent)]
pub(crate) struct File {
    inner: Opaque<bindings::file>,
}

// SAFETY: `struct file` may be used from any thread; every method here is thread safe and the
// refcount is atomic.
unsafe impl Send for File {}
// SAFETY: As above: all methods take `&self` and are safe to call concurrently.
unsafe impl Sync for File {}

// SAFETY: The type invariants guarantee that `File` is always refcounted.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference means that the refcount is nonzero.
        unsafe { bindings::kiovec_helper_get_file(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: ptr::NonNull<File>) {
        // SAFETY: The caller gives up its reference, which it owns by this function's contract;
        // `File` is `repr(transparent)` over `struct file`.
        unsafe { bindings::fput(obj.cast().as_ptr()) };
    }
}

impl File {
    /// Creates a reference to a [`File`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` points at a valid file and that the file's refcount is
    /// positive for the duration of `'a`.
    pub(crate) unsafe fn from_raw_file<'a>(ptr: *const bindings::file) -> &'a File {
        // SAFETY: The caller guarantees that the pointer is not dangling and stays valid for the
        // duration of 'a. The cast is okay because `File` is `repr(transparent)`.
        unsafe { &*ptr.cast() }
    }

    /// Looks `fd` up in the current task's file table and takes a reference on the file:
    /// `EBADF` if there is none (`O_PATH` files do not count, as for `read(2)`).
    pub(crate) fn fget(fd: u32) -> Result<ARef<File>> {
        // SAFETY: No preconditions; returns a new reference, or null.
        let ptr = ptr::NonNull::new(unsafe { bindings::fget(fd) }).ok_or(EBADF)?;
        // SAFETY: We own the reference `fget` took; `File` is `repr(transparent)` over
        // `struct file`.
        Ok(unsafe { ARef::from_raw(ptr.cast()) })
    }

    /// Returns the flags the file was opened with (`O_*`), as `fcntl(F_GETFL)` shows them.
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: The file is valid because the shared reference guarantees a nonzero refcount.
        // `f_flags` may change under `fcntl(F_SETFL)`: read it once, as C's READ_ONCE does.
        unsafe { core::ptr::addr_of!((*self.as_ptr()).f_flags).read_volatile() }
    }

    /// Returns a raw pointer to the inner C struct.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.inner.get()
    }
}
