/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bindgen input for the ioctl ABI: the UAPI header itself, plus constants that clang must
 * evaluate because they are function-like macros (the ioctl numbers). The build renames
 * RUST_CONST_HELPER_X to X.
 */
#include <uapi/linux/kiovec.h>

const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_INFO = KIOVEC_IOC_INFO;
const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_STAT = KIOVEC_IOC_STAT;
const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_RESET = KIOVEC_IOC_RESET;
const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_ADD_USER = KIOVEC_IOC_ADD_USER;
const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_COPY_OUT = KIOVEC_IOC_COPY_OUT;
const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_TRANSMIT = KIOVEC_IOC_TRANSMIT;
const unsigned long long RUST_CONST_HELPER_KIOVEC_FEAT_TRANSMIT = KIOVEC_FEAT_TRANSMIT;
const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_ADD_FILE = KIOVEC_IOC_ADD_FILE;
const unsigned long long RUST_CONST_HELPER_KIOVEC_FEAT_ADD_FILE = KIOVEC_FEAT_ADD_FILE;
const unsigned int RUST_CONST_HELPER_KIOVEC_IOC_TRANSMIT_BATCH = KIOVEC_IOC_TRANSMIT_BATCH;
const unsigned long long RUST_CONST_HELPER_KIOVEC_FEAT_TRANSMIT_BATCH = KIOVEC_FEAT_TRANSMIT_BATCH;
const unsigned long long RUST_CONST_HELPER_KIOVEC_FEAT_WRITE = KIOVEC_FEAT_WRITE;
const unsigned long long RUST_CONST_HELPER_KIOVEC_FEAT_ADD_USER = KIOVEC_FEAT_ADD_USER;
const unsigned long long RUST_CONST_HELPER_KIOVEC_FEAT_COPY_OUT = KIOVEC_FEAT_COPY_OUT;
