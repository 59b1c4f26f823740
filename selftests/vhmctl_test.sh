#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vhmctl run boots flat binaries (machine code written here with printf) in
# real and long mode; its UART prints to stdout (and reads stdin) and its
# exit status says how the guest ended, or what the guest wrote to the
# debug-exit port. It boots mbkernel (mbkernel/, multiboot v1 as ELF32,
# ELF64 and a.out-kludge image), which checks fw_cfg, PCI, the ACPI
# tables and PM registers, the CMOS clock and the boot information and
# reports 0x10 (status 33) when all is well, or powers off (ACPI S5: status
# 6) or resets (0xcf9, i8042: status 8) when told to. It boots the
# test host's own Linux kernel (LINUX_GUEST: vmlinuz and initrd.cpio.gz,
# from tools/testhost/run) by the Linux boot protocol, 64-bit entry, under
# timeout (with no timer interrupts yet, a guest that stops short of /init
# would wait forever): its early console must show the banner, the command
# line, the e820 map, the initrd and the ACPI tables vhmctl gave it, and
# (6.1: later kernels wait for a timer tick on the way) its /init
# (linuxguest/) must run, find the command line in /proc/cmdline, see a
# clock set from the CMOS RTC and report 0x10 on the debug-exit port
# (status 33); another boot ends by reboot(2) (status 8). LINUX_VERBOSE=1 prints
# the guest's whole console output (tools/testhost/run --append
# LINUX_VERBOSE=1), each line marked "guest| ". Images it must
# refuse: old or 32-bit-only bzImages, unknown formats, too little memory
# (also for Linux's init_size), --cpus 2. The same guests then run with
# --accel kvm on the stock KVM module (same devices, other accelerator).
# Every Linux guest on vhm must boot with a clean log: no "unchecked MSR
# access error", no #GP or #UD (guest_log_errors). vhmctl msrs
# (VHM_GET_MSR_LIST) must list known rows of docs/API.md's MSR table, and
# a flat guest's RDMSR must do what it says (a kernel row reads, an MSR
# it leaves to the VMM is #GP under vhmctl run, which enables no MSR
# exits). KTAP output; skips (status 4) without root, vhm.ko or SVM/VMX.
# VHMCTL_TEST_GUEST_LOG=FILE only runs the log check on FILE (no root or
# module needed): prints the offending lines, status 1 if there are any.

KSFT_SKIP=4

# guest_log_errors FILE: the lines (numbered) of a Linux guest's console
# output that must not be there: "unchecked MSR access error" (a RDMSR or
# WRMSR the kernel did not guard got #GP: an MSR it expects and vhm does
# not answer), a #GP or #UD in user space ("traps: comm[pid] general
# protection fault ...", "traps: comm[pid] trap invalid opcode ...") or
# in the kernel ("general protection fault, ...", "invalid opcode: 0000").
# Status 0 when there are any.
guest_log_errors() {
	tr -d '\r' <"$1" |
	grep -nE 'unchecked MSR access error|general protection|invalid opcode'
}
if [ -n "$VHMCTL_TEST_GUEST_LOG" ]; then
	if guest_log_errors "$VHMCTL_TEST_GUEST_LOG"; then
		exit 1
	fi
	exit 0
fi
VHMCTL=${VHMCTL:-$(command -v vhmctl || echo ../userland/vhmctl)}
MOD=${VHM_MODULE:-/lib/modules/$(uname -r)/extra/vhm.ko}
MBK=${MBKERNEL:-$(dirname "$0")/mbkernel}
LINUX_GUEST=${LINUX_GUEST:-/vhm/guest}
LINUX_TIMEOUT=${LINUX_TIMEOUT:-60}
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

KVM_TESTS=32
# VHMCTL_TEST_LINUX_SMP=1 (make check's intel-linux stage, where Bochs is
# too slow for every guest): only the log check's sample, the vhmctl msrs
# cases and the shell guest on vhm with 2 vCPUs (and its log check).
# VHMCTL_TEST_LINUX_REPEAT=N boots it N times (default 1).
linux_repeat=${VHMCTL_TEST_LINUX_REPEAT:-1}
if [ -n "$VHMCTL_TEST_LINUX_SMP" ]; then
	echo "1..$((5 * linux_repeat + 7))"
else
	echo "1..$((58 + KVM_TESTS))"
fi
stdin=/dev/null
skip_why=
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

