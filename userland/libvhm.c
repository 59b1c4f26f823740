// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vhm.h>

#include "libvhm.h"

int vhm_open_system(void)
{
	int fd, version;

	fd = open("/dev/vhm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vhmctl: cannot open /dev/vhm: %s%s\n",
			strerror(errno),
			errno == ENOENT ? " (is vhm.ko loaded? insmod vhm.ko)" :
			errno == EACCES ? " (run as root or join the vhm group)" :
			"");
		return -1;
	}
	version = ioctl(fd, VHM_GET_API_VERSION, 0);
	if (version != VHM_API_VERSION) {
		fprintf(stderr, "vhmctl: VHM_GET_API_VERSION returned %d, this vhmctl speaks %d\n",
			version, VHM_API_VERSION);
		close(fd);
		return -1;
	}
	return fd;
}

static const char *describe_vendor(long v)
{
	return v == VHM_HW_SVM ? "AMD-V (SVM)" :
	       v == VHM_HW_VMX ? "Intel VT-x (VMX)" : "unknown";
}

const struct vhm_cap_desc vhm_caps[] = {
	{ VHM_CAP_HW_VENDOR, "hw-vendor", describe_vendor },
	{ VHM_CAP_NESTED_PAGING, "nested-paging", NULL },
	{ VHM_CAP_TLB_TAGS, "tlb-tags", NULL },
	{ VHM_CAP_LAPIC, "lapic", NULL },
	{ VHM_CAP_IOAPIC, "ioapic", NULL },
	{ VHM_CAP_MSR_LIST, "msr-list", NULL },
	{ 0, NULL, NULL },
};
