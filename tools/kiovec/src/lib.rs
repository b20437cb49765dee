//! Safe user-space API for kiovec, the zero-copy I/O containers of `/dev/kiovec`.
//!
//! A [`Container`] is one open of /dev/kiovec: an ordered list of segments — bytes written
//! into it ([`std::io::Write`]), pinned user memory ([`Container::add_user`]), file ranges by
//! page-cache reference ([`Container::add_file`]) — that it sends to TCP sockets by page
//! reference, as often as asked and from many threads at once ([`Container::transmit`],
//! [`Container::transmit_all`], [`Container::transmit_with_header`],
//! [`Container::transmit_batch`], and with the `tokio` feature
//! [`Container::transmit_all_async`]).
//!
//! [`Response`] is the portable front: a header and a file range that go through kiovec
//! when /dev/kiovec is there, and through `send(MSG_MORE)` + `sendfile(2)` when it is not,
//! with the same calls; [`Response::path`] says which.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let file = std::fs::File::open("index.html")?;
//! let len = file.metadata()?.len();
//! let resp = kiovec::Response::new(format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n"), &file, ..)?;
//! let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
//! for sock in listener.incoming() {
//!     resp.send(&sock?)?; // kiovec: one ioctl per response; else send + sendfile
//! }
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every call returns [`std::io::Error`]. Errors from the module or a system call keep their
//! errno ([`std::io::Error::raw_os_error`]); each method lists the errnos it can give, as the
//! header `include/uapi/linux/kiovec.h` documents them. The crate raises three of its own:
//! [`AbiMismatch`] (kind `Unsupported`) from [`Container::open`], kind `Unsupported` when the
//! running module lacks a feature a call needs ([`Features`]), and kind `WriteZero` when a
//! `*_all` send ends before its end. Arguments the ABI cannot express are refused before any
//! system call with the errno the module would give: `EINVAL` for a range whose start is
//! after its end, `EOVERFLOW` for a bound past `u64::MAX`.
//!
//! # Pinned memory
//!
//! Memory pinned into a container is read by the kernel whenever the container is sent,
//! until the container is reset or closed. Safe code can only pin memory whose ownership it
//! hands over: [`Container::add_user`] takes a [`StableBuf`] (`Vec<u8>`, `Box<[u8]>`,
//! `Arc<[u8]>`, `&'static [u8]`, ...) and keeps it until [`Container::reset`] or drop, the
//! way tokio-uring and io-uring's registered buffers own theirs. The raw ioctl is
//! [`Container::add_user_raw`], an `unsafe fn` whose contract is written there.
//!
//! # Features of the running module
//!
//! [`Container::open`] reads `KIOVEC_IOC_INFO` once and refuses a module of another
//! `KIOVEC_ABI_VERSION` with a clear error. Optional parts of the ABI are checked through
//! [`Features`] before they are used: a per-transmit header without
//! `KIOVEC_FEAT_TX_HEADER` is emulated (`send(MSG_MORE)` then the transmit, see
//! [`Container::transmit_with_header`]); a range that stops before the container's end
//! without `KIOVEC_FEAT_TX_RANGE` is `Unsupported`.
//!
//! # The ABI: hand-mirrored, checked against the header
//!
//! The structs and ioctl numbers in [`sys`] are written by hand as `#[repr(C)]` mirrors of
//! `include/uapi/linux/kiovec.h`, with compile-time assertions of every size and field
//! offset, and the ioctl numbers computed with rustix's `opcode` functions (`_IOR`,
//! `_IOW`, `_IOWR` from the struct sizes). The host test `tests/layout.rs` compiles a C
//! program against the header itself and compares every size, offset, constant and ioctl
//! number. This was chosen over bindgen at build time because the crate then builds
//! anywhere — no libclang, no kernel header at a known path, nothing generated — which is
//! what a crate that servers depend on needs; the header stays the single source of truth
//! because the test fails on any divergence. The ioctls themselves go through
//! `rustix::ioctl` (`Getter`, `Updater`, `NoArg`, and one small `Ioctl` implementation for
//! the calls that return a count).
//!
//! # Minimum Rust version
//!
//! 1.85 (`rust-version` in Cargo.toml; clippy's `incompatible_msrv` lint checks it).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "tokio")]
mod asyncio;
mod container;
mod raw;
mod response;
pub mod sys;
mod util;

#[cfg(feature = "tokio")]
pub use asyncio::AsyncSocket;
pub use container::{
    AbiMismatch, AddedFile, AddedUser, BatchTarget, Container, Features, Info, StableBuf, Stat,
    DEVICE,
};
pub use response::{Mode, Path, Response};
pub use sys::{KIOVEC_ABI_VERSION, KIOVEC_ADD_WRITE, KIOVEC_MAX_HEADER};

pub(crate) use util::einval;

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