# check_end NAME EXPECTED_STATUS LAST_LINE -- vhmctl args: the status
# and stdout's last line (mbkernel ending by poweroff, reset, kbdreset)
check_end() {
	name=$1 want_rc=$2 want_last=$3
	shift 4
	out=$("$VHMCTL" "$@" </dev/null 2>"$tmp/err")
	rc=$?
	last=$(echo "$out" | tail -n 1)
	n=$((n + 1))
	if [ "$rc" = "$want_rc" ] && [ "$last" = "$want_last" ]; then
		echo "ok $n $name"
	else
		echo "# status $rc (want $want_rc), last line '$last' (want '$want_last')"
		echo "$out" | sed 's/^/# stdout: /'
		sed 's/^/# stderr: /' "$tmp/err"
		echo "not ok $n $name"
		failed=1
	fi
}

# check_boot NAME FILE TEXT: the Linux guest's console output has TEXT.
check_boot() {
	n=$((n + 1))
	if [ ! -r "$lk" ]; then
		echo "ok $n $1 # SKIP no Linux guest at $LINUX_GUEST"
	elif [ -n "$skip_why" ]; then
		echo "ok $n $1 # SKIP $skip_why"
	elif grep -qF -- "$3" "$2"; then
		echo "ok $n $1"
	else
		echo "# wanted in the guest's output: $3"
		echo "not ok $n $1"
		failed=1
	fi
}

# check_boot_rc NAME FILE STATUS: vhmctl's exit status (in FILE) for the
# Linux guest is STATUS.
check_boot_rc() {
	n=$((n + 1))
	if [ ! -r "$lk" ]; then
		echo "ok $n $1 # SKIP no Linux guest at $LINUX_GUEST"
	elif [ -n "$skip_why" ]; then
		echo "ok $n $1 # SKIP $skip_why"
	elif [ "$(cat "$2")" = "$3" ]; then
		echo "ok $n $1"
	else
		echo "# status $(cat "$2") (want $3)"
		echo "not ok $n $1"
		failed=1
	fi
}

# check_guest_log NAME FILE: the Linux guest's console output in FILE is
# clean (guest_log_errors); else its offending lines, marked "guest| "
# (the guest's, not the test host's: check-log).
check_guest_log() {
	n=$((n + 1))
	if [ ! -r "$lk" ]; then
		echo "ok $n $1 # SKIP no Linux guest at $LINUX_GUEST"
	elif bad=$(guest_log_errors "$2"); then
		echo "# the guest's console shows:"
		echo "$bad" | sed 's/^/# guest| /'
		echo "not ok $n $1"
		failed=1
	else
		echo "ok $n $1"
	fi
}

# The log check itself, on a sample log: it must find an unchecked MSR
# access, a user-space #GP and #UD and a kernel #GP, and nothing else.
printf '%s\r\n' 'Linux version 6.1.0-x (gcc)' \
	'[    0.012345] unchecked MSR access error: RDMSR from 0xc0010200 at rIP: 0xffffffff8107b2a4 (native_read_msr+0x4/0x30)' \
	'[    0.012346] Call Trace:' \
	'[    1.234567] traps: init[1] general protection fault ip:401000 sp:7ffd0 error:0 in init[401000+1000]' \
	'[    1.234568] traps: sh[42] trap invalid opcode ip:401234 sp:7ffd0 error:0 in sh[401000+2000]' \
	'[    2.000000] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP' \
	'[    2.100000] x86/fpu: Supporting XSAVE feature 0x001' >"$tmp/bad.log"
n=$((n + 1))
if [ "$(guest_log_errors "$tmp/bad.log" | cut -d: -f1 | tr '\n' ' ')" = "2 4 5 6 " ] &&
   ! guest_log_errors "$tmp/bad.log" | grep -q 'Call Trace\|XSAVE'; then
	echo "ok $n guest_log_check_finds_bad_lines"
else
	echo "# guest_log_errors on the sample found:"
	guest_log_errors "$tmp/bad.log" | cut -d: -f1 | sed 's/^/# line /'
	echo "not ok $n guest_log_check_finds_bad_lines"
	failed=1
fi

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
# Linux boot sectors: a jump over the header to 0x26c, "HdrS" at 0x202,
# protocol 2.11 (too old for the 64-bit entry); 2.12 without XLF_KERNEL_64.
head -c 1024 /dev/zero >"$tmp/bzImage"
printf '\353\152HdrS\013\002' | dd of="$tmp/bzImage" bs=1 seek=512 conv=notrunc 2>/dev/null
cp "$tmp/bzImage" "$tmp/bzImage32"
printf '\014' | dd of="$tmp/bzImage32" bs=1 seek=518 conv=notrunc 2>/dev/null

