// SPDX-License-Identifier: GPL-2.0

//! Error codes that the 6.12 `kernel::error::code` lacks.
//!
//! C header: [`include/uapi/asm-generic/errno.h`](srctree/include/uapi/asm-generic/errno.h).
//! Newer kernels have them as constants (`kernel::error::code::EOVERFLOW`); 6.12 gives no
//! const way to build an `Error` outside the kernel crate, so these are functions.

use crate::kernel_ext::bindings;
use kernel::error::Error;

/// The errors, named after their errno in lower case.
pub(crate) mod code {
    use super::*;

    macro_rules! declare_err {
        ($fn:ident, $err:ident, $doc:literal) => {
            #[doc = $doc]
            pub(crate) fn $fn() -> Error {
                Error::from_errno(-(bindings::$err as i32))
            }
        };
    }

    declare_err!(enodata, ENODATA, "No data available.");
    declare_err!(espipe, ESPIPE, "Illegal seek.");
    declare_err!(enotsock, ENOTSOCK, "Socket operation on non-socket.");
    declare_err!(
        eopnotsupp,
        EOPNOTSUPP,
        "Operation not supported on transport endpoint."
    );
    declare_err!(
        eoverflow,
        EOVERFLOW,
        "Value too large for defined data type."
    );
}
