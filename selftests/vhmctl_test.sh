#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vhmctl run boots flat binaries (machine code written here with printf) in
# real and long mode; its UART prints to stdout and its exit status says how
# the guest ended. The same guests then run with --accel kvm on the stock
# KVM module (same devices, other accelerator). KTAP output; skips (status
# 4) without root, vhm.ko or SVM/VMX.

KSFT_SKIP=4
VHMCTL=${VHMCTL:-$(command -v vhmctl || echo ../userland/vhmctl)}
MOD=${VHM_MODULE:-/lib/modules/$(uname -r)/extra/vhm.ko}
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
grep -qwE 'svm|vmx' /proc/cpuinfo || skip_all "CPU has neither SVM nor VMX"
loaded=0
if [ ! -e /sys/module/vhm ]; then
	insmod "$MOD" || skip_all "vhm.ko does not load"
	loaded=1
fi

echo "1..9"
check() {	# check NAME EXPECTED_STATUS EXPECTED_STDOUT -- vhmctl args
	name=$1 want_rc=$2 want_out=$3
	shift 4
	out=$("$VHMCTL" "$@" 2>"$tmp/err")
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

# mov $0x3f8,%dx; mov $'h',%al; out %al,(%dx); mov $'i',%al; out; hlt
printf '\272\370\003\260\150\356\260\151\356\364' >"$tmp/real.bin"
# the same with a 16-bit operand prefix for mov %dx in 64-bit mode
printf '\146\272\370\003\260\150\356\260\151\356\364' >"$tmp/long.bin"
# int3 with no IDT: #GP, #DF, triple fault
printf '\314' >"$tmp/fault.bin"

check real_mode_uart_then_halt 0 hi -- run --mem 1M --load "$tmp/real.bin"
check long_mode_uart_then_halt 0 hi -- run --mem 16M --mode long --load "$tmp/long.bin@0x200000"
check triple_fault_is_status_3 3 "" -- run --mem 16M --mode long --load "$tmp/fault.bin"
check missing_file_is_status_1 1 "" -- run --mem 1M --load "$tmp/none.bin"
check bad_size_is_status_2 2 "" -- run --mem 3X --load "$tmp/real.bin"
check too_big_for_ram_is_status_1 1 "" -- run --mem 4K --load "$tmp/real.bin@0xfff0"

# The same guests on KVM: vhm out of the way, the vendor's KVM module in.
rmmod vhm 2>/dev/null
kvm=kvm_amd
grep -qw vmx /proc/cpuinfo && kvm=kvm_intel
if modprobe $kvm; then
	check kvm_real_mode_uart_then_halt 0 hi -- run --accel kvm --mem 1M --load "$tmp/real.bin"
	check kvm_long_mode_uart_then_halt 0 hi -- run --accel kvm --mem 16M --mode long --load "$tmp/long.bin@0x200000"
	check kvm_triple_fault_is_status_3 3 "" -- run --accel kvm --mem 16M --mode long --load "$tmp/fault.bin"
	rmmod $kvm kvm
else
	for t in 7 8 9; do echo "not ok $t kvm_runs # modprobe $kvm failed"; done
	failed=1
fi
[ $loaded = 0 ] && insmod "$MOD"
rm -rf "$tmp"
exit $failed
