// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware virtualization on every online CPU, for as long as vhm is loaded:
 * on at load and on each CPU that comes online; off on unload, on each CPU
 * that goes offline, before reboot, kexec and power-off, around suspend,
 * and from NMI context on crash or emergency reboot; KVM's vendor module
 * is refused meanwhile. On top of KVM
 * (kvm_host.c) KVM does all that, and vhm only stops its entries before
 * a reboot.
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/reboot.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/syscore_ops.h>
#include <asm/reboot.h>

#include "compat.h"
#include "kvm_host.h"
#include "user_msrs.h"
#include "vhm.h"

static DEFINE_PER_CPU(bool, vhm_cpu_on);
static enum cpuhp_state vhm_cpuhp_state;
static bool vhm_rebooting;
static atomic_t vhm_enable_failures = ATOMIC_INIT(0);

bool vhm_virt_rebooting(void)
{
	return READ_ONCE(vhm_rebooting);
}

static void vhm_report_busy(unsigned int cpu)
{
	pr_err("CPU %u already has %s turned on by another hypervisor: stop it first (KVM: rmmod %s kvm, or load kvm with enable_virt_at_load=0 and stop its VMs; VirtualBox: stop its VMs)\n",
	       cpu, vhm_ops->name, vhm_ops->kvm_module);
}

/* Interrupts off, on the CPU concerned. */
static int vhm_cpu_enable_irqsoff(void)
{
	unsigned int cpu = smp_processor_id();
	int r;

	lockdep_assert_irqs_disabled();
	if (__this_cpu_read(vhm_cpu_on))
		return 0;
	r = vhm_ops->cpu_enable();
	if (r) {
		/* Report the first failure only: the others say the same. */
		if (atomic_inc_return(&vhm_enable_failures) == 1) {
			if (r == -EBUSY)
				vhm_report_busy(cpu);
			else
				pr_err("CPU %u: turning on %s failed (%d)\n",
				       cpu, vhm_ops->name, r);
		}
		return r;
	}
	__this_cpu_write(vhm_cpu_on, true);
	if (vhm_verbose)
		pr_info("CPU %u: %s on\n", cpu, vhm_ops->name);
	return 0;
}

static void vhm_cpu_disable_irqsoff(void)
{
	vhm_umsrs_put_back(true);
	if (!__this_cpu_read(vhm_cpu_on))
		return;
	vhm_ops->cpu_disable();
	__this_cpu_write(vhm_cpu_on, false);
	if (vhm_verbose)
		pr_info("CPU %u: %s off\n", smp_processor_id(), vhm_ops->name);
}

static void vhm_cpu_disable_ipi(void *unused)
{
	vhm_cpu_disable_irqsoff();
}

/* CPU hotplug: runs on the CPU coming online or going offline. */
static int vhm_cpu_online(unsigned int cpu)
{
	unsigned long flags;
	int r = 0;

	local_irq_save(flags);
	if (!READ_ONCE(vhm_rebooting))
		r = vhm_cpu_enable_irqsoff();
	local_irq_restore(flags);
	return r;
}

static int vhm_cpu_offline(unsigned int cpu)
{
	unsigned long flags;

	local_irq_save(flags);
	vhm_cpu_disable_irqsoff();
	local_irq_restore(flags);
	return 0;
}

/*
 * Reboot, kexec and power-off: every CPU leaves VMX operation (which blocks
 * INIT) or SVM, so the firmware or the next kernel finds them clean.
 */
static int vhm_reboot(struct notifier_block *nb, unsigned long code,
		      void *unused)
{
	WRITE_ONCE(vhm_rebooting, true);
	on_each_cpu(vhm_cpu_disable_ipi, NULL, 1);
	if (vhm_verbose)
		pr_info("virtualization off on all CPUs for %s\n",
			code == SYS_POWER_OFF ? "power-off" :
			code == SYS_HALT ? "halt" : "restart");
	return NOTIFY_OK;
}

static struct notifier_block vhm_reboot_nb = {
	.notifier_call = vhm_reboot,
};

/*
 * Suspend: the other CPUs are already offline (their hotplug callback
 * turned virtualization off); this runs on the last one, interrupts off.
 */
static int vhm_suspend(VHM_SYSCORE_ARG)
{
	vhm_cpu_disable_irqsoff();
	return 0;
}

static void vhm_resume(VHM_SYSCORE_ARG)
{
	if (vhm_cpu_enable_irqsoff())
		pr_err("virtualization could not be turned back on after resume: unload and reload vhm\n");
}

VHM_DEFINE_SYSCORE(vhm_syscore, vhm_suspend, vhm_resume);

/* Crash or emergency reboot, in NMI context on every CPU. */
static void vhm_emergency_disable(void)
{
	if (this_cpu_read(vhm_cpu_on))
		vhm_ops->cpu_emergency_disable();
}

/*
 * KVM's vendor module turns virtualization on at its load (6.12's
 * enable_virt_at_load) or at its first VM, and on 6.12 (Debian's 6.1:
 * kvm_intel) takes the kernel's one emergency-callback slot, which vhm
 * holds: a kernel WARN, before KVM fails with EBUSY. While vhm owns the
 * hardware, KVM's load is refused before its init runs.
 */
static int vhm_module_coming(struct notifier_block *nb, unsigned long state,
			     void *data)
{
	struct module *mod = data;

	if (state != MODULE_STATE_COMING ||
	    strcmp(mod->name, vhm_ops->kvm_module))
		return NOTIFY_DONE;
	pr_err("refusing to load %s while vhm holds %s: unload vhm first (rmmod vhm)\n",
	       mod->name, vhm_ops->name);
	return notifier_from_errno(-EBUSY);
}

