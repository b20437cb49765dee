//! The raw ABI of `include/uapi/linux/kiovec.h`, mirrored by hand.
//!
//! Every struct here is `#[repr(C)]` with the header's field order and types (`__u32` is
//! `u32`, `__u64` is `u64`, `__s64` is `i64`), so the layout is the header's: no implicit
//! padding, pointers travel as `u64`. Sizes and field offsets are asserted at compile time
//! below, and the host test `tests/layout.rs` compiles a C program against the header
//! itself and compares every size, offset, constant and ioctl number with these.
//!
//! Most programs need none of this: [`Container`](crate::Container) wraps it. It is public
//! for [`Container::add_user_raw`](crate::Container::add_user_raw) and for tools that want
//! the numbers.

#![allow(non_camel_case_types)]

use core::mem::{offset_of, size_of};
use rustix::ioctl::{opcode, Opcode};

/// `KIOVEC_ABI_VERSION`: the ABI this crate speaks; [`Container::open`](crate::Container::open)
/// refuses a module that reports another one.
pub const KIOVEC_ABI_VERSION: u32 = 1;
/// `KIOVEC_IOC_MAGIC`: the ioctl group of /dev/kiovec.
pub const KIOVEC_IOC_MAGIC: u8 = 0xB9;

/// `KIOVEC_FEAT_WRITE`: `write()` appends bytes to the container.
pub const KIOVEC_FEAT_WRITE: u64 = 1 << 0;
/// `KIOVEC_FEAT_ADD_USER`: `KIOVEC_IOC_ADD_USER`.
pub const KIOVEC_FEAT_ADD_USER: u64 = 1 << 1;
/// `KIOVEC_FEAT_COPY_OUT`: `KIOVEC_IOC_COPY_OUT`.
pub const KIOVEC_FEAT_COPY_OUT: u64 = 1 << 2;
/// `KIOVEC_FEAT_TRANSMIT`: `KIOVEC_IOC_TRANSMIT`.
pub const KIOVEC_FEAT_TRANSMIT: u64 = 1 << 3;
/// `KIOVEC_FEAT_ADD_FILE`: `KIOVEC_IOC_ADD_FILE`.
pub const KIOVEC_FEAT_ADD_FILE: u64 = 1 << 4;
/// `KIOVEC_FEAT_TRANSMIT_BATCH`: `KIOVEC_IOC_TRANSMIT_BATCH`.
pub const KIOVEC_FEAT_TRANSMIT_BATCH: u64 = 1 << 5;
/// `KIOVEC_FEAT_FILE_COPY`: `ADD_FILE` reads files without a usable page cache.
pub const KIOVEC_FEAT_FILE_COPY: u64 = 1 << 6;
/// `KIOVEC_FEAT_COMPAT`: 32-bit callers (compat_ioctl).
pub const KIOVEC_FEAT_COMPAT: u64 = 1 << 7;
/// `KIOVEC_FEAT_TX_HEADER`: `KIOVEC_TX_HEADER`.
pub const KIOVEC_FEAT_TX_HEADER: u64 = 1 << 8;
/// `KIOVEC_FEAT_TX_RANGE`: `KIOVEC_TX_RANGE`.
pub const KIOVEC_FEAT_TX_RANGE: u64 = 1 << 9;
/// `KIOVEC_FEAT_RW`: `KIOVEC_IOC_RW`.
pub const KIOVEC_FEAT_RW: u64 = 1 << 10;
/// `KIOVEC_FEAT_ADD_ZERO`: `KIOVEC_IOC_ADD_ZERO`.
pub const KIOVEC_FEAT_ADD_ZERO: u64 = 1 << 11;

/// `KIOVEC_FEAT_RO_FD`: `KIOVEC_IOC_RO_FD`.
pub const KIOVEC_FEAT_RO_FD: u64 = 1 << 12;

/// `KIOVEC_ADD_WRITE`: pin the memory writable (I/O may write into it).
pub const KIOVEC_ADD_WRITE: u32 = 1 << 0;
/// `KIOVEC_ADD_FLAGS`: every `KIOVEC_ADD_*` flag.
pub const KIOVEC_ADD_FLAGS: u32 = KIOVEC_ADD_WRITE;

