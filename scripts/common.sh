# Shared settings for the scripts: sourced, not run.
# Where everything that is not the repo lives: the kernel source, the built kernels, bindgen.
CACHE=${RUST_EPOLL_CACHE:-/var/cache/rust-epoll}
KVER_PKG=linux-source-7.3
KSUITE=trixie-backports
export HOME=${HOME:-/root}
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
