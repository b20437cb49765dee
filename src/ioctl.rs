// SPDX-License-Identifier: GPL-2.0

//! The file operations of `/dev/kiovec`: open makes a container, ioctl and write act on it.
//!
//! ioctl handlers validate in a fixed order (flags, reserved fields, alignment, overflow,
//! limits) before they act, and copy each user struct exactly once.

#![deny(unsafe_code)]

use crate::{
    container::{Container, UserRange},
    kernel_ext::{
        bindings,
        error::code,
        fs::File,
        miscdevice::MiscDevice,
        net::{self, Socket},
        uapi,
    },
    limits,
};
use core::mem::size_of;
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    uaccess::{UserSlice, UserSliceReader},
};

/// Writes `value` to the user address `arg`.
fn put_user<T: kernel::types::AsBytes>(arg: usize, value: &T) -> Result<isize> {
    UserSlice::new(arg, size_of::<T>()).writer().write(value)?;
    Ok(0)
}

/// `KIOVEC_IOC_ADD_USER`: pins the caller's iovecs into the container.
fn add_user(container: &Container, arg: usize) -> Result<isize> {
    let size = size_of::<uapi::kiovec_add_user>();
    let mut req: uapi::kiovec_add_user = UserSlice::new(arg, size).reader().read()?;
    if req.flags & !uapi::KIOVEC_ADD_FLAGS != 0 || req.reserved != [0; 2] {
        return Err(EINVAL);
    }
    // All or nothing: a struct we could not write the results into fails before any pin.
    UserSlice::new(arg, size).writer().write(&req)?;
    if req.iovcnt == 0 || req.iovcnt > limits::MAX_IOVECS {
        return Err(EINVAL);
    }
    let count = req.iovcnt as usize;
    let iov_base = usize::try_from(req.iov).map_err(|_| EFAULT)?;
    // Each iovec is read exactly once, here; the pins below use these copies.
    let mut iov = UserSlice::new(iov_base, count * size_of::<[u64; 2]>()).reader();
    let mut ranges = KVec::with_capacity(count, GFP_KERNEL_ACCOUNT)?;
    for _ in 0..count {
        let [base, len]: [u64; 2] = iov.read()?;
        let range = check_range(base, len)?;
        ranges.push(range, GFP_KERNEL_ACCOUNT)?;
    }
    let added = container.add_user(&ranges, req.flags & uapi::KIOVEC_ADD_WRITE != 0)?;
    req.offset = added.offset;
    req.bytes = added.bytes;
    req.segments = added.segments;
    req.pinned_pages = added.pinned_pages;
    UserSlice::new(arg, size).writer().write(&req)?;
    Ok(0)
}

/// Validates one iovec: zero length is skipped whatever its base; otherwise a null base is
/// `EFAULT`, a wrapping end `EOVERFLOW` and a length past the container's capacity `E2BIG`.
fn check_range(base: u64, len: u64) -> Result<UserRange> {
    if len == 0 {
        return Ok(UserRange { base: 0, len: 0 });
    }
    if base == 0 {
        return Err(EFAULT);
    }
    base.checked_add(len).ok_or_else(code::eoverflow)?;
    if len > limits::MAX_BYTES {
        return Err(E2BIG);
    }
    Ok(UserRange {
        base: usize::try_from(base).map_err(|_| EFAULT)?,
        len: len as usize,
    })
}

/// `KIOVEC_IOC_COPY_OUT`: copies container bytes to the caller; returns the count.
fn copy_out(container: &Container, arg: usize) -> Result<isize> {
    let req: uapi::kiovec_copy_out = UserSlice::new(arg, size_of::<uapi::kiovec_copy_out>())
        .reader()
        .read()?;
    if req.flags != 0 || req.reserved0 != 0 || req.reserved != [0; 2] {
        return Err(EINVAL);
    }
    // No container holds more than MAX_BYTES, so the count always fits the return value.
    let len = req.len.min(limits::MAX_BYTES) as usize;
    let to = usize::try_from(req.buf).map_err(|_| EFAULT)?;
    Ok(container.copy_out(req.offset, to, len)? as isize)
}

/// `KIOVEC_IOC_ADD_FILE`: appends a range of a file's page cache.
fn add_file(container: &Container, arg: usize) -> Result<isize> {
    let size = size_of::<uapi::kiovec_add_file>();
    let mut req: uapi::kiovec_add_file = UserSlice::new(arg, size).reader().read()?;
    if req.flags != 0 || req.reserved0 != 0 || req.reserved != [0; 2] {
        return Err(EINVAL);
    }
    // All or nothing: a struct we could not write the results into fails before any read.
    UserSlice::new(arg, size).writer().write(&req)?;
    // fget refuses O_PATH files; a file not open for reading is just as bad a descriptor.
    let file = File::fget(req.fd)?;
    if !file.is_readable() {
        return Err(EBADF);
    }
    if !file.is_regular() {
        return Err(EINVAL);
    }
    let end = req
        .offset
        .checked_add(req.len)
        .ok_or_else(code::eoverflow)?;
    if req.len > limits::MAX_BYTES {
        return Err(E2BIG);
    }
    // A range past the end now is a caller's mistake, not something to clamp silently.
    if end > file.size() {
        return Err(EINVAL);
    }
    req.segments = 0;
    req.at = 0;
    if req.len > 0 {
        let added = container.add_file(file, req.offset, req.len as usize)?;
        req.at = added.offset;
        req.segments = added.segments;
    }
    UserSlice::new(arg, size).writer().write(&req)?;
    Ok(0)
}

