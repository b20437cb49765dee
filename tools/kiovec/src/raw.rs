//! The ioctl calls, each as a rustix [`Ioctl`]: rustix's patterns where they fit (`Getter`,
//! `Updater`, `NoArg`) and [`Counted`] for the calls whose return value is a count.

use core::ffi::c_void;
use core::marker::PhantomData;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

use rustix::ioctl::{ioctl, Getter, Ioctl, IoctlOutput, NoArg, Opcode, Updater};

use crate::sys::*;

/// An ioctl that takes a pointer to `T` and returns a non-negative count (COPY_OUT,
/// TRANSMIT, TRANSMIT_BATCH).
///
/// # Invariants
///
/// `OPCODE` is a kiovec ioctl whose argument is a `T` and whose return value is a count;
/// `arg` stays valid for the call.
struct Counted<'a, const OPCODE: Opcode, T> {
    arg: *mut T,
    _arg: PhantomData<&'a mut T>,
}

impl<'a, const OPCODE: Opcode, T> Counted<'a, OPCODE, T> {
    /// # Safety
    ///
    /// `OPCODE` takes a `T` and returns a count, and every user pointer inside `arg` is valid
    /// for what the ioctl does with it for the duration of the call.
    unsafe fn new(arg: &'a mut T) -> Self {
        Self { arg, _arg: PhantomData }
    }
}

// SAFETY: By the type invariants the opcode takes a pointer to `T` and the kernel may write
// through the pointers inside it (IS_MUTATING); the output is the syscall's return value.
unsafe impl<const OPCODE: Opcode, T> Ioctl for Counted<'_, OPCODE, T> {
    type Output = usize;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        OPCODE
    }

    fn as_ptr(&mut self) -> *mut c_void {
        self.arg.cast()
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> rustix::io::Result<usize> {
        // rustix turned negative returns into errors already.
        Ok(out as usize)
    }
}

/// An ioctl without argument (0) that returns a new file descriptor.
///
/// # Invariants
///
/// `OPCODE` takes no argument and, on success, returns a new descriptor the caller owns.
struct NewFd<const OPCODE: Opcode>;

// SAFETY: By the type invariants the opcode reads and writes no user memory.
unsafe impl<const OPCODE: Opcode> Ioctl for NewFd<OPCODE> {
    type Output = OwnedFd;
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> Opcode {
        OPCODE
    }

    fn as_ptr(&mut self) -> *mut c_void {
        core::ptr::null_mut()
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> rustix::io::Result<OwnedFd> {
        // SAFETY: By the type invariants a successful call returned a new descriptor that
        // nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(out) })
    }
}

/// A read-only descriptor of the same container (KIOVEC_IOC_RO_FD).
pub(crate) fn ro_fd(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: KIOVEC_IOC_RO_FD takes 0 and returns a new descriptor (NewFd's invariant).
    Ok(unsafe { ioctl(fd, NewFd::<KIOVEC_IOC_RO_FD>) }?)
}

pub(crate) fn info(fd: BorrowedFd<'_>) -> io::Result<kiovec_info> {
    // SAFETY: KIOVEC_IOC_INFO writes one struct kiovec_info (layout checked in sys.rs).
    Ok(unsafe { ioctl(fd, Getter::<KIOVEC_IOC_INFO, kiovec_info>::new()) }?)
}

pub(crate) fn stat(fd: BorrowedFd<'_>) -> io::Result<kiovec_stat> {
    // SAFETY: KIOVEC_IOC_STAT writes one struct kiovec_stat.
    Ok(unsafe { ioctl(fd, Getter::<KIOVEC_IOC_STAT, kiovec_stat>::new()) }?)
}

pub(crate) fn reset(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: KIOVEC_IOC_RESET takes no argument (0).
    Ok(unsafe { ioctl(fd, NoArg::<KIOVEC_IOC_RESET>::new()) }?)
}

/// # Safety
///
/// `arg.iov` points at `arg.iovcnt` readable `kiovec_iovec`s, and the caller takes
/// responsibility for the memory they describe staying as documented at
/// [`Container::add_user_raw`](crate::Container::add_user_raw).
pub(crate) unsafe fn add_user(fd: BorrowedFd<'_>, arg: &mut kiovec_add_user) -> io::Result<()> {
    // SAFETY: KIOVEC_IOC_ADD_USER reads and writes one struct kiovec_add_user; the iovec array
    // is the caller's contract.
    Ok(unsafe { ioctl(fd, Updater::<KIOVEC_IOC_ADD_USER, kiovec_add_user>::new(arg)) }?)
}

pub(crate) fn add_file(fd: BorrowedFd<'_>, arg: &mut kiovec_add_file) -> io::Result<()> {
    // SAFETY: KIOVEC_IOC_ADD_FILE reads and writes one struct kiovec_add_file, which holds no
    // pointer.
    Ok(unsafe { ioctl(fd, Updater::<KIOVEC_IOC_ADD_FILE, kiovec_add_file>::new(arg)) }?)
}

/// Copies container bytes from `offset` into `buf`.
pub(crate) fn copy_out(fd: BorrowedFd<'_>, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut arg = kiovec_copy_out {
        offset,
        buf: buf.as_mut_ptr() as u64,
        len: buf.len() as u64,
        ..Default::default()
    };
    // SAFETY: KIOVEC_IOC_COPY_OUT takes a struct kiovec_copy_out and writes at most `len`
    // bytes to `buf`, which is an exclusively borrowed slice of that length.
    Ok(unsafe { ioctl(fd, Counted::<KIOVEC_IOC_COPY_OUT, _>::new(&mut arg)) }?)
}

/// One KIOVEC_IOC_TRANSMIT; `arg.hdr` and `arg.range` are filled from `hdr` and `range`.
pub(crate) fn transmit(
    fd: BorrowedFd<'_>,
    mut arg: kiovec_transmit,
    hdr: Option<&kiovec_iovec>,
    range: Option<&kiovec_range>,
) -> io::Result<usize> {
    arg.hdr = hdr.map_or(0, |h| h as *const kiovec_iovec as u64);
    arg.range = range.map_or(0, |r| r as *const kiovec_range as u64);
    // SAFETY: KIOVEC_IOC_TRANSMIT reads a struct kiovec_transmit, the kiovec_iovec and
    // kiovec_range it points at (borrowed for the call) and the header bytes `hdr` describes
    // (the callers build it from a borrowed slice).
    Ok(unsafe { ioctl(fd, Counted::<KIOVEC_IOC_TRANSMIT, _>::new(&mut arg)) }?)
}

/// One KIOVEC_IOC_TRANSMIT_BATCH over `targets`.
pub(crate) fn transmit_batch(
    fd: BorrowedFd<'_>,
    targets: &mut [kiovec_target],
    flags: u32,
    hdr: Option<&kiovec_iovec>,
    range: Option<&kiovec_range>,
) -> io::Result<usize> {
    let mut arg = kiovec_transmit_batch {
        targets: targets.as_mut_ptr() as u64,
        count: u32::try_from(targets.len()).map_err(|_| crate::einval())?,
        flags,
        hdr: hdr.map_or(0, |h| h as *const kiovec_iovec as u64),
        range: range.map_or(0, |r| r as *const kiovec_range as u64),
    };
    // SAFETY: KIOVEC_IOC_TRANSMIT_BATCH reads the struct and the `count` targets (an
    // exclusively borrowed slice), writes each target's result, and reads the header and
    // range as TRANSMIT does.
    Ok(unsafe { ioctl(fd, Counted::<KIOVEC_IOC_TRANSMIT_BATCH, _>::new(&mut arg)) }?)
}
