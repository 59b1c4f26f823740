#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vhmctl run boots flat binaries (machine code written here with printf) in
# real and long mode; its UART prints to stdout (and reads stdin) and its
# exit status says how the guest ended, or what the guest wrote to the
# debug-exit port. It boots mbkernel (mbkernel/, multiboot v1 as ELF32,
# ELF64 and a.out-kludge image), which checks fw_cfg, PCI and the boot
# information and reports 0x10 (status 33) when all is well. Images it
# must refuse: Linux bzImage, unknown formats, too little memory, --cpus 2.
# The same guests then run with --accel kvm on the stock KVM module (same
# devices, other accelerator). KTAP output; skips (status 4) without root,
# vhm.ko or SVM/VMX.

KSFT_SKIP=4
VHMCTL=${VHMCTL:-$(command -v vhmctl || echo ../userland/vhmctl)}
MOD=${VHM_MODULE:-/lib/modules/$(uname -r)/extra/vhm.ko}
MBK=${MBKERNEL:-$(dirname "$0")/mbkernel}
tmp=$(mktemp -d)
n=0
failed=0

echo "TAP version 13"
skip_all() {
	echo "1..0 # SKIP $1"
	rm -rf "$tmp"
	exit $KSFT_SKIP
}
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -r "$MOD" ] || skip_all "no vhm.ko at $MOD (set VHM_MODULE)"
[ -x "$VHMCTL" ] || skip_all "no vhmctl"
[ -r "$MBK/mbkernel32.elf" ] || skip_all "no mbkernel at $MBK (set MBKERNEL)"
grep -qwE 'svm|vmx' /proc/cpuinfo || skip_all "CPU has neither SVM nor VMX"
loaded=0
if [ ! -e /sys/module/vhm ]; then
	insmod "$MOD" || skip_all "vhm.ko does not load"
	loaded=1
fi

KVM_TESTS=7
echo "1..$((17 + KVM_TESTS))"
stdin=/dev/null
check() {	# check NAME EXPECTED_STATUS EXPECTED_STDOUT -- vhmctl args
	name=$1 want_rc=$2 want_out=$3
	shift 4
	out=$("$VHMCTL" "$@" <"$stdin" 2>"$tmp/err")
	rc=$?
	n=$((n + 1))
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
		echo "ok $n $name"
	else
		echo "# status $rc (want $want_rc), stdout '$out' (want '$want_out')"
		sed 's/^/# stderr: /' "$tmp/err"
		echo "not ok $n $name"
		failed=1
	fi
}
# check_err NAME EXPECTED_STATUS STDERR_TEXT -- vhmctl args: no stdout
check_err() {
	name=$1 want_rc=$2 want_err=$3
	shift 4
	out=$("$VHMCTL" "$@" </dev/null 2>"$tmp/err")
	rc=$?
	n=$((n + 1))
	if [ "$rc" = "$want_rc" ] && [ -z "$out" ] &&
	   grep -qF -- "$want_err" "$tmp/err"; then
		echo "ok $n $name"
	else
		echo "# status $rc (want $want_rc), stdout '$out', stderr wanted: $want_err"
		sed 's/^/# stderr: /' "$tmp/err"
		echo "not ok $n $name"
		failed=1
	fi
}

# mov $0x3f8,%dx; mov $'h',%al; out %al,(%dx); mov $'i',%al; out; hlt
printf '\272\370\003\260\150\356\260\151\356\364' >"$tmp/real.bin"
# the same with a 16-bit operand prefix for mov %dx in 64-bit mode
printf '\146\272\370\003\260\150\356\260\151\356\364' >"$tmp/long.bin"
# int3 with no IDT: #GP, #DF, triple fault
printf '\314' >"$tmp/fault.bin"
# mov $3,%al; out %al,$0xf4 (debug exit: status 3 << 1 | 1); hlt
printf '\260\003\346\364\364' >"$tmp/exit3.bin"
# echo: 1: mov $0x3fd,%dx; in; test $1,%al (LSR.DR); jz; mov $0x3f8,%dx;
# in (RBR); out (THR); cmp $'\n',%al; jne 1b; hlt
printf '\272\375\003\354\250\001\164\373\272\370\003\354\356\074\012\165\357\364' >"$tmp/echo.bin"
printf 'abc\n' >"$tmp/echo.in"
# a multiboot module; mbkernel compares it with its command line
printf 'hello-vhm' >"$tmp/module"
# a Linux boot sector: "HdrS" at 0x202
head -c 1024 /dev/zero >"$tmp/bzImage"
printf 'HdrS' | dd of="$tmp/bzImage" bs=1 seek=514 conv=notrunc 2>/dev/null

