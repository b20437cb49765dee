// SPDX-License-Identifier: GPL-2.0

//! The file operations of `/dev/kiovec`: open makes a container, ioctl and write act on it.
//!
//! ioctl handlers validate in a fixed order (flags, reserved fields, alignment, overflow,
//! limits) before they act, and copy each user struct exactly once. Calls that change the
//! container (write, ADD_*, RESET) need the file open for writing, as `write(2)` does: a
//! read-only descriptor (handed out by SCM_RIGHTS, or reopened through /proc/self/fd) can
//! only transmit, copy out and describe.

#![deny(unsafe_code)]

use crate::{
    container::{Container, UserRange},
    kernel_ext::{
        bindings,
        error::code,
        fs::File,
        miscdevice::{self, MiscDevice},
        net::{self, Socket},
        pagecache, uapi,
    },
    kiovec::Kiovec,
    limits,
    rw::{rw_kiovec, Dir, Request},
    send::{self, Header, Message},
};
use core::mem::size_of;
use kernel::{
    c_str,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, ArcBorrow},
    uaccess::{UserSlice, UserSliceReader},
};

/// Writes `value` to the user address `arg`.
fn put_user<T: kernel::types::AsBytes>(arg: usize, value: &T) -> Result<isize> {
    UserSlice::new(arg, size_of::<T>()).writer().write(value)?;
    Ok(0)
}

/// Fails with `EBADF` unless `file` is open for writing: the rule for calls that change a
/// container.
fn check_writable(file: &File) -> Result {
    if file.is_writable() {
        Ok(())
    } else {
        Err(EBADF)
    }
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
    let mut iov = UserSlice::new(iov_base, count * size_of::<uapi::kiovec_iovec>()).reader();
    let mut ranges = KVVec::with_capacity(count, GFP_KERNEL_ACCOUNT)?;
    for _ in 0..count {
        let v: uapi::kiovec_iovec = iov.read()?;
        let range = check_range(v.base, v.len)?;
        ranges.push(range, GFP_KERNEL_ACCOUNT)?;
    }
    let added = container.add_user(&ranges, req.flags & uapi::KIOVEC_ADD_WRITE != 0)?;
    req.offset = added.offset;
    req.bytes = added.bytes;
    req.segments = added.segments;
    req.pinned_pages = added.pinned_pages;
    // All or nothing to the end: the struct was writable before the pins, but the caller may
    // have unmapped it meanwhile; then what was added goes again.
    if let Err(e) = UserSlice::new(arg, size).writer().write(&req) {
        container.truncate(&added);
        return Err(e);
    }
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
    let kv = container.snapshot();
    Ok(send::copy_out(&kv, req.offset, to, len)? as isize)
}

