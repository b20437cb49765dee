// SPDX-License-Identifier: GPL-2.0

//! The file operations of `/dev/kiovec`: open makes a container, ioctl and write act on it.
//!
//! ioctl handlers validate in a fixed order (flags, reserved fields, alignment, overflow,
//! limits) before they act, and copy each user struct exactly once.

#![deny(unsafe_code)]

use crate::{
    container::Container,
    kernel_ext::{fs::File, miscdevice::MiscDevice, uapi},
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
                    features: uapi::KIOVEC_FEAT_WRITE,
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
