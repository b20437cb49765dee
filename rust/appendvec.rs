// SPDX-License-Identifier: GPL-2.0

//! An append-only vector whose prefixes can be shared without a lock.
//!
//! C header: none; this is the shape RCU arrays take (append, publish a length, readers see a
//! prefix), built on `kernel::sync::Arc` instead of grace periods.
//!
//! One writer appends (it holds `&mut AppendVec`, in kiovec under the container's lock); any
//! number of readers hold a [`Snapshot`]: the entries that existed when it was taken, readable
//! with no lock at all while the writer goes on appending. Entries are never changed once
//! pushed (an entry may still hold atomics of its own). When the storage is full, the writer
//! moves to storage of twice the size, cloning the entries; snapshots keep the old storage
//! alive. Appends are amortised O(1), snapshots O(1).

use core::{
    cell::UnsafeCell,
    ops::Deref,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    alloc::{Flags, KVVec},
    prelude::*,
    sync::Arc,
};

/// Storage shared by one writer and its snapshots.
///
/// # Invariants
///
/// `ptr`, `cap` are the raw parts of a `KVVec<T>` with capacity `cap`. The entries `0..len` are
/// initialised and never written again; `len` only grows, and only the one [`AppendVec`] that
/// owns this storage writes entries at or above it, before it publishes them by raising `len`
/// (release), so that a reader that loads `len` (acquire) sees them initialised.
struct Storage<T> {
    ptr: *mut T,
    cap: usize,
    len: AtomicUsize,
    // The `KVVec` is rebuilt from the raw parts only in `Drop`.
    _marker: UnsafeCell<()>,
}

// SAFETY: The entries are shared between threads (`T: Sync`) and dropped on whichever thread
// drops the last reference (`T: Send`); the writer's exclusivity is by `&mut AppendVec`.
unsafe impl<T: Send + Sync> Send for Storage<T> {}
// SAFETY: As above: readers only ever read entries below the published length.
unsafe impl<T: Send + Sync> Sync for Storage<T> {}

impl<T> Storage<T> {
    fn new(cap: usize, flags: Flags) -> Result<Self> {
        let v = KVVec::<T>::with_capacity(cap, flags)?;
        let (ptr, _, cap) = v.into_raw_parts();
        // INVARIANT: The raw parts of an empty `KVVec` of capacity `cap`.
        Ok(Self {
            ptr,
            cap,
            len: AtomicUsize::new(0),
            _marker: UnsafeCell::new(()),
        })
    }
}

impl<T> Drop for Storage<T> {
    fn drop(&mut self) {
        let len = *self.len.get_mut();
        for i in 0..len {
            // SAFETY: Entry `i < len` is initialised (type invariant) and, `&mut self` meaning
            // nobody else reads it any more, dropped exactly once here.
            unsafe { core::ptr::drop_in_place(self.ptr.add(i)) };
            // Hundreds of thousands of entries (each may unpin pages): let others run.
            if i % 1024 == 1023 {
                cond_resched();
            }
        }
        // SAFETY: By the type invariant these are the raw parts of a `KVVec` of capacity
        // `cap`; its entries were dropped above, so it is freed as an empty one.
        drop(unsafe { KVVec::from_raw_parts(self.ptr, 0, self.cap) });
    }
}

/// Lets the scheduler run others (`cond_resched`): a long loop in process context.
fn cond_resched() {
    // SAFETY: No preconditions; every caller runs in process context with no spinlock held.
    unsafe { crate::kernel_ext::bindings::kiovec_helper_cond_resched() };
}

/// The writer's side: appends entries.
pub(crate) struct AppendVec<T> {
    storage: Option<Arc<Storage<T>>>,
}

impl<T: Clone + Send + Sync> AppendVec<T> {
    /// An empty vector; it allocates on the first push.
    pub(crate) const fn new() -> Self {
        Self { storage: None }
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.storage
            .as_ref()
            .map_or(0, |s| s.len.load(Ordering::Relaxed))
    }

