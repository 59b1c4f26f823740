# SPDX-License-Identifier: GPL-2.0
#
#   make              module (against KDIR), vhmctl and the selftests
#   make check        the whole suite in the emulated AMD test hosts
#   make check-intel  the suite in the Intel test host (Bochs: slow)
#   make demo         boot the AMD test host and show vhm working there
#   make bench        vhm-bench on vhm and KVM side by side (out/bench/)
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
	VHM_CHECK_STAGES="host intel-6.1" tools/check

demo:
	tools/testhost/run --vendor amd --kernel 6.1 --mode demo

bench:
	tools/bench/run

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

.PHONY: all module userland selftests check check-intel demo bench checkpatch install clean
