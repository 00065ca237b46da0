# SPDX-License-Identifier: GPL-2.0
# rust-epoll. `make` builds rust-epoll.ko against $(KDIR) (default: the cached test kernel,
# built on first use by scripts/kernel). `make demo` and `make check` are the README's two
# commands: both install what is missing first.

SHELL := /bin/bash
# rustup's tools, for environments (CI) whose PATH lacks them.
export HOME ?= /root
export PATH := $(HOME)/.cargo/bin:$(PATH)
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# Evaluated once (a plain ?= would rerun the setup at every use of $(KDIR)).
# (Not for install-module and check-distro alone: they target Debian's kernel, not the test kernel.)
ifeq ($(origin KDIR),undefined)
ifneq ($(filter-out install-module check-distro,$(or $(MAKECMDGOALS),all)),)
KDIR := $(shell $(ROOT)/scripts/kernel || echo /nonexistent-kernel)
endif
endif
export KDIR
KSRC := $(shell test -e $(KDIR)/source && readlink -f $(KDIR)/source || echo $(KDIR))
BUILD := $(ROOT)/build
# How kbuild is run for $(KDIR): the test kernel is built with LLVM=-19 by the host's tools;
# Debian's kernel (make check-distro) with gcc-14 inside its trixie root (KBUILD_WRAP).
KBUILD_ARGS ?= LLVM=-19
KBUILD_WRAP ?=
export KBUILD_ARGS KBUILD_WRAP

.PHONY: all module clean demo check check-debug check-kcsan check-distro install-module setup tests host-check fmt clippy bench shim headers_install selftest-flakes
all: module

module:
	@test -f $(KDIR)/Module.symvers || { echo "error: no kernel build at KDIR=$(KDIR): see the line above" >&2; exit 1; }
	@$(KBUILD_WRAP) $(MAKE) -s -C $(KDIR) M=$(ROOT) $(KBUILD_ARGS) modules 2>&1 | tee $(BUILD).module.log | grep -v '^make\[' ; \
	  test $${PIPESTATUS[0]} -eq 0 || { echo "error: module build failed (log: build.module.log)" >&2; exit 1; }

tests:
	@mkdir -p $(BUILD)/tests && $(MAKE) -s -C tests KSRC=$(KSRC) OUTPUT=$(BUILD)/tests

# The uapi header into a prefix, as the kernel's headers_install does.
INSTALL_HDR_PATH ?= $(BUILD)/usr
headers_install:
	@install -D -m 0644 $(ROOT)/include/uapi/rust_epoll.h $(INSTALL_HDR_PATH)/include/rust_epoll.h
	@echo "installed $(INSTALL_HDR_PATH)/include/rust_epoll.h"

shim:
	@mkdir -p $(BUILD) && $(CC) -O2 -g -Wall -Wextra -fPIC -shared \
		-o $(BUILD)/librust_epoll_preload.so shim/rust_epoll_preload.c -ldl

demo: module tests
	@$(ROOT)/scripts/vm-run $(BUILD)/tests/demo

host-check:
	@$(ROOT)/tests/host-check

check: module tests
	@$(ROOT)/scripts/check

# Everything again on the debug kernel (KASAN, lockdep, kmemleak, fail-nth), with the stress,
# fuzz and module-cycle runs at full length. The module is rebuilt against that kernel.
check-debug:
	@kdir=$$(env -u KDIR RUST_EPOLL_KCONFIG=debug $(ROOT)/scripts/kernel) && \
	  $(MAKE) --no-print-directory check KDIR=$$kdir RUST_EPOLL_DEBUG=1

# The kernel epoll selftests alone, RUNS times each, natively and on the device (issue #14).
RUNS ?= 200
selftest-flakes:
	@$(ROOT)/scripts/selftest-flakes $(RUNS)

# The suite on the KCSAN kernel (kernel/kcsan.config): fails on a data race the module takes
# part in. Not part of CI (a third kernel to build).
check-kcsan:
	@kdir=$$(env -u KDIR RUST_EPOLL_KCONFIG=kcsan $(ROOT)/scripts/kernel) && \
	  VM_KCSAN_OURS=1 $(MAKE) --no-print-directory check KDIR=$$kdir

# Everything again on Debian's own stock 7.3 kernel (trixie-backports, -amd64), not rebuilt:
# the module built against Debian's headers plus rust/ rebuilt by Debian's own rustc in a trixie
# root (scripts/debian-kernel), Debian's vmlinuz booted with a 9p initramfs.
check-distro:
	@kdir=$$(env -u KDIR $(ROOT)/scripts/debian-kernel) && d=$$(dirname $$kdir) && \
	  $(MAKE) --no-print-directory check KDIR=$$kdir KBUILD_ARGS= KBUILD_WRAP="$(ROOT)/scripts/in-root $$d/root" \
	    VM_KERNEL=$$d/boot/vmlinuz VM_INITRD=$$d/boot/initramfs.img RUST_EPOLL_DISTRO=$$d

# On a Debian machine running Debian's 7.3 kernel: build for it and install under
# /lib/modules/$(uname -r)/updates (KVER=..., DESTDIR=... to stage elsewhere).
install-module:
	@$(ROOT)/scripts/install-module

bench: module
	@$(MAKE) -s -C bench OUTPUT=$(BUILD)/bench
	@$(ROOT)/scripts/bench

fmt:
	rustfmt --edition 2021 --check $(ROOT)/*.rs

clippy:
	$(KBUILD_WRAP) $(MAKE) -C $(KDIR) M=$(ROOT) $(KBUILD_ARGS) CLIPPY=1 modules

clean:
	@$(KBUILD_WRAP) $(MAKE) -s -C $(KDIR) M=$(ROOT) $(KBUILD_ARGS) clean 2>/dev/null || true
	rm -rf $(BUILD) $(BUILD).module.log