# The Linux guest: what vhmctl must say for it, and what it must print.
lk=$LINUX_GUEST/vmlinuz
li=$LINUX_GUEST/initrd.cpio.gz
linux_cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr noapic nolapic lpj=1000000 panic=-1 vhm-test"
# Without timer interrupts, 6.1 gets to /init; 6.12 waits for a tick in
# deferred_probe_initcall (flush_work) and never does. LINUX_INIT=0|1
# overrides.
case $(uname -r) in
6.1.*) linux_init=${LINUX_INIT:-1} ;;
*) linux_init=${LINUX_INIT:-0} ;;
esac
# LINUX_EXTRA: more guest parameters, comma-separated (for --append)
[ -z "$LINUX_EXTRA" ] || linux_cmdline="$linux_cmdline $(echo "$LINUX_EXTRA" | tr , ' ')"
u32() {	# u32 FILE OFFSET: the little-endian 32-bit value there
	od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}
if [ -r "$lk" ] && [ -r "$li" ]; then
	# pref_address (low half: below 4 GiB) + init_size, in whole MiB
	linux_end=$(($(u32 "$lk" 600) + $(u32 "$lk" 608)))
	linux_need=$(((linux_end + 1048575) >> 20))
	# ... and the kernel file as an initrd, page aligned above that
	linux_need2=$(((((linux_end + 4095) & ~4095) + $(wc -c <"$lk") + 1048575) >> 20))
	# The initrd ends at the top of the 256M: page aligned below it.
	isize=$(wc -c <"$li")
	linux_ramdisk=$(printf 'RAMDISK: [mem 0x%08x-0x0fffffff]' \
		$(((0x10000000 - isize) & ~0xfff)))
else
	lk=$tmp/none li=$tmp/none linux_need=0 linux_ramdisk=none