/// `KIOVEC_IOC_ADD_FILE`: appends a range of a file.
fn add_file(container: &Container, arg: usize) -> Result<isize> {
    let size = size_of::<uapi::kiovec_add_file>();
    let mut req: uapi::kiovec_add_file = UserSlice::new(arg, size).reader().read()?;
    // The out fields (at, segments, copied) are ignored on input, as ADD_USER's are: a caller
    // may reuse one struct for many calls.
    if req.flags != 0 || req.reserved != [0; 2] {
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
    // memfd_secret, guest_memfd, files the kernel cannot read: EINVAL before anything else.
    pagecache::backing(&file)?;
    req.offset
        .checked_add(req.len)
        .ok_or_else(code::eoverflow)?;
    if req.len > limits::MAX_BYTES {
        return Err(E2BIG);
    }
    // As sendfile with an offset (pread): a file that cannot be read at an offset is ESPIPE.
    if !file.can_pread() {
        return Err(code::espipe());
    }
    req.segments = 0;
    req.at = 0;
    req.copied = 0;
    if req.len > 0 {
        let added = container.add_file(file, req.offset, req.len as usize)?;
        req.at = added.offset;
        req.segments = added.segments;
        req.copied = added.copied_pages;
        req.len = added.bytes;
        if let Err(e) = UserSlice::new(arg, size).writer().write(&req) {
            container.truncate(&added);
            return Err(e);
        }
        return Ok(0);
    }
    UserSlice::new(arg, size).writer().write(&req)?;
    Ok(0)
}

/// `KIOVEC_IOC_ADD_ZERO`: appends zero-filled pages for I/O to read into.
fn add_zero(container: &Container, arg: usize) -> Result<isize> {
    let size = size_of::<uapi::kiovec_add_zero>();
    let mut req: uapi::kiovec_add_zero = UserSlice::new(arg, size).reader().read()?;
    // The out fields (segments, at) are ignored on input.
    if req.flags != 0 || req.reserved != [0; 2] {
        return Err(EINVAL);
    }
    if req.len == 0 || req.len % PAGE_SIZE as u64 != 0 {
        return Err(EINVAL);
    }
    if req.len > limits::MAX_BYTES {
        return Err(E2BIG);
    }
    UserSlice::new(arg, size).writer().write(&req)?;
    let added = container.add_zero(req.len as usize)?;
    req.at = added.offset;
    req.segments = added.segments;
    if let Err(e) = UserSlice::new(arg, size).writer().write(&req) {
        container.truncate(&added);
        return Err(e);
    }
    Ok(0)
}

/// `KIOVEC_IOC_RW`: moves a range of the container to or from a file, block device or
/// socket, synchronously; returns the bytes moved.
fn rw(container: &Container, file: &File, arg: usize) -> Result<isize> {
    let req: uapi::kiovec_rw = UserSlice::new(arg, size_of::<uapi::kiovec_rw>())
        .reader()
        .read()?;
    if req.flags != 0 || req.reserved0 != 0 || req.reserved != [0; 2] {
        return Err(EINVAL);
    }
    let dir = match req.dir {
        uapi::KIOVEC_READ => {
            // A read changes the container's (writable) pages.
            check_writable(file)?;
            Dir::Read
        }
        uapi::KIOVEC_WRITE => Dir::Write,
        _ => return Err(EINVAL),
    };
    let target = File::fget(req.fd)?;
    let kv = Arc::new(container.snapshot(), GFP_KERNEL_ACCOUNT)?;
    let nonblock = target.flags() & bindings::O_NONBLOCK != 0;
    let req = Request {
        dir,
        pos: req.pos,
        offset: req.offset,
        len: req.len,
        nonblock,
    };
    rw_kiovec(&kv, &target, req, None)
}

/// Reads what `KIOVEC_TX_HEADER` and `KIOVEC_TX_RANGE` point at: the message one transmit
/// sends, from the header and range pointers of a transmit or batch request.
fn read_message(kv: &Kiovec, flags: u32, hdr: u64, range: u64) -> Result<Message> {
    let mut msg = Message::whole(kv);
    if flags & uapi::KIOVEC_TX_HEADER != 0 {
        let at = usize::try_from(hdr).map_err(|_| EFAULT)?;
        let v: uapi::kiovec_iovec = UserSlice::new(at, size_of::<uapi::kiovec_iovec>())
            .reader()
            .read()?;
        if v.len > limits::MAX_HEADER as u64 {
            return Err(EINVAL);
        }
        if v.len > 0 {
            if v.base == 0 {
                return Err(EFAULT);
            }
            v.base.checked_add(v.len).ok_or_else(code::eoverflow)?;
            msg.header = Some(Header {
                base: usize::try_from(v.base).map_err(|_| EFAULT)?,
                len: v.len as usize,
            });
        }
    } else if hdr != 0 {
        return Err(EINVAL);
    }
    if flags & uapi::KIOVEC_TX_RANGE != 0 {
        let at = usize::try_from(range).map_err(|_| EFAULT)?;
        let r: uapi::kiovec_range = UserSlice::new(at, size_of::<uapi::kiovec_range>())
            .reader()
            .read()?;
        r.start.checked_add(r.len).ok_or_else(code::eoverflow)?;
        msg.start = r.start;
        msg.len = r.len;
    } else if range != 0 {
        return Err(EINVAL);
    }
    Ok(msg)
}

/// `KIOVEC_IOC_TRANSMIT`: sends the container to a TCP socket; returns the bytes sent.
fn transmit(container: &Container, arg: usize) -> Result<isize> {
    let req: uapi::kiovec_transmit = UserSlice::new(arg, size_of::<uapi::kiovec_transmit>())
        .reader()
        .read()?;
    if req.flags & !uapi::KIOVEC_TX_FLAGS != 0 {
        return Err(EINVAL);
    }
    // The contents now; the container's lock is not held while the socket blocks.
    let kv = container.snapshot();
    let msg = read_message(&kv, req.flags, req.hdr, req.range)?;
    // Nothing holds more than MAX_BYTES (+ a header), so the count fits the return value.
    Ok(transmit_to(&kv, &msg, req.fd, req.offset, req.flags, false)? as isize)
}

/// Sends `msg` from `offset` on to the TCP socket `fd`; `flags` are `KIOVEC_TX_*`, and
/// `nowait` forces a non-blocking send.
fn transmit_to(
    kv: &Kiovec,
    msg: &Message,
    fd: u32,
    offset: u64,
    flags: u32,
    nowait: bool,
) -> Result<usize> {
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
    if nowait || flags & uapi::KIOVEC_TX_DONTWAIT != 0 || file.flags() & bindings::O_NONBLOCK != 0 {
        msg_flags |= net::flags::DONTWAIT;
    }
    send::transmit(kv, &sock, msg, offset, msg_flags)
}

/// Sleeps for a clock tick; true if a signal is pending.
fn wait_a_tick() -> bool {
    crate::kernel_ext::sched::sleep_tick_interruptible()
}

/// The errno a batch reports for a target: an interrupted send cannot be restarted
/// halfway through a batch, so it is EINTR.
fn batch_errno(e: Error) -> i64 {
    if e == ERESTARTSYS {
        EINTR.to_errno() as i64
    } else {
        e.to_errno() as i64
    }
}

/// `KIOVEC_IOC_TRANSMIT_BATCH`: sends the container to each target, writing each result.
///
/// One slow target must not hold back the others: every target is sent what it takes
/// without blocking, round after round, until each is done or has failed.
fn transmit_batch(container: &Container, arg: usize) -> Result<isize> {
    let req: uapi::kiovec_transmit_batch =
        UserSlice::new(arg, size_of::<uapi::kiovec_transmit_batch>())
            .reader()
            .read()?;
    if req.flags & !uapi::KIOVEC_TX_FLAGS != 0 {
        return Err(EINVAL);
    }
    if req.count == 0 || req.count > limits::MAX_IOVECS {
        return Err(EINVAL);
    }
    let kv = container.snapshot();
    let msg = read_message(&kv, req.flags, req.hdr, req.range)?;
    let total = msg.header.map_or(0, |h| h.len as u64)
        + msg
            .len
            .min(kv.len().saturating_sub(msg.start.min(kv.len())));
    let count = req.count as usize;
    let base = usize::try_from(req.targets).map_err(|_| EFAULT)?;
    let size = size_of::<uapi::kiovec_target>();
    base.checked_add(count * size).ok_or(EFAULT)?;
    // Each target is read exactly once, here.
    let mut targets = KVVec::with_capacity(count, GFP_KERNEL_ACCOUNT)?;
    let mut reader = UserSlice::new(base, count * size).reader();
    for _ in 0..count {
        let t: uapi::kiovec_target = reader.read()?;
        targets.push(t, GFP_KERNEL_ACCOUNT)?;
    }
    // (bytes sent so far, final result if any) per target.
    let mut state = KVVec::with_capacity(count, GFP_KERNEL_ACCOUNT)?;
    for t in targets.iter() {
        let r = if t.reserved0 != 0 {
            Some(EINVAL.to_errno() as i64)
        } else {
            None
        };
        state.push((0u64, r), GFP_KERNEL_ACCOUNT)?;
    }
    // Rounds of non-blocking sends to every target not done, so that a slow one holds back
    // no other; when a round moves nothing, wait a tick (interruptibly) and go again, unless
    // the caller asked not to block.
    let blocking = req.flags & uapi::KIOVEC_TX_DONTWAIT == 0;
    loop {
        let mut progress = false;
        let mut left = false;
        for (t, st) in targets.iter().zip(state.iter_mut()) {
            if st.1.is_some() {
                continue;
            }
            let start = t.offset.saturating_add(st.0);
            match transmit_to(&kv, &msg, t.fd, start, req.flags, true) {
                Ok(n) => {
                    st.0 += n as u64;
                    progress |= n > 0;
                    if n == 0 || start + n as u64 >= total || !blocking {
                        st.1 = Some(st.0 as i64);
                    } else {
                        left = true;
                    }
                }
                Err(e) if e == EAGAIN && blocking => left = true,
                Err(e) => {
                    st.1 = Some(if st.0 > 0 {
                        st.0 as i64
                    } else {
                        batch_errno(e)
                    })
                }
            }
        }
        if !left {
            break;
        }
        if !progress && wait_a_tick() {
            // A signal: every target keeps what it got, or EINTR.
            for st in state.iter_mut().filter(|st| st.1.is_none()) {
                st.1 = Some(if st.0 > 0 {
                    st.0 as i64
                } else {
                    EINTR.to_errno() as i64
                });
            }
            break;
        }
    }
    for (i, st) in state.iter().enumerate() {
        let result = st.1.unwrap_or(st.0 as i64);
        // Only the result is written back; the target's inputs are left as they were.
        let result_at = base + i * size + core::mem::offset_of!(uapi::kiovec_target, result);
        UserSlice::new(result_at, size_of::<i64>())
            .writer()
            .write(&result)?;
    }
    Ok(req.count as isize)
}

#[vtable]
impl MiscDevice for Container {
    type Ptr = Arc<Container>;

    fn open(_file: &File) -> Result<Self::Ptr> {
        Container::new()
    }

    fn ioctl(
        container: ArcBorrow<'_, Container>,
        file: &File,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
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
                        | uapi::KIOVEC_FEAT_TRANSMIT_BATCH
                        | uapi::KIOVEC_FEAT_FILE_COPY
                        | uapi::KIOVEC_FEAT_COMPAT
                        | uapi::KIOVEC_FEAT_TX_HEADER
                        | uapi::KIOVEC_FEAT_TX_RANGE
                        | uapi::KIOVEC_FEAT_ADD_ZERO
                        | uapi::KIOVEC_FEAT_RO_FD
                        | uapi::KIOVEC_FEAT_RW,
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
                        file_pages: s.file_pages,
                        charged_pages: s.charged_pages,
                        copied_pages: s.copied_pages,
                        ..Default::default()
                    },
                )
            }
            uapi::KIOVEC_IOC_RESET => {
                // No argument; insist on zero so that one can be added later.
                if arg != 0 {
                    return Err(EINVAL);
                }
                check_writable(file)?;
                container.reset();
                Ok(0)
            }
            uapi::KIOVEC_IOC_ADD_USER => {
                check_writable(file)?;
                add_user(&container, arg)
            }
            uapi::KIOVEC_IOC_COPY_OUT => copy_out(&container, arg),
            uapi::KIOVEC_IOC_TRANSMIT => transmit(&container, arg),
            uapi::KIOVEC_IOC_ADD_FILE => {
                check_writable(file)?;
                add_file(&container, arg)
            }
            uapi::KIOVEC_IOC_TRANSMIT_BATCH => transmit_batch(&container, arg),
            uapi::KIOVEC_IOC_ADD_ZERO => {
                check_writable(file)?;
                add_zero(&container, arg)
            }
            uapi::KIOVEC_IOC_RW => rw(&container, file, arg),
            uapi::KIOVEC_IOC_RO_FD => {
                if arg != 0 {
                    return Err(EINVAL);
                }
                let fd = miscdevice::new_file_fd::<Container>(
                    container.into(),
                    c_str!("[kiovec]"),
                    bindings::O_RDONLY | bindings::O_CLOEXEC,
                )?;
                Ok(fd as isize)
            }
            _ => Err(ENOTTY),
        }
    }

    fn write(
        container: ArcBorrow<'_, Container>,
        _file: &File,
        data: &mut UserSliceReader,
    ) -> Result<usize> {
        container.write(data)
    }
}
