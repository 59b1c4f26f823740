// SPDX-License-Identifier: GPL-2.0
/* vhmctl: the vhm controller. Subcommands are dispatched by name. */
#include <stdio.h>
#include <string.h>

#include "vhmctl.h"

struct vhmctl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct vhmctl_cmd cmds[] = {
	{ "info", cmd_info, "print the module's API version and capabilities" },
	{ "msrs", cmd_msrs, "which MSRs the module answers in the kernel, and how; the others go to the VMM (INDEX...: those only)" },
	{ "run", cmd_run, "boot a kernel (--kernel, --initrd, --cmdline) or a flat binary (--load FILE[@GPA], --entry, --mode); --mem, --cpus, --accel" },
	{ NULL, NULL, NULL },
};

static int usage(FILE *out)
{
	const struct vhmctl_cmd *c;

	fprintf(out, "usage: vhmctl COMMAND [ARGS]\n\ncommands:\n");
	for (c = cmds; c->name; c++)
		fprintf(out, "  %-8s %s\n", c->name, c->help);
	return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	const struct vhmctl_cmd *c;

	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h"))
		return usage(stdout);
	for (c = cmds; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "vhmctl: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
