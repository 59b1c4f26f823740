/* SPDX-License-Identifier: GPL-2.0 */
/* VMX-only declarations; vendor-neutral code never includes this. */
#ifndef VHM_VMX_H
#define VHM_VMX_H

#include <linux/types.h>

/* vmx_insn.S: 0, -EIO on VMfail, -EFAULT on a fault (#UD/#GP). */
int vmx_insn_vmxon(u64 pa);
int vmx_insn_vmxoff(void);

#endif /* VHM_VMX_H */
