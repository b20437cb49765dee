// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI of `/dev/kiovec`.
//!
//! C header: [`include/uapi/linux/kiovec.h`](../include/uapi/linux/kiovec.h), the single
//! source of truth; this is generated from it by bindgen (see `rust/uapi_helper.h`).

use kernel::types::{AsBytes, FromBytes};

#[allow(
    clippy::all,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    unreachable_pub
)]
mod generated {
    use kernel::ffi;
    include!("uapi_generated.rs");
}

pub(crate) use generated::*;

/// Asserts at compile time that an ABI struct has no implicit padding: its size is the sum
/// of its fields' sizes. Padding would leak kernel stack bytes to user space and make
/// `AsBytes` unsound.
macro_rules! assert_no_padding {
    ($t:ty { $($field:ident),* $(,)? }) => {
        const _: () = {
            let u = core::mem::MaybeUninit::<$t>::uninit();
            let p = u.as_ptr();
            assert!(
                core::mem::size_of::<$t>()
                    == 0 $(
                        // SAFETY: Only the field's address is taken, nothing is read.
                        + size_of_pointee(unsafe { core::ptr::addr_of!((*p).$field) })
                    )*
            );
        };
    };
}

/// The size of what `_p` points at (`size_of_val` is const only from Rust 1.85).
const fn size_of_pointee<T>(_p: *const T) -> usize {
    core::mem::size_of::<T>()
}

assert_no_padding!(kiovec_info {
    abi_version,
    page_size,
    max_segments,
    max_iovecs,
    max_bytes,
    features,
    reserved
});
assert_no_padding!(kiovec_stat {
    bytes,
    segments,
    owned_pages,
    pinned_pages,
    file_pages,
    charged_pages,
    copied_pages,
    reserved0,
    reserved
});
assert_no_padding!(kiovec_iovec { base, len });
assert_no_padding!(kiovec_range { start, len });
assert_no_padding!(kiovec_rw {
    fd,
    dir,
    pos,
    offset,
    len,
    flags,
    reserved0,
    reserved
});
assert_no_padding!(kiovec_add_zero {
    len,
    flags,
    segments,
    at,
    reserved
});

assert_no_padding!(kiovec_add_user {
    iov,
    iovcnt,
    flags,
    offset,
    bytes,
    segments,
    pinned_pages,
    reserved
});
assert_no_padding!(kiovec_copy_out {
    offset,
    buf,
    len,
    flags,
    reserved0,
    reserved
});

assert_no_padding!(kiovec_transmit {
    fd,
    flags,
    offset,
    hdr,
    range
});

assert_no_padding!(kiovec_add_file {
    fd,
    flags,
    offset,
    len,
    at,
    segments,
    copied,
    reserved
});

assert_no_padding!(kiovec_target {
    fd,
    reserved0,
    offset,
    result
});
assert_no_padding!(kiovec_transmit_batch {
    targets,
    count,
    flags,
    hdr,
    range
});

// SAFETY: `kiovec_info` is made of integers only (checked by bindgen's output and the
// padding assertion above), so any byte pattern is valid and every byte is initialised.
unsafe impl FromBytes for kiovec_info {}
// SAFETY: As above.
unsafe impl AsBytes for kiovec_info {}
// SAFETY: `kiovec_stat` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_stat {}
// SAFETY: As above.
unsafe impl AsBytes for kiovec_stat {}
// SAFETY: `kiovec_add_user` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_add_user {}
// SAFETY: As above.
unsafe impl AsBytes for kiovec_add_user {}
// SAFETY: `kiovec_copy_out` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_copy_out {}
// SAFETY: `kiovec_transmit` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_transmit {}
// SAFETY: `kiovec_add_file` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_add_file {}
// SAFETY: As above.
unsafe impl AsBytes for kiovec_add_file {}
// SAFETY: `kiovec_target` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_target {}
// SAFETY: `kiovec_transmit_batch` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_transmit_batch {}
// SAFETY: `kiovec_iovec` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_iovec {}
// SAFETY: `kiovec_range` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_range {}
// SAFETY: `kiovec_rw` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_rw {}
// SAFETY: `kiovec_add_zero` is made of integers only, without padding (asserted above).
unsafe impl FromBytes for kiovec_add_zero {}
// SAFETY: As above.
unsafe impl AsBytes for kiovec_add_zero {}
