/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bindgen input for the kernel C API that the 6.12 `bindings` crate does not cover.
 *
 * Only the items named in Kbuild's allowlist are generated, and not recursively: the types
 * they mention (file_operations, device, ...) resolve to `kernel::bindings`, so one C type
 * is one Rust type across the module.
 */
#include <linux/miscdevice.h>

#include "helpers/helpers.h"