fi
linux_args="--mem 256M --kernel $lk --initrd $li"
# linux_boot OUT -- vhmctl args: the guest's console output, in OUT.
# Only KVM's boots that hang on the test host's doubled interrupt
# (retry_hang) are booted again.
linux_boot() {
	skip_why=
	for try in 1 2; do
		linux_boot_once "$@"
		[ "$linux_init" = 1 ] || return
		retry_hang "$1.rc" "$try" "$@" || return
	done
}
# doubled_irq FILE: vhmctl's report of a guest it ended (SIGTERM) shows,
# on a vCPU's stack, an interrupt frame pushed with RFLAGS.IF clear: an
# interrupt handler interrupted by an external interrupt. The AMD test
# host's QEMU delivers an interrupt injected by EVENTINJ a second time
# that way, and the guest deadlocks on the lock its first handler holds
# (docs/TESTING.md, "Known problem"). KVM injects so; vhm does not (V_IRQ).
doubled_irq() {
	grep -o 'interrupted at RIP 0x[0-9a-f]* RFLAGS 0x[0-9a-f]*' "$1" |
	while read -r _ _ _ _ _ f; do
		[ $((f & 0x200)) = 0 ] && echo doubled
	done | grep -q doubled
}
# retry_hang RC_FILE TRY -- vhmctl args: whether to boot again, saying
# why. A guest that did not hang: no. On vhm: no (any hang is a failure).
# On KVM, a hang on the doubled interrupt: once more; after the second,
# skip_why makes that guest's checks skip (KVM is the reference here, and
# the test host's emulator kept it from booting). Only 2 boots: with other
# emulators on the build machine's cores, 5 boots in a row were seen to
# hang so, each costing LINUX_TIMEOUT.
retry_hang() {
	rc_file=$1 try=$2
	shift 2
	case $(cat "$rc_file") in
	124 | 143) ;;
	*) return 1 ;;
	esac
	if ! doubled_irq "$tmp/err"; then
		echo "# the guest hung (boot $try)"
		return 1
	fi
	case " $* " in
	*" --accel kvm "*) ;;
	*)
		echo "# the guest hung on an interrupt delivered twice (boot $try)"
		return 1
		;;
	esac
	echo "# KVM's guest hung on the test host's doubled interrupt (boot $try of 2)"
	[ "$try" -lt 2 ] && return 0
	skip_why="KVM's 2 boots hung on the AMD test host's doubled interrupt (QEMU; docs/TESTING.md)"
	return 1
}
linux_boot_once() {
	out=$1
	shift 2
	: >"$out"
	[ -r "$lk" ] || return 0
	timeout "$LINUX_TIMEOUT" "$VHMCTL" "$@" --cmdline "$linux_cmdline" \
		</dev/null >"$out" 2>"$tmp/err"
	echo "$?" >"$out.rc"
	echo "# exit status $(cat "$out.rc"); the guest's last lines:"
	# "guest| ": the guest kernel's, not the test host's (check-log)
	if [ -n "$LINUX_VERBOSE" ]; then
		tr -d '\r' <"$out" | sed 's/^/# guest| /'
	else
		tail -n 3 "$out" | tr -d '\r' | sed 's/^/# guest| /'
	fi
	sed 's/^/# stderr: /' "$tmp/err"
	guest_symbols "$tmp/err"
}
# check_linux PREFIX OUT: what the guest's early console must show
check_linux() {
	# What the early console showed counts even if the guest hung later.
	why=$skip_why
	skip_why=
	check_boot "${1}linux_banner" "$2" "Linux version "
	check_boot "${1}linux_cmdline" "$2" "Command line: $linux_cmdline"
	# 7.x (7.3) names the types "System RAM" and "device reserved" (two
	# spaces before them); 6.1 and 6.12 "usable" and "reserved".
	ram=usable res=reserved
	case $(cat "$LINUX_GUEST/release" 2>/dev/null || uname -r) in
	[7-9].*) ram=" System RAM" res=" device reserved" ;;
	esac
	check_boot "${1}linux_e820_low" "$2" "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] $ram"
	check_boot "${1}linux_e820_hole" "$2" "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] $res"
	check_boot "${1}linux_e820_high" "$2" "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] $ram"
	check_boot "${1}linux_initrd" "$2" "$linux_ramdisk"
	check_boot "${1}linux_acpi_rsdp" "$2" "ACPI: RSDP 0x00000000000E0000 000024 (v02 VHM   )"
	check_boot "${1}linux_acpi_xsdt_fadt" "$2" "ACPI: FACP 0x00000000000E0200 0000F4 (v03 VHM    VHMCTL  "
	check_boot "${1}linux_acpi_madt" "$2" "ACPI: APIC 0x00000000000E0400"
	check_boot "${1}linux_acpi_pm_timer" "$2" "ACPI: PM-Timer IO Port: 0x608"
	skip_why=$why
	if [ "$linux_init" = 1 ]; then
		check_boot "${1}linux_runs_init" "$2" "vhm-guest: init reached, reporting 0x10"
		check_boot_rc "${1}linux_status_33" "$2.rc" 33
		check_boot "${1}linux_rtc_date" "$2" "vhm-guest: the clock is in 2024 or later"
	else
		for t in linux_runs_init linux_status_33 linux_rtc_date; do
			n=$((n + 1))
			echo "ok $n $1$t # SKIP $(uname -r) waits for a timer tick before /init"
		done
	fi
}

