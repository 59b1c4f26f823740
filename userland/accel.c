// SPDX-License-Identifier: GPL-2.0
/* Choosing and opening an accelerator (accel.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "accel.h"

const struct accel_ops *accel_by_name(const char *name)
{
	if (!strcmp(name, "vhm"))
		return &accel_vhm_ops;
	if (!strcmp(name, "kvm"))
		return &accel_kvm_ops;
	fprintf(stderr, "vhmctl: unknown accelerator '%s' (vhm or kvm)\n", name);
	return NULL;
}

int accel_init(struct accel *a, const struct accel_ops *ops)
{
	memset(a, 0, sizeof(*a));
	a->ops = ops;
	a->sys = a->vm = a->vcpu = -1;
	if (ops->open(a))
		return -1;
	return ops->create_vm(a);
}

void accel_close(struct accel *a)
{
	if (a->run)
		munmap(a->run, a->run_size);
	if (a->vcpu >= 0)
		close(a->vcpu);
	if (a->vm >= 0)
		close(a->vm);
	if (a->sys >= 0)
		close(a->sys);
	a->run = NULL;
	a->vcpu = a->vm = a->sys = -1;
}
