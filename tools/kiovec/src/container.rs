//! [`Container`]: one open of /dev/kiovec.

use std::fmt;
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{fstat, open, Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{send, SendFlags};

use crate::raw;
use crate::sys::*;
use crate::util::{bounds, bounds_from, einval, send_all_blocking, unsupported};

/// Where /dev/kiovec is.
pub const DEVICE: &str = "/dev/kiovec";

/// Feature bits of the running module (`kiovec_info.features`, `KIOVEC_FEAT_*`).
///
/// The crate checks them before it uses an optional part of the ABI, and falls back or
/// returns an [`Unsupported`](io::ErrorKind::Unsupported) error when one is missing (each
/// method says which).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Features(pub u64);

impl Features {
    /// `write()` appends bytes to the container.
    pub const WRITE: Self = Self(KIOVEC_FEAT_WRITE);
    /// `KIOVEC_IOC_ADD_USER`: [`Container::add_user`].
    pub const ADD_USER: Self = Self(KIOVEC_FEAT_ADD_USER);
    /// `KIOVEC_IOC_COPY_OUT`: [`Container::copy_out`].
    pub const COPY_OUT: Self = Self(KIOVEC_FEAT_COPY_OUT);
    /// `KIOVEC_IOC_TRANSMIT`: [`Container::transmit`].
    pub const TRANSMIT: Self = Self(KIOVEC_FEAT_TRANSMIT);
    /// `KIOVEC_IOC_ADD_FILE`: [`Container::add_file`].
    pub const ADD_FILE: Self = Self(KIOVEC_FEAT_ADD_FILE);
    /// `KIOVEC_IOC_TRANSMIT_BATCH`: [`Container::transmit_batch`].
    pub const TRANSMIT_BATCH: Self = Self(KIOVEC_FEAT_TRANSMIT_BATCH);
    /// `ADD_FILE` also takes files without a usable page cache (it copies them once).
    pub const FILE_COPY: Self = Self(KIOVEC_FEAT_FILE_COPY);
    /// 32-bit callers.
    pub const COMPAT: Self = Self(KIOVEC_FEAT_COMPAT);
    /// `KIOVEC_TX_HEADER`: a per-transmit header sent by the module itself.
    pub const TX_HEADER: Self = Self(KIOVEC_FEAT_TX_HEADER);
    /// `KIOVEC_TX_RANGE`: a transmit of any byte range of the container.
    pub const TX_RANGE: Self = Self(KIOVEC_FEAT_TX_RANGE);
    /// `KIOVEC_IOC_RW`.
    pub const RW: Self = Self(KIOVEC_FEAT_RW);
    /// `KIOVEC_IOC_ADD_ZERO`.
    pub const ADD_ZERO: Self = Self(KIOVEC_FEAT_ADD_ZERO);
    /// `KIOVEC_IOC_RO_FD`: [`Container::read_only_fd`].
    pub const RO_FD: Self = Self(KIOVEC_FEAT_RO_FD);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Features {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The module's ABI version and limits (`KIOVEC_IOC_INFO`), read once by [`Container::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// `KIOVEC_ABI_VERSION` of the running module (equal to [`KIOVEC_ABI_VERSION`] for an
    /// open container).
    pub abi_version: u32,
    /// The kernel's page size.
    pub page_size: u32,
    /// Segments (page, offset, length) one container can hold.
    pub max_segments: u32,
    /// Iovecs one [`Container::add_user_raw`] may pass, and targets one batch ioctl takes.
    pub max_iovecs: u32,
    /// Bytes one container can hold.
    pub max_bytes: u64,
    /// What the module implements.
    pub features: Features,
}

impl From<kiovec_info> for Info {
    fn from(i: kiovec_info) -> Self {
        Self {
            abi_version: i.abi_version,
            page_size: i.page_size,
            max_segments: i.max_segments,
            max_iovecs: i.max_iovecs,
            max_bytes: i.max_bytes,
            features: Features(i.features),
        }
    }
}

/// What one container holds (`KIOVEC_IOC_STAT`). Counts that the running module does not
/// report (an older module) read as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// Bytes in the container, in transmit order.
    pub bytes: u64,
    /// Segments in the container.
    pub segments: u32,
    /// Pages the module allocated for `write()` data and `ADD_ZERO`.
    pub owned_pages: u32,
    /// User pages the container holds pinned.
    pub pinned_pages: u32,
    /// Page-cache pages the container holds references on.
    pub file_pages: u32,
    /// Pages charged to the opener's locked memory (0 with `CAP_IPC_LOCK`).
    pub charged_pages: u64,
    /// Pages the module owns holding a copy of file data.
    pub copied_pages: u32,
}

/// What [`Container::add_user`] added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddedUser {
    /// Where the new bytes start in the container.
    pub offset: u64,
    /// Bytes added.
    pub bytes: u64,
    /// Segments added.
    pub segments: u32,
    /// Pages pinned.
    pub pinned_pages: u32,
}