# The busybox shell guest (linuxguest/shell.cpio.gz): SMP, the local
# APIC and IOAPIC, the PIT and the UART's interrupts. Commands go in on
# vhmctl's stdin once /init says the shell is about to read the console;
# the tty echoes them, so answers are looked for as NAME=VALUE, which the
# echoed command lines do not contain (they show NAME=$(...)).
lsh=$LINUX_GUEST/shell.cpio.gz
LINUX_SHELL_TIMEOUT=${LINUX_SHELL_TIMEOUT:-300}
shell_cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr panic=-1"
# guest_symbols FILE: the guest kernel symbol at or below each kernel
# text address in FILE's "vhmctl: terminated:" lines (where each vCPU
# stood, the text words on its stack, the frame an interrupt pushed).
# The guest runs this very kernel with nokaslr: its text starts at
# 0xffffffff81000000, ours at _text. Kernel addresses are 16 lowercase
# hex digits: compared as strings, all in one pass over /proc/kallsyms.
guest_symbols() {
	# Another guest kernel (the debug kernel's runs boot the stock 6.1):
	# our symbols would name its addresses wrongly (Debian ships no
	# System.map but in its -dbg package).
	grel=$(cat "$LINUX_GUEST/release" 2>/dev/null || uname -r)
	if [ "$grel" != "$(uname -r)" ]; then
		echo "# guest kernel $grel, test host $(uname -r): addresses not named"
		return 0
	fi
	text=$(awk '$3 == "_text" { print $1; exit }' /proc/kallsyms)
	[ -n "$text" ] || return 0
	grep 'vhmctl: terminated:' "$1" |
	grep -o '0xffffffff[89ab][0-9a-f]\{7\}' | sort -u |
	while read -r a; do
		printf '%s %016x\n' "$a" $((a - 0xffffffff81000000 + 0x$text))
	done | awk 'NR == FNR { want[$2] = $1; n++; next }
		{ for (t in want) if ($1 <= t && $1 > best[t]) { best[t] = $1; sym[t] = $3 } }
		END { for (t in want) print "# " want[t] " = " sym[t] }' - /proc/kallsyms
}
# linux_shell OUT CPUS -- vhmctl args: the console output in OUT. Only
# KVM's boots that hang on the test host's doubled interrupt are booted
# again, once (retry_hang).
linux_shell() {
	skip_why=
	for try in 1 2; do
		linux_shell_once "$@"
		retry_hang "$1.rc" "$try" "$@" || return
	done
}
linux_shell_once() {
	out=$1 cpus=$2
	shift 3
	: >"$out"
	echo 0 >"$out.rc"
	[ -r "$lk" ] && [ -r "$lsh" ] || return 0
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	timeout "$LINUX_SHELL_TIMEOUT" "$VHMCTL" "$@" --cpus "$cpus" \
		--mem 256M --kernel "$lk" --initrd "$lsh" \
		--cmdline "$shell_cmdline" <"$tmp/in" >"$out" \
		2>"$tmp/err" &
	pid=$!
	exec 3>"$tmp/in"
	while kill -0 $pid 2>/dev/null && ! grep -q "vhm-shell: ready" "$out"; do
		sleep 1
	done
	# in a subshell: a vhmctl already gone must not SIGPIPE the test
	(printf '%s\n' 'echo CPUS=$(grep -c ^processor /proc/cpuinfo)' \
		"echo PINNED=\$(taskset -c $((cpus - 1)) cut -d' ' -f39 /proc/self/stat)" \
		'sleep 1; echo SLEPT=$((6 * 7))' 'poweroff -f' >&3) 2>/dev/null
	wait $pid
	echo "$?" >"$out.rc"
	exec 3>&-
	echo "# exit status $(cat "$out.rc"); the guest's last lines:"
	if [ -n "$LINUX_VERBOSE" ]; then
		tr -d '\r' <"$out" | sed 's/^/# guest| /'
	else
		tail -n 5 "$out" | tr -d '\r' | sed 's/^/# guest| /'
	fi
	sed 's/^/# stderr: /' "$tmp/err"
	guest_symbols "$tmp/err"
}
# check_shell PREFIX OUT CPUS: the shell's answers and the power-off
check_shell() {
	if [ ! -r "$lsh" ] || [ ! -r "$lk" ]; then
		check_shell_skip "$1" "no shell guest at $LINUX_GUEST" "$3"
		return
	fi
	check_boot "${1}cpus${3}_sees_$3_cpus" "$2" "CPUS=$3"
	[ "$3" -gt 1 ] &&
		check_boot "${1}cpus${3}_runs_on_cpu_$(($3 - 1))" "$2" "PINNED=$(($3 - 1))"
	check_boot "${1}cpus${3}_timer_wakes_sleep" "$2" "SLEPT=42"
	check_boot_rc "${1}cpus${3}_poweroff_is_status_6" "$2.rc" 6
}
# check_shell_skip PREFIX REASON [CPUS]: check_shell's cases for CPUS
# (default: 1 and 2), skipped
check_shell_skip() {
	for c in ${3:-1 2}; do
		for t in sees_${c}_cpus runs_on_cpu_$((c - 1)) timer_wakes_sleep \
			 poweroff_is_status_6; do
			[ "$t" = runs_on_cpu_0 ] && continue
			n=$((n + 1))
			echo "ok $n ${1}cpus${c}_$t # SKIP $2"
		done
	done
}
# linux_ends PREFIX [ARGS]: /init ends by reboot(2): power-off (ACPI S5)
# must give status 6, a reboot status 8. Linux's power-off through ACPI
# needs its ACPI interpreter, which does not start today: with noapic and
# no PIC, the SCI (IRQ 9) cannot be requested ("SCI (IRQ9) allocation
# failed"), and the power-off halts (status 0). So that case skips until
# there is an interrupt controller (LINUX_S5=1 runs it). The reboot falls
# back from ACPI's RESET_REG to the i8042's 0xfe: status 8.
linux_s5=${LINUX_S5:-0}
linux_ends() {
	p=$1
	shift
	if [ "$linux_init" != 1 ]; then
		for t in linux_poweroff_is_status_6 linux_reboot_is_status_8; do
			n=$((n + 1))
			echo "ok $n $p$t # SKIP $(uname -r) waits for a timer tick before /init"
		done
		return
	fi
	base_cmdline=$linux_cmdline
	if [ "$linux_s5" = 1 ]; then
		linux_cmdline="$base_cmdline vhm-poweroff"
		linux_boot "$tmp/linux-off.out" -- run "$@" $linux_args
		check_boot_rc "${p}linux_poweroff_is_status_6" "$tmp/linux-off.out.rc" 6
	else
		n=$((n + 1))
		echo "ok $n ${p}linux_poweroff_is_status_6 # SKIP this guest runs noapic nolapic, and Linux's ACPI interpreter needs the SCI (IRQ 9); the shell guests power off by ACPI S5"
	fi
	linux_cmdline="$base_cmdline vhm-reboot"
	linux_boot "$tmp/linux-reboot.out" -- run "$@" $linux_args
	check_boot_rc "${p}linux_reboot_is_status_8" "$tmp/linux-reboot.out.rc" 8
	linux_cmdline=$base_cmdline
}

