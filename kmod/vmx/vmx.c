// SPDX-License-Identifier: GPL-2.0
/*
 * Intel VT-x (VMX) backend: feature probing and the controls vhm runs
 * guests with, VMXON/VMXOFF per CPU, the VMCSs active on each CPU (loaded,
 * moved between CPUs, cleared before VMXOFF), VPIDs, EPT entries and TLB
 * invalidation. Intel SDM vol. 3C, 24.7 "Enabling and entering VMX
 * operation", 25.11 "Software use of the VMCS", 29.4 "Invalidating
 * cached translation information" and appendix A "VMX capability
 * reporting facility".
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/kernel.h>
#include <linux/cpuhotplug.h>
#include <linux/gfp.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <asm/io.h>
#include <linux/percpu.h>
#include <linux/smp.h>
#include <linux/topology.h>
#include <asm/desc.h>
#include <asm/processor.h>
#include <asm/msr-index.h>
#include <asm/segment.h>
#include <asm/tlbflush.h>
#include <asm/tsc.h>

#include <uapi/linux/vhm.h>
#include "compat.h"
#include "kvm_host.h"
#include "vendor.h"
#include "vhm.h"
#include "vmx.h"

#define VHM_VMX_CPUID_ECX_VMX		BIT(5)	/* CPUID 1 ECX */
#define VHM_VMX_BASIC_TRUE_CTLS		BIT_ULL(55)
#define VHM_VMX_BASIC_INOUT		BIT_ULL(54)
#define VHM_VMX_BASIC_MEM_TYPE(b)		(((b) >> 50) & 0xf)
#define VHM_VMX_BASIC_VMCS_SIZE(b)		(((b) >> 32) & 0x1fff)
#define VHM_VMX_MEM_TYPE_WB			6
#define VHM_VMX_PROC_SECONDARY		BIT(31)
#define VHM_VMX_PROC2_EPT			BIT(1)
#define VHM_VMX_PROC2_VPID			BIT(5)
#define VHM_VMX_PROC2_UNRESTRICTED		BIT(7)
#define VHM_VMX_EPT_CAP_WALK4		BIT_ULL(6)
#define VHM_VMX_EPT_CAP_WB			BIT_ULL(14)
#define VHM_VMX_EPT_CAP_2M			BIT_ULL(16)
#define VHM_VMX_EPT_CAP_INVEPT		BIT_ULL(20)
#define VHM_VMX_EPT_CAP_INVEPT_SINGLE	BIT_ULL(25)
#define VHM_VMX_EPT_CAP_INVEPT_ALL		BIT_ULL(26)
#define VHM_VMX_VPID_CAP_INVVPID		BIT_ULL(32)
#define VHM_VMX_VPID_CAP_SINGLE		BIT_ULL(41)
#define VHM_VMX_VPID_CAP_ALL		BIT_ULL(42)
#define VHM_VMX_INV_SINGLE			1
#define VHM_VMX_INV_ALL			2
#define VHM_VMX_NR_VPIDS			65535
#define VHM_VMX_EPT_LARGE			BIT_ULL(7)
#define VHM_VMX_MISC_TIMER_RATE		0x1f	/* TSC bit it counts at */

/* Controls vhm cannot run guests without, and those it uses if present. */
#define VMX_PIN_NEEDED	(PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING | \
			 PIN_BASED_VIRTUAL_NMIS)
#define VMX_PIN_WANTED	PIN_BASED_VMX_PREEMPTION_TIMER
/* The VMX-preemption timer's period: one scheduler tick of guest time. */
#define VMX_PREEMPT_MS	(1000 / HZ ? 1000 / HZ : 1)
#define VMX_PROC_NEEDED	(CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING | \
			 CPU_BASED_CR8_LOAD_EXITING | \
			 CPU_BASED_CR8_STORE_EXITING | \
			 CPU_BASED_MOV_DR_EXITING | CPU_BASED_RDPMC_EXITING | \
			 CPU_BASED_USE_TSC_OFFSETTING | \
			 CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