static struct notifier_block vhm_module_nb = {
	.notifier_call = vhm_module_coming,
};

struct vhm_cpu_scan {
	bool in_use;
	struct cpumask *found;
};

static void vhm_cpu_scan_ipi(void *data)
{
	struct vhm_cpu_scan *scan = data;

	if (vhm_ops->cpu_in_use() == scan->in_use)
		cpumask_set_cpu(smp_processor_id(), scan->found);
}

/*
 * The first online CPU whose VMX/SVM is on (in_use) or off (!in_use),
 * asked on each CPU; nr_cpu_ids when there is none, -ENOMEM.
 */
int vhm_first_cpu_virt(bool in_use)
{
	struct vhm_cpu_scan scan = { .in_use = in_use };
	cpumask_var_t found;
	int cpu;

	if (!zalloc_cpumask_var(&found, GFP_KERNEL))
		return -ENOMEM;
	scan.found = found;
	cpus_read_lock();
	on_each_cpu(vhm_cpu_scan_ipi, &scan, 1);
	cpus_read_unlock();
	cpu = cpumask_first(found);
	free_cpumask_var(found);
	return cpu;
}

/* Refuse early, before taking any shared hook, when a CPU is taken. */
static int vhm_check_cpus_free(void)
{
	int cpu = vhm_first_cpu_virt(true);

	if (cpu < 0)
		return cpu;
	if (cpu < nr_cpu_ids) {
		vhm_report_busy(cpu);
		return -EBUSY;
	}
	return 0;
}

/*
 * The backends' per-CPU areas (the host save area, VMXON region): one
 * zeroed page per possible CPU, on its node. Free what was allocated
 * even after a failure.
 */
int vhm_alloc_percpu_pages(struct page * __percpu *pages)
{
	struct page *page;
	int cpu;

	for_each_possible_cpu(cpu) {
		page = alloc_pages_node(cpu_to_node(cpu),
					GFP_KERNEL | __GFP_ZERO, 0);
		if (!page)
			return -ENOMEM;
		*per_cpu_ptr(pages, cpu) = page;
	}
	return 0;
}

void vhm_free_percpu_pages(struct page * __percpu *pages)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (*per_cpu_ptr(pages, cpu))
			__free_page(*per_cpu_ptr(pages, cpu));
		*per_cpu_ptr(pages, cpu) = NULL;
	}
}

/*
 * Own enablement (kvm_host.c decides): every online CPU, from load to
 * unload, with the hotplug, suspend and crash hooks.
 */
static int vhm_virt_own_init(void)
{
	int r;

	r = register_module_notifier(&vhm_module_nb);
	if (r)
		return r;
	vhm_emergency_register(vhm_emergency_disable);
	atomic_set(&vhm_enable_failures, 0);
	/* Turns virtualization on for every online CPU, or for none. */
	r = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "vhm:online",
			      vhm_cpu_online, vhm_cpu_offline);
	if (r < 0)
		goto emergency_unregister;
	vhm_cpuhp_state = r;
	return 0;

emergency_unregister:
	vhm_emergency_unregister(vhm_emergency_disable);
	unregister_module_notifier(&vhm_module_nb);
	return r;
}

static void vhm_virt_own_exit(void)
{
	/* Turns virtualization off on every online CPU. */
	cpuhp_remove_state(vhm_cpuhp_state);
	vhm_emergency_unregister(vhm_emergency_disable);
	unregister_module_notifier(&vhm_module_nb);
}

int vhm_virt_init(void)
{
	int r;

	/*
	 * Where vhm may run on top of KVM, KVM's enablement decides the
	 * mode; elsewhere a CPU already taken is the more precise refusal.
	 */
	if (!VHM_KERNEL_OWNS_VIRT) {
		r = vhm_check_cpus_free();
		if (r)
			return r;
	}
	r = vhm_kvm_mode_init();
	if (r)
		return r;
	/* On top of KVM, KVM turned it on: nothing vhm owns. */
	if (VHM_KERNEL_OWNS_VIRT && !vhm_on_kvm) {
		r = vhm_check_cpus_free();
		if (r)
			goto kvm_mode_exit;
	}
	r = vhm_ops->setup();
	if (r)
		goto kvm_mode_exit;
	WRITE_ONCE(vhm_rebooting, false);
	if (!vhm_on_kvm) {
		r = vhm_virt_own_init();
		if (r)
			goto teardown;
	}
	/* Stops entries first; on top of KVM, KVM turns it off after. */
	r = register_reboot_notifier(&vhm_reboot_nb);
	if (r)
		goto own_exit;
	if (!vhm_on_kvm)
		vhm_register_syscore(&vhm_syscore);
	return 0;

own_exit:
	if (!vhm_on_kvm)
		vhm_virt_own_exit();
teardown:
	vhm_ops->teardown();
kvm_mode_exit:
	vhm_kvm_mode_exit();
	return r;
}

void vhm_virt_exit(void)
{
	if (!vhm_on_kvm)
		vhm_unregister_syscore(&vhm_syscore);
	unregister_reboot_notifier(&vhm_reboot_nb);
	if (!vhm_on_kvm)
		vhm_virt_own_exit();
	vhm_ops->teardown();
	vhm_kvm_mode_exit();
}