# What mbkernel prints with 16M and the module, and with 32M and nothing.
mb_out="mbkernel: hello from 32-bit protected mode
fw_cfg: QEMU, 1 CPU, 16384 KiB RAM
pci: 00:00.0 absent
acpi: RSDP at 0x000e0000 revision 2, XSDT, FACP, DSDT, APIC: checksums right
acpi: MADT: 1 local APIC, 1 IOAPIC at 0xfec00000
acpi: PM timer at 0x00000608 (32-bit) advances, SCI_EN set, \\_S5 SLP_TYP 5
rtc: BCD 24-hour date, 2024 or later
memory: lower 640 KiB, upper 15360 KiB
memory map: 3 entries, RAM at 0 and 1 MiB to the end
cmdline: module=hello-vhm
module: 9 bytes as expected, page aligned above the kernel
loader: vhmctl
mbkernel: all checks passed"
mb_bare_out="mbkernel: hello from 32-bit protected mode
fw_cfg: QEMU, 1 CPU, 32768 KiB RAM
pci: 00:00.0 absent
acpi: RSDP at 0x000e0000 revision 2, XSDT, FACP, DSDT, APIC: checksums right
acpi: MADT: 1 local APIC, 1 IOAPIC at 0xfec00000
acpi: PM timer at 0x00000608 (32-bit) advances, SCI_EN set, \\_S5 SLP_TYP 5
rtc: BCD 24-hour date, 2024 or later
memory: lower 640 KiB, upper 31744 KiB
memory map: 3 entries, RAM at 0 and 1 MiB to the end
cmdline: (empty)
module: none expected, 0 given
loader: vhmctl
mbkernel: all checks passed"
mb_args="--initrd $tmp/module --cmdline module=hello-vhm"

# vhmctl msrs (also in the VHMCTL_TEST_LINUX_SMP run: they are quick):
# rows of docs/API.md's MSR table for this vendor (the
# legacy PMU reads as zero: AMD's PERF_CTL/CTR 0xc0010000-7, Intel's
# IA32_PMC0-1), and what the guest's RDMSR does with them: a kernel row
# reads (the flat guest prints "k"), an MSR left to the VMM is #GP under
# vhmctl run (no IDT: triple fault, status 3).
if grep -qw vmx /proc/cpuinfo; then
	pmu_row="0x000000c1-0x000000c2 kernel read-as-zero" pmu=0xc1
	msrs_query="0x000000c1 kernel read-as-zero
0x00000017 kernel read-as-zero,write-gp
0xc0010000 vmm exit-or-gp
0xc0000080 kernel virtualized
0x00000830 kernel virtualized lapic,x2apic"
	msrs_args="0xc1 23 0xc0010000 0xc0000080 0x830"
else
	pmu_row="0xc0010000-0xc0010007 kernel read-as-zero" pmu=0xc0010000
	msrs_query="0xc0010000 kernel read-as-zero
0xc0010010 kernel read-as-zero,write-gp
0x000000c1 vmm exit-or-gp
0xc0000080 kernel virtualized
0x00000830 kernel virtualized lapic,x2apic"
	msrs_args="0xc0010000 0xc0010010 193 0xc0000080 0x830"