/* Set per entry while an event waits (events.c): allowed-1 needed. */
#define VMX_PROC_WINDOWS	(CPU_BASED_INTR_WINDOW_EXITING | \
				 CPU_BASED_NMI_WINDOW_EXITING)
#define VMX_PROC_WANTED	(CPU_BASED_MWAIT_EXITING | CPU_BASED_MONITOR_EXITING | \
			 CPU_BASED_USE_MSR_BITMAPS)
#define VMX_PROC2_NEEDED	(SECONDARY_EXEC_ENABLE_EPT | \
			 SECONDARY_EXEC_UNRESTRICTED_GUEST)
/*
 * WBINVD exiting whenever the CPU has it (all since Westmere): without it
 * the guest's WBINVD flushes the host's caches.
 */
#define VMX_PROC2_WANTED	(SECONDARY_EXEC_ENABLE_VPID | \
			 SECONDARY_EXEC_ENABLE_RDTSCP | \
			 SECONDARY_EXEC_ENABLE_INVPCID | \
			 SECONDARY_EXEC_WBINVD_EXITING)
/* Interrupts are not acknowledged on exit: they stay pending for the host. */
#define VMX_EXIT_NEEDED	(VM_EXIT_HOST_ADDR_SPACE_SIZE | \
			 VM_EXIT_SAVE_DEBUG_CONTROLS | \
			 VM_EXIT_SAVE_IA32_EFER | VM_EXIT_LOAD_IA32_EFER | \
			 VM_EXIT_LOAD_IA32_PAT)
#define VMX_ENTRY_NEEDED	(VM_ENTRY_LOAD_DEBUG_CONTROLS | \
			 VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_IA32_PAT | \
			 VM_ENTRY_IA32E_MODE)

/* The VMXON region, one page per CPU, tagged with the VMCS revision. */
static DEFINE_PER_CPU(struct page *, vmx_vmxon_page);
/* The VMCSs active on each CPU, and the current one. */
static DEFINE_PER_CPU(struct list_head, vmx_loaded_vmcss);
static DEFINE_PER_CPU(struct vmx_vcpu *, vmx_current_vmcs);
static DEFINE_IDA(vmx_vpids);

u32 vmx_revision;
struct vmx_config vmx_cfg;
/* The host's syscall MSRs: the same on every CPU. */
const u32 vmx_switched_msrs[VMX_NR_MSRS] = {
	[VMX_MSR_KERNEL_GS_BASE] = MSR_KERNEL_GS_BASE,
	[VMX_MSR_STAR] = MSR_STAR,
	[VMX_MSR_LSTAR] = MSR_LSTAR,
	[VMX_MSR_CSTAR] = MSR_CSTAR,
	[VMX_MSR_SFMASK] = MSR_SYSCALL_MASK,
};

/* The allowed-1 settings (high half) of a VMX control capability MSR. */
static u32 vmx_allowed1(u32 msr)
{
	u64 v;

	vhm_rdmsr(msr, v);
	return v >> 32;
}

/*
 * A control field: what vhm needs (absent: -EOPNOTSUPP), what it would
 * like if the CPU allows it, and the bits the CPU requires (allowed-0).
 */
static int vmx_adjust(u32 msr, u32 needed, u32 wanted, u32 *ctl,
		      const char *what)
{
	u64 v;

	vhm_rdmsr(msr, v);
	if (needed & ~(u32)(v >> 32)) {
		pr_err("Intel VT-x without the %s controls %#x vhm needs\n",
		       what, needed & ~(u32)(v >> 32));
		return -EOPNOTSUPP;
	}
	*ctl = needed | (wanted & (u32)(v >> 32)) | (u32)v;
	return 0;
}

static int vmx_probe_feature_control(void)
{
	u64 fc;

	vhm_rdmsr(MSR_IA32_FEAT_CTL, fc);
	if (!(fc & FEAT_CTL_LOCKED)) {
		pr_err("IA32_FEATURE_CONTROL is not locked; the kernel should have set it at boot: update the firmware or kernel\n");
		return -EOPNOTSUPP;
	}
	if (!(fc & FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)) {
		pr_err("Intel VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX): enable VT-x in the BIOS setup\n");
		return -EBUSY;
	}
	return 0;
}