/// What [`Container::add_file`] added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddedFile {
    /// Where the new bytes start in the container.
    pub at: u64,
    /// Bytes added.
    pub len: u64,
    /// Segments added (one per page).
    pub segments: u32,
    /// Pages copied into pages the container owns instead of referenced (a file without a
    /// usable page cache; 0 on modules without [`Features::FILE_COPY`]).
    pub copied: u32,
}

/// The module speaks another ABI than this crate: returned by [`Container::open`] inside an
/// [`io::Error`] of kind [`Unsupported`](io::ErrorKind::Unsupported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbiMismatch {
    /// The module's `KIOVEC_ABI_VERSION`, or `None` when it did not understand this crate's
    /// `KIOVEC_IOC_INFO` at all (`ENOTTY`: a module whose `struct kiovec_info` differs, or a
    /// file that is not /dev/kiovec).
    pub module: Option<u32>,
    /// The version this crate was written for ([`KIOVEC_ABI_VERSION`]).
    pub supported: u32,
}

impl fmt::Display for AbiMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.module {
            Some(v) => write!(
                f,
                "kiovec module ABI version {v} is {} than this crate's version {} \
                 (use a kiovec crate built for ABI {v})",
                if v > self.supported { "newer" } else { "older" },
                self.supported
            ),
            None => write!(
                f,
                "the device does not answer KIOVEC_IOC_INFO of ABI version {} (ENOTTY): not a \
                 kiovec device, or a module with another ABI",
                self.supported
            ),
        }
    }
}

impl std::error::Error for AbiMismatch {}

/// Memory that may be pinned into a container by safe code: its bytes stay at the same
/// address and unchanged for as long as the value lives, wherever the value is moved.
///
/// [`Container::add_user`] takes ownership of such a buffer and keeps it until
/// [`Container::reset`] or drop, so the pages the module pins are never freed, reused or
/// written while the container can send them.
///
/// # Safety
///
/// An implementation must guarantee that [`stable_bytes`](StableBuf::stable_bytes) returns
/// the same pointer and length on every call, that the memory behind it stays allocated
/// and is not written (no interior mutability, no other owner with write access) until the
/// value is dropped, and that moving the value does not move the bytes (they live on the
/// heap or in a `'static`).
pub unsafe trait StableBuf: Send + Sync + 'static {
    /// The bytes to pin.
    fn stable_bytes(&self) -> &[u8];
}

// SAFETY: a Vec's heap buffer does not move when the Vec does, and nobody else can reach
// it while the container owns the Vec.
unsafe impl StableBuf for Vec<u8> {
    fn stable_bytes(&self) -> &[u8] {
        self
    }
}
// SAFETY: as for Vec.
unsafe impl StableBuf for Box<[u8]> {
    fn stable_bytes(&self) -> &[u8] {
        self
    }
}
// SAFETY: as for Vec.
unsafe impl StableBuf for String {
    fn stable_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}
// SAFETY: as for Vec.
unsafe impl StableBuf for Box<str> {
    fn stable_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}
// SAFETY: 'static shared memory is never freed nor written through a shared reference.
unsafe impl StableBuf for &'static [u8] {
    fn stable_bytes(&self) -> &[u8] {
        self
    }
}
// SAFETY: as for &'static [u8].
unsafe impl StableBuf for &'static str {
    fn stable_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}
// SAFETY: the Arc's allocation lives as long as any clone, and `[u8]` behind an Arc is
// immutable (get_mut fails while the container holds its clone).
unsafe impl StableBuf for Arc<[u8]> {
    fn stable_bytes(&self) -> &[u8] {
        self
    }
}
// SAFETY: as for Arc<[u8]>.
unsafe impl StableBuf for Arc<str> {
    fn stable_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// One socket of [`Container::transmit_batch`], with its result after the call.
#[derive(Debug)]
pub struct BatchTarget<'a> {
    sock: BorrowedFd<'a>,
    /// Where this socket starts in what the batch sends (header, then range): 0, or where
    /// an earlier short transmit to it stopped.
    pub offset: u64,
    result: Option<i64>,
}

impl<'a> BatchTarget<'a> {
    /// A target that starts at offset 0.
    pub fn new(sock: BorrowedFd<'a>) -> Self {
        Self { sock, offset: 0, result: None }
    }

    /// This target's outcome after [`Container::transmit_batch`]: the bytes sent from
    /// [`offset`](Self::offset), or the error `KIOVEC_IOC_TRANSMIT` would have given for this
    /// socket alone (`EAGAIN`, `EINTR`, `EPIPE`, `ECONNRESET`, `ENOTSOCK`, `EOPNOTSUPP`,
    /// `EBADF`, `ENODATA`, `EINVAL`). `None` before the call.
    pub fn result(&self) -> Option<io::Result<usize>> {
        self.result.map(|r| {
            if r < 0 {
                Err(io::Error::from_raw_os_error(-r as i32))
            } else {
                Ok(r as usize)
            }
        })
    }
}