fi
# check_msrs_line NAME LINE: vhmctl msrs's list (status 0) has LINE.
check_msrs_line() {
	n=$((n + 1))
	out=$("$VHMCTL" msrs 2>"$tmp/err")
	rc=$?
	if [ "$rc" = 0 ] && echo "$out" | grep -qxF -- "$2"; then
		echo "ok $n $1"
	else
		echo "# status $rc, wanted the line '$2' in:"
		echo "$out" | sed 's/^/# stdout: /'
		sed 's/^/# stderr: /' "$tmp/err"
		echo "not ok $n $1"
		failed=1
	fi
}
check_msrs_line msrs_lists_legacy_pmu_read_as_zero "$pmu_row"
check_msrs_line msrs_ends_with_the_vmms_rest "other vmm exit-or-gp"
check msrs_answers_indices 0 "$msrs_query" -- msrs $msrs_args
check_err msrs_bad_index_is_usage 2 "bad MSR index '0x1x'" -- msrs 0x1x
# rdmsr_bin INDEX FILE: long mode, mov $INDEX,%ecx; rdmsr; print "k"; hlt
rdmsr_bin() {
	# shellcheck disable=SC2059 # the format is the bytes
	printf "\\271$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) \
		$((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)))" >"$2"
	printf '\017\062\146\272\370\003\260\153\356\364' >>"$2"
}
rdmsr_bin $pmu "$tmp/rdmsr-kernel.bin"
rdmsr_bin 0xc0010200 "$tmp/rdmsr-vmm.bin"
check msrs_kernel_row_reads_in_guest 0 k -- run --mem 16M --mode long --load "$tmp/rdmsr-kernel.bin"
check msrs_vmm_row_is_gp_under_vhmctl_run 3 "" -- run --mem 16M --mode long --load "$tmp/rdmsr-vmm.bin"

if [ -n "$VHMCTL_TEST_LINUX_SMP" ]; then
	if "$VHMCTL" info 2>/dev/null | grep -q '^ioapic: 1'; then
		for r in $(seq "$linux_repeat"); do
			linux_shell "$tmp/shell2.out" 2 -- run
			check_shell "shell_" "$tmp/shell2.out" 2
			check_guest_log shell_cpus2_log_clean "$tmp/shell2.out"
		done
	else
		check_shell_skip shell_ "vhm lacks VHM_CAP_LAPIC/VHM_CAP_IOAPIC" 2
		n=$((n + 1))
		echo "ok $n shell_cpus2_log_clean # SKIP vhm lacks VHM_CAP_LAPIC/VHM_CAP_IOAPIC"
	fi
	[ $loaded = 1 ] && rmmod vhm
	rm -rf "$tmp"
	exit $failed
fi

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
check_end acpi_s5_is_status_6 6 "mbkernel: poweroff" -- run --kernel "$MBK/mbkernel32.elf" --cmdline poweroff
check_end acpi_reset_reg_is_status_8 8 "mbkernel: reset" -- run --kernel "$MBK/mbkernel32.elf" --cmdline reset
check_end i8042_reset_is_status_8 8 "mbkernel: kbdreset" -- run --kernel "$MBK/mbkernel32.elf" --cmdline kbdreset
check_err bzimage_protocol_too_old 1 "boot protocol 2.11 is too old" -- run --kernel "$tmp/bzImage"
check_err bzimage_not_64bit 1 "not a 64-bit kernel" -- run --kernel "$tmp/bzImage32"
if [ -r "$lk" ]; then
	check_err linux_too_little_memory 1 "too little memory: needs ${linux_need}M, --mem is 16M" -- run --mem 16M --kernel "$lk"
	check_err linux_initrd_too_big 1 "too little memory: needs ${linux_need2}M, --mem is ${linux_need}M" -- run --mem ${linux_need}M --kernel "$lk" --initrd "$lk"
	check_err linux_initrd_unreadable 1 "none.img: No such file or directory" -- run --kernel "$lk" --initrd "$tmp/none.img"
else
	for t in linux_too_little_memory linux_initrd_too_big linux_initrd_unreadable; do
		n=$((n + 1))
		echo "ok $n $t # SKIP no Linux guest at $LINUX_GUEST"
	done
fi
linux_boot "$tmp/linux.out" -- run $linux_args
check_linux "" "$tmp/linux.out"
check_guest_log linux_log_clean "$tmp/linux.out"
linux_ends ""
check_err unknown_image_format 1 "unknown image format" -- run --kernel "$tmp/real.bin"
check_err too_little_memory 1 "too little memory: needs 2M, --mem is 1M" -- run --mem 1M --kernel "$MBK/mbkernel32.elf"
check_err elf64_entry_above_4g 1 "is not below 4 GiB" -- run --kernel "$MBK/mbkernel64-high.elf"
vhm_irqchip=0
"$VHMCTL" info 2>/dev/null | grep -q '^lapic: 1' &&
	"$VHMCTL" info 2>/dev/null | grep -q '^ioapic: 1' && vhm_irqchip=1
