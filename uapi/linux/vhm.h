/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhm: the userspace ABI of the virtual hardware manager (/dev/vhm).
 *
 * Three file descriptor levels, like KVM: the system fd (open("/dev/vhm")),
 * VM fds and vCPU fds. One ioctl magic; number bands per level:
 *   0x00-0x3f  system fd
 *   0x40-0x7f  VM fd
 *   0x80-0xbf  vCPU fd
 * Numbers are never reused. The API version is frozen at VHM_API_VERSION;
 * features are probed with VHM_CHECK_EXTENSION and its append-only
 * capability numbers. See docs/API.md for every ioctl.
 */
#ifndef _UAPI_LINUX_VHM_H
#define _UAPI_LINUX_VHM_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VHM_API_VERSION		1

/* Not used by any other driver in Documentation/userspace-api/ioctl/. */
#define VHMIO			0xF7

/*
 * System fd ioctls.
 *
 * VHM_GET_API_VERSION: arg must be 0; returns VHM_API_VERSION.
 * VHM_CHECK_EXTENSION: arg is a VHM_CAP_* number; returns 0 when the
 *   capability is absent, a positive value (documented per capability)
 *   when present. Unknown numbers return 0.
 */
#define VHM_GET_API_VERSION	_IO(VHMIO, 0x00)
#define VHM_CHECK_EXTENSION	_IO(VHMIO, 0x01)

/*
 * Capabilities: append-only, never renumbered or reused.
 *
 * VHM_CAP_HW_VENDOR      which hardware extension vhm drives:
 *                        VHM_HW_SVM (AMD-V) or VHM_HW_VMX (Intel VT-x).
 * VHM_CAP_NESTED_PAGING  1: guests run on nested page tables (NPT or EPT).
 * VHM_CAP_TLB_TAGS       number of hardware TLB tags (SVM ASIDs, or VMX
 *                        VPIDs: 65535 when VPID is supported, else 0
 *                        meaning absent).
 */
#define VHM_CAP_HW_VENDOR	1
#define VHM_CAP_NESTED_PAGING	2
#define VHM_CAP_TLB_TAGS	3

#define VHM_HW_SVM		1
#define VHM_HW_VMX		2

#endif /* _UAPI_LINUX_VHM_H */