/// `KIOVEC_TX_NOSIGNAL`: no `SIGPIPE` on a broken connection.
pub const KIOVEC_TX_NOSIGNAL: u32 = 1 << 0;
/// `KIOVEC_TX_DONTWAIT`: don't block, as on an `O_NONBLOCK` socket.
pub const KIOVEC_TX_DONTWAIT: u32 = 1 << 1;
/// `KIOVEC_TX_HEADER`: `hdr` points at a header to send first.
pub const KIOVEC_TX_HEADER: u32 = 1 << 2;
/// `KIOVEC_TX_RANGE`: `range` points at the part of the container to send.
pub const KIOVEC_TX_RANGE: u32 = 1 << 3;
/// `KIOVEC_TX_FLAGS`: every `KIOVEC_TX_*` flag.
pub const KIOVEC_TX_FLAGS: u32 =
    KIOVEC_TX_NOSIGNAL | KIOVEC_TX_DONTWAIT | KIOVEC_TX_HEADER | KIOVEC_TX_RANGE;
/// `KIOVEC_MAX_HEADER`: the longest header `KIOVEC_TX_HEADER` takes.
pub const KIOVEC_MAX_HEADER: usize = 65536;

/// `KIOVEC_READ`: `kiovec_rw.dir`, from the target into the container.
pub const KIOVEC_READ: u32 = 0;
/// `KIOVEC_WRITE`: `kiovec_rw.dir`, from the container to the target.
pub const KIOVEC_WRITE: u32 = 1;

/// `struct kiovec_iovec`: one user memory range (a 64-bit `struct iovec`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_iovec {
    /// User address.
    pub base: u64,
    /// Length in bytes.
    pub len: u64,
}

/// `struct kiovec_range`: a byte range of the container.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_range {
    /// Container byte offset where the range starts.
    pub start: u64,
    /// Its length in bytes (clamped to the container's end).
    pub len: u64,
}

/// `struct kiovec_info`: the module's ABI version and limits (`KIOVEC_IOC_INFO`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_info {
    /// `KIOVEC_ABI_VERSION` of the running module.
    pub abi_version: u32,
    /// The kernel's `PAGE_SIZE`.
    pub page_size: u32,
    /// Segments one container can hold.
    pub max_segments: u32,
    /// Iovecs (or batch targets) one call may pass.
    pub max_iovecs: u32,
    /// Bytes one container can hold.
    pub max_bytes: u64,
    /// `KIOVEC_FEAT_*` bits.
    pub features: u64,
    /// Zero.
    pub reserved: [u64; 4],
}

/// `struct kiovec_stat`: what one container holds (`KIOVEC_IOC_STAT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_stat {
    /// Bytes in the container.
    pub bytes: u64,
    /// Segments in the container.
    pub segments: u32,
    /// Pages the module allocated for `write()` data and `ADD_ZERO`.
    pub owned_pages: u32,
    /// User pages the container holds pinned.
    pub pinned_pages: u32,
    /// Page-cache pages the container holds references on.
    pub file_pages: u32,
    /// Pages charged to the opener's locked memory.
    pub charged_pages: u64,
    /// Pages the module owns holding a copy of file data.
    pub copied_pages: u32,
    /// Zero.
    pub reserved0: u32,
    /// Zero.
    pub reserved: [u64; 2],
}

/// `struct kiovec_add_user`: append user memory, pinned in place (`KIOVEC_IOC_ADD_USER`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_add_user {
    /// In: user pointer to an array of [`kiovec_iovec`].
    pub iov: u64,
    /// In: entries in `iov`, 1 to `kiovec_info.max_iovecs`.
    pub iovcnt: u32,
    /// In: `KIOVEC_ADD_*`.
    pub flags: u32,
    /// Out: where the new bytes start in the container.
    pub offset: u64,
    /// Out: bytes added.
    pub bytes: u64,
    /// Out: segments added.
    pub segments: u32,
    /// Out: pages pinned.
    pub pinned_pages: u32,
    /// In: zero.
    pub reserved: [u64; 2],
}

/// `struct kiovec_copy_out`: copy the container's bytes to user memory (`KIOVEC_IOC_COPY_OUT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_copy_out {
    /// Container byte offset to start at.
    pub offset: u64,
    /// User buffer.
    pub buf: u64,
    /// Its length.
    pub len: u64,
    /// Zero.
    pub flags: u32,
    /// Zero.
    pub reserved0: u32,
    /// Zero.
    pub reserved: [u64; 2],
}

