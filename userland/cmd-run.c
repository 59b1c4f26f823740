// SPDX-License-Identifier: GPL-2.0
/*
 * vhmctl run --mem SIZE --load FILE[@GPA] [--entry GPA] [--mode real|long]
 *            [--accel vhm|kvm]
 *
 * Boot a flat binary: load it into guest RAM and start the vCPU at the entry
 * point in real mode or in 64-bit long mode (identity-mapped first 4 GiB).
 * The guest's COM1 UART prints to stdout. The exit status tells how the
 * guest ended: 0 halted, 3 shut down (triple fault), 4 entry refused,
 * 5 vhm internal error, 1 other failures, 2 usage. --accel kvm runs the
 * same guest with the same devices on /dev/kvm.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhmctl.h"
#include "vmm.h"

static int run_usage(void)
{
	fprintf(stderr, "usage: vhmctl run --mem SIZE --load FILE[@GPA] [--entry GPA] [--mode real|long] [--accel vhm|kvm]\n");
	return 2;
}

/* "16M", "512K", "1G" or bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	case 0: break;
	default: return -1;
	}
	if (*end || !v || v & 0xfff)
		return -1;
	*out = v;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "load", required_argument, NULL, 'l' },
		{ "entry", required_argument, NULL, 'e' },
		{ "mode", required_argument, NULL, 'o' },
		{ "accel", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t mem = 16 << 20, gpa = UINT64_MAX, entry = UINT64_MAX;
	const char *file = NULL, *mode = "real", *accel = "vhm";
	const struct accel_ops *ops;
	struct vmm vmm;
	char *at;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &mem)) {
				fprintf(stderr, "vhmctl: bad --mem '%s' (e.g. 16M)\n", optarg);
				return 2;
			}
			break;
		case 'l':
			file = optarg;
			at = strchr(optarg, '@');
			if (at) {
				*at = 0;
				gpa = strtoull(at + 1, NULL, 0);
			}
			break;
		case 'e':
			entry = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			mode = optarg;
			break;
		case 'a':
			accel = optarg;
			break;
		default:
			return run_usage();
		}
	}
	if (!file || optind != argc ||
	    (strcmp(mode, "real") && strcmp(mode, "long")))
		return run_usage();
	if (gpa == UINT64_MAX)
		gpa = !strcmp(mode, "real") ? 0x7c00 : 0x100000;
	if (entry == UINT64_MAX)
		entry = gpa;
	ops = accel_by_name(accel);
	if (!ops)
		return 2;
	if (vmm_create(&vmm, mem, ops) || vmm_load_file(&vmm, file, gpa))
		return 1;
	if (!strcmp(mode, "real") ? vmm_setup_real(&vmm, entry) :
				    vmm_setup_long(&vmm, entry))
		return 1;
	return vmm_run(&vmm);
}
