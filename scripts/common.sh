# Shared settings for the scripts: sourced, not run.
# Where everything that is not the repo lives: the kernel source, the built kernels, bindgen.
CACHE=${RUST_EPOLL_CACHE:-/var/cache/rust-epoll}
KVER_PKG=linux-source-7.3
KSUITE=trixie-backports
export HOME=${HOME:-/root}
export PATH="$HOME/.cargo/bin:$PATH"

# The kernel selftests' per-test hang guard, for both sides (tests/selftest_guard.h says why):
# 90 s on the test kernel, 180 s on the debug kernel (KASAN, lockdep: several times slower).
SELFTEST_GUARD_TEST="RUST_EPOLL_SELFTEST_TIMEOUT=90"
SELFTEST_GUARD_DEBUG="RUST_EPOLL_SELFTEST_TIMEOUT=180"
# The kernel selftests whose race native epoll loses too on that kernel, judged by many runs
# on each side instead of one (tests/kernel_epoll_selftests.sh; the counts are there).
SELFTEST_RACY_TEST="SELFTEST_RACY=epoll58"
SELFTEST_RACY_DEBUG="SELFTEST_RACY=epoll16,epoll56,epoll58"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