/// `struct kiovec_add_file`: append a range of a file's page cache (`KIOVEC_IOC_ADD_FILE`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_add_file {
    /// In: a regular file open for reading.
    pub fd: u32,
    /// In: zero.
    pub flags: u32,
    /// In: where the range starts in the file.
    pub offset: u64,
    /// In: its length.
    pub len: u64,
    /// Out: where the new bytes start in the container.
    pub at: u64,
    /// Out: segments added.
    pub segments: u32,
    /// Out: pages copied into pages the container owns instead of referenced.
    pub copied: u32,
    /// Zero.
    pub reserved: [u64; 2],
}

/// `struct kiovec_transmit`: send the container to a TCP socket (`KIOVEC_IOC_TRANSMIT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_transmit {
    /// A connected TCP socket.
    pub fd: u32,
    /// `KIOVEC_TX_*`.
    pub flags: u32,
    /// Byte offset to start at in what this call sends (header, then range).
    pub offset: u64,
    /// With `KIOVEC_TX_HEADER`: user pointer to a [`kiovec_iovec`]; zero otherwise.
    pub hdr: u64,
    /// With `KIOVEC_TX_RANGE`: user pointer to a [`kiovec_range`]; zero otherwise.
    pub range: u64,
}

/// `struct kiovec_target`: one socket of a batch transmit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_target {
    /// In: a connected TCP socket.
    pub fd: u32,
    /// In: zero.
    pub reserved0: u32,
    /// In: byte offset to start at for this socket.
    pub offset: u64,
    /// Out: bytes sent, or a negative errno.
    pub result: i64,
}

/// `struct kiovec_transmit_batch`: send the container to many sockets
/// (`KIOVEC_IOC_TRANSMIT_BATCH`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_transmit_batch {
    /// User pointer to an array of [`kiovec_target`].
    pub targets: u64,
    /// Entries, 1 to `kiovec_info.max_iovecs`.
    pub count: u32,
    /// `KIOVEC_TX_*`, for every target.
    pub flags: u32,
    /// As for `KIOVEC_IOC_TRANSMIT`.
    pub hdr: u64,
    /// As for `KIOVEC_IOC_TRANSMIT`.
    pub range: u64,
}

/// `struct kiovec_rw`: move a range of the container to or from a file, block device or
/// socket (`KIOVEC_IOC_RW`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_rw {
    /// The target.
    pub fd: u32,
    /// `KIOVEC_READ` or `KIOVEC_WRITE`.
    pub dir: u32,
    /// File or device byte offset (ignored for sockets).
    pub pos: u64,
    /// Container byte offset where the range starts.
    pub offset: u64,
    /// The range's length.
    pub len: u64,
    /// Zero.
    pub flags: u32,
    /// Zero.
    pub reserved0: u32,
    /// Zero.
    pub reserved: [u64; 2],
}

/// `struct kiovec_add_zero`: append zero-filled pages the container owns
/// (`KIOVEC_IOC_ADD_ZERO`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kiovec_add_zero {
    /// In: bytes to add, a multiple of the page size.
    pub len: u64,
    /// In: zero.
    pub flags: u32,
    /// Out: segments added.
    pub segments: u32,
    /// Out: where the new bytes start in the container.
    pub at: u64,
    /// Zero.
    pub reserved: [u64; 2],
}

/// `KIOVEC_IOC_INFO`: `_IOR(0xB9, 0x00, struct kiovec_info)`.
pub const KIOVEC_IOC_INFO: Opcode = opcode::read::<kiovec_info>(KIOVEC_IOC_MAGIC, 0x00);
/// `KIOVEC_IOC_STAT`: `_IOR(0xB9, 0x01, struct kiovec_stat)`.
pub const KIOVEC_IOC_STAT: Opcode = opcode::read::<kiovec_stat>(KIOVEC_IOC_MAGIC, 0x01);
/// `KIOVEC_IOC_RESET`: `_IO(0xB9, 0x02)`.
pub const KIOVEC_IOC_RESET: Opcode = opcode::none(KIOVEC_IOC_MAGIC, 0x02);
/// `KIOVEC_IOC_ADD_USER`: `_IOWR(0xB9, 0x03, struct kiovec_add_user)`.
pub const KIOVEC_IOC_ADD_USER: Opcode =
    opcode::read_write::<kiovec_add_user>(KIOVEC_IOC_MAGIC, 0x03);
