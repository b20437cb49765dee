/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forwarders for static inline kernel functions and macros that Rust cannot call.
 * Each is named kiovec_helper_<function> and given its plain name on the Rust side.
 */
#ifndef _KIOVEC_HELPERS_H
#define _KIOVEC_HELPERS_H

struct file;

struct file *kiovec_helper_get_file(struct file *f);

#endif
