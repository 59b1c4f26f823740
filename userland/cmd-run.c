// SPDX-License-Identifier: GPL-2.0
/*
 * vhmctl run [--mem SIZE] [--cpus N] [--accel vhm|kvm]
 *            --load FILE[@GPA] [--entry GPA] [--mode real|long]
 *          | --kernel FILE [--initrd FILE] [--cmdline STR]
 *
 * --load boots a flat binary: load it into guest RAM and start the vCPU at
 * the entry point in real mode or in 64-bit long mode (identity-mapped
 * first 4 GiB). --kernel boots a kernel image by the protocol its contents
 * call for (boot/boot.c: multiboot v1, Linux bzImage). The guest's
 * devices (devices/): COM1 UART on stdin/stdout, fw_cfg, the debug-exit
 * port, empty PCI configuration space, ACPI tables and PM registers, CMOS
 * RTC, an i8042 for resets. The exit status tells how the guest ended: 0
 * halted, 3 shut down (triple fault), 4 entry refused, 5 vhm internal
 * error, 6 powered off (ACPI S5), 8 reset, (V << 1) | 1 the guest wrote V
 * to the debug-exit port, 1 other failures, 2 usage.
 * --accel kvm runs the same guest with the same devices on /dev/kvm.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "vhmctl.h"
#include "vmm.h"

#define RUN_MAX_CPUS	ACCEL_MAX_VCPUS

struct run_opts {
	uint64_t mem, gpa, entry;
	unsigned long cpus;
	const char *load, *mode, *accel;
	const char *kernel, *initrd, *cmdline;
};

static int run_usage(void)
{
	fprintf(stderr,
		"usage: vhmctl run [--mem SIZE] [--cpus N] [--accel vhm|kvm]\n"
		"                  --load FILE[@GPA] [--entry GPA] [--mode real|long]\n"
		"                | --kernel FILE [--initrd FILE] [--cmdline STR]\n");
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

/* 0, 1 (print the usage) or 2 (a message said it). */
static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "load", required_argument, NULL, 'l' },
		{ "entry", required_argument, NULL, 'e' },
		{ "mode", required_argument, NULL, 'o' },
		{ "accel", required_argument, NULL, 'a' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	char *at, *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &o->mem)) {
				fprintf(stderr, "vhmctl: bad --mem '%s' (e.g. 16M)\n", optarg);
				return 2;
			}
			break;
		case 'l':
			o->load = optarg;
			at = strchr(optarg, '@');
			if (at) {
				*at = 0;
				o->gpa = strtoull(at + 1, NULL, 0);
			}
			break;
		case 'e':
			o->entry = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			o->mode = optarg;
			break;
		case 'a':
			o->accel = optarg;
			break;
		case 'c':
			o->cpus = strtoul(optarg, &end, 10);
			if (*end || !*optarg || !o->cpus || o->cpus > RUN_MAX_CPUS) {
				fprintf(stderr, "vhmctl: bad --cpus '%s' (1 to %d)\n",
					optarg, RUN_MAX_CPUS);
				return 2;
			}
			break;
		case 'k':
			o->kernel = optarg;
			break;
		case 'i':
			o->initrd = optarg;
			break;
		case 'C':
			o->cmdline = optarg;
			break;
		default:
			return 1;
		}
	}
	if (optind != argc || !o->load == !o->kernel)
		return 1;
	if (o->load && (o->initrd || o->cmdline))
		return 1;	/* --initrd, --cmdline: for --kernel */
	if (o->kernel && (o->mode || o->entry != UINT64_MAX ||
			  o->gpa != UINT64_MAX))
		return 1;	/* the image says where and how */
	if (!o->mode)
		o->mode = "real";
	if (strcmp(o->mode, "real") && strcmp(o->mode, "long"))
		return 1;
	return 0;
}

/*
 * The interrupt controllers: required for more than one CPU, there for a
 * kernel when the accelerator has them; a flat binary on one CPU gets none
 * (its HLT must end the run: with KVM's irqchip a HLT never exits).
 */
static enum vmm_irqchip run_irqchip(const struct run_opts *o)
{
	if (o->cpus > 1)
		return VMM_IRQCHIP_ON;
	return o->kernel ? VMM_IRQCHIP_AUTO : VMM_IRQCHIP_OFF;
}

/* --load: where the binary goes and starts (no VM yet). */
static void run_flat_defaults(struct run_opts *o)
{
	bool real = !strcmp(o->mode, "real");

	if (o->gpa == UINT64_MAX)
		o->gpa = real ? 0x7c00 : 0x100000;
	if (o->entry == UINT64_MAX)
		o->entry = o->gpa;
}

static int run_flat_load(struct vmm *vmm, const struct run_opts *o)
{
	if (vmm_load_file(vmm, o->load, o->gpa))
		return -1;
	return !strcmp(o->mode, "real") ? vmm_setup_real(vmm, o->entry) :
					  vmm_setup_long(vmm, o->entry);
}

/* --kernel: every error about the image or --mem before any VM exists. */
static int run_kernel_plan(const struct run_opts *o,
			   const struct accel_ops *ops, struct boot_plan *plan)
{
	struct boot_args args = { .cmdline = o->cmdline, .ram_size = o->mem };

	/* On KVM, Linux reads the TSC rate from kvmclock. */
	if (!strcmp(ops->name, "vhm"))
		args.linux_tsc_khz = accel_host_tsc_khz();
	if (boot_file_map(&args.kernel, o->kernel) ||
	    (o->initrd && boot_file_map(&args.initrd, o->initrd)))
		return -1;
	return boot_prepare(plan, &args);
}

/*
 * Create the VM, load the guest, run it: vhmctl's exit status. The vmm is
 * static: the devices' threads, never stopped, still take its lock after
 * vmm_destroy().
 */
static int run_vm(const struct run_opts *o, const struct accel_ops *ops,
		  const struct boot_plan *plan)
{
	static struct vmm vmm;
	int rc;

	if (vmm_create(&vmm, o->mem, o->cpus, run_irqchip(o), ops))
		return 1;
	if (o->kernel ? boot_load(&vmm, plan) : run_flat_load(&vmm, o))
		rc = 1;
	else
		rc = vmm_run(&vmm);
	vmm_destroy(&vmm);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = {
		.mem = 16 << 20, .gpa = UINT64_MAX, .entry = UINT64_MAX,
		.cpus = 1, .accel = "vhm",
	};
	const struct accel_ops *ops;
	struct boot_plan plan;
	int rc;

	rc = run_parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? run_usage() : 2;
	ops = accel_by_name(o.accel);
	if (!ops)
		return 2;
	if (!o.kernel)
		run_flat_defaults(&o);
	else if (run_kernel_plan(&o, ops, &plan))
		return 1;
	return run_vm(&o, ops, &plan);
}
