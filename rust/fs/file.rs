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

    /// Whether the file was opened for reading (`FMODE_READ`; never for `O_PATH`).
    pub(crate) fn is_readable(&self) -> bool {
        // SAFETY: The file is valid; `f_mode` is set at open and does not change after.
        let mode = unsafe { (*self.as_ptr()).f_mode };
        mode & bindings::FMODE_READ != 0
    }

    /// Whether the file was opened for writing (`FMODE_WRITE`).
    pub(crate) fn is_writable(&self) -> bool {
        // SAFETY: The file is valid; `f_mode` is set at open and does not change after.
        let mode = unsafe { (*self.as_ptr()).f_mode };
        mode & bindings::FMODE_WRITE != 0
    }

    /// Whether the file may be read at an offset (`FMODE_PREAD`), as `pread(2)` and
    /// `sendfile` with an offset need.
    pub(crate) fn can_pread(&self) -> bool {
        // SAFETY: As in `is_writable`.
        let mode = unsafe { (*self.as_ptr()).f_mode };
        mode & bindings::FMODE_PREAD != 0
    }

    /// Checks a read of `len` bytes at `pos` the way `sendfile` does before it reads
    /// (`rw_verify_area`): offsets, the LSM's `file_permission` hook and fanotify permission
    /// events, which may refuse it (`EPERM`, `EACCES`) or wait for a listener. Sleeps.
    pub(crate) fn verify_read(&self, pos: u64, len: usize) -> Result {
        let pos = i64::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: The file is valid; `rw_verify_area` takes no reference and may sleep, which
        // the caller allows (process context).
        let ret = unsafe { bindings::kiovec_helper_verify_read(self.as_ptr(), pos, len) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Leaves what a `read(2)` leaves: an access event for inotify/fanotify and the atime.
    pub(crate) fn accessed(&self) {
        // SAFETY: The file is valid; process context (the caller's syscall).
        unsafe { bindings::kiovec_helper_file_accessed(self.as_ptr()) };
    }

    /// Whether the file is a regular file.
    pub(crate) fn is_regular(&self) -> bool {
        // SAFETY: The file is valid, and so is its inode while the file is; `i_mode`'s type
        // bits never change.
        let mode = unsafe { (*(*self.as_ptr()).f_inode).i_mode } as u32;
        mode & bindings::S_IFMT == bindings::S_IFREG
    }

    /// The file's size now (`i_size_read`): it may change at any time.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: The file is valid, and so is its inode while the file is.
        let size = unsafe { bindings::kiovec_helper_i_size_read((*self.as_ptr()).f_inode) };
        size.max(0) as u64
    }

    /// The file's page cache.
    pub(crate) fn mapping(&self) -> *mut bindings::address_space {
        // SAFETY: The file is valid; `f_mapping` is set at open.
        unsafe { (*self.as_ptr()).f_mapping }
    }

    /// Returns a raw pointer to the inner C struct.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.inner.get()
    }
}