/// `KIOVEC_IOC_COPY_OUT`: `_IOW(0xB9, 0x04, struct kiovec_copy_out)`.
pub const KIOVEC_IOC_COPY_OUT: Opcode = opcode::write::<kiovec_copy_out>(KIOVEC_IOC_MAGIC, 0x04);
/// `KIOVEC_IOC_TRANSMIT`: `_IOW(0xB9, 0x05, struct kiovec_transmit)`.
pub const KIOVEC_IOC_TRANSMIT: Opcode = opcode::write::<kiovec_transmit>(KIOVEC_IOC_MAGIC, 0x05);
/// `KIOVEC_IOC_ADD_FILE`: `_IOWR(0xB9, 0x06, struct kiovec_add_file)`.
pub const KIOVEC_IOC_ADD_FILE: Opcode =
    opcode::read_write::<kiovec_add_file>(KIOVEC_IOC_MAGIC, 0x06);
/// `KIOVEC_IOC_TRANSMIT_BATCH`: `_IOW(0xB9, 0x07, struct kiovec_transmit_batch)`.
pub const KIOVEC_IOC_TRANSMIT_BATCH: Opcode =
    opcode::write::<kiovec_transmit_batch>(KIOVEC_IOC_MAGIC, 0x07);
/// `KIOVEC_IOC_RW`: `_IOW(0xB9, 0x08, struct kiovec_rw)`.
pub const KIOVEC_IOC_RW: Opcode = opcode::write::<kiovec_rw>(KIOVEC_IOC_MAGIC, 0x08);
/// `KIOVEC_IOC_ADD_ZERO`: `_IOWR(0xB9, 0x09, struct kiovec_add_zero)`.
pub const KIOVEC_IOC_ADD_ZERO: Opcode =
    opcode::read_write::<kiovec_add_zero>(KIOVEC_IOC_MAGIC, 0x09);
/// `KIOVEC_IOC_RO_FD`: `_IO(0xB9, 0x0a)`, returns a read-only descriptor of the container.
pub const KIOVEC_IOC_RO_FD: Opcode = opcode::none(KIOVEC_IOC_MAGIC, 0x0a);

// The layout, checked where it is declared. The values are the header's, worked out by hand
// from its __u32/__u64 fields; tests/layout.rs checks them against the C compiler's view.
macro_rules! assert_layout {
    ($t:ty, $size:expr, { $($field:ident: $off:expr),* $(,)? }) => {
        const _: () = assert!(size_of::<$t>() == $size);
        $(const _: () = assert!(offset_of!($t, $field) == $off);)*
    };
}

assert_layout!(kiovec_iovec, 16, { base: 0, len: 8 });
assert_layout!(kiovec_range, 16, { start: 0, len: 8 });
assert_layout!(kiovec_info, 64, {
    abi_version: 0, page_size: 4, max_segments: 8, max_iovecs: 12, max_bytes: 16,
    features: 24, reserved: 32,
});
assert_layout!(kiovec_stat, 56, {
    bytes: 0, segments: 8, owned_pages: 12, pinned_pages: 16, file_pages: 20,
    charged_pages: 24, copied_pages: 32, reserved0: 36, reserved: 40,
});
assert_layout!(kiovec_add_user, 56, {
    iov: 0, iovcnt: 8, flags: 12, offset: 16, bytes: 24, segments: 32, pinned_pages: 36,
    reserved: 40,
});
assert_layout!(kiovec_copy_out, 48, {
    offset: 0, buf: 8, len: 16, flags: 24, reserved0: 28, reserved: 32,
});
assert_layout!(kiovec_add_file, 56, {
    fd: 0, flags: 4, offset: 8, len: 16, at: 24, segments: 32, copied: 36, reserved: 40,
});
assert_layout!(kiovec_transmit, 32, { fd: 0, flags: 4, offset: 8, hdr: 16, range: 24 });
assert_layout!(kiovec_target, 24, { fd: 0, reserved0: 4, offset: 8, result: 16 });
assert_layout!(kiovec_transmit_batch, 32, {
    targets: 0, count: 8, flags: 12, hdr: 16, range: 24,
});
assert_layout!(kiovec_rw, 56, {
    fd: 0, dir: 4, pos: 8, offset: 16, len: 24, flags: 32, reserved0: 36, reserved: 40,
});
assert_layout!(kiovec_add_zero, 40, { len: 0, flags: 8, segments: 12, at: 16, reserved: 24 });

