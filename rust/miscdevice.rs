// SPDX-License-Identifier: GPL-2.0

//! Miscdevice support.
//!
//! C headers: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h).
//!
//! Mirrors upstream `kernel::miscdevice` (Linux 6.13+): a pinned RAII registration and a
//! [`MiscDevice`] trait whose implementor is one open file's state. Two differences, both
//! fixes: the file operations name this module as their `owner`, so that an open file pins
//! the module (without it, `rmmod` succeeds under an open file and the next call jumps into
//! freed code), and the trait has `write`.

use crate::kernel_ext::{bindings, fs::File};
use core::{
    marker::PhantomData,
    mem::MaybeUninit,
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    build_error,
    error::{to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_long, c_uint, c_ulong},
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
    uaccess::{UserSlice, UserSliceReader},
};

/// Options for creating a misc device.
#[derive(Copy, Clone)]
pub(crate) struct MiscDeviceOptions {
    /// The name of the misc device, and of its node in `/dev`.
    pub(crate) name: &'static CStr,
    /// The permissions of the node in `/dev` (0 keeps the default, 0600).
    pub(crate) mode: u16,
}

impl MiscDeviceOptions {
    /// Creates a raw `struct miscdevice` ready for registration.
    fn into_raw<T: MiscDevice>(self) -> bindings::miscdevice {
        // SAFETY: All zeros is valid for this C type: null pointers, an empty list head that
        // misc_register initialises, and zero integers.
        let mut result: bindings::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
        result.minor = bindings::MISC_DYNAMIC_MINOR as _;
        result.name = self.name.as_char_ptr();
        result.mode = self.mode;
        result.fops = create_vtable::<T>();
        result
    }
}

/// A registration of a misc device.
///
/// # Invariants
///
/// `inner` is a registered misc device.
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub(crate) struct MiscDeviceRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: It is allowed to call `misc_deregister` on a different thread from where you called
// `misc_register`.
unsafe impl<T> Send for MiscDeviceRegistration<T> {}
// SAFETY: All `&self` methods on this type are written to ensure that it is safe to call them in
// parallel.
unsafe impl<T> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device.
    pub(crate) fn register(opts: MiscDeviceOptions) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            let misc = Opaque::raw_get(slot.cast::<Opaque<bindings::miscdevice>>());
            // SAFETY: `slot` is valid for writes of a `Self`, which is `repr(transparent)`
            // over the `miscdevice`.
            unsafe { misc.write(opts.into_raw::<T>()) };
            // SAFETY: The misc device was just initialised, and it is pinned: it stays at this
            // address until `PinnedDrop` deregisters it. On failure nothing is registered and
            // there is nothing to undo.
            to_result(unsafe { bindings::misc_register(misc) })?;
            // The file operations its files have, to recognise them later.
            // SAFETY: Initialised above.
            REGISTERED_FOPS.store(unsafe { (*misc).fops }.cast_mut(), Ordering::Release);
            Ok(())
        };
        // SAFETY: On success the closure has initialised the only non-ZST field and registered
        // the device (the type invariant); on error it leaves nothing that needs dropping.
        unsafe { kernel::init::pin_init_from_closure(init) }
    }
}

#[pinned_drop]
impl<T> PinnedDrop for MiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant, the device is registered. Files still open keep the
        // module (the vtable's `owner`) alive, not this registration, and never look at it.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The file operations of the module's registered misc device (one per module), so that a
/// file can be recognised as one of its files.
static REGISTERED_FOPS: AtomicPtr<bindings::file_operations> = AtomicPtr::new(ptr::null_mut());

/// The state of `file`, if it is a file of the module's misc device of type `T`, borrowed for
/// as long as the file is.
pub(crate) fn state<'a, T: MiscDevice>(
    file: &'a File,
) -> Option<<T::Ptr as ForeignOwnable>::Borrowed<'a>> {
    let fops = REGISTERED_FOPS.load(Ordering::Acquire);
    // SAFETY: `file` is valid; `f_op` is set at open and does not change.
    if fops.is_null() || unsafe { (*file.as_ptr()).f_op } != fops.cast_const() {
        return None;
    }
    // SAFETY: A file with the device's operations has private data from
    // `T::Ptr::into_foreign` (`fops_open` or `new_file_fd`), which `fops_release` takes back
    // only when the file goes; the borrow of `file` keeps it open meanwhile. The module has
    // one device type, `T`.
    Some(unsafe { <T::Ptr as ForeignOwnable>::borrow((*file.as_ptr()).private_data) })
}

/// Makes a new file with the device's file operations around `ptr` (a second view of the
/// state one `open` made, without another `open`), installed as a new descriptor of the
/// current task with `flags` (`O_RDONLY`, `O_CLOEXEC`, ...); returns the descriptor.
pub(crate) fn new_file_fd<T: MiscDevice>(ptr: T::Ptr, name: &CStr, flags: u32) -> Result<u32> {
    let fops = REGISTERED_FOPS.load(Ordering::Acquire);
    if fops.is_null() {
        return Err(ENODEV);
    }
    let foreign = ptr.into_foreign();
    // SAFETY: `name` is a valid C string; the vtable is the registered device's, `T`'s (one
    // device type per module), whose functions expect `private_data` to come from
    // `T::Ptr::into_foreign`, which `foreign` does, and which `fops_release` gives back once
    // the file goes.
    let fd = unsafe {
        bindings::anon_inode_getfd(name.as_char_ptr(), fops, foreign.cast_mut(), flags as c_int)
    };
    if fd < 0 {
        // SAFETY: No file was made, so nothing else owns `foreign`: it is ours to take back.
        drop(unsafe { <T::Ptr as ForeignOwnable>::from_foreign(foreign) });
        return Err(Error::from_errno(fd));
    }
    Ok(fd as u32)
}

