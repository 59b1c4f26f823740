/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for the kernel's <linux/string.h>, for unit tests. */
#ifndef VHM_SHIM_LINUX_STRING_H
#define VHM_SHIM_LINUX_STRING_H

#include <string.h>

#endif