/* EPT and VPID invalidation: INVEPT is required, VPIDs only with INVVPID. */
static int vmx_probe_ept(void)
{
	u64 cap;

	vhm_rdmsr(MSR_IA32_VMX_EPT_VPID_CAP, cap);
	if (!(cap & VHM_VMX_EPT_CAP_WALK4) || !(cap & VHM_VMX_EPT_CAP_WB) ||
	    !(cap & VHM_VMX_EPT_CAP_INVEPT) ||
	    !(cap & (VHM_VMX_EPT_CAP_INVEPT_SINGLE | VHM_VMX_EPT_CAP_INVEPT_ALL))) {
		pr_err("EPT without 4-level walks, write-back paging structures or INVEPT (IA32_VMX_EPT_VPID_CAP %#llx)\n",
		       cap);
		return -EOPNOTSUPP;
	}
	vmx_cfg.invept_single = cap & VHM_VMX_EPT_CAP_INVEPT_SINGLE;
	vmx_cfg.ept_2m = cap & VHM_VMX_EPT_CAP_2M;
	vmx_cfg.invvpid_single = cap & VHM_VMX_VPID_CAP_SINGLE;
	if (!(cap & VHM_VMX_VPID_CAP_INVVPID) ||
	    !(cap & (VHM_VMX_VPID_CAP_SINGLE | VHM_VMX_VPID_CAP_ALL)))
		vmx_cfg.proc2 &= ~SECONDARY_EXEC_ENABLE_VPID;
	vmx_cfg.has_vpid = vmx_cfg.proc2 & SECONDARY_EXEC_ENABLE_VPID;
	return 0;
}

/*
 * The VMX-preemption timer makes a guest exit at least once per tick. It
 * covers for emulators (Bochs 2.7) that mask external interrupts for a
 * guest entered with RFLAGS.IF clear although external-interrupt exiting
 * is on: a guest spinning with interrupts off would hold the CPU forever.
 */
static void vmx_probe_preemption_timer(void)
{
	u64 misc, ticks;

	if (!(vmx_cfg.pin & PIN_BASED_VMX_PREEMPTION_TIMER))
		return;
	vhm_rdmsr(MSR_IA32_VMX_MISC, misc);
	ticks = ((u64)tsc_khz * VMX_PREEMPT_MS) >>
		(misc & VHM_VMX_MISC_TIMER_RATE);
	vmx_cfg.preemption_timer = clamp_t(u64, ticks, 1, U32_MAX);
}

