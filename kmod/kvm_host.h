/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhm on top of KVM's enablement of VMX/SVM (7.x, where the kernel turns
 * virtualization on for KVM only: docs/KERNEL-7X.md, sections 4 and 6).
 * Which mode vhm runs in is decided once, at load (kvm_host.c).
 */
#ifndef VHM_KVM_HOST_H
#define VHM_KVM_HOST_H

#include <linux/types.h>

struct file;
struct vhm_vcpu;

/*
 * True when vhm runs on top of KVM: it never turns virtualization on or
 * off itself, and each vhm VM holds a KVM VM. Set at load, then constant.
 */
extern bool vhm_on_kvm;

/*
 * At load: own enablement, on top of KVM, or a refusal (an errno and one
 * dmesg line saying what to do).
 */
int vhm_kvm_mode_init(void);
void vhm_kvm_mode_exit(void);

/*
 * On top of KVM, at VM creation in the creator's context: a KVM VM of
 * its own (KVM_CREATE_VM on /dev/kvm), held until vhm_kvm_release(). It
 * keeps KVM's enablement on every online CPU and pins kvm_amd/kvm_intel.
 * NULL when vhm is not on top of KVM; an ERR_PTR after one dmesg line.
 */
struct file *vhm_kvm_hold(void);
void vhm_kvm_release(struct file *kvm_vm);

/*
 * Around VHM_RUN on top of KVM: whenever the vCPU's thread gives the CPU
 * up (it is scheduled out, or the ioctl returns), the backend's cpu_leave
 * erases what vhm's guest left in hardware state KVM shares.
 */
void vhm_kvm_run_begin(struct vhm_vcpu *vcpu);
void vhm_kvm_run_end(struct vhm_vcpu *vcpu);

#endif /* VHM_KVM_HOST_H */
