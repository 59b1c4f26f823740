/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vendor operations table: everything that differs between AMD SVM and
 * Intel VMX sits behind it. Vendor-neutral code includes this header only,
 * never svm or vmx internals.
 */
#ifndef VHM_VENDOR_H
#define VHM_VENDOR_H

#include <linux/types.h>

struct vhm_vendor_ops {
	/* "AMD-V (SVM)" or "Intel VT-x (VMX)", for messages. */
	const char *name;
	/* VHM_HW_SVM or VHM_HW_VMX. */
	u32 hw_vendor;
	/* The KVM module that competes for the same hardware. */
	const char *kvm_module;

	/*
	 * Check on the boot CPU that every feature vhm needs is present and
	 * usable. On failure, print one line saying what is missing and how
	 * to fix it, and return -ENODEV (no such extension),
	 * -EOPNOTSUPP (a required feature is absent) or -EBUSY (turned off
	 * by firmware).
	 */
	int (*probe)(void);
	/* Allocate (free) per-CPU state for every possible CPU. */
	int (*setup)(void);
	void (*teardown)(void);

	/*
	 * On the calling CPU, interrupts off. cpu_in_use: virtualization is
	 * already on (someone else owns it). cpu_enable: turn it on, -EBUSY
	 * if someone else owns it, another -errno if the hardware refused.
	 * cpu_disable: turn it off. cpu_emergency_disable: turn it off from
	 * NMI context on crash or emergency reboot, tolerating any state.
	 */
	bool (*cpu_in_use)(void);
	int (*cpu_enable)(void);
	void (*cpu_disable)(void);
	void (*cpu_emergency_disable)(void);

	/* Value of a vendor-specific capability (VHM_CAP_*), 0 if absent. */
	long (*check_cap)(u32 cap);
};

extern const struct vhm_vendor_ops vhm_svm_ops;
extern const struct vhm_vendor_ops vhm_vmx_ops;

#endif /* VHM_VENDOR_H */
