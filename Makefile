# SPDX-License-Identifier: GPL-2.0
#
# kiovec: the commands people run. The kernel's own build does the module (see Kbuild);
# the scripts in scripts/ do the rest.
#
#   make check      everything from nothing: toolchain, debug kernel, module, tests in a VM
#   make fuzz       the long fuzzer run (FUZZ_OPS=100000) in the debug VM
#   make demo       the same on the release kernel, then shows what kiovec does
#   make bench      kiovec vs every way to send a file, threads, block I/O: release kernel
#   make            kiovec.ko (+ test modules) against the cached kernel of FLAVOUR
#   make tests      the kselftest binaries
#   make rustfmt | rustfmtcheck | clippy | rust-analyzer | clean

include scripts/versions.env

FLAVOUR ?= debug
KIOVEC_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kiovec
export KIOVEC_CACHE
KDIR ?= $(shell scripts/build-kernel --dir $(FLAVOUR))
KSRC = $(KDIR)/source
BINDGEN ?= $(KIOVEC_CACHE)/tools/bin/bindgen
RUSTC ?= /usr/bin/rustc
export LIBCLANG_PATH ?= /usr/lib/llvm-$(LLVM_VERSION)/lib

# The module builds in a copy of the sources, one per flavour, so that the debug and release
# builds coexist and generated files stay out of the work tree.
BUILD := $(CURDIR)/.build/$(FLAVOUR)
MODULE_SOURCES := Kbuild rust src include tests/modules
KMAKE = $(MAKE) -C $(KDIR) M=$(BUILD) LLVM=-$(LLVM_VERSION) RUSTC=$(RUSTC) BINDGEN=$(BINDGEN)