if [ $vhm_irqchip = 0 ]; then
	check_err smp_needs_lapic 1 "--cpus 2 needs VHM_CAP_LAPIC and VHM_CAP_IOAPIC" -- run --cpus 2 --kernel "$MBK/mbkernel32.elf"
else
	n=$((n + 1))
	echo "ok $n smp_needs_lapic # SKIP this vhm has VHM_CAP_LAPIC and VHM_CAP_IOAPIC"
fi
check_err cpus_0_is_usage 2 "bad --cpus" -- run --cpus 0 --kernel "$MBK/mbkernel32.elf"
check_err cpus_256_is_usage 2 "bad --cpus '256' (1 to 255)" -- run --cpus 256 --kernel "$MBK/mbkernel32.elf"

if [ $vhm_irqchip = 1 ]; then
	for c in 1 2; do
		linux_shell "$tmp/shell$c.out" $c -- run
		check_shell "shell_" "$tmp/shell$c.out" $c
		if [ -r "$lsh" ]; then
			check_guest_log "shell_cpus${c}_log_clean" "$tmp/shell$c.out"
		else
			n=$((n + 1))
			echo "ok $n shell_cpus${c}_log_clean # SKIP no shell guest at $LINUX_GUEST"
		fi
		# vhmctl tells a Linux guest on vhm its TSC rate (docs/VHMCTL.md).
		[ $c = 1 ] && check_boot shell_tsc_rate_on_cmdline "$tmp/shell$c.out" " tsc_early_khz="
	done
else
	check_shell_skip shell_ "vhm lacks VHM_CAP_LAPIC/VHM_CAP_IOAPIC"
	for t in shell_tsc_rate_on_cmdline shell_cpus1_log_clean shell_cpus2_log_clean; do
		n=$((n + 1))
		echo "ok $n $t # SKIP vhm lacks VHM_CAP_LAPIC/VHM_CAP_IOAPIC"
	done
fi

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
	check_end kvm_acpi_s5_is_status_6 6 "mbkernel: poweroff" -- run --accel kvm --kernel "$MBK/mbkernel32.elf" --cmdline poweroff
	check_end kvm_acpi_reset_reg_is_status_8 8 "mbkernel: reset" -- run --accel kvm --kernel "$MBK/mbkernel32.elf" --cmdline reset
	check_end kvm_i8042_reset_is_status_8 8 "mbkernel: kbdreset" -- run --accel kvm --kernel "$MBK/mbkernel32.elf" --cmdline kbdreset
	linux_boot "$tmp/linux-kvm.out" -- run --accel kvm $linux_args
	check_linux kvm_ "$tmp/linux-kvm.out"
	# KVM's own run of the shell guest (KVM's irqchip, kvmclock) stalled in
	# the TCG test host while Linux patched its return thunks (it got
	# through in some runs, never within 300 s under load), most likely the
	# doubled interrupt (docs/TESTING.md; not confirmed for this guest,
	# which passed both times with KVM_SHELL=1 on a quiet machine). The
	# same guest and devices pass on vhm. KVM_SHELL=1 runs it.
	if [ -n "$KVM_SHELL" ]; then
		for c in 1 2; do
			linux_shell "$tmp/shell-kvm$c.out" $c -- run --accel kvm
			check_shell "kvm_shell_" "$tmp/shell-kvm$c.out" $c
		done
	else
		check_shell_skip kvm_shell_ "KVM's shell guest stalls in the TCG test host (KVM_SHELL=1 runs it)"
	fi
	linux_ends kvm_ --accel kvm
	rmmod $kvm kvm
else
	# KVM does not load on every host (Debian's PREEMPT_RT KVM refuses a
	# CPU without a constant TSC, as the AMD test host's is): its
	# comparison runs are then skipped, with the kernel's reason.
	why=$(dmesg | grep -E 'kvm(_amd|_intel)?: ' | tail -n 1 | sed 's/^\[[^]]*\] //')
	for t in $(seq $((n + 1)) $((n + KVM_TESTS))); do
		echo "ok $t kvm_runs # SKIP modprobe $kvm failed${why:+: $why}"
	done
fi
[ $loaded = 0 ] && insmod "$MOD"
rm -rf "$tmp"
exit $failed