static int vmx_probe_controls(void)
{
	u64 basic;
	bool t;
	u32 proc, proc2;

	vhm_rdmsr(MSR_IA32_VMX_BASIC, basic);
	if (VHM_VMX_BASIC_MEM_TYPE(basic) != VHM_VMX_MEM_TYPE_WB ||
	    VHM_VMX_BASIC_VMCS_SIZE(basic) > PAGE_SIZE) {
		pr_err("unsupported VMCS layout (IA32_VMX_BASIC %#llx)\n", basic);
		return -EOPNOTSUPP;
	}
	vmx_revision = basic & 0x7fffffff;
	vmx_cfg.ins_outs_info = basic & VHM_VMX_BASIC_INOUT;
	t = basic & VHM_VMX_BASIC_TRUE_CTLS;

	proc = vmx_allowed1(t ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
			    MSR_IA32_VMX_PROCBASED_CTLS);
	proc2 = (proc & VHM_VMX_PROC_SECONDARY) ?
		vmx_allowed1(MSR_IA32_VMX_PROCBASED_CTLS2) : 0;
	if ((proc & VMX_PROC_WINDOWS) != VMX_PROC_WINDOWS) {
		pr_err("Intel VT-x without interrupt- and NMI-window exiting; vhm needs both\n");
		return -EOPNOTSUPP;
	}
	if (!(proc2 & VHM_VMX_PROC2_EPT) || !(proc2 & VHM_VMX_PROC2_UNRESTRICTED)) {
		pr_err("Intel VT-x without %s; vhm needs EPT and unrestricted guest\n",
		       !(proc2 & VHM_VMX_PROC2_EPT) ? "EPT" : "unrestricted guest");
		return -EOPNOTSUPP;
	}
	if (vmx_adjust(t ? MSR_IA32_VMX_TRUE_PINBASED_CTLS :
		       MSR_IA32_VMX_PINBASED_CTLS, VMX_PIN_NEEDED, VMX_PIN_WANTED,
		       &vmx_cfg.pin, "pin-based") ||
	    vmx_adjust(t ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS :
		       MSR_IA32_VMX_PROCBASED_CTLS, VMX_PROC_NEEDED,
		       VMX_PROC_WANTED, &vmx_cfg.proc, "processor-based") ||
	    vmx_adjust(MSR_IA32_VMX_PROCBASED_CTLS2, VMX_PROC2_NEEDED,
		       VMX_PROC2_WANTED, &vmx_cfg.proc2, "secondary") ||
	    vmx_adjust(t ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS,
		       VMX_EXIT_NEEDED, 0, &vmx_cfg.exit, "VM-exit") ||
	    vmx_adjust(t ? MSR_IA32_VMX_TRUE_ENTRY_CTLS :
		       MSR_IA32_VMX_ENTRY_CTLS, VMX_ENTRY_NEEDED, 0,
		       &vmx_cfg.entry, "VM-entry"))
		return -EOPNOTSUPP;
	/* Set per vCPU from the guest's EFER.LMA. */
	vmx_cfg.entry &= ~VM_ENTRY_IA32E_MODE;
	if (!boot_cpu_has(X86_FEATURE_RDTSCP))
		vmx_cfg.proc2 &= ~SECONDARY_EXEC_ENABLE_RDTSCP;
	vmx_probe_preemption_timer();
	vhm_rdmsr(MSR_IA32_VMX_CR0_FIXED0, vmx_cfg.cr0_fixed0);
	vhm_rdmsr(MSR_IA32_VMX_CR0_FIXED1, vmx_cfg.cr0_fixed1);
	vhm_rdmsr(MSR_IA32_VMX_CR4_FIXED0, vmx_cfg.cr4_fixed0);
	vhm_rdmsr(MSR_IA32_VMX_CR4_FIXED1, vmx_cfg.cr4_fixed1);
	return vmx_probe_ept();
}

int vmx_probe(void)
{
	int r;

	if (!(cpuid_ecx(1) & VHM_VMX_CPUID_ECX_VMX)) {
		pr_err("this CPU has no Intel VT-x (VMX); vhm needs Intel VT-x with EPT or AMD-V with nested paging\n");
		return -ENODEV;
	}
	/*
	 * vmx_read_exit() hands a host NMI that exited on with INT 2, which
	 * FRED turns into a #GP (fred_intx()); KVM's FRED route
	 * (x86_entry_from_kvm) is KVM's only.
	 */
	if (vhm_host_fred()) {
		pr_err("this kernel runs with FRED, and vhm's Intel VT-x backend cannot hand host NMIs on with it yet: boot with fred=off to use vhm\n");
		return -EOPNOTSUPP;
	}
	r = vmx_probe_feature_control();
	if (!r)
		r = vmx_probe_controls();
	if (!r)
		vmx_msrs_use();
	return r;
}

static int vmx_kvm_cpuhp_setup(void);
static void vmx_kvm_cpuhp_remove(void);

void vmx_teardown(void)
{
	vmx_kvm_cpuhp_remove();
	vmx_msr_bitmap_free();
	vhm_free_percpu_pages(&vmx_vmxon_page);
}

