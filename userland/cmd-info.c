// SPDX-License-Identifier: GPL-2.0
/* vhmctl info: the module's API version and capabilities. */
#include <stdio.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vhm.h>

#include "libvhm.h"
#include "vhmctl.h"

int cmd_info(int argc, char **argv)
{
	const struct vhm_cap_desc *c;
	long v;
	int fd;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: vhmctl info\n");
		return 2;
	}
	fd = vhm_open_system();
	if (fd < 0)
		return 1;
	printf("api-version: %d\n", VHM_API_VERSION);
	for (c = vhm_caps; c->name; c++) {
		v = ioctl(fd, VHM_CHECK_EXTENSION, (unsigned long)c->cap);
		if (v < 0) {
			perror("vhmctl: VHM_CHECK_EXTENSION");
			close(fd);
			return 1;
		}
		if (c->describe)
			printf("%s: %ld (%s)\n", c->name, v, c->describe(v));
		else
			printf("%s: %ld\n", c->name, v);
	}
	close(fd);
	return 0;
}
