//! Ranges, errors and the resume loops shared by [`Container`](crate::Container) and
//! [`Response`](crate::Response).

use std::io;
use std::ops::{Bound, RangeBounds};
use std::os::fd::BorrowedFd;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;

/// `EINVAL`, as the module reports it.
pub(crate) fn einval() -> io::Error {
    Errno::INVAL.into()
}

/// `(start, end)` of `range`, an unbounded end being `unbounded_end`: `EOVERFLOW` when a bound
/// does not fit in a `u64` once made exclusive, `EINVAL` when start > end.
pub(crate) fn bounds(range: &impl RangeBounds<u64>, unbounded_end: u64) -> io::Result<(u64, u64)> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.checked_add(1).ok_or(Errno::OVERFLOW)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.checked_add(1).ok_or(Errno::OVERFLOW)?,
        Bound::Excluded(&e) => e,
        Bound::Unbounded => unbounded_end,
    };
    if start > end {
        return Err(einval());
    }
    Ok((start, end))
}

/// As [`bounds`], but an unbounded end is never before the start: `start..` past
/// `unbounded_end` is the empty range at `start` (a transmit there sends nothing).
pub(crate) fn bounds_from(
    range: &impl RangeBounds<u64>,
    unbounded_end: u64,
) -> io::Result<(u64, u64)> {
    match range.end_bound() {
        Bound::Unbounded => {
            let (start, _) = bounds(&(range.start_bound().cloned(), Bound::Unbounded), u64::MAX)?;
            Ok((start, unbounded_end.max(start)))
        }
        _ => bounds(range, unbounded_end),
    }
}

/// An `Unsupported` error naming what the running module lacks.
pub(crate) fn unsupported(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, format!("the kiovec module lacks {what}"))
}

/// Blocks until `sock` is writable (or has an error to report).
pub(crate) fn wait_writable(sock: BorrowedFd<'_>) -> io::Result<()> {
    let mut fds = [PollFd::new(&sock, PollFlags::OUT)];
    loop {
        match poll(&mut fds, None) {
            Ok(_) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Calls `once(sent)` until `total` bytes are sent: a short count resumes at the new offset,
/// `EINTR` repeats the call, `EAGAIN` (a non-blocking socket) waits for writability first.
/// A call that sends nothing before the end is an error (`WriteZero`).
pub(crate) fn send_all_blocking(
    sock: BorrowedFd<'_>,
    total: u64,
    mut once: impl FnMut(u64) -> io::Result<usize>,
) -> io::Result<u64> {
    let mut sent = 0u64;
    while sent < total {
        match once(sent) {
            Ok(0) => return Err(ended_early(sent, total)),
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(sock)?,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

pub(crate) fn ended_early(sent: u64, total: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::WriteZero,
        format!("the response ended after {sent} of {total} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_resolve_every_range_form() {
        assert_eq!(bounds(&(..), 10).unwrap(), (0, 10));
        assert_eq!(bounds(&(3..), 10).unwrap(), (3, 10));
        assert_eq!(bounds(&(3..7), 10).unwrap(), (3, 7));
        assert_eq!(bounds(&(3..=7), 10).unwrap(), (3, 8));
        assert_eq!(bounds(&(..=0), 10).unwrap(), (0, 1));
        assert_eq!(bounds(&(5..5), 10).unwrap(), (5, 5));
        // Past the unbounded end is the caller's (the module's) to judge.
        assert_eq!(bounds(&(20..30), 10).unwrap(), (20, 30));
        let excl = (Bound::Excluded(4), Bound::Excluded(9));
        assert_eq!(bounds(&excl, 10).unwrap(), (5, 9));
    }

    #[test]
    fn bounds_from_makes_tails_past_the_end_empty() {
        assert_eq!(bounds_from(&(20..), 10).unwrap(), (20, 20));
        assert_eq!(bounds_from(&(3..), 10).unwrap(), (3, 10));
        assert_eq!(bounds_from(&(..), 10).unwrap(), (0, 10));
        #[allow(clippy::reversed_empty_ranges)]
        let e = bounds_from(&(7..3), 10).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc_errno::EINVAL));
    }

    #[test]
    fn bounds_reject_reversed_and_overflowing_ranges() {
        #[allow(clippy::reversed_empty_ranges)]
        let e = bounds(&(7..3), 10).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc_errno::EINVAL));
        let e = bounds(&(0..=u64::MAX), 10).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc_errno::EOVERFLOW));
        let e = bounds(&(Bound::Excluded(u64::MAX), Bound::Unbounded), 10).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc_errno::EOVERFLOW));
    }

    /// The two errnos, spelled out: the tests must not derive them from the code under test.
    mod libc_errno {
        pub const EINVAL: i32 = 22;
        pub const EOVERFLOW: i32 = 75;
    }
}
