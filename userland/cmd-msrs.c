// SPDX-License-Identifier: GPL-2.0
/*
 * vhmctl msrs: which MSRs the module answers in the kernel, and how
 * (VHM_GET_MSR_LIST), and which go to the VMM: every other one, as
 * VHM_EXIT_MSR where the VMM enabled VHM_CAP_MSR_EXITS, else #GP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vhm.h>

#include "libvhm.h"
#include "vhmctl.h"

static const char *const handling_names[] = {
	[VHM_MSR_VIRTUALIZED] = "virtualized",
	[VHM_MSR_READ_ZERO] = "read-as-zero",
	[VHM_MSR_READ_ZERO_GP] = "read-as-zero,write-gp",
	[VHM_MSR_READ_ONLY] = "read-only",
	[VHM_MSR_WRITE_IGNORED] = "write-ignored",
};

static void print_range(__u32 first, __u32 last, const struct vhm_msr_info *r)
{
	__u32 h = r->handling;

	if (first == last)
		printf("0x%08x kernel ", first);
	else
		printf("0x%08x-0x%08x kernel ", first, last);
	if (h < sizeof(handling_names) / sizeof(handling_names[0]) &&
	    handling_names[h])
		printf("%s", handling_names[h]);
	else
		printf("handling-%u", h);
	if (r->flags & VHM_MSR_INFO_LAPIC)
		printf(" lapic%s", r->flags & VHM_MSR_INFO_X2APIC ? ",x2apic" : "");
	printf("\n");
}

/* The module's list, in *list; the number of ranges, or -1. */
static int get_list(int fd, struct vhm_msr_list **list)
{
	struct vhm_msr_list *l = NULL;
	__u32 room = 0;

	for (;;) {
		free(l);
		l = calloc(1, sizeof(*l) + room * sizeof(l->ranges[0]));
		if (!l) {
			perror("vhmctl");
			return -1;
		}
		l->nranges = room;
		if (!ioctl(fd, VHM_GET_MSR_LIST, l))
			break;
		if (errno != E2BIG || l->nranges <= room) {
			perror("vhmctl: VHM_GET_MSR_LIST");
			free(l);
			return -1;
		}
		room = l->nranges;
	}
	*list = l;
	return l->nranges;
}

static int parse_index(const char *s, __u32 *index)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > 0xffffffffull || *s == '-')
		return -1;
	*index = v;
	return 0;
}

int cmd_msrs(int argc, char **argv)
{
	struct vhm_msr_list *list;
	__u32 index;
	int fd, n, i, a;

	for (a = 1; a < argc; a++) {
		if (parse_index(argv[a], &index)) {
			fprintf(stderr, "vhmctl: bad MSR index '%s'\n"
				"usage: vhmctl msrs [INDEX...]\n", argv[a]);
			return 2;
		}
	}
	fd = vhm_open_system();
	if (fd < 0)
		return 1;
	if (ioctl(fd, VHM_CHECK_EXTENSION, VHM_CAP_MSR_LIST) <= 0) {
		fprintf(stderr, "vhmctl: this vhm module lacks VHM_GET_MSR_LIST (VHM_CAP_MSR_LIST)\n");
		close(fd);
		return 1;
	}
	n = get_list(fd, &list);
	close(fd);
	if (n < 0)
		return 1;
	if (argc == 1) {
		for (i = 0; i < n; i++)
			print_range(list->ranges[i].first, list->ranges[i].last,
				    &list->ranges[i]);
		printf("other vmm exit-or-gp\n");
	}
	for (a = 1; a < argc; a++) {
		parse_index(argv[a], &index);
		for (i = 0; i < n; i++)
			if (index >= list->ranges[i].first &&
			    index <= list->ranges[i].last)
				break;
		if (i < n)
			print_range(index, index, &list->ranges[i]);
		else
			printf("0x%08x vmm exit-or-gp\n", index);
	}
	free(list);
	return 0;
}
