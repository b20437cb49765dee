// SPDX-License-Identifier: GPL-2.0

//! Zero-filled pages a container owns for I/O to write into (`KIOVEC_IOC_ADD_ZERO`): a
//! receive buffer that needs no user memory.

#![deny(unsafe_code)]

use crate::kernel_ext::{
    memlock::{MemlockAccount, MemlockCharge},
    page::IoPage,
};
use kernel::{alloc::KVVec, prelude::*, sync::Arc};

/// `nr` zero-filled pages, charged to the opener as pinned pages are.
pub(crate) struct IoRange {
    // Drop order: the pages, then their charge.
    pages: KVVec<IoPage>,
    _charge: MemlockCharge,
}

impl IoRange {
    /// Allocates `nr` zeroed pages, charged to `account` before any is allocated.
    pub(crate) fn new(account: &Arc<MemlockAccount>, nr: usize) -> Result<Self> {
        let charge = MemlockAccount::charge(account, nr)?;
        let mut pages = KVVec::with_capacity(nr, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..nr {
            pages.push(IoPage::new(GFP_KERNEL_ACCOUNT)?, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Self {
            pages,
            _charge: charge,
        })
    }

    /// How many pages.
    pub(crate) fn nr_pages(&self) -> usize {
        self.pages.len()
    }

    /// Page `i`.
    pub(crate) fn page(&self, i: usize) -> Result<&IoPage> {
        self.pages.get(i).ok_or(EINVAL)
    }
}
