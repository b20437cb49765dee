// SPDX-License-Identifier: GPL-2.0
/*
 * The module's C object: forwarders for static inline kernel functions, one file per
 * subsystem under helpers/, in the way the kernel's rust/helpers/helpers.c gathers them.
 */
#include "helpers/helpers.h"

#include "helpers/file.c"
#include "helpers/mm.c"
#include "helpers/net.c"
#include "helpers/pagecache.c"
#include "helpers/rw.c"
