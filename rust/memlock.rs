// SPDX-License-Identifier: GPL-2.0

//! Charging pinned pages to `RLIMIT_MEMLOCK`.
//!
//! C headers: [`include/linux/sched/user.h`](srctree/include/linux/sched/user.h),
//! [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h).
//!
//! The accounting of io_uring's registered buffers (`__io_account_mem`, not exported): the
//! account is taken when the container is opened, as io_uring takes it when a ring is set up.
//! Pinned pages count against the opener's user's `locked_vm`, limited by the charging
//! task's `RLIMIT_MEMLOCK`, unless the opener had `CAP_IPC_LOCK`; and they are shown in the
//! opener's mm's `pinned_vm` (`VmPin`). Each charge holds the account, so it is undone exactly
//! once, to the same user, whoever drops it and wherever (another process after
//! `SCM_RIGHTS`, the exit path).

use crate::kernel_ext::bindings;
use core::ptr::NonNull;
use kernel::{page::PAGE_SIZE, prelude::*, sync::Arc};

/// Whom a container's pinned pages are charged to.
///
/// # Invariants
///
/// `user`, if any, is a `user_struct` on which `self` owns a reference; `mm`, if any, is an
/// `mm_struct` on which `self` owns an `mmgrab` reference.
pub(crate) struct MemlockAccount {
    user: Option<NonNull<bindings::user_struct>>,
    mm: Option<NonNull<bindings::mm_struct>>,
}

// SAFETY: The references are counted and may be dropped from any thread; the counters they
// lead to are atomic.
unsafe impl Send for MemlockAccount {}
// SAFETY: `&self` methods only update atomic counters.
unsafe impl Sync for MemlockAccount {}

impl MemlockAccount {
    /// The current task's account: its user, unless it has `CAP_IPC_LOCK` (then no limit
    /// applies and `locked_vm` is left alone), and its mm.
    pub(crate) fn current() -> Self {
        // SAFETY: No preconditions.
        let exempt = unsafe { bindings::kiovec_helper_capable_ipc_lock() };
        // INVARIANT: Both helpers return a new reference, or null.
        Self {
            // SAFETY: No preconditions.
            user: (!exempt)
                .then(|| unsafe { bindings::kiovec_helper_get_current_user() })
                .and_then(NonNull::new),
            // SAFETY: No preconditions; null for a task without an mm (a kernel thread).
            mm: NonNull::new(unsafe { bindings::kiovec_helper_current_mm_grab() }),
        }
    }

    /// Charges `pages` pages.
    ///
    /// Fails with `ENOMEM` when the user's locked memory would exceed the current task's
    /// `RLIMIT_MEMLOCK` (io_uring's errno for the same limit).
    pub(crate) fn charge(account: &Arc<Self>, pages: usize) -> Result<MemlockCharge> {
        account.add(pages)?;
        // INVARIANT: `pages` were just added to the account's counters.
        Ok(MemlockCharge {
            account: account.clone(),
            pages,
        })
    }

    /// Adds `pages` to the counters, or fails with `ENOMEM` and adds nothing.
    fn add(&self, pages: usize) -> Result {
        let want = isize::try_from(pages).map_err(|_| ENOMEM)?;
        if let Some(user) = self.user {
            let user = user.as_ptr();
            // SAFETY: No preconditions.
            let limit =
                unsafe { bindings::kiovec_helper_rlimit(bindings::RLIMIT_MEMLOCK) } / PAGE_SIZE;
            let limit = limit.min(isize::MAX as usize) as isize;
            // SAFETY: We own a reference on `user` (type invariant).
            let mut cur = unsafe { bindings::kiovec_helper_user_locked_vm_read(user) } as isize;
            loop {
                let new = cur.checked_add(want).ok_or(ENOMEM)?;
                if new > limit {
                    return Err(ENOMEM);
                }
                // SAFETY: As above; `cur` is valid for the observed value to be written back.
                if unsafe {
                    bindings::kiovec_helper_user_locked_vm_try_cmpxchg(
                        user,
                        &mut cur as *mut isize as _,
                        new as _,
                    )
                } {
                    break;
                }
            }
        }
        if let Some(mm) = self.mm {
            // SAFETY: We own a reference on `mm` (type invariant).
            unsafe { bindings::kiovec_helper_mm_pinned_vm_add(mm.as_ptr(), want as i64) };
        }
        Ok(())
    }

    /// Takes `pages` off the counters; they were added by `add`.
    fn sub(&self, pages: usize) {
        if let Some(user) = self.user {
            // SAFETY: We own a reference on the user (type invariant); these pages are in its
            // `locked_vm` (the caller's contract).
            unsafe { bindings::kiovec_helper_user_locked_vm_sub(user.as_ptr(), pages as _) };
        }
        if let Some(mm) = self.mm {
            // SAFETY: We own a reference on the mm (type invariant); as above for `pinned_vm`.
            unsafe { bindings::kiovec_helper_mm_pinned_vm_add(mm.as_ptr(), -(pages as i64)) };
        }
    }
}

impl Drop for MemlockAccount {
    fn drop(&mut self) {
        if let Some(mm) = self.mm {
            // SAFETY: By the type invariant we own an `mmgrab` reference.
            unsafe { bindings::kiovec_helper_mmdrop(mm.as_ptr()) };
        }
        if let Some(user) = self.user {
            // SAFETY: By the type invariant we own a reference on the user.
            unsafe { bindings::free_uid(user.as_ptr()) };
        }
    }
}

/// Pages charged to an account; uncharged on drop.
///
/// # Invariants
///
/// `pages` were added to `account`'s user's `locked_vm` (if it has a user) and to its mm's
/// `pinned_vm` (if it has an mm), by this charge.
pub(crate) struct MemlockCharge {
    account: Arc<MemlockAccount>,
    pages: usize,
}

impl MemlockCharge {
    /// Charges `pages` more to the same account, or fails with `ENOMEM` and charges nothing.
    pub(crate) fn grow(&mut self, pages: usize) -> Result {
        self.account.add(pages)?;
        // INVARIANT: Just added.
        self.pages += pages;
        Ok(())
    }

    /// Gives back `pages` of this charge (at most what it holds).
    pub(crate) fn shrink(&mut self, pages: usize) {
        let pages = pages.min(self.pages);
        self.account.sub(pages);
        // INVARIANT: Just taken off.
        self.pages -= pages;
    }

    /// Moves `pages` of this charge (at most what it holds) into a charge of their own.
    pub(crate) fn split(&mut self, pages: usize) -> MemlockCharge {
        let pages = pages.min(self.pages);
        // INVARIANT: The pages move from one charge to the other; the counters are unchanged.
        self.pages -= pages;
        MemlockCharge {
            account: self.account.clone(),
            pages,
        }
    }

    /// How many pages this charge holds.
    pub(crate) fn pages(&self) -> usize {
        self.pages
    }
}

impl Drop for MemlockCharge {
    fn drop(&mut self) {
        // By the type invariant these pages are in the account's counters.
        self.account.sub(self.pages);
    }
}
