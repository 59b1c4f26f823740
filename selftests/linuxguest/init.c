// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the initrd vhmctl_test.sh gives the Linux guest: it says it ran
 * on the console and writes 0x10 to the debug-exit port (vhmctl exits with
 * status 33). Reaching it needs timer interrupts, which vhm does not
 * provide yet: the test asserts only the early boot, this is for later.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/mount.h>

int main(void)
{
	static const char msg[] = "vhm-guest: init reached\n";
	int fd;

	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_WRONLY);
	if (fd >= 0 && write(fd, msg, strlen(msg)) < 0)
		close(fd);
	if (!iopl(3))
		outb(0x10, 0xf4);
	for (;;)
		pause();
}
