// SPDX-License-Identifier: GPL-2.0

//! Kernel file systems.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h). Mirrors upstream
//! `kernel::fs`.

#[path = "fs/file.rs"]
pub(crate) mod file;

pub(crate) use self::file::File;
