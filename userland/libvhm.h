/* SPDX-License-Identifier: GPL-2.0 */
/* libvhm: the small library vhmctl's commands share. */
#ifndef LIBVHM_H
#define LIBVHM_H

#include <stdint.h>

struct vhm_cap_desc {
	uint32_t cap;
	const char *name;
	const char *(*describe)(long value);	/* NULL: print the number */
};

/* Open /dev/vhm and check the API version; print why not and return -1. */
int vhm_open_system(void);
/* The capabilities this vhmctl knows, terminated by a NULL name. */
extern const struct vhm_cap_desc vhm_caps[];

#endif /* LIBVHM_H */
