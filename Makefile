# SPDX-License-Identifier: GPL-2.0
#
#   make              module (against KDIR), vhmctl and the selftests
#   make check        the whole suite in the emulated AMD test hosts
#   make check-intel  the suite in the Intel test host (Bochs: slow), with
#                     kvm_test, hotplug_test and the hostile corpus, which
#                     make check leaves out on Intel 6.1 (CI's time)
#   make check-debug  the suite in the AMD test host on a debug kernel
#                     (KASAN, KMEMLEAK, lockdep, UBSAN) built from Debian's
#                     linux-source-6.1 on first use; not in make check
#   make fuzz         the ioctl fuzzer, 1 000 000 calls, AMD test host
#                     (VHM_FUZZ_SEED=N replays; VHM_FUZZ_INTEL=1 adds the
#                     Intel test host, Bochs: about 850 calls a second
#                     of emulated time, an hour or more of wall time)
#   make demo         boot the AMD test host and show vhm working there
#   make bench        vhm-bench on vhm and KVM side by side (out/bench/)
#   make bench-compare BASE=REV
#                     this tree's vhm.ko and REV's side by side, in one
#                     boot per test host (out/bench-compare/)
#   make install      module, vhmctl and the udev rule on this machine
#   make checkpatch   kernel coding style of kmod/ and uapi/

KDIR ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr/local

all: module userland selftests

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

userland:
	$(MAKE) -C userland

selftests:
	$(MAKE) -C selftests

check:
	tools/check

check-intel:
	VHM_CHECK_STAGES="host intel-7.3 intel-6.1 intel-6.1-rest" tools/check

# The debug kernel is built once and cached (tools/testhost/build-debug-kernel);
# VHM_DEBUG_ARGS adds run arguments (e.g. --tests "vm_test").
check-debug:
	tools/testhost/run --vendor amd --kernel debug $(VHM_DEBUG_ARGS)

# selftests/fuzz_test with a million calls; the seed is printed and
# VHM_FUZZ_SEED=N replays it. make check runs smaller slices with a fixed
# seed (docs/TESTING.md, "Fuzzing").
VHM_FUZZ_CALLS ?= 1000000
fuzz_env = VHM_FUZZ_CALLS=$(VHM_FUZZ_CALLS)$(if $(VHM_FUZZ_SEED), VHM_FUZZ_SEED=$(VHM_FUZZ_SEED))
fuzz:
	tools/testhost/run --vendor amd --kernel 6.1 --tests fuzz_test \
		--timeout 7200 --append "$(fuzz_env)"
	$(if $(VHM_FUZZ_INTEL),tools/testhost/run --vendor intel --kernel 6.1 \
		--tests fuzz_test --timeout 86400 --append "$(fuzz_env)")

demo:
	tools/testhost/run --vendor amd --kernel 6.1 --mode demo

bench:
	tools/bench/run

bench-compare:
	$(if $(BASE),,$(error make bench-compare BASE=<git revision>))
	tools/bench/run --base "$(BASE)"

checkpatch:
	tools/checkpatch

install: module userland
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	install -D -m 0755 userland/vhmctl $(DESTDIR)$(PREFIX)/bin/vhmctl
	install -D -m 0644 tools/udev/99-vhm.rules \
		$(DESTDIR)/etc/udev/rules.d/99-vhm.rules

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C userland clean
	$(MAKE) -C selftests clean
	$(MAKE) -C tools/bench clean
	rm -rf build out

.PHONY: all module userland selftests check check-intel check-debug fuzz demo bench bench-compare checkpatch install clean
