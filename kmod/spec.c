// SPDX-License-Identifier: GPL-2.0
/*
 * Speculative-execution hygiene, the vendor-neutral part (spec.h): which
 * mitigations vhm applies around guest entry on this host, decided once at
 * load from the host kernel's bits (the backends' entry asm is patched
 * from the same bits), shown in the read-only parameter entry_mitigations
 * and the load log; the IBPB when a CPU switches to another VM, the Zen1
 * divider clear before entry, the VMSCAPE IBPB before the VMM runs again.
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <asm/alternative.h>
#include <asm/cpufeature.h>

#include "kvm_host.h"
#include "spec.h"
#include "vhm.h"
#include "vm.h"

/* In the order of the VHM_SPEC_* bits. */
static const char * const vhm_spec_names[] = {
	"verw", "rsb", "rsb-lite", "untrain-ret", "srso-alias",
	"ibpb-on-exit", "ibrs", "bhb", "l1d-flush", "ibpb-on-vm-switch",
	"div0", "vmscape",
};

u32 vhm_spec __read_mostly;
static char vhm_spec_list[160];
module_param_string(entry_mitigations, vhm_spec_list, sizeof(vhm_spec_list),
		    0444);
MODULE_PARM_DESC(entry_mitigations,
		 "Speculation mitigations applied around guest entry on this host, from the host kernel's own selection (read-only)");

/* The VM (vhm_vm.id, never reused) this CPU last entered a guest of. */
static DEFINE_PER_CPU(u64, vhm_last_vm);

/*
 * Both backends' vmrun.S fill the RSB after an exit with the kernel's
 * FILL_RETURN_BUFFER, patched from the same two bits; the second
 * replacement wins when both are set.
 */
static u32 vhm_spec_rsb(void)
{
	if (boot_cpu_has(X86_FEATURE_RSB_VMEXIT_LITE))
		return VHM_SPEC_RSB_LITE;
	if (boot_cpu_has(X86_FEATURE_RSB_VMEXIT))
		return VHM_SPEC_RSB;
	return 0;
}

void vhm_spec_init(void)
{
	u32 s = vhm_ops->spec_init() | vhm_spec_rsb();
	size_t n = 0;
	unsigned int i;

	/* With an IBPB after every exit (SVM) one on a switch adds nothing. */
	if (vhm_host_ibpb_on_switch() &&
	    !boot_cpu_has(X86_FEATURE_IBPB_ON_VMEXIT))
		s |= VHM_SPEC_IBPB_VM_SWITCH;
	if (boot_cpu_has_bug(X86_BUG_DIV0))
		s |= VHM_SPEC_DIV0;
	if (vhm_host_vmscape())
		s |= VHM_SPEC_VMSCAPE;
	vhm_spec = s;
	BUILD_BUG_ON(ARRAY_SIZE(vhm_spec_names) != 12);
	vhm_spec_list[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(vhm_spec_names); i++)
		if (s & (1u << i))
			n += scnprintf(vhm_spec_list + n,
				       sizeof(vhm_spec_list) - n, "%s%s",
				       n ? " " : "", vhm_spec_names[i]);
	if (!n)
		strscpy(vhm_spec_list, "none", sizeof(vhm_spec_list));
}

/* Once vhm is ready: a refused load says only why it was refused. */
void vhm_spec_report(void)
{
	pr_info("entry mitigations: %s\n", vhm_spec_list);
}

/*
 * On top of KVM (7.x) a KVM guest may run on a CPU between two of vhm's
 * entries there, and KVM's IBPB between its vCPUs consults only KVM's own
 * per-CPU state, which vhm's entries leave as they were: neither side
 * would IBPB between a vhm guest and a KVM guest. So vhm does both: when
 * its vCPU thread gives the CPU up (vhm_spec_cpu_leave()), and at its next
 * entry if the thread was switched out or moved since its last entry
 * (nvcsw + nivcsw: whatever ran meanwhile may have been a KVM guest).
 */
static bool vhm_spec_cpu_was_shared(struct vhm_vcpu *vcpu)
{
	unsigned long switches = current->nvcsw + current->nivcsw;
	int cpu = smp_processor_id();
	bool shared = vcpu->spec_cpu != cpu ||
		      vcpu->spec_switches != switches;

	vcpu->spec_cpu = cpu;
	vcpu->spec_switches = switches;
	return shared;
}

/*
 * Interrupts off, right before the vendor's enter, where the host asks for
 * an IBPB between VMs: a guest of another VM than the last one on this
 * CPU must not find branch predictions the previous one (or the host in
 * between) trained; within a VM the vCPUs share a trust domain.
 */
void vhm_spec_vm_switch(struct vhm_vcpu *vcpu)
{
	bool shared = vhm_on_kvm && vhm_spec_cpu_was_shared(vcpu);

	if (shared || __this_cpu_read(vhm_last_vm) != vcpu->vm->id) {
		__this_cpu_write(vhm_last_vm, vcpu->vm->id);
		vhm_ibpb();
	}
}

/*
 * On top of KVM, interrupts off: the vCPU's thread gives this CPU up
 * (kvm_host.c), and a KVM guest may be next. Where the host asks for the
 * IBPB between VMs, do it, unless the thread returns to user space and
 * the VMSCAPE IBPB on that way (vhm_spec_exited()) does it anyway.
 */
void vhm_spec_cpu_leave(bool to_user)
{
	if (!(vhm_spec & VHM_SPEC_IBPB_VM_SWITCH))
		return;
	if (to_user && (vhm_spec & VHM_SPEC_VMSCAPE))
		return;
	vhm_ibpb();
}
