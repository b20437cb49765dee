// SPDX-License-Identifier: GPL-2.0

//! kiovec: zero-copy I/O containers.
//!
//! Registers `/dev/kiovec`; each open of it is a [`container::Container`]. The module's
//! `unsafe` code is confined to `rust/` (the `kernel_ext` module); everything else denies it.

#![deny(unsafe_code)]

use kernel::{c_str, prelude::*};

#[allow(unsafe_code)]
#[path = "../rust/lib.rs"]
mod kernel_ext;

mod container;
mod export;
mod filerange;
mod ioctl;
mod iorange;
mod kiobuf;
mod kiovec;
mod limits;
mod rw;
mod send;

use container::Container;
use kernel_ext::miscdevice::{MiscDeviceOptions, MiscDeviceRegistration};

module! {
    type: KiovecModule,
    name: "kiovec",
    author: "The kiovec developers",
    description: "Zero-copy I/O containers of pinned user pages, page-cache ranges and sockets",
    license: "GPL",
}

struct KiovecModule {
    _misc: Pin<KBox<MiscDeviceRegistration<Container>>>,
}

impl kernel::Module for KiovecModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let options = MiscDeviceOptions {
            name: c_str!("kiovec"),
            // Containers only ever hold what their opener could already read, pin or send,
            // so any user may open one; resource use is charged to that user.
            mode: 0o666,
        };
        Ok(Self {
            _misc: KBox::pin_init(MiscDeviceRegistration::register(options), GFP_KERNEL)?,
        })
    }
}