    /// The last entry.
    pub(crate) fn last(&self) -> Option<&T> {
        let s = self.storage.as_ref()?;
        let len = s.len.load(Ordering::Relaxed);
        // SAFETY: Entries below `len` are initialised and never written again (type invariant
        // of `Storage`); the shared borrow of `self` keeps the storage alive.
        (len > 0).then(|| unsafe { &*s.ptr.add(len - 1) })
    }

    /// Makes room for `n` more entries, so that the next `n` pushes cannot fail.
    pub(crate) fn reserve(&mut self, n: usize, flags: Flags) -> Result {
        let len = self.len();
        let need = len.checked_add(n).ok_or(ENOMEM)?;
        let cap = self.storage.as_ref().map_or(0, |s| s.cap);
        if need <= cap {
            return Ok(());
        }
        let new_cap = need.max(cap.saturating_mul(2)).max(8);
        let new = Storage::<T>::new(new_cap, flags)?;
        if let Some(old) = &self.storage {
            for i in 0..len {
                // SAFETY: Entry `i < len` of the old storage is initialised (its invariant);
                // `i < new_cap`, and the new storage is ours alone until published below.
                unsafe { new.ptr.add(i).write((*old.ptr.add(i)).clone()) };
                // Publish one at a time, so that a panic in `clone` leaks nothing.
                new.len.store(i + 1, Ordering::Relaxed);
                if i % 4096 == 4095 {
                    cond_resched();
                }
            }
        }
        self.storage = Some(Arc::new(new, flags)?);
        Ok(())
    }

    /// Drops the entries from `n` on. Snapshots keep what they have: the entries that stay
    /// move to storage of their own. Returns the old vector, for the caller to drop where
    /// it may (dropping entries may sleep).
    pub(crate) fn truncate(&mut self, n: usize, flags: Flags) -> Result<Self> {
        let len = self.len();
        if n >= len {
            return Ok(Self::new());
        }
        let mut new = Self::new();
        if n > 0 {
            new.reserve(n, flags)?;
            let new_s = new.storage.as_ref().ok_or(ENOMEM)?;
            let old = self.storage.as_ref().ok_or(ENOMEM)?;
            for i in 0..n {
                // SAFETY: Entry `i < n < len` of the old storage is initialised and final (its
                // invariant); `i < n <= cap` of the new one, which is ours alone.
                unsafe { new_s.ptr.add(i).write((*old.ptr.add(i)).clone()) };
                new_s.len.store(i + 1, Ordering::Relaxed);
            }
        }
        Ok(core::mem::replace(self, new))
    }

    /// Appends `value`; fails only if no room was reserved and allocating some fails.
    pub(crate) fn push(&mut self, value: T, flags: Flags) -> Result {
        self.reserve(1, flags)?;
        let s = self.storage.as_ref().ok_or(ENOMEM)?;
        let len = s.len.load(Ordering::Relaxed);
        // SAFETY: `reserve` made `len < cap`; we are the only writer (`&mut self`), and no reader
        // looks at entries at or above the published length.
        unsafe { s.ptr.add(len).write(value) };
        // INVARIANT: The entry is initialised before it is published.
        s.len.store(len + 1, Ordering::Release);
        Ok(())
    }

    /// The entries there are now, for readers that hold no lock.
    pub(crate) fn snapshot(&self) -> Snapshot<T> {
        match &self.storage {
            None => Snapshot {
                storage: None,
                len: 0,
            },
            Some(s) => Snapshot {
                len: s.len.load(Ordering::Acquire),
                storage: Some(s.clone()),
            },
        }
    }
}

/// A prefix of an [`AppendVec`]'s entries, frozen when it was taken.
///
/// # Invariants
///
/// `len` is at most `storage`'s published length (so the entries are initialised and final);
/// `len` is 0 when there is no storage.
pub(crate) struct Snapshot<T> {
    storage: Option<Arc<Storage<T>>>,
    len: usize,
}

impl<T> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Self {
            storage: self.storage.clone(),
            len: self.len,
        }
    }
}

impl<T> Deref for Snapshot<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.storage {
            None => &[],
            // SAFETY: By the type invariant the first `len` entries are initialised and never
            // written again; the storage lives as long as `self`.
            Some(s) => unsafe { core::slice::from_raw_parts(s.ptr, self.len) },
        }
    }
}
