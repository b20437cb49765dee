# Shared by the scripts in this folder: where things live, and the make variables that
# every kernel and module build needs. Source it; it defines, it does not run anything.
# shellcheck shell=bash

KIOVEC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$KIOVEC_ROOT/scripts/versions.env"

# Everything big lives outside the repository: the unpacked source, built kernels, tools.
KIOVEC_CACHE=${KIOVEC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiovec}
KIOVEC_TOOLS=$KIOVEC_CACHE/tools
KIOVEC_VENV=$KIOVEC_CACHE/venv
BINDGEN=${BINDGEN:-$KIOVEC_TOOLS/bin/bindgen}
VNG=${VNG:-$KIOVEC_VENV/bin/vng}
# Debian's rustc-web, whose core source is rust-web-src: the rustup toolchain has none.
RUSTC=${RUSTC:-/usr/bin/rustc}
CLIPPY_DRIVER=${CLIPPY_DRIVER:-/usr/bin/clippy-driver}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-$LLVM_VERSION/lib}

kiovec_make_vars=(LLVM="-$LLVM_VERSION" RUSTC="$RUSTC" BINDGEN="$BINDGEN")
kiovec_jobs=$(( $(nproc) + 1 ))

say() { printf '[%s] %s\n' "$(basename "$0")" "$*"; }
die() { printf '[%s] error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