/// The state of one open file of a misc device, and what it does on each file operation.
#[vtable]
pub(crate) trait MiscDevice: Sized {
    /// What `open` returns and the other operations borrow; kept in `file->private_data`.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Called when the misc device is opened.
    fn open(file: &File) -> Result<Self::Ptr>;

    /// Called when the last reference to the file is gone.
    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
    }

    /// Handles an ioctl; the return value is what the syscall returns.
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles `write(2)`: consumes bytes from `data` and returns how many it took.
    fn write(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _data: &mut UserSliceReader,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

const fn create_vtable<T: MiscDevice>() -> &'static bindings::file_operations {
    const fn maybe_fn<T: Copy>(check: bool, func: T) -> Option<T> {
        if check {
            Some(func)
        } else {
            None
        }
    }

    struct VtableHelper<T: MiscDevice> {
        _t: PhantomData<T>,
    }
    impl<T: MiscDevice> VtableHelper<T> {
        const VTABLE: bindings::file_operations = bindings::file_operations {
            // This code is part of the module that registers the device, so `__this_module`
            // is that module: C's `THIS_MODULE`.
            owner: ptr::addr_of!(bindings::__this_module).cast_mut(),
            open: Some(fops_open::<T>),
            release: Some(fops_release::<T>),
            unlocked_ioctl: maybe_fn(T::HAS_IOCTL, fops_ioctl::<T>),
            // 32-bit callers: every ioctl struct has the same layout for them (u64-aligned
            // u64s, sizes a multiple of 8), so the argument pointer is all to convert.
            compat_ioctl: maybe_fn(T::HAS_IOCTL, bindings::compat_ptr_ioctl),
            write: maybe_fn(T::HAS_WRITE, fops_write::<T>),
            // SAFETY: All zeros is a valid value for `bindings::file_operations`.
            ..unsafe { MaybeUninit::zeroed().assume_init() }
        };
    }
    &VtableHelper::<T>::VTABLE
}

/// # Safety
///
/// `file` and `inode` must be the file and inode for a file that is undergoing initialisation.
/// The file must be associated with a `MiscDeviceRegistration<T>`.
unsafe extern "C" fn fops_open<T: MiscDevice>(
    _inode: *mut bindings::inode,
    raw_file: *mut bindings::file,
) -> c_int {
    // SAFETY: The file is valid for the duration of this call, and misc_open holds a reference.
    let file = unsafe { File::from_raw_file(raw_file) };
    let ptr = match T::open(file) {
        Ok(ptr) => ptr,
        Err(err) => return err.to_errno(),
    };
    // misc_open() stored the `struct miscdevice *` here; the file's own state replaces it.
    // SAFETY: The open call of a file owns the private data.
    unsafe { (*raw_file).private_data = ptr.into_foreign().cast_mut() };
    0
}

/// # Safety
///
/// `file` and `inode` must be the file and inode for a file that is being released. The file
/// must be associated with a `MiscDeviceRegistration<T>`.
unsafe extern "C" fn fops_release<T: MiscDevice>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: The release call of a file owns the private data.
    let private = unsafe { (*file).private_data };
    // SAFETY: The release call of a file owns the private data, which `fops_open` set from
    // `into_foreign`; no borrow of it outlives the file operations that made it.
    let ptr = unsafe { <T::Ptr as ForeignOwnable>::from_foreign(private) };
    // SAFETY: The file is valid for the duration of this call.
    T::release(ptr, unsafe { File::from_raw_file(file) });
    0
}

/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>`.
unsafe extern "C" fn fops_ioctl<T: MiscDevice>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: The ioctl call of a file can access the private data.
    let private = unsafe { (*file).private_data };
    // SAFETY: `fops_open` set the private data; `fops_release` cannot run while the ioctl
    // syscall holds its reference to the file.
    let device = unsafe { <T::Ptr as ForeignOwnable>::borrow(private) };
    // SAFETY: The file is valid for the duration of this call.
    let file = unsafe { File::from_raw_file(file) };
    match T::ioctl(device, file, cmd, arg) {
        Ok(ret) => ret as c_long,
        Err(err) => err.to_errno() as c_long,
    }
}

/// # Safety
///
/// `file` must be a valid file that is associated with a `MiscDeviceRegistration<T>`, and
/// `buf`/`count` the user buffer of a `write(2)`.
unsafe extern "C" fn fops_write<T: MiscDevice>(
    file: *mut bindings::file,
    buf: *const u8,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: The write call of a file can access the private data.
    let private = unsafe { (*file).private_data };
    // SAFETY: As in `fops_ioctl`: the private data lives until release, which cannot run
    // during this call.
    let device = unsafe { <T::Ptr as ForeignOwnable>::borrow(private) };
    // SAFETY: The file is valid for the duration of this call.
    let file = unsafe { File::from_raw_file(file) };
    // `rw_verify_area` already capped `count` at MAX_RW_COUNT.
    let mut data = UserSlice::new(buf as usize, count).reader();
    match T::write(device, file, &mut data) {
        Ok(n) => n as isize,
        Err(err) => err.to_errno() as isize,
    }
}
