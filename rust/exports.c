// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the in-kernel API (include/linux/kiovec.h). The functions are defined in Rust
 * (src/export.rs, #[no_mangle]); EXPORT_SYMBOL_GPL needs only their declarations, as the
 * kernel's own rust/exports.c does it.
 */
#include <linux/export.h>
#include <linux/kiovec.h>

EXPORT_SYMBOL_GPL(kiovec_get_fd);
EXPORT_SYMBOL_GPL(kiovec_get);
EXPORT_SYMBOL_GPL(kiovec_put);
EXPORT_SYMBOL_GPL(kiovec_len);
EXPORT_SYMBOL_GPL(kiovec_bvecs);
EXPORT_SYMBOL_GPL(kiovec_iter_new);
EXPORT_SYMBOL_GPL(kiovec_iter);
EXPORT_SYMBOL_GPL(kiovec_iter_free);
EXPORT_SYMBOL_GPL(rw_kiovec);
