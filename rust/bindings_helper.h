/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bindgen input for the kernel C API that the 6.12 `bindings` crate does not cover.
 *
 * Only the items named in Kbuild's allowlist are generated, and not recursively: the types
 * they mention (file_operations, device, ...) resolve to `kernel::bindings`, so one C type
 * is one Rust type across the module.
 */
#include <linux/anon_inodes.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/kiovec.h>
#include <linux/miscdevice.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>

#include "helpers/helpers.h"

/* __force-cast macros bindgen cannot evaluate; the build renames RUST_CONST_HELPER_X to X. */
const fmode_t RUST_CONST_HELPER_FMODE_READ = FMODE_READ;
const fmode_t RUST_CONST_HELPER_FMODE_WRITE = FMODE_WRITE;
const fmode_t RUST_CONST_HELPER_FMODE_PREAD = FMODE_PREAD;
