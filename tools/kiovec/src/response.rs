//! [`Response`]: a header + file range that sends through kiovec where it can, and through
//! `send` + `sendfile` where it cannot, with the same calls.

use std::fmt;
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{fcntl_getfl, fstat, sendfile, FileType, OFlags};
use rustix::io::Errno;
use rustix::net::{send, SendFlags};

use crate::util::{bounds, einval, send_all_blocking};
use crate::Container;

/// Which way a [`Response`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// A kiovec container: header and file pages by reference, one ioctl per send.
    Kiovec,
    /// The fallback: `send(MSG_MORE)` of the header, then `sendfile(2)` of the file range.
    Sendfile,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Path::Kiovec => "kiovec",
            Path::Sendfile => "sendfile",
        })
    }
}

/// Which ways [`Response::with_mode`] may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// kiovec if a container can be opened and the file added to it, else the fallback
    /// ([`Response::fallback_reason`] says why).
    #[default]
    Auto,
    /// kiovec or the error that prevented it.
    Kiovec,
    /// Always the fallback.
    Sendfile,
}

enum Imp {
    Kiovec(Container),
    Sendfile { header: Vec<u8>, file: OwnedFd, start: u64 },
}

/// An HTTP-style response: a header and a range of a file, built once and sent to any number
/// of TCP sockets. Through kiovec when /dev/kiovec is there and takes the file, otherwise
/// through `send(MSG_MORE)` + `sendfile(2)` (the nginx way); the calls are the same, and
/// [`path`](Self::path) says which was taken.
///
/// Both paths validate alike: `EBADF` for a file not open for reading, `EINVAL` for a
/// file that is not regular or a range past its end (`..` is the whole file now). Both send
/// the file's pages as they are at send time. The fallback holds a duplicate of the file
/// descriptor; `sendfile` cannot suppress `SIGPIPE` (Rust programs ignore it by default).
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// let file = std::fs::File::open("index.html")?;
/// let len = file.metadata()?.len();
/// let header = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
/// let resp = kiovec::Response::new(header, &file, ..)?;
/// println!("sending through {}", resp.path());
/// for sock in std::net::TcpListener::bind("127.0.0.1:8080")?.incoming() {
///     resp.send(&sock?)?;
/// }
/// # Ok(()) }
/// ```
pub struct Response {
    imp: Imp,
    header_len: u64,
    body_len: u64,
    fallback_reason: Option<io::Error>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("path", &self.path())
            .field("header_len", &self.header_len)
            .field("body_len", &self.body_len)
            .field("fallback_reason", &self.fallback_reason)
            .finish()
    }
}

impl Response {
    /// A response of `header` followed by `range` of `file`, on the best path ([`Mode::Auto`]).
    ///
    /// | error | when |
    /// |---|---|
    /// | `EBADF` | `file` is not open for reading |
    /// | `EINVAL` | `file` is not a regular file; the range reaches past its end; start after end |
    /// | `EOVERFLOW` | a bound does not fit in 64 bits |
    /// | `ENOMEM`, ... | `fstat`, `fcntl` or `dup` failed |
    pub fn new(
        header: impl AsRef<[u8]>,
        file: impl AsFd,
        range: impl RangeBounds<u64>,
    ) -> io::Result<Self> {
        Self::with_mode(header, file, range, Mode::Auto)
    }

    /// A file range without a stored header, for [`send_with_header`](Self::send_with_header)
    /// (a per-request header): what a server caches per file.
    ///
    /// Errors: as [`new`](Self::new).
    pub fn body(file: impl AsFd, range: impl RangeBounds<u64>, mode: Mode) -> io::Result<Self> {
        Self::with_mode([], file, range, mode)
    }

