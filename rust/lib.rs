// SPDX-License-Identifier: GPL-2.0

//! What the Linux 6.12 `kernel` crate lacks and kiovec needs.
//!
//! Each module mirrors the upstream `kernel::` module of the same name (6.13 and later), so
//! that moving to a newer kernel changes imports, not design. All of the module's `unsafe`
//! code lives here.

#[path = "appendvec.rs"]
pub(crate) mod appendvec;
#[path = "bindings.rs"]
pub(crate) mod bindings;
#[path = "bvec.rs"]
pub(crate) mod bvec;
#[path = "error.rs"]
pub(crate) mod error;
#[path = "fs.rs"]
pub(crate) mod fs;
#[path = "gup.rs"]
pub(crate) mod gup;
#[path = "memlock.rs"]
pub(crate) mod memlock;
#[path = "miscdevice.rs"]
pub(crate) mod miscdevice;
#[path = "net.rs"]
pub(crate) mod net;
#[path = "page.rs"]
pub(crate) mod page;
#[path = "pagecache.rs"]
pub(crate) mod pagecache;
#[path = "rw.rs"]
pub(crate) mod rw;
#[path = "sched.rs"]
pub(crate) mod sched;
#[path = "uapi.rs"]
pub(crate) mod uapi;