int vmx_setup(void)
{
	int cpu;

	if (vhm_alloc_percpu_pages(&vmx_vmxon_page)) {
		vmx_teardown();
		return -ENOMEM;
	}
	for_each_possible_cpu(cpu) {
		INIT_LIST_HEAD(&per_cpu(vmx_loaded_vmcss, cpu));
		*(u32 *)page_address(per_cpu(vmx_vmxon_page, cpu)) =
			vmx_revision;
	}
	if (vmx_msr_bitmap_setup()) {
		vmx_teardown();
		return -ENOMEM;
	}
	return vmx_kvm_cpuhp_setup();
}

/*
 * A VPID for a new vCPU, or 0: none (the CPU has no VPIDs, or every one is
 * taken). A vCPU without one runs with VPIDs off, so the CPU flushes its
 * linear translations at every entry and exit: slower, but one user's many
 * vCPUs cannot keep another's from being created.
 */
int vmx_vpid_alloc(void)
{
	int vpid;

	if (!vmx_cfg.has_vpid)
		return 0;
	vpid = ida_alloc_range(&vmx_vpids, 1, VHM_VMX_NR_VPIDS,
			       GFP_KERNEL_ACCOUNT);
	if (vpid == -ENOSPC) {
		pr_info_ratelimited("all %u VPIDs are in use: new vCPUs run without one (their TLB is flushed at every entry and exit)\n",
				    VHM_VMX_NR_VPIDS);
		return 0;
	}
	return vpid;
}

void vmx_vpid_free(int vpid)
{
	if (vpid > 0)
		ida_free(&vmx_vpids, vpid);
}

void vmx_insn_fault(const char *insn)
{
	WARN_ONCE(!vhm_virt_rebooting(),
		  "vhm: %s faulted outside VMX operation\n", insn);
}

void vmx_vmclear(u64 pa)
{
	bool fault = true;

	asm volatile(VMX_INSN_FIXUP("vmclear %[pa]")
		     : [fault] "+qm"(fault) : [pa] "m"(pa) : "cc", "memory");
	if (unlikely(fault))
		vmx_insn_fault("vmclear");
}

static void vmx_vmptrld(u64 pa)
{
	bool fault = true;

	asm volatile(VMX_INSN_FIXUP("vmptrld %[pa]")
		     : [fault] "+qm"(fault) : [pa] "m"(pa) : "cc", "memory");
	if (unlikely(fault))
		vmx_insn_fault("vmptrld");
}

/* The current-VMCS pointer: VMX_NO_VMCS if none. */
static u64 vmx_vmptrst(void)
{
	bool fault = true;
	u64 pa = VMX_NO_VMCS;

	asm volatile(VMX_INSN_FIXUP("vmptrst %[pa]")
		     : [fault] "+qm"(fault), [pa] "+m"(pa) : : "cc", "memory");
	if (unlikely(fault))
		vmx_insn_fault("vmptrst");
	return pa;
}

void vmx_invept(u64 eptp)
{
	struct {
		u64 eptp;
		u64 reserved;
	} desc = { eptp, 0 };
	bool fault = true;
	unsigned long type = vmx_cfg.invept_single ? VHM_VMX_INV_SINGLE :
			     VHM_VMX_INV_ALL;

	asm volatile(VMX_INSN_FIXUP("invept %[desc], %[type]")
		     : [fault] "+qm"(fault)
		     : [desc] "m"(desc), [type] "r"(type) : "cc", "memory");
	if (unlikely(fault))
		vmx_insn_fault("invept");
}

void vmx_invvpid(u16 vpid)
{
	struct {
		u64 vpid;
		u64 gva;
	} desc = { vpid, 0 };
	bool fault = true;
	unsigned long type = vmx_cfg.invvpid_single ? VHM_VMX_INV_SINGLE :
			     VHM_VMX_INV_ALL;

	if (!vpid)
		return;		/* without VPIDs, entries and exits flush */
	asm volatile(VMX_INSN_FIXUP("invvpid %[desc], %[type]")
		     : [fault] "+qm"(fault)
		     : [desc] "m"(desc), [type] "r"(type) : "cc", "memory");
	if (unlikely(fault))
		vmx_insn_fault("invvpid");
}