/// How a transmit's bytes map onto the ioctl: the flags, the range struct, and an offset
/// added to every offset (an older module without `TX_RANGE`).
struct Plan {
    flags: u32,
    range: Option<kiovec_range>,
    base: u64,
    body: u64,
    native_header: bool,
}

/// A kiovec container: one open of /dev/kiovec, an ordered list of segments (bytes written
/// into it, pinned user memory, file ranges by page-cache reference) that it sends to TCP
/// sockets by page reference, as often as asked.
///
/// Methods that change what the container holds take `&mut self`; the ones that read it
/// ([`transmit`](Self::transmit) and the other sends, [`copy_out`](Self::copy_out),
/// [`stat`](Self::stat)) take `&self`, so a built container can be shared (`Arc<Container>`)
/// by many threads or tasks that send it at once.
///
/// Every error is an [`io::Error`] carrying the module's errno
/// ([`raw_os_error`](io::Error::raw_os_error)), except those the crate itself raises:
/// [`AbiMismatch`] and missing features ([`Unsupported`](io::ErrorKind::Unsupported)),
/// and `WriteZero` when a send ends early.
///
/// The container tracks its own length from what its methods added. Bytes added through a
/// duplicate of its descriptor (a `dup`, `SCM_RIGHTS`) are not seen by the `*_all` sends
/// of this value; and buffers given to [`add_user`](Self::add_user) are released when this
/// value is dropped or reset, whoever else still holds the descriptor.
///
/// ```no_run
/// use std::io::Write;
/// # fn main() -> std::io::Result<()> {
/// let file = std::fs::File::open("index.html")?;
/// let len = file.metadata()?.len();
/// let mut c = kiovec::Container::open()?;
/// write!(c, "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n")?;
/// c.add_file(&file, ..)?;
/// let (mut sock, _) = std::net::TcpListener::bind("127.0.0.1:8080")?.accept()?;
/// c.transmit_all(&sock, ..)?; // header + file, by page reference
/// # Ok(()) }
/// ```
pub struct Container {
    // Declared first: dropped (closed, unpinning everything) before the buffers it pinned.
    fd: OwnedFd,
    held: Vec<Box<dyn StableBuf>>,
    info: Info,
    len: u64,
}

impl fmt::Debug for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Container")
            .field("fd", &self.fd.as_raw_fd())
            .field("len", &self.len)
            .field("held_buffers", &self.held.len())
            .field("info", &self.info)
            .finish()
    }
}

impl Container {
    /// Opens a new, empty container on [`DEVICE`] and checks the module's ABI version.
    ///
    /// | error | when |
    /// |---|---|
    /// | `ENOENT` ([`NotFound`](io::ErrorKind::NotFound)) | no /dev/kiovec: the module is not loaded |
    /// | `EACCES`, `ENXIO`, `ENODEV`, ... | as `open(2)` gives them |
    /// | [`Unsupported`](io::ErrorKind::Unsupported) with an [`AbiMismatch`] | the module's `KIOVEC_ABI_VERSION` is not this crate's (older or newer), or it refuses this crate's `KIOVEC_IOC_INFO` |
    /// | `EFAULT` | from `KIOVEC_IOC_INFO` |
    ///
    /// ```no_run
    /// match kiovec::Container::open() {
    ///     Ok(c) => println!("kiovec ABI {}, features {:#x}", c.info().abi_version, c.info().features.0),
    ///     Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("no /dev/kiovec"),
    ///     Err(e) => println!("kiovec unusable: {e}"),
    /// }
    /// ```
    pub fn open() -> io::Result<Self> {
        Self::open_path(DEVICE)
    }