# What mbkernel prints with 16M and the module, and with 32M and nothing.
mb_out="mbkernel: hello from 32-bit protected mode
fw_cfg: QEMU, 1 CPU, 16384 KiB RAM
pci: 00:00.0 absent
memory: lower 640 KiB, upper 15360 KiB
memory map: 3 entries, RAM at 0 and 1 MiB to the end
cmdline: module=hello-vhm
module: 9 bytes as expected, page aligned above the kernel
loader: vhmctl
mbkernel: all checks passed"
mb_bare_out="mbkernel: hello from 32-bit protected mode
fw_cfg: QEMU, 1 CPU, 32768 KiB RAM
pci: 00:00.0 absent
memory: lower 640 KiB, upper 31744 KiB
memory map: 3 entries, RAM at 0 and 1 MiB to the end
cmdline: (empty)
module: none expected, 0 given
loader: vhmctl
mbkernel: all checks passed"
mb_args="--initrd $tmp/module --cmdline module=hello-vhm"

check real_mode_uart_then_halt 0 hi -- run --mem 1M --load "$tmp/real.bin"
check long_mode_uart_then_halt 0 hi -- run --mem 16M --mode long --load "$tmp/long.bin@0x200000"
check triple_fault_is_status_3 3 "" -- run --mem 16M --mode long --load "$tmp/fault.bin"
check missing_file_is_status_1 1 "" -- run --mem 1M --load "$tmp/none.bin"
check bad_size_is_status_2 2 "" -- run --mem 3X --load "$tmp/real.bin"
check too_big_for_ram_is_status_1 1 "" -- run --mem 4K --load "$tmp/real.bin@0xfff0"
check debug_exit_3_is_status_7 7 "" -- run --mem 1M --load "$tmp/exit3.bin"
stdin=$tmp/echo.in
check uart_echoes_stdin 0 abc -- run --mem 1M --load "$tmp/echo.bin"
stdin=/dev/null
check multiboot_elf32 33 "$mb_out" -- run --mem 16M --kernel "$MBK/mbkernel32.elf" $mb_args
check multiboot_elf64 33 "$mb_out" -- run --mem 16M --kernel "$MBK/mbkernel64.elf" $mb_args
check multiboot_aout_kludge 33 "$mb_bare_out" -- run --mem 32M --kernel "$MBK/mbkernel-aout.bin"
check_err bzimage_not_yet 1 "Linux bzImage boot is not implemented yet" -- run --kernel "$tmp/bzImage"
check_err unknown_image_format 1 "unknown image format" -- run --kernel "$tmp/real.bin"
check_err too_little_memory 1 "too little memory: needs 2M, --mem is 1M" -- run --mem 1M --kernel "$MBK/mbkernel32.elf"
check_err elf64_entry_above_4g 1 "is not below 4 GiB" -- run --kernel "$MBK/mbkernel64-high.elf"
check_err smp_needs_apic 1 "needs the local APIC, not implemented yet" -- run --cpus 2 --kernel "$MBK/mbkernel32.elf"
check_err cpus_0_is_usage 2 "bad --cpus" -- run --cpus 0 --kernel "$MBK/mbkernel32.elf"

# The same guests on KVM: vhm out of the way, the vendor's KVM module in.
rmmod vhm 2>/dev/null
kvm=kvm_amd
grep -qw vmx /proc/cpuinfo && kvm=kvm_intel
if modprobe $kvm; then
	check kvm_real_mode_uart_then_halt 0 hi -- run --accel kvm --mem 1M --load "$tmp/real.bin"
	check kvm_long_mode_uart_then_halt 0 hi -- run --accel kvm --mem 16M --mode long --load "$tmp/long.bin@0x200000"
	check kvm_triple_fault_is_status_3 3 "" -- run --accel kvm --mem 16M --mode long --load "$tmp/fault.bin"
	check kvm_debug_exit_3_is_status_7 7 "" -- run --accel kvm --mem 1M --load "$tmp/exit3.bin"
	check kvm_multiboot_elf32 33 "$mb_out" -- run --accel kvm --mem 16M --kernel "$MBK/mbkernel32.elf" $mb_args
	check kvm_multiboot_elf64 33 "$mb_out" -- run --accel kvm --mem 16M --kernel "$MBK/mbkernel64.elf" $mb_args
	check kvm_multiboot_aout_kludge 33 "$mb_bare_out" -- run --accel kvm --mem 32M --kernel "$MBK/mbkernel-aout.bin"
	rmmod $kvm kvm
else
	for t in $(seq $((n + 1)) $((n + KVM_TESTS))); do
		echo "not ok $t kvm_runs # modprobe $kvm failed"
	done
	failed=1
fi
[ $loaded = 0 ] && insmod "$MOD"
rm -rf "$tmp"
exit $failed