TEST_SOURCES := $(wildcard tests/*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/bin/%,$(TEST_SOURCES))
TEST_CFLAGS := -O2 -g -Wall -Wno-stringop-overread -D_GNU_SOURCE -pthread \
	-I$(CURDIR)/include/uapi -I$(CURDIR)/tools/include -I$(KSRC)/tools/testing/selftests

# rustfmt follows `mod` declarations, so the crate roots name every file (generated ones
# come in through include! and are left alone).
RUSTFMT_ROOTS := src/kiovec_main.rs

MAKEFLAGS += --no-print-directory

.PHONY: all modules tests check check-scanner fuzz demo bench kernel sync rustfmt rustfmtcheck clippy \
	rust-analyzer clean tools-rust

all: modules

kernel:
	@test -f $(KDIR)/.kiovec-built || { echo "no $(FLAVOUR) kernel at $(KDIR): run scripts/build-kernel $(FLAVOUR) (or make check)"; exit 1; }

sync:
	@mkdir -p $(BUILD)
	@rsync -a --delete --relative $(MODULE_SOURCES) $(BUILD)/ --exclude '*.o' --exclude '*.ko' \
		--exclude '*_generated.rs' --exclude '.*.cmd' --exclude '*.mod*' --exclude 'modules.order'

modules: kernel sync
	+$(KMAKE) modules
	@echo "built $(BUILD)/kiovec.ko against $(KDIR)"

tests: kernel $(TEST_BINS) $(BUILD)/tests/bin/compat32 $(BUILD)/tests/bin/nginx $(BUILD)/tests/probe/locked_vm \
	$(BUILD)/tools/kiovec-demo $(BUILD)/tools/kiovec-bench $(BUILD)/tools/kiovec-httpd $(BUILD)/tools/kiovec-blkbench

# nginx with the kiovec module (tools/nginx, built by scripts/build-nginx-module into
# .build/nginx/), tested in the guest against Debian's nginx.
$(BUILD)/tests/bin/nginx: tests/nginx.sh
	@mkdir -p $(dir $@)
	install -m 755 $< $@

$(BUILD)/tools/kiovec-httpd: tools/demo/kiovec-httpd.c include/uapi/linux/kiovec.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -pthread -I$(CURDIR)/include/uapi -I$(CURDIR)/tools/include -o $@ $<

$(BUILD)/tools/kiovec-bench: tools/bench/kiovec-bench.c include/uapi/linux/kiovec.h \
	tools/include/kiovec_loopback.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -pthread -I$(CURDIR)/include/uapi -I$(CURDIR)/tools/include -o $@ $<

# Block I/O at queue depth 1: pread/pwrite, io_uring (liburing-dev), KIOVEC_IOC_RW.
$(BUILD)/tools/kiovec-blkbench: tools/bench/kiovec-blkbench.c include/uapi/linux/kiovec.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -I$(CURDIR)/include/uapi -o $@ $< -luring

$(BUILD)/tools/kiovec-demo: tools/demo/kiovec-demo.c include/uapi/linux/kiovec.h \
	tools/include/kiovec_loopback.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -I$(CURDIR)/include/uapi -I$(CURDIR)/tools/include -o $@ $<

# Whole-run checks the guest script runs after the tests (not tests themselves).
$(BUILD)/tests/probe/%: tests/probe/%.c include/uapi/linux/kiovec.h tests/kiovec_test.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lpthread

# The ABI from a 32-bit program. Without a -m32 toolchain the "test" is a script that
# reports a SKIP with the reason, so the run says so instead of passing it over.
$(BUILD)/tests/bin/compat32: tests/compat32/compat.c include/uapi/linux/kiovec.h tests/kiovec_test.h
	@mkdir -p $(dir $@)
	@if $(CC) -m32 -static $(TEST_CFLAGS) -o $@ $< -lpthread 2>$@.log; then :; else \
		printf '#!/bin/sh\necho "TAP version 13"\necho "1..1"\necho "ok 1 compat32 # SKIP no -m32 toolchain (gcc-multilib): %s"\necho "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"\n' \
			"$$(head -n 1 $@.log | tr -d '"')" >$@; chmod +x $@; \
		echo "compat32: no -m32 toolchain, the test will SKIP (see $@.log)"; fi

$(BUILD)/tests/bin/%: tests/%.c include/uapi/linux/kiovec.h tests/kiovec_test.h \
	tools/include/kiovec_loopback.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lpthread

# The README's test command: from nothing to a judged run on the debug kernel. A failed
# build of the nginx module does not stop it: the nginx test then fails, counted below.
check:
	scripts/bootstrap
	scripts/build-kernel debug
	+$(MAKE) FLAVOUR=debug modules tests
	-scripts/build-nginx-module
	+$(MAKE) FLAVOUR=debug TOOLS_RUST_FLAGS=--keep-going tools-rust
	scripts/check-all debug

# The Rust workspace in tools/ (kiovec crate, kiovec-serve): build, host tests (their TAP goes
# to $(BUILD)/host-results, counted by run-tests), and the guest tests as tests/bin/kiovec-rust.
# make check passes --keep-going: a failure is counted in run-tests' summary instead of stopping.
tools-rust:
	scripts/tools-rust $(TOOLS_RUST_FLAGS) $(BUILD)

# The long fuzzer run (README): only tests/fuzz.c in the debug guest, FUZZ_OPS operations,
# with every whole-run check. FUZZ_SEED=... replays a seed.
FUZZ_OPS ?= 100000
fuzz:
	scripts/bootstrap
	scripts/build-kernel debug
	+$(MAKE) FLAVOUR=debug modules tests
	FUZZ_OPS=$(FUZZ_OPS) $(if $(FUZZ_SEED),FUZZ_SEED=$(FUZZ_SEED)) \
		KIOVEC_TEST_TIMEOUT=$${KIOVEC_TEST_TIMEOUT:-21600} \
		KIOVEC_VM_TIMEOUT=$${KIOVEC_VM_TIMEOUT:-23000} scripts/run-tests --only=fuzz debug

# Proof that a kernel warning makes the run red: a module WARNs before the tests.
check-scanner:
	+$(MAKE) FLAVOUR=debug modules tests
	@if scripts/run-tests --inject-warn debug; then \
		echo "check-scanner: FAILED, a run with a WARN was reported green"; exit 1; \
	else echo "check-scanner: ok, the run with a WARN was reported red"; fi

demo:
	scripts/bootstrap
	scripts/build-kernel release
	+$(MAKE) FLAVOUR=release modules tests
	scripts/build-nginx-module
	scripts/demo release

# The benchmarks: release kernel, transmit, threads and block I/O in one boot (see README).
bench:
	scripts/bootstrap
	scripts/build-kernel release
	+$(MAKE) FLAVOUR=release modules tests
	scripts/bench release

RUSTFMT ?= rustfmt
rustfmt:
	$(RUSTFMT) --config-path $(KSRC)/.rustfmt.toml $(RUSTFMT_ROOTS)

rustfmtcheck:
	$(RUSTFMT) --check --config-path $(KSRC)/.rustfmt.toml $(RUSTFMT_ROOTS)

clippy: kernel sync
	+$(KMAKE) CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver modules

rust-analyzer: modules
	scripts/rust-analyzer $(KDIR) $(BUILD) > rust-project.json
	@echo "wrote rust-project.json"

clean:
	rm -rf .build rust-project.json
