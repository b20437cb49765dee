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

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# missing_packages PACKAGE...: those of the Debian packages that are not installed, a line each.
missing_packages() {
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || echo "$p"
	done
}

# apt_install PACKAGE...: install Debian packages (the caller ran apt-get update) without
# starting any service. Debian's nginx starts a web server on installation unless
# /usr/sbin/policy-rc.d says no: a machine that has one (Docker images ship one that exits
# 101) keeps it; otherwise one that exits 101 is put there for the install and removed
# afterwards. Fails if an nginx was started anyway.
apt_install() {
	local policy=/usr/sbin/policy-rc.d made_policy= before after rc=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# kiovec: no service starts during this install\nexit 101\n' |
			as_root tee "$policy" >/dev/null && as_root chmod 755 "$policy" && made_policy=1
	fi
	before=$(pgrep -x nginx || true)
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
	[ -z "$made_policy" ] || as_root rm -f "$policy"
	[ $rc = 0 ] || die "apt-get install failed for: $*"
	after=$(pgrep -x nginx || true)
	[ "$before" = "$after" ] || die "the install started an nginx (pids: $after): stop it (and 'systemctl disable nginx')"
}