/// One struct's layout: (C name, size, [(field, offset)]).
#[doc(hidden)]
pub type Layout = (&'static str, usize, Vec<(&'static str, usize)>);

/// Every struct of the header, for the layout test.
#[doc(hidden)]
pub fn layouts() -> Vec<Layout> {
    macro_rules! l {
        ($t:ident, $($f:ident),*) => {
            (stringify!($t), size_of::<$t>(), vec![$((stringify!($f), offset_of!($t, $f))),*])
        };
    }
    vec![
        l!(kiovec_iovec, base, len),
        l!(kiovec_range, start, len),
        l!(
            kiovec_info,
            abi_version,
            page_size,
            max_segments,
            max_iovecs,
            max_bytes,
            features,
            reserved
        ),
        l!(
            kiovec_stat,
            bytes,
            segments,
            owned_pages,
            pinned_pages,
            file_pages,
            charged_pages,
            copied_pages,
            reserved0,
            reserved
        ),
        l!(kiovec_add_user, iov, iovcnt, flags, offset, bytes, segments, pinned_pages, reserved),
        l!(kiovec_copy_out, offset, buf, len, flags, reserved0, reserved),
        l!(kiovec_add_file, fd, flags, offset, len, at, segments, copied, reserved),
        l!(kiovec_transmit, fd, flags, offset, hdr, range),
        l!(kiovec_target, fd, reserved0, offset, result),
        l!(kiovec_transmit_batch, targets, count, flags, hdr, range),
        l!(kiovec_rw, fd, dir, pos, offset, len, flags, reserved0, reserved),
        l!(kiovec_add_zero, len, flags, segments, at, reserved),
    ]
}

/// Every integer constant of the header: (C name, value), for the layout test.
#[doc(hidden)]
pub fn constants() -> Vec<(&'static str, u64)> {
    macro_rules! c {
        ($($n:ident),* $(,)?) => { vec![$((stringify!($n), $n as u64)),*] };
    }
    c![
        KIOVEC_ABI_VERSION,
        KIOVEC_IOC_MAGIC,
        KIOVEC_FEAT_WRITE,
        KIOVEC_FEAT_ADD_USER,
        KIOVEC_FEAT_COPY_OUT,
        KIOVEC_FEAT_TRANSMIT,
        KIOVEC_FEAT_ADD_FILE,
        KIOVEC_FEAT_TRANSMIT_BATCH,
        KIOVEC_FEAT_FILE_COPY,
        KIOVEC_FEAT_COMPAT,
        KIOVEC_FEAT_TX_HEADER,
        KIOVEC_FEAT_TX_RANGE,
        KIOVEC_FEAT_RW,
        KIOVEC_FEAT_ADD_ZERO,
        KIOVEC_FEAT_RO_FD,
        KIOVEC_ADD_WRITE,
        KIOVEC_ADD_FLAGS,
        KIOVEC_TX_NOSIGNAL,
        KIOVEC_TX_DONTWAIT,
        KIOVEC_TX_HEADER,
        KIOVEC_TX_RANGE,
        KIOVEC_TX_FLAGS,
        KIOVEC_MAX_HEADER,
        KIOVEC_READ,
        KIOVEC_WRITE,
        KIOVEC_IOC_INFO,
        KIOVEC_IOC_STAT,
        KIOVEC_IOC_RESET,
        KIOVEC_IOC_ADD_USER,
        KIOVEC_IOC_COPY_OUT,
        KIOVEC_IOC_TRANSMIT,
        KIOVEC_IOC_ADD_FILE,
        KIOVEC_IOC_TRANSMIT_BATCH,
        KIOVEC_IOC_RW,
        KIOVEC_IOC_ADD_ZERO,
        KIOVEC_IOC_RO_FD,
    ]
}
