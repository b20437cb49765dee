// SPDX-License-Identifier: GPL-2.0

//! Sleeping.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h).

use crate::kernel_ext::bindings;

/// Sleeps for one clock tick, or less if a signal comes; returns whether one is pending.
pub(crate) fn sleep_tick_interruptible() -> bool {
    // SAFETY: No preconditions; process context (the caller's syscall).
    unsafe { bindings::kiovec_helper_sleep_tick_interruptible() }
}