u64 vmx_eptp(struct vhm_vm *vm)
{
	return vhm_mmu_root_pa(vm) | VMX_EPTP_PWL_4 | VMX_EPTP_MT_WB;
}

/*
 * On the CPU the VMCS is active on, interrupts off: write it back. A
 * closed vCPU is cleared while its VM lives (vmx_vcpu_release()); should
 * VMX be off here all the same on top of KVM (KVM turns it off when its
 * last VM is gone), VMXOFF dropped the VMCS and VMCLEAR would fault.
 */
static void vmx_clear_local(struct vmx_vcpu *vmx)
{
	if (!vhm_on_kvm || vmx_cpu_in_use())
		vmx_vmclear(vmx->vmcs_pa);
	list_del(&vmx->loaded);
	if (__this_cpu_read(vmx_current_vmcs) == vmx)
		__this_cpu_write(vmx_current_vmcs, NULL);
	vmx->launched = false;
	/* The clear is done before anyone sees the VMCS as free. */
	smp_wmb();
	WRITE_ONCE(vmx->cpu, -1);
}

static void vmx_clear_ipi(void *data)
{
	struct vmx_vcpu *vmx = data;

	if (READ_ONCE(vmx->cpu) == smp_processor_id())
		vmx_clear_local(vmx);
}

void vmx_vcpu_clear(struct vmx_vcpu *vmx)
{
	int cpu = READ_ONCE(vmx->cpu);

	/* A CPU gone offline cleared its VMCSs on the way (vmx_cpu_disable). */
	if (cpu >= 0)
		smp_call_function_single(cpu, vmx_clear_ipi, vmx, 1);
}

/* The 64-bit TSS descriptor in the GDT gives this CPU's TSS address. */
static unsigned long vmx_host_tr_base(unsigned long gdt)
{
	const struct ldttss_desc *d = (void *)(gdt + GDT_ENTRY_TSS * 8);

	return d->base0 | ((unsigned long)d->base1 << 16) |
	       ((unsigned long)d->base2 << 24) |
	       ((unsigned long)d->base3 << 32);
}

/* Host state that differs between CPUs, for the VMCS now current here. */
static void vmx_set_host_percpu(void)
{
	struct desc_ptr gdt;
	u64 v;

	native_store_gdt(&gdt);
	vmcs_write(HOST_GDTR_BASE, gdt.address);
	vmcs_write(HOST_TR_BASE, vmx_host_tr_base(gdt.address));
	vhm_rdmsr(MSR_GS_BASE, v);
	vmcs_write(HOST_GS_BASE, v);
	vhm_rdmsr(MSR_IA32_SYSENTER_ESP, v);
	vmcs_write(HOST_IA32_SYSENTER_ESP, v);
}

/*
 * Preemption off. A VMCS active on another CPU is cleared there first (it
 * may be cached in that CPU), then loaded here with this CPU's host state;
 * translations this CPU may hold from an earlier stay are flushed. On top
 * of KVM it is only put on this CPU's list here: a section makes it
 * current (vmx_vmcs_borrow()), and KVM's vCPUs change the current VMCS
 * in between, so vmx_current_vmcs is never trusted then.
 */
void vmx_vcpu_load(struct vmx_vcpu *vmx)
{
	int cpu = smp_processor_id();

	if (READ_ONCE(vmx->cpu) == cpu) {
		if (!vhm_on_kvm && __this_cpu_read(vmx_current_vmcs) != vmx) {
			vmx_vmptrld(vmx->vmcs_pa);
			__this_cpu_write(vmx_current_vmcs, vmx);
		}
		return;
	}
	vmx_vcpu_clear(vmx);
	/* Pairs with the smp_wmb() in vmx_clear_local(). */
	smp_rmb();
	local_irq_disable();
	list_add(&vmx->loaded, this_cpu_ptr(&vmx_loaded_vmcss));
	WRITE_ONCE(vmx->cpu, cpu);
	if (!vhm_on_kvm) {
		vmx_vmptrld(vmx->vmcs_pa);
		__this_cpu_write(vmx_current_vmcs, vmx);
	}
	local_irq_enable();
	if (vhm_on_kvm)
		vmx->host_percpu_stale = true;
	else
		vmx_set_host_percpu();
	vmx->host_stale = true;
	vmx->flush_ept = true;
	vmx->flush_vpid = true;
}