/// `KIOVEC_IOC_TRANSMIT`: sends the container to a TCP socket; returns the bytes sent.
fn transmit(container: &Container, arg: usize) -> Result<isize> {
    let req: uapi::kiovec_transmit = UserSlice::new(arg, size_of::<uapi::kiovec_transmit>())
        .reader()
        .read()?;
    if req.flags & !uapi::KIOVEC_TX_FLAGS != 0 || req.reserved != [0; 2] {
        return Err(EINVAL);
    }
    // Nothing holds more than MAX_BYTES, so the count fits the return value.
    Ok(transmit_to(container, req.fd, req.offset, req.flags)? as isize)
}

/// Sends the container from `offset` on to the TCP socket `fd`; `flags` are `KIOVEC_TX_*`.
fn transmit_to(container: &Container, fd: u32, offset: u64, flags: u32) -> Result<usize> {
    // Our own reference: the socket stays alive even if another thread closes the fd.
    let file = File::fget(fd)?;
    let sock = Socket::from_file(&file)?;
    if !sock.is_tcp() {
        return Err(code::eopnotsupp());
    }
    let mut msg_flags = 0;
    if flags & uapi::KIOVEC_TX_NOSIGNAL != 0 {
        msg_flags |= net::flags::NOSIGNAL;
    }
    // sock_sendmsg does not look at O_NONBLOCK itself (splice_to_socket does the same).
    if flags & uapi::KIOVEC_TX_DONTWAIT != 0 || file.flags() & bindings::O_NONBLOCK != 0 {
        msg_flags |= net::flags::DONTWAIT;
    }
    container.transmit(&sock, offset, msg_flags)
}

/// `KIOVEC_IOC_TRANSMIT_BATCH`: sends the container to each target, writing each result.
fn transmit_batch(container: &Container, arg: usize) -> Result<isize> {
    let req: uapi::kiovec_transmit_batch =
        UserSlice::new(arg, size_of::<uapi::kiovec_transmit_batch>())
            .reader()
            .read()?;
    if req.flags & !uapi::KIOVEC_TX_FLAGS != 0 || req.reserved != [0; 2] {
        return Err(EINVAL);
    }
    if req.count == 0 || req.count > limits::MAX_IOVECS {
        return Err(EINVAL);
    }
    let base = usize::try_from(req.targets).map_err(|_| EFAULT)?;
    let size = size_of::<uapi::kiovec_target>();
    for i in 0..req.count as usize {
        let at = base.checked_add(i * size).ok_or(EFAULT)?;
        let target: uapi::kiovec_target = UserSlice::new(at, size).reader().read()?;
        let result = if target.reserved0 != 0 {
            Err(EINVAL)
        } else {
            transmit_to(container, target.fd, target.offset, req.flags)
        };
        let result: i64 = match result {
            Ok(n) => n as i64,
            // A batch cannot be restarted halfway: an interrupted send is EINTR.
            Err(e) if e == ERESTARTSYS => EINTR.to_errno() as i64,
            Err(e) => e.to_errno() as i64,
        };
        // Only the result is written back; the target's inputs are left as they were.
        let result_at = at + core::mem::offset_of!(uapi::kiovec_target, result);
        UserSlice::new(result_at, size_of::<i64>())
            .writer()
            .write(&result)?;
    }
    Ok(req.count as isize)
}

#[vtable]
impl MiscDevice for Container {
    type Ptr = Pin<KBox<Container>>;

    fn open(_file: &File) -> Result<Self::Ptr> {
        Container::new()
    }

    fn ioctl(container: Pin<&Container>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::KIOVEC_IOC_INFO => put_user(
                arg,
                &uapi::kiovec_info {
                    abi_version: uapi::KIOVEC_ABI_VERSION,
                    page_size: PAGE_SIZE as u32,
                    max_segments: limits::MAX_SEGMENTS,
                    max_iovecs: limits::MAX_IOVECS,
                    max_bytes: limits::MAX_BYTES,
                    features: uapi::KIOVEC_FEAT_WRITE
                        | uapi::KIOVEC_FEAT_ADD_USER
                        | uapi::KIOVEC_FEAT_COPY_OUT
                        | uapi::KIOVEC_FEAT_TRANSMIT
                        | uapi::KIOVEC_FEAT_ADD_FILE
                        | uapi::KIOVEC_FEAT_TRANSMIT_BATCH,
                    ..Default::default()
                },
            ),
            uapi::KIOVEC_IOC_STAT => {
                let s = container.stat();
                put_user(
                    arg,
                    &uapi::kiovec_stat {
                        bytes: s.bytes,
                        segments: s.segments,
                        owned_pages: s.owned_pages,
                        pinned_pages: s.pinned_pages,
                        ..Default::default()
                    },
                )
            }
            uapi::KIOVEC_IOC_RESET => {
                // No argument; insist on zero so that one can be added later.
                if arg != 0 {
                    return Err(EINVAL);
                }
                container.reset();
                Ok(0)
            }
            uapi::KIOVEC_IOC_ADD_USER => add_user(&container, arg),
            uapi::KIOVEC_IOC_COPY_OUT => copy_out(&container, arg),
            uapi::KIOVEC_IOC_TRANSMIT => transmit(&container, arg),
            uapi::KIOVEC_IOC_ADD_FILE => add_file(&container, arg),
            uapi::KIOVEC_IOC_TRANSMIT_BATCH => transmit_batch(&container, arg),
            _ => Err(ENOTTY),
        }
    }

    fn write(
        container: Pin<&Container>,
        _file: &File,
        data: &mut UserSliceReader,
    ) -> Result<usize> {
        container.write(data)
    }
}
