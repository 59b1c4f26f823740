// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the initrd vhmctl_test.sh gives the Linux guest. It reports
 * through the kernel log (/dev/kmsg: printk reaches the UART at once,
 * while a tty write would wait for the transmitter interrupt the guest
 * does not have yet), then on the debug-exit port: 0x10 (vhmctl exits
 * with status 33) when /proc/cmdline has the word "vhm-test", 0x11 when
 * not, 0x12 when /proc cannot be read. With the word "vhm-poweroff" (or
 * "vhm-reboot") it ends by reboot(RB_POWER_OFF) (RB_AUTOBOOT) instead,
 * Linux's ACPI S5 (reset) path, and reports 0x13 if that returns. It also
 * says whether the wall clock, which Linux set from the CMOS RTC at boot
 * (and which stands still without a timer tick), is in 2024 or later.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>

static void say(const char *msg)
{
	int fd = open("/dev/kmsg", O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return;
	n = write(fd, msg, strlen(msg));
	(void)n;	/* nothing else to say it with */
	close(fd);
}

static char buf[4096] = " ";	/* " " and /proc/cmdline */

/* 0x10: the command line has " vhm-test"; 0x11: not; 0x12: no /proc. */
static int check_cmdline(void)
{
	ssize_t n;
	int fd;

	if (mount("proc", "/proc", "proc", 0, NULL))
		return 0x12;
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return 0x12;
	n = read(fd, buf + 1, sizeof(buf) - 2);
	close(fd);
	if (n <= 0)
		return 0x12;
	buf[n + 1] = 0;
	return strstr(buf, " vhm-test") ? 0x10 : 0x11;
}

/* Linux read the CMOS clock at boot: a year before 2024 means it failed. */
static const char *check_clock(void)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm) || tm.tm_year + 1900 < 2024)
		return "vhm-guest: the clock is before 2024\n";
	return "vhm-guest: the clock is in 2024 or later\n";
}

int main(void)
{
	char msg[80];
	int code;

	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	code = check_cmdline();
	say(check_clock());
	snprintf(msg, sizeof(msg), "vhm-guest: init reached, reporting %#x\n",
		 code);
	say(msg);
	if (strstr(buf, " vhm-poweroff") || strstr(buf, " vhm-reboot")) {
		reboot(strstr(buf, " vhm-poweroff") ? RB_POWER_OFF : RB_AUTOBOOT);
		say("vhm-guest: reboot() returned\n");
		code = 0x13;
	}
	if (!iopl(3))
		outb(code, 0xf4);
	for (;;)
		pause();
}