/*
 * Interrupts off, the VMCS active on this CPU (vmx_vcpu_load()). On top
 * of KVM: the VMCS now current, and vhm's made current. Interrupts stay
 * off until vmx_vmcs_return(): KVM clears a vCPU's VMCS that moved to
 * another CPU with an IPI, and vhm must not make it active here again
 * after that.
 */
static u64 vmx_vmcs_borrow(struct vmx_vcpu *vmx)
{
	u64 prev;

	if (!vhm_on_kvm)
		return vmx->vmcs_pa;
	prev = vmx_vmptrst();
	if (prev != vmx->vmcs_pa)
		vmx_vmptrld(vmx->vmcs_pa);
	if (unlikely(vmx->host_percpu_stale)) {
		vmx->host_percpu_stale = false;
		vmx_set_host_percpu();
	}
	return prev;
}

/*
 * The VMCS current before vmx_vmcs_borrow() current again, with its launch
 * state (VMPTRLD changes no active VMCS). With none before, vhm's stays
 * current: no KVM vCPU expects a VMCS there.
 */
static void vmx_vmcs_return(struct vmx_vcpu *vmx, u64 prev)
{
	if (!vhm_on_kvm || prev == vmx->vmcs_pa)
		return;
	if (prev != VMX_NO_VMCS)
		vmx_vmptrld(prev);
	__this_cpu_write(vmx_current_vmcs, NULL);
}

void vmx_vmcs_get(struct vmx_vcpu *vmx, struct vmx_section *s)
{
	preempt_disable();
	vmx_vcpu_load(vmx);
	local_irq_save(s->flags);
	s->prev_vmcs = vmx_vmcs_borrow(vmx);
}

void vmx_vmcs_put(struct vmx_vcpu *vmx, const struct vmx_section *s)
{
	vmx_vmcs_return(vmx, s->prev_vmcs);
	local_irq_restore(s->flags);
	preempt_enable();
}

/* After vmx_load() (vcpu_load), interrupts off. */
void vmx_run_get(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx->run_prev_vmcs = vmx_vmcs_borrow(vmx);
}

/* Interrupts still off, preemption still off. */
void vmx_run_put(struct vhm_vcpu *vcpu)
{
	struct vmx_vcpu *vmx = to_vmx(vcpu);

	vmx_vmcs_return(vmx, vmx->run_prev_vmcs);
}

bool vmx_cpu_in_use(void)
{
	return vhm_cr4_read() & X86_CR4_VMXE;
}

int vmx_cpu_enable(void)
{
	struct page *page = __this_cpu_read(vmx_vmxon_page);
	int r;

	if (vmx_cpu_in_use())
		return -EBUSY;
	vhm_cr4_set_bits(X86_CR4_VMXE);
	r = vmx_insn_vmxon(page_to_phys(page));
	if (r)
		vhm_cr4_clear_bits(X86_CR4_VMXE);
	return r;
}

/* Interrupts off: every VMCS active here is written back before VMXOFF. */
void vmx_cpu_disable(void)
{
	struct vmx_vcpu *vmx, *tmp;

	list_for_each_entry_safe(vmx, tmp, this_cpu_ptr(&vmx_loaded_vmcss),
				 loaded)
		vmx_clear_local(vmx);
	vmx_insn_vmxoff();
	vhm_cr4_clear_bits(X86_CR4_VMXE);
}