    /// [`new`](Self::new) with the path chosen by `mode`.
    ///
    /// Errors: as [`new`](Self::new); with [`Mode::Kiovec`], also those of
    /// [`Container::open`] and [`Container::add_file`].
    pub fn with_mode(
        header: impl AsRef<[u8]>,
        file: impl AsFd,
        range: impl RangeBounds<u64>,
        mode: Mode,
    ) -> io::Result<Self> {
        let header = header.as_ref();
        let file = file.as_fd();
        let mut fallback_reason = None;
        if mode != Mode::Sendfile {
            match Self::build_kiovec(header, file, &range) {
                Ok((c, body_len)) => {
                    return Ok(Self {
                        imp: Imp::Kiovec(c),
                        header_len: header.len() as u64,
                        body_len,
                        fallback_reason: None,
                    })
                }
                Err(e) if mode == Mode::Kiovec => return Err(e),
                Err(e) => fallback_reason = Some(e),
            }
        }
        let (start, body_len) = check_file(file, &range)?;
        Ok(Self {
            imp: Imp::Sendfile { header: header.to_vec(), file: file.try_clone_to_owned()?, start },
            header_len: header.len() as u64,
            body_len,
            fallback_reason,
        })
    }

    fn build_kiovec(
        header: &[u8],
        file: BorrowedFd<'_>,
        range: &impl RangeBounds<u64>,
    ) -> io::Result<(Container, u64)> {
        let mut c = Container::open()?;
        c.write_all(header)?;
        let added = c.add_file(file, (range.start_bound().cloned(), range.end_bound().cloned()))?;
        Ok((c, added.len))
    }

    /// The path this response sends through.
    pub fn path(&self) -> Path {
        match self.imp {
            Imp::Kiovec(_) => Path::Kiovec,
            Imp::Sendfile { .. } => Path::Sendfile,
        }
    }

    /// Why [`Mode::Auto`] fell back to `sendfile` (the error from [`Container::open`] or
    /// [`Container::add_file`]); `None` on the kiovec path or when the fallback was asked.
    pub fn fallback_reason(&self) -> Option<&io::Error> {
        self.fallback_reason.as_ref()
    }

    /// The container, on the kiovec path.
    pub fn container(&self) -> Option<&Container> {
        match &self.imp {
            Imp::Kiovec(c) => Some(c),
            Imp::Sendfile { .. } => None,
        }
    }

    /// Header + body bytes that [`send`](Self::send) sends.
    pub fn len(&self) -> u64 {
        self.header_len + self.body_len
    }

    /// Whether [`send`](Self::send) sends nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file range's length.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Sends the whole response to `sock`, blocking (a non-blocking socket is waited on with
    /// `poll`); short counts and `EINTR` are resumed exactly. Returns the bytes sent.
    ///
    /// | error | when |
    /// |---|---|
    /// | `EPIPE`, `ECONNRESET` | the connection is broken |
    /// | `ENOTSOCK` | `sock` is not a socket |
    /// | `EOPNOTSUPP` | kiovec path: not a TCP socket |
    /// | `EBADF` | `sock` is not open |
    /// | `ENODATA` | the file shrank below the next byte to send |
    /// | `WriteZero` | nothing more could be sent before the end |
    pub fn send(&self, sock: impl AsFd) -> io::Result<u64> {
        let sock = sock.as_fd();
        match &self.imp {
            Imp::Kiovec(c) => c.transmit_all(sock, ..),
            Imp::Sendfile { header, file, start } => send_all_blocking(sock, self.len(), |off| {
                sendfile_once(sock, file.as_fd(), header, *start, self.body_len, off, false)
            }),
        }
    }

    /// Sends `header` instead of the stored one, then `body_range` of the file range (`..`:
    /// all of it), blocking as [`send`](Self::send). On the kiovec path the header goes with
    /// [`Container::transmit_all_with_header`] (native or emulated).
    ///
    /// Errors: as [`send`](Self::send); `EINVAL` for a `body_range` past the body or
    /// reversed; [`Unsupported`](io::ErrorKind::Unsupported) on the kiovec path for a range
    /// that stops before the body's end on a module without [`crate::Features::TX_RANGE`].
    pub fn send_with_header(
        &self,
        sock: impl AsFd,
        header: &[u8],
        body_range: impl RangeBounds<u64>,
    ) -> io::Result<u64> {
        let sock = sock.as_fd();
        let (s, e) = self.body_bounds(&body_range)?;
        match &self.imp {
            Imp::Kiovec(c) => {
                c.transmit_all_with_header(sock, header, self.header_len + s..self.header_len + e)
            }
            Imp::Sendfile { file, start, .. } => {
                send_all_blocking(sock, header.len() as u64 + (e - s), |off| {
                    sendfile_once(sock, file.as_fd(), header, start + s, e - s, off, false)
                })
            }
        }
    }

