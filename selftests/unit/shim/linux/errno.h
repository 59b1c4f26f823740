/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace stand-in for the kernel's <linux/errno.h>, for unit tests. The
 * C library's <errno.h> includes <linux/errno.h> itself, so take the codes
 * from the uapi header this file hides.
 */
#include_next <linux/errno.h>