void vmx_cpu_emergency_disable(void)
{
	struct vmx_vcpu *vmx;

	/* VMX operation blocks INIT: the next kernel could not start CPUs. */
	if (!vmx_cpu_in_use())
		return;
	/* NMI context: write the VMCSs back, leave the lists alone. */
	list_for_each_entry(vmx, this_cpu_ptr(&vmx_loaded_vmcss), loaded)
		vmx_vmclear(vmx->vmcs_pa);
	vmx_insn_vmxoff();
	vhm_cr4_clear_bits(X86_CR4_VMXE);
}

/*
 * On top of KVM, interrupts off, the vCPU's thread gives this CPU up (a
 * preempt notifier, or VHM_RUN returns: kvm_host.c, which also puts the
 * lazily switched MSRs back, user_msrs.c): nothing more, the current VMCS
 * is already KVM's again (vmx_vmcs_return()).
 */
void vmx_cpu_leave(void)
{
}

/*
 * On top of KVM, interrupts off, before KVM's VMXOFF on this CPU (it goes
 * offline, or suspend on the last CPU: kvm_host.c): vhm's VMCSs active
 * here written back (their data in memory, launch state clear: the next
 * entry VMPTRLDs and launches), KVM's left alone.
 */
void vmx_cpu_before_kvm_off(void)
{
	struct vmx_vcpu *vmx, *tmp;

	list_for_each_entry_safe(vmx, tmp, this_cpu_ptr(&vmx_loaded_vmcss),
				 loaded)
		vmx_clear_local(vmx);
}

/*
 * A CPU going offline: KVM's hotplug state comes earlier, so it is torn
 * down later.
 */
static enum cpuhp_state vmx_kvm_cpuhp_state;

static int vmx_kvm_cpu_offline(unsigned int cpu)
{
	local_irq_disable();
	vmx_cpu_before_kvm_off();
	local_irq_enable();
	return 0;
}

static int vmx_kvm_cpuhp_setup(void)
{
	int r;

	if (!vhm_on_kvm)
		return 0;
	r = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "vhm/vmx:online",
				      NULL, vmx_kvm_cpu_offline);
	if (r < 0) {
		vmx_teardown();
		return r;
	}
	vmx_kvm_cpuhp_state = r;
	return 0;
}

static void vmx_kvm_cpuhp_remove(void)
{
	if (vmx_kvm_cpuhp_state)
		cpuhp_remove_state_nocalls(vmx_kvm_cpuhp_state);
	vmx_kvm_cpuhp_state = 0;
}

/* EPT entries: read/write/execute bits, write-back leaves (SDM 29.3.2). */
u64 vmx_npt_pte(phys_addr_t pa, unsigned int perm, int level)
{
	u64 pte = pa | VMX_EPT_READABLE_MASK | VMX_EPT_EXECUTABLE_MASK;

	if (!level)
		return pte | VMX_EPT_WRITABLE_MASK;
	if (perm & VHM_NPT_WRITE)
		pte |= VMX_EPT_WRITABLE_MASK;
	pte |= VMX_EPTP_MT_WB << VMX_EPT_MT_EPTE_SHIFT;
	if (level == 2)
		pte |= VHM_VMX_EPT_LARGE;
	return pte;
}

bool vmx_npt_has_2m(void)
{
	return vmx_cfg.ept_2m;
}

u32 vmx_nr_tlb_tags(void)
{
	return vmx_cfg.has_vpid ? VHM_VMX_NR_VPIDS : 0;
}

const struct vhm_vendor_ops vhm_vmx_ops = {
	VHM_VENDOR_TABLE(vmx, "Intel VT-x (VMX)", VHM_HW_VMX, "kvm_intel",
			 VMX_HW_REGS)
	.vcpu_release = vmx_vcpu_release,
	.vcpu_load = vmx_load,
	.vcpu_get = vmx_run_get,
	.vcpu_put = vmx_run_put,
	.cpu_before_kvm_off = vmx_cpu_before_kvm_off,
	/*
	 * 7.x: CR4.VMXE has a kernel shadow vhm cannot update (compat.h), so
	 * vhm runs on top of kvm_intel's VMX operation only.
	 */
	.own_enable = !VHM_KERNEL_OWNS_VMX,
	.on_kvm = true,
};