    /// [`open`](Self::open) at another path (a device node made elsewhere).
    pub fn open_path(path: impl AsRef<Path>) -> io::Result<Self> {
        let fd = open(path.as_ref(), OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
        Self::from_fd_with_len(fd, Some(0))
    }

    /// Takes over a container descriptor opened elsewhere (received with `SCM_RIGHTS`, say):
    /// checks the ABI as [`open`](Self::open) does and reads the container's length with
    /// [`stat`](Self::stat).
    pub fn from_owned_fd(fd: OwnedFd) -> io::Result<Self> {
        Self::from_fd_with_len(fd, None)
    }

    fn from_fd_with_len(fd: OwnedFd, len: Option<u64>) -> io::Result<Self> {
        let raw = match raw::info(fd.as_fd()) {
            Ok(raw) => raw,
            Err(e) if e.raw_os_error() == Some(Errno::NOTTY.raw_os_error()) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    AbiMismatch { module: None, supported: KIOVEC_ABI_VERSION },
                ))
            }
            Err(e) => return Err(e),
        };
        if raw.abi_version != KIOVEC_ABI_VERSION {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                AbiMismatch { module: Some(raw.abi_version), supported: KIOVEC_ABI_VERSION },
            ));
        }
        let len = match len {
            Some(l) => l,
            None => raw::stat(fd.as_fd())?.bytes,
        };
        Ok(Self { fd, held: Vec::new(), info: raw.into(), len })
    }

    /// The module's ABI version, limits and features, as read at open.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// A new read-only descriptor of this container (`KIOVEC_IOC_RO_FD`, close-on-exec):
    /// it can transmit, copy out and stat, but `write`, the adds and reset on it are `EBADF`.
    /// What a process hands to another (`SCM_RIGHTS`) that may send a cached response but
    /// not change it; the receiver wraps it with [`Container::from_owned_fd`].
    ///
    /// | error | when |
    /// |---|---|
    /// | `EMFILE`, `ENFILE` | no descriptor left |
    /// | [`Unsupported`](io::ErrorKind::Unsupported) | the module lacks [`Features::RO_FD`] |
    pub fn read_only_fd(&self) -> io::Result<OwnedFd> {
        if !self.has(Features::RO_FD) {
            return Err(unsupported("KIOVEC_FEAT_RO_FD"));
        }
        raw::ro_fd(self.fd.as_fd())
    }

    /// Whether the running module has every feature in `f`.
    pub fn has(&self, f: Features) -> bool {
        self.info.features.contains(f)
    }

    /// The container's length in bytes, as this value's methods built it (no system call).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the container holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the container holds, from the module (`KIOVEC_IOC_STAT`).
    ///
    /// | error | when |
    /// |---|---|
    /// | `EFAULT` | the result could not be written (not from safe code) |
    pub fn stat(&self) -> io::Result<Stat> {
        let s = raw::stat(self.fd.as_fd())?;
        Ok(Stat {
            bytes: s.bytes,
            segments: s.segments,
            owned_pages: s.owned_pages,
            pinned_pages: s.pinned_pages,
            file_pages: s.file_pages,
            charged_pages: s.charged_pages,
            copied_pages: s.copied_pages,
        })
    }

    /// Drops every segment, page reference and pin (`KIOVEC_IOC_RESET`), then the buffers
    /// [`add_user`](Self::add_user) took: the container is empty, as after open.
    ///
    /// | error | when |
    /// |---|---|
    /// | `EINVAL` | (not from this crate: it passes the required 0) |
    pub fn reset(&mut self) -> io::Result<()> {
        raw::reset(self.fd.as_fd())?;
        self.held.clear();
        self.len = 0;
        Ok(())
    }

    /// Appends `range` of `file` by reference to its page-cache pages
    /// (`KIOVEC_IOC_ADD_FILE`); `..` is the whole file as it is now. The container takes its
    /// own reference on the file, so `file` may be closed afterwards. What is sent later is
    /// the pages' contents at that time (as with `sendfile`); a file that has shrunk below a
    /// segment by then stops a transmit short (`ENODATA` if it had sent nothing).
    ///
    /// | error | when |
    /// |---|---|
    /// | `EBADF` | `file` is not open for reading (`O_WRONLY`, `O_PATH`) |
    /// | `EINVAL` | not a regular file (directory, pipe, socket, device, a kiovec); a range past the end of the file (it is not clamped); start after end (checked by the crate); on a module without [`Features::FILE_COPY`], a file without a usable page cache (overlayfs, procfs, FUSE...) |
    /// | `EOVERFLOW` | a bound that does not fit in 64 bits (crate) or start + length wraps |
    /// | `E2BIG` | past the container's limits ([`Info::max_bytes`], [`Info::max_segments`]) |
    /// | `ENOMEM`, `EIO`, ... | reading the file into the page cache failed |
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let mut c = kiovec::Container::open()?;
    /// let f = std::fs::File::open("/srv/www/big.iso")?;
    /// let added = c.add_file(&f, 4096..8192)?; // one page of the file
    /// assert_eq!(added.len, 4096);
    /// # Ok(()) }
    /// ```
    pub fn add_file(
        &mut self,
        file: impl AsFd,
        range: impl RangeBounds<u64>,
    ) -> io::Result<AddedFile> {
        let file = file.as_fd();
        let end = match range.end_bound() {
            std::ops::Bound::Unbounded => fstat(file)?.st_size as u64,
            _ => 0,
        };
        let (start, end) = bounds(&range, end)?;
        let mut arg = kiovec_add_file {
            fd: file.as_raw_fd() as u32,
            offset: start,
            len: end - start,
            ..Default::default()
        };
        raw::add_file(self.fd.as_fd(), &mut arg)?;
        self.len = self.len.max(arg.at + arg.len);
        Ok(AddedFile { at: arg.at, len: arg.len, segments: arg.segments, copied: arg.copied })
    }

    /// Appends `buf`'s bytes by pinning its memory in place (`KIOVEC_IOC_ADD_USER`, read
    /// pin), and keeps `buf` until [`reset`](Self::reset) or drop, so the pinned memory is
    /// neither freed nor written while the container may send it. Nothing is copied.
    ///
    /// Pinned pages are charged to the opener's `RLIMIT_MEMLOCK` unless it has
    /// `CAP_IPC_LOCK`. All or nothing: on an error nothing is added and `buf` is dropped.
    ///
    /// | error | when |
    /// |---|---|
    /// | `ENOMEM` | past the opener's locked-memory limit |
    /// | `E2BIG` | past the container's limits |
    /// | `EFAULT` | the memory cannot be pinned (not from a [`StableBuf`] of ordinary memory) |
    /// | [`Unsupported`](io::ErrorKind::Unsupported) | the module lacks [`Features::ADD_USER`] |
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let mut c = kiovec::Container::open()?;
    /// let body: Vec<u8> = vec![b'x'; 1 << 20];
    /// c.add_user(body)?; // the container owns the Vec now
    /// c.add_user(&b"static bytes"[..])?;
    /// # Ok(()) }
    /// ```
    pub fn add_user<B: StableBuf>(&mut self, buf: B) -> io::Result<AddedUser> {
        if !self.has(Features::ADD_USER) {
            return Err(unsupported("KIOVEC_FEAT_ADD_USER"));
        }
        let bytes = buf.stable_bytes();
        let iov = [kiovec_iovec { base: bytes.as_ptr() as u64, len: bytes.len() as u64 }];
        // SAFETY: `iov` describes memory that `StableBuf` keeps allocated, unmoved and
        // unwritten for as long as `buf` lives; `buf` is kept in `self.held` until reset or
        // drop, which release the pins first (reset) or close the fd first (field order).
        // The pin is read-only (flags 0): the module never writes into it.
        let added = unsafe { self.add_user_raw(&iov, 0) }?;
        self.held.push(Box::new(buf));
        Ok(added)
    }

    /// Appends the memory `iov` describes, pinned in place (`KIOVEC_IOC_ADD_USER`), with
    /// `flags` (`0` or [`KIOVEC_ADD_WRITE`]). Iovecs of length 0 are skipped.
    ///
    /// | error | when |
    /// |---|---|
    /// | `EFAULT` | a range is not mapped or not accessible as asked (a write pin of read-only memory, or of a shared mapping of a file on a file system that tracks dirty pages) |
    /// | `EOVERFLOW` | base + len wraps |
    /// | `EINVAL` | `iov` empty or longer than [`Info::max_iovecs`]; unknown flags |
    /// | `ENOMEM` | past the opener's `RLIMIT_MEMLOCK` |
    /// | `E2BIG` | past the container's limits |
    ///
    /// # Safety
    ///
    /// The module pins the pages, so the kernel never touches freed memory; what the caller
    /// must guarantee is what Rust and the container's users see:
    ///
    /// - until [`reset`](Self::reset) or drop of this container (and of every duplicate of
    ///   its descriptor), the memory must stay allocated to the caller for this purpose: if
    ///   it is freed and reused, the container sends whatever the new owner wrote there;
    /// - the bytes may change after the call (a store shows in what is sent next, as with
    ///   `vmsplice`), but they must not change while a transmit may be reading them if the
    ///   peer is to see one consistent version;
    /// - with [`KIOVEC_ADD_WRITE`], I/O through the container may write into the memory at
    ///   any time: no Rust reference (`&[u8]`/`&mut [u8]`) to it may be live while that can
    ///   happen, or it is undefined behaviour (a data race).
    pub unsafe fn add_user_raw(
        &mut self,
        iov: &[kiovec_iovec],
        flags: u32,
    ) -> io::Result<AddedUser> {
        let mut arg = kiovec_add_user {
            iov: iov.as_ptr() as u64,
            iovcnt: u32::try_from(iov.len()).map_err(|_| einval())?,
            flags,
            ..Default::default()
        };
        // SAFETY: `iov` is a borrowed array of `iovcnt` entries; the memory it describes is the
        // caller's contract.
        unsafe { raw::add_user(self.fd.as_fd(), &mut arg) }?;
        self.len = self.len.max(arg.offset + arg.bytes);
        Ok(AddedUser {
            offset: arg.offset,
            bytes: arg.bytes,
            segments: arg.segments,
            pinned_pages: arg.pinned_pages,
        })
    }

    /// Copies container bytes from `offset` into `buf` (`KIOVEC_IOC_COPY_OUT`): returns the
    /// count, fewer than `buf.len()` at the end of the container, 0 at or past it.
    ///
    /// | error | when |
    /// |---|---|
    /// | `ENODATA` | a file segment's page is gone (the file shrank) |
    /// | `EFAULT` | (not from safe code) |
    /// | [`Unsupported`](io::ErrorKind::Unsupported) | the module lacks [`Features::COPY_OUT`] |
    pub fn copy_out(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if !self.has(Features::COPY_OUT) {
            return Err(unsupported("KIOVEC_FEAT_COPY_OUT"));
        }
        raw::copy_out(self.fd.as_fd(), offset, buf)
    }

    /// The whole container, copied out into a new `Vec` (for tests and debugging).
    ///
    /// Errors: as [`copy_out`](Self::copy_out).
    pub fn copy_out_to_vec(&self) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; self.len as usize];
        let mut at = 0;
        while at < v.len() {
            match self.copy_out(at as u64, &mut v[at..])? {
                0 => break,
                n => at += n,
            }
        }
        v.truncate(at);
        Ok(v)
    }

    /// Resolves a container byte range for a transmit with a header of `hlen` bytes.
    fn plan(&self, range: &impl RangeBounds<u64>, hlen: usize, dontwait: bool) -> io::Result<Plan> {
        if !self.has(Features::TRANSMIT) {
            return Err(unsupported("KIOVEC_FEAT_TRANSMIT"));
        }
        let (start, end) = bounds_from(range, self.len)?;
        let native_header = hlen > 0 && hlen <= KIOVEC_MAX_HEADER && self.has(Features::TX_HEADER);
        let body = end.min(self.len).saturating_sub(start);
        let mut flags = KIOVEC_TX_NOSIGNAL;
        if dontwait {
            flags |= KIOVEC_TX_DONTWAIT;
        }
        if native_header {
            flags |= KIOVEC_TX_HEADER;
        }
        let whole_tail = end >= self.len;
        if start == 0 && whole_tail {
            return Ok(Plan { flags, range: None, base: 0, body, native_header });
        }
        if self.has(Features::TX_RANGE) {
            let range = kiovec_range { start, len: end - start };
            flags |= KIOVEC_TX_RANGE;
            return Ok(Plan { flags, range: Some(range), base: 0, body, native_header });
        }
        if whole_tail && !native_header {
            // An older module: a tail of the container is a transmit from an offset.
            return Ok(Plan { flags, range: None, base: start, body, native_header });
        }
        Err(unsupported(
            "KIOVEC_FEAT_TX_RANGE (a transmit of a range that does not reach the container's end)",
        ))
    }

    /// One transmit call of `header` + the planned range, from `offset` in that sequence.
    fn tx_once(
        &self,
        sock: BorrowedFd<'_>,
        header: &[u8],
        plan: &Plan,
        offset: u64,
    ) -> io::Result<usize> {
        let arg = kiovec_transmit {
            fd: sock.as_raw_fd() as u32,
            flags: plan.flags,
            ..Default::default()
        };
        let hlen = header.len() as u64;
        if header.is_empty() || plan.native_header {
            let hdr = kiovec_iovec { base: header.as_ptr() as u64, len: hlen };
            let arg = kiovec_transmit { offset: plan.base + offset, ..arg };
            let hdr = plan.native_header.then_some(&hdr);
            return raw::transmit(self.fd.as_fd(), arg, hdr, plan.range.as_ref());
        }
        // Emulated header: send(MSG_MORE) the rest of it, then the container.
        let mut sent = 0;
        if offset < hlen {
            let mut f = SendFlags::MORE | SendFlags::NOSIGNAL;
            if plan.flags & KIOVEC_TX_DONTWAIT != 0 {
                f |= SendFlags::DONTWAIT;
            }
            sent = send(sock, &header[offset as usize..], f)?;
            if (sent as u64) < hlen - offset || plan.body == 0 {
                return Ok(sent);
            }
        }
        let body_offset = (offset + sent as u64) - hlen;
        let arg = kiovec_transmit { offset: plan.base + body_offset, ..arg };
        match raw::transmit(self.fd.as_fd(), arg, None, plan.range.as_ref()) {
            Ok(n) => Ok(sent + n),
            // The header went out: report it; the error comes back on the resumed call.
            Err(_) if sent > 0 => Ok(sent),
            Err(e) => Err(e),
        }
    }

    /// Sends `range` of the container to the TCP socket `sock` with one
    /// `KIOVEC_IOC_TRANSMIT`, by page reference: returns the bytes sent, which may be fewer
    /// than asked (a non-blocking socket, a signal); call again with the range's start
    /// advanced by the count, and no byte is sent twice. `..` is the whole container; 0 at
    /// or past its end. The container is unchanged and may be sent again, to any socket.
    ///
    /// No `SIGPIPE` is raised (`KIOVEC_TX_NOSIGNAL`): a broken connection is `EPIPE`.
    /// A range that stops before the container's end needs [`Features::TX_RANGE`]; a
    /// range that runs to the end works on every module.
    ///
    /// | error | when |
    /// |---|---|
    /// | `EAGAIN` ([`WouldBlock`](io::ErrorKind::WouldBlock)) | a non-blocking socket is full and nothing was sent |
    /// | `EINTR` ([`Interrupted`](io::ErrorKind::Interrupted)) | a signal arrived before anything was sent |
    /// | `EPIPE`, `ECONNRESET` | the connection is broken |
    /// | `ENOTSOCK` | `sock` is not a socket |
    /// | `EOPNOTSUPP` | `sock` is not a TCP socket (UDP, unix) |
    /// | `EBADF` | `sock` is not an open descriptor |
    /// | `ENODATA` | a file in the container shrank below the next byte to send |
    /// | `EINVAL` | start after end (crate) |
    /// | [`Unsupported`](io::ErrorKind::Unsupported) | a range ending before the container's end without [`Features::TX_RANGE`] |
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let c = kiovec::Container::open()?;
    /// let sock = std::net::TcpStream::connect("127.0.0.1:8080")?;
    /// let mut start = 0;
    /// while start < c.len() {
    ///     match c.transmit(&sock, start..) {
    ///         Ok(n) => start += n as u64,
    ///         Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn transmit(&self, sock: impl AsFd, range: impl RangeBounds<u64>) -> io::Result<usize> {
        let plan = self.plan(&range, 0, false)?;
        self.tx_once(sock.as_fd(), &[], &plan, 0)
    }

    /// Sends all of `range` to `sock`, blocking: resumes short counts and `EINTR` exactly
    /// (no byte twice, none skipped), and on a non-blocking socket waits for writability
    /// (`poll`) after `EAGAIN`. Returns the bytes sent: the range clamped to the container.
    ///
    /// Errors: as [`transmit`](Self::transmit), less `EINTR` and `EAGAIN`; `WriteZero` if
    /// the module stopped sending before the end.
    pub fn transmit_all(&self, sock: impl AsFd, range: impl RangeBounds<u64>) -> io::Result<u64> {
        self.transmit_all_with_header(sock, &[], range)
    }

    /// Sends `header` and then `range` of the container, as one stream, with one call:
    /// returns the bytes sent from `offset` in that stream (header bytes count first), to be
    /// called again with `offset` advanced after a short count.
    ///
    /// With [`Features::TX_HEADER`] the module sends the header itself (`KIOVEC_TX_HEADER`,
    /// one system call, the header copied by the socket as `send(2)` copies it). Without it,
    /// or for a header over [`KIOVEC_MAX_HEADER`] bytes, the crate emulates it:
    /// `send(MSG_MORE)` of the header, then `KIOVEC_IOC_TRANSMIT` of the range, so TCP still
    /// packs them together; same results and resume rules, one more system call.
    /// [`Container::header_is_native`] tells which.
    ///
    /// Errors: as [`transmit`](Self::transmit); an empty `header` is a plain transmit.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let c = kiovec::Container::open()?;
    /// # let sock = std::net::TcpStream::connect("127.0.0.1:8080")?;
    /// // An HTTP 206 answer from a cached container of the whole file.
    /// let hdr = b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/1000\r\nContent-Length: 100\r\n\r\n";
    /// let mut off = 0;
    /// while off < (hdr.len() + 100) as u64 {
    ///     off += c.transmit_with_header(&sock, hdr, 0..100, off)? as u64;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn transmit_with_header(
        &self,
        sock: impl AsFd,
        header: &[u8],
        range: impl RangeBounds<u64>,
        offset: u64,
    ) -> io::Result<usize> {
        let plan = self.plan(&range, header.len(), false)?;
        self.tx_once(sock.as_fd(), header, &plan, offset)
    }

    /// [`transmit_with_header`](Self::transmit_with_header) until all is sent, blocking, as
    /// [`transmit_all`](Self::transmit_all) does. Returns header + range bytes sent.
    pub fn transmit_all_with_header(
        &self,
        sock: impl AsFd,
        header: &[u8],
        range: impl RangeBounds<u64>,
    ) -> io::Result<u64> {
        let sock = sock.as_fd();
        let plan = self.plan(&range, header.len(), false)?;
        let total = header.len() as u64 + plan.body;
        send_all_blocking(sock, total, |off| self.tx_once(sock, header, &plan, off))
    }

    /// Whether [`transmit_with_header`](Self::transmit_with_header) has the module send
    /// headers (of up to [`KIOVEC_MAX_HEADER`] bytes) itself, rather than the crate's
    /// `send(MSG_MORE)` emulation.
    pub fn header_is_native(&self) -> bool {
        self.has(Features::TX_HEADER)
    }

    /// Sends `header` (if any) and `range` of the container to every target with
    /// `KIOVEC_IOC_TRANSMIT_BATCH` (in chunks of [`Info::max_iovecs`]), each from its own
    /// [`offset`](BatchTarget::offset); each target's outcome is in
    /// [`BatchTarget::result`]. One target's failure does not stop the others. With
    /// `dontwait` no target blocks (`KIOVEC_TX_DONTWAIT`); otherwise every target is first sent
    /// what it takes without blocking, then the rest are waited on one after the other.
    ///
    /// | error | when |
    /// |---|---|
    /// | [`Unsupported`](io::ErrorKind::Unsupported) | the module lacks [`Features::TRANSMIT_BATCH`]; a header without [`Features::TX_HEADER`] (not emulated for batches); a range ending before the container's end without [`Features::TX_RANGE`] |
    /// | `EINVAL` | start after end (crate); a header over [`KIOVEC_MAX_HEADER`] |
    /// | `EFAULT` | (not from safe code) |
    ///
    /// Per-target errors: as [`transmit`](Self::transmit).
    pub fn transmit_batch(
        &self,
        targets: &mut [BatchTarget<'_>],
        header: Option<&[u8]>,
        range: impl RangeBounds<u64>,
        dontwait: bool,
    ) -> io::Result<()> {
        if !self.has(Features::TRANSMIT_BATCH) {
            return Err(unsupported("KIOVEC_FEAT_TRANSMIT_BATCH"));
        }
        let header = header.unwrap_or(&[]);
        if header.len() > KIOVEC_MAX_HEADER {
            return Err(einval());
        }
        let plan = self.plan(&range, header.len(), dontwait)?;
        if !header.is_empty() && !plan.native_header {
            return Err(unsupported("KIOVEC_FEAT_TX_HEADER (a header in a batch transmit)"));
        }
        let hdr = kiovec_iovec { base: header.as_ptr() as u64, len: header.len() as u64 };
        let chunk = self.info.max_iovecs.max(1) as usize;
        for group in targets.chunks_mut(chunk) {
            let mut raw: Vec<kiovec_target> = group
                .iter()
                .map(|t| kiovec_target {
                    fd: t.sock.as_raw_fd() as u32,
                    offset: plan.base + t.offset,
                    ..Default::default()
                })
                .collect();
            raw::transmit_batch(
                self.fd.as_fd(),
                &mut raw,
                plan.flags,
                plan.native_header.then_some(&hdr),
                plan.range.as_ref(),
            )?;
            for (t, r) in group.iter_mut().zip(&raw) {
                t.result = Some(r.result);
            }
        }
        Ok(())
    }

    /// Total bytes a send of `header` + `range` covers, and its plan (for the async sends).
    #[cfg(feature = "tokio")]
    fn plan_async(&self, range: &impl RangeBounds<u64>, header: &[u8]) -> io::Result<(Plan, u64)> {
        let plan = self.plan(range, header.len(), true)?;
        let total = header.len() as u64 + plan.body;
        Ok((plan, total))
    }

    /// Sends all of `range` to a non-blocking tokio socket: each call is a
    /// `KIOVEC_TX_DONTWAIT` transmit, and after a short count or `EAGAIN` the task waits for
    /// writability through the socket's reactor registration (no busy loop, no thread
    /// blocked). Returns the bytes sent. Cancel-safe in the sense that dropping the future
    /// leaves the connection with a prefix of the range sent.
    ///
    /// Errors: as [`transmit_all`](Self::transmit_all).
    ///
    /// ```no_run
    /// # async fn serve(c: &kiovec::Container, sock: tokio::net::TcpStream) -> std::io::Result<()> {
    /// c.transmit_all_async(&sock, ..).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tokio")]
    pub async fn transmit_all_async<S: crate::AsyncSocket>(
        &self,
        sock: &S,
        range: impl RangeBounds<u64>,
    ) -> io::Result<u64> {
        self.transmit_all_with_header_async(sock, &[], range).await
    }

    /// [`transmit_all_with_header`](Self::transmit_all_with_header) on a non-blocking tokio
    /// socket, waiting as [`transmit_all_async`](Self::transmit_all_async) does.
    #[cfg(feature = "tokio")]
    pub async fn transmit_all_with_header_async<S: crate::AsyncSocket>(
        &self,
        sock: &S,
        header: &[u8],
        range: impl RangeBounds<u64>,
    ) -> io::Result<u64> {
        let (plan, total) = self.plan_async(&range, header)?;
        crate::asyncio::send_all_async(sock, total, |off| {
            self.tx_once(sock.as_fd(), header, &plan, off)
        })
        .await
    }
}

impl AsFd for Container {
    /// The container's descriptor. Using it to add bytes behind the container's back, or
    /// passing a duplicate elsewhere, is outside what [`Container`] tracks (see there).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Appends header bytes into pages the module owns (`write(2)`), packing small writes.
///
/// | error | when |
/// |---|---|
/// | `E2BIG` | the container is full |
/// | `EFAULT` | (not from safe code) |
impl Write for Container {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = rustix::io::write(&self.fd, buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