    fn body_bounds(&self, r: &impl RangeBounds<u64>) -> io::Result<(u64, u64)> {
        let (s, e) = bounds(r, self.body_len)?;
        if e > self.body_len {
            return Err(einval());
        }
        Ok((s, e))
    }

    /// [`send`](Self::send) on a non-blocking tokio socket, waiting for writability between
    /// short sends (no busy loop).
    #[cfg(feature = "tokio")]
    pub async fn send_async<S: crate::AsyncSocket>(&self, sock: &S) -> io::Result<u64> {
        self.send_with_header_async(sock, None, ..).await
    }

    /// [`send_with_header`](Self::send_with_header) on a non-blocking tokio socket; `None`
    /// sends the stored header.
    #[cfg(feature = "tokio")]
    pub async fn send_with_header_async<S: crate::AsyncSocket>(
        &self,
        sock: &S,
        header: Option<&[u8]>,
        body_range: impl RangeBounds<u64>,
    ) -> io::Result<u64> {
        let (s, e) = self.body_bounds(&body_range)?;
        match (&self.imp, header) {
            (Imp::Kiovec(c), None) => {
                c.transmit_all_async(sock, self.header_len + s..self.header_len + e).await
            }
            (Imp::Kiovec(c), Some(h)) => {
                c.transmit_all_with_header_async(sock, h, self.header_len + s..self.header_len + e)
                    .await
            }
            (Imp::Sendfile { header: stored, file, start }, h) => {
                let h: &[u8] = h.unwrap_or(stored);
                let total = h.len() as u64 + (e - s);
                crate::asyncio::send_all_async(sock, total, |off| {
                    sendfile_once(sock.as_fd(), file.as_fd(), h, start + s, e - s, off, true)
                })
                .await
            }
        }
    }
}

/// Checks `file` as `KIOVEC_IOC_ADD_FILE` would: (start, length) of the range.
fn check_file(file: BorrowedFd<'_>, range: &impl RangeBounds<u64>) -> io::Result<(u64, u64)> {
    let fl = fcntl_getfl(file)?;
    if fl.contains(OFlags::PATH) || fl & OFlags::RWMODE == OFlags::WRONLY {
        return Err(Errno::BADF.into());
    }
    let st = fstat(file)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(einval());
    }
    let size = st.st_size as u64;
    let (start, end) = bounds(range, size)?;
    if end > size {
        return Err(einval());
    }
    Ok((start, end - start))
}

/// One step of the fallback: from `offset` in header + body, `send(MSG_MORE)` what is left of
/// the header and, once it is all out, `sendfile` the body (`body_len` bytes at `start`).
fn sendfile_once(
    sock: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    header: &[u8],
    start: u64,
    body_len: u64,
    offset: u64,
    dontwait: bool,
) -> io::Result<usize> {
    let hlen = header.len() as u64;
    let mut sent = 0usize;
    if offset < hlen {
        let mut f = SendFlags::NOSIGNAL;
        if body_len > 0 {
            f |= SendFlags::MORE;
        }
        if dontwait {
            f |= SendFlags::DONTWAIT;
        }
        sent = send(sock, &header[offset as usize..], f)?;
        if (sent as u64) < hlen - offset || body_len == 0 {
            return Ok(sent);
        }
    }
    let at = offset + sent as u64 - hlen;
    let mut pos = start + at;
    // sendfile moves at most 0x7ffff000 bytes a call.
    let count = (body_len - at).min(0x7fff_f000) as usize;
    match sendfile(sock, file, Some(&mut pos), count) {
        // The file ended before the range did: it shrank, as kiovec reports it.
        Ok(0) if count > 0 && sent == 0 => Err(Errno::NODATA.into()),
        Ok(n) => Ok(sent + n),
        Err(_) if sent > 0 => Ok(sent),
        Err(e) => Err(e.into()),
    }
}
