// SPDX-License-Identifier: GPL-2.0
/*
 * AMD-V (SVM) backend: feature probing and turning SVM on and off per CPU.
 * AMD APM vol. 2, 15.4 "Enabling SVM" and 15.30.4 "VM_HSAVE_PA MSR".
 */
#define pr_fmt(fmt) "vhm: " fmt

#include <linux/kernel.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <asm/io.h>
#include <linux/percpu.h>
#include <linux/topology.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>
#include <asm/msr-index.h>
#include <asm/pgtable_types.h>
#include <asm/debugreg.h>
#include <asm/special_insns.h>

#include <uapi/linux/vhm.h>
#include "compat.h"
#include "kvm_host.h"
#include "svm.h"
#include "user_msrs.h"
#include "vendor.h"

#define SVM_CPUID_FN		0x8000000a
#define SVM_CPUID_ECX_SVM	BIT(2)	/* CPUID 0x80000001 ECX */
#define SVM_CPUID_EDX_NPT	BIT(0)	/* CPUID 0x8000000a EDX */
#define SVM_VM_CR_SVMDIS	BIT_ULL(4)	/* VM_CR MSR */

/* The host save area the CPU uses on every VMRUN, one page per CPU. */
static DEFINE_PER_CPU(struct page *, svm_hsave_page);
/* Where VMSAVE keeps the host's FS/GS/TR/syscall state across a VMRUN. */
static DEFINE_PER_CPU(struct page *, svm_host_save_page);
static u32 svm_nr_asids;
/*
 * The first ASID vhm hands out: above the ones SEV reserves for encrypted
 * guests (CPUID 0x8000001F ECX, which KVM's SEV guests use with their
 * keys; KVM's own plain guests start above them too), so that no vhm guest
 * runs under an SEV guest's ASID, on top of KVM or after it.
 */
static u32 svm_first_asid = 1;

/* Every port and every MSR intercepted (IOPM 12 KiB, MSRPM 8 KiB). */
#define SVM_IOPM_ORDER	2
#define SVM_MSRPM_ORDER	1
static struct page *svm_iopm, *svm_msrpm;

/*
 * ASIDs per CPU: handed out in order; when they run out, a new generation
 * starts and the whole TLB is flushed, so a vCPU whose ASID is from an old
 * generation (or another CPU) takes a fresh one.
 */
struct svm_asids {
	u32 next;
	u64 gen;
	bool flush_all;
};
static DEFINE_PER_CPU(struct svm_asids, svm_asids) = { .next = 1, .gen = 1 };

/*
 * On top of KVM (kmod/kvm_host.c) KVM hands out the same ASIDs on the same
 * CPU and flushes one only when its own generation wraps: a KVM vCPU would
 * hit vhm's guest's translations under the same ASID, and vhm's guest
 * KVM's. So the TLB holds vhm's entries only while vhm has the CPU: its
 * first VMRUN after taking the CPU flushes its ASID (svm_tlb_on_kvm()),
 * and when it gives the CPU up, svm_cpu_leave() erases that ASID with a
 * VMRUN of a guest that only flushes the ASID and exits (at its HLT, or
 * at once for an interrupt): TLB_CONTROL acts at VMRUN only, and INVLPGA
 * is one page at a time. svm_dirty_asid: the ASID vhm used on this CPU
 * since it last took it, 0 when it left nothing.
 */
static DEFINE_PER_CPU(u32, svm_dirty_asid);
/* An ASID whose erasing VMRUN failed, not reported yet (0: none). */
static u32 svm_erase_failed_asid;

/*
 * The failure of an erasing VMRUN (svm_cpu_leave()), reported from the
 * next entry: svm_cpu_leave() may run in the scheduler's sched_out, with
 * the runqueue locked, where printing is not safe (printk_deferred() is
 * not exported on 6.1).
 */
static void svm_report_erase_failure(void)
{
	u32 asid = READ_ONCE(svm_erase_failed_asid);

	if (likely(!asid))
		return;
	WRITE_ONCE(svm_erase_failed_asid, 0);
	WARN_ONCE(1, "vhm: the VMRUN that erases ASID %u failed\n", asid);
}

/*
 * TSC_RATIO as KVM left it when vhm took the CPU, if it was not 1.0
 * (a KVM guest with TSC scaling ran last; KVM keeps a per-CPU copy of the
 * MSR and writes it only when its copy differs): vhm's guests run at 1.0
 * and svm_cpu_leave() puts KVM's value back, so KVM's copy stays right.
 * 0 when there is nothing to put back.
 */
static DEFINE_PER_CPU(u64, svm_kvm_tsc_ratio);
#define SVM_TSC_RATIO_1		0x0100000000ULL	/* 8.32 fixed point: 1.0 */
static DEFINE_PER_CPU(struct page *, svm_erase_vmcb);

#define SVM_SEV_CPUID_FN	0x8000001f
#define SVM_SEV_CPUID_EAX_SEV	BIT(1)

/* Past the SEV ASIDs (CPUID 0x8000001F ECX) if any, and if room is left. */
static u32 svm_first_plain_asid(u32 nr_asids)
{
	u32 sev_asids;

	if (boot_cpu_data.extended_cpuid_level < SVM_SEV_CPUID_FN ||
	    !(cpuid_eax(SVM_SEV_CPUID_FN) & SVM_SEV_CPUID_EAX_SEV))
		return 1;
	sev_asids = cpuid_ecx(SVM_SEV_CPUID_FN);
	return sev_asids + 2 < nr_asids ? sev_asids + 1 : 1;
}

/* HLT, run in real mode with nested paging off: below 4 GiB. */
static struct page *svm_erase_code;
#define SVM_INSN_HLT	0xf4

int svm_probe(void)
{
	u64 vm_cr;

	if (boot_cpu_data.extended_cpuid_level < SVM_CPUID_FN ||
	    !(cpuid_ecx(0x80000001) & SVM_CPUID_ECX_SVM)) {
		pr_err("this CPU has no AMD-V (SVM); vhm needs AMD-V with nested paging or Intel VT-x with EPT\n");
		return -ENODEV;
	}
	vhm_rdmsr(MSR_VM_CR, vm_cr);
	if (vm_cr & SVM_VM_CR_SVMDIS) {
		pr_err("AMD-V is disabled by the firmware (VM_CR.SVMDIS): enable SVM in the BIOS setup\n");
		return -EBUSY;
	}
	if (!(cpuid_edx(SVM_CPUID_FN) & SVM_CPUID_EDX_NPT)) {
		pr_err("AMD-V without nested paging (NPT); vhm needs NPT\n");
		return -EOPNOTSUPP;
	}
	svm_nr_asids = cpuid_ebx(SVM_CPUID_FN);
	svm_first_asid = svm_first_plain_asid(svm_nr_asids);
	/* RDTSCP and RDPID read it without an exit (user_msrs.c). */
	if (boot_cpu_has(X86_FEATURE_RDTSCP) || boot_cpu_has(X86_FEATURE_RDPID))
		vhm_umsrs_use(VHM_UMSR_TSC_AUX);
	return 0;
}

/* In the MSR permission map: the read bit; the write bit follows it. */
static unsigned int svm_msrpm_bit(u32 m)
{
	if (m < 0x2000)
		return m * 2;
	return 0x800 * 8 + (m - 0xc0000000) * 2;
}

/*
 * MSRs VMLOAD/VMSAVE switch with the guest's VMCB: the guest reads them
 * without exits, and writes most of them. Two bits (read, write) per
 * MSR, in three 2 KiB ranges (APM vol. 2, 15.11). Writes of the linear
 * addresses the CPU checks for canonical form (FS/GS base, KERNEL_GS_BASE,
 * LSTAR, CSTAR) exit, so that a non-canonical value is #GP on every host
 * (msrs.c): QEMU's TCG, the AMD test host, takes it without a check, and
 * the guest later faults where it cannot recover. Linux writes them
 * rarely (with FSGSBASE, the bases not at all).
 */
static void svm_msrpm_pass_through(u8 *msrpm)
{
	static const u32 rw[] = {
		MSR_STAR, MSR_SYSCALL_MASK, MSR_IA32_SYSENTER_CS,
		MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	};
	static const u32 read_only[] = {
		MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_LSTAR,
		MSR_CSTAR,
	};
	unsigned int i, bit;

	for (i = 0; i < ARRAY_SIZE(rw); i++) {
		bit = svm_msrpm_bit(rw[i]);
		msrpm[bit / 8] &= ~(3 << (bit % 8));
	}
	for (i = 0; i < ARRAY_SIZE(read_only); i++) {
		bit = svm_msrpm_bit(read_only[i]);
		msrpm[bit / 8] &= ~(1 << (bit % 8));
	}
}

void svm_teardown(void)
{
	vhm_free_percpu_pages(&svm_erase_vmcb);
	if (svm_erase_code)
		__free_page(svm_erase_code);
	svm_erase_code = NULL;
	vhm_free_percpu_pages(&svm_hsave_page);
	vhm_free_percpu_pages(&svm_host_save_page);
	if (svm_iopm)
		__free_pages(svm_iopm, SVM_IOPM_ORDER);
	if (svm_msrpm)
		__free_pages(svm_msrpm, SVM_MSRPM_ORDER);
	svm_iopm = NULL;
	svm_msrpm = NULL;
}

int svm_setup(void)
{
	if (vhm_alloc_percpu_pages(&svm_hsave_page) ||
	    vhm_alloc_percpu_pages(&svm_host_save_page) ||
	    vhm_alloc_percpu_pages(&svm_erase_vmcb))
		goto teardown;
	svm_erase_code = alloc_page(GFP_KERNEL | GFP_DMA32 | __GFP_ZERO);
	if (!svm_erase_code)
		goto teardown;
	*(u8 *)page_address(svm_erase_code) = SVM_INSN_HLT;
	svm_iopm = alloc_pages(GFP_KERNEL, SVM_IOPM_ORDER);
	svm_msrpm = alloc_pages(GFP_KERNEL, SVM_MSRPM_ORDER);
	if (!svm_iopm || !svm_msrpm)
		goto teardown;
	memset(page_address(svm_iopm), 0xff, PAGE_SIZE << SVM_IOPM_ORDER);
	memset(page_address(svm_msrpm), 0xff, PAGE_SIZE << SVM_MSRPM_ORDER);
	svm_msrpm_pass_through(page_address(svm_msrpm));
	return 0;

teardown:
	svm_teardown();
	return -ENOMEM;
}

phys_addr_t svm_host_save_pa(void)
{
	return page_to_phys(__this_cpu_read(svm_host_save_page));
}

phys_addr_t svm_iopm_pa(void)
{
	return page_to_phys(svm_iopm);
}

phys_addr_t svm_msrpm_pa(void)
{
	return page_to_phys(svm_msrpm);
}

void svm_assign_asid(struct svm_vcpu *svm)
{
	struct svm_asids *a = this_cpu_ptr(&svm_asids);
	int cpu = smp_processor_id();

	lockdep_assert_irqs_disabled();
	if (svm->asid_cpu == cpu && svm->asid_gen == a->gen) {
		svm->vmcb->control.asid = svm->asid;
		return;
	}
	if (a->next >= svm_nr_asids || a->next < svm_first_asid) {
		a->gen++;
		a->next = svm_first_asid;
		a->flush_all = true;
	}
	svm->asid = a->next++;
	svm->asid_cpu = cpu;
	svm->asid_gen = a->gen;
	svm->vmcb->control.asid = svm->asid;
	/* A reused ASID may hold another vCPU's translations. */
	svm->vmcb->control.tlb_ctl = a->flush_all ? TLB_CONTROL_FLUSH_ALL_ASID :
				     TLB_CONTROL_FLUSH_ASID;
	a->flush_all = false;
}

/* Taking the CPU from KVM: TSC_RATIO 1.0 (see svm_kvm_tsc_ratio). */
static void svm_take_tsc_ratio(void)
{
	u64 ratio;

	if (!boot_cpu_has(X86_FEATURE_TSCRATEMSR))
		return;
	vhm_rdmsr(MSR_AMD64_TSC_RATIO, ratio);
	if (ratio == SVM_TSC_RATIO_1)
		return;
	vhm_wrmsr(MSR_AMD64_TSC_RATIO, SVM_TSC_RATIO_1);
	__this_cpu_write(svm_kvm_tsc_ratio, ratio);
}

static void svm_give_back_tsc_ratio(void)
{
	u64 ratio = __this_cpu_read(svm_kvm_tsc_ratio);

	if (!ratio)
		return;
	vhm_wrmsr(MSR_AMD64_TSC_RATIO, ratio);
	__this_cpu_write(svm_kvm_tsc_ratio, 0);
}

/*
 * On top of KVM, interrupts off, before the VMRUN of a vCPU with ASID
 * asid: flush the ASID if KVM may have used it since vhm took the CPU.
 */
void svm_tlb_on_kvm(struct svm_vcpu *svm)
{
	u32 dirty = __this_cpu_read(svm_dirty_asid);
	struct vmcb_control_area *ctl = &svm->vmcb->control;

	lockdep_assert_irqs_disabled();
	svm_report_erase_failure();
	if (dirty == svm->asid)
		return;
	/* Never two: the thread gives the CPU up between two vCPUs. */
	if (WARN_ON_ONCE(dirty))
		svm_cpu_leave();
	if (ctl->tlb_ctl == TLB_CONTROL_DO_NOTHING)
		ctl->tlb_ctl = TLB_CONTROL_FLUSH_ASID;
	__this_cpu_write(svm_dirty_asid, svm->asid);
	svm_take_tsc_ratio();
}

static void svm_erase_seg(struct vmcb_seg *seg, u64 base, u16 attrib)
{
	seg->selector = 0;
	seg->base = base;
	seg->limit = 0xffff;
	seg->attrib = attrib;
}

/*
 * The erasing guest: real mode, nested paging off (its addresses are
 * the host's), CS at the HLT; every event and HLT exit, TLB_CONTROL
 * flushes the ASID at VMRUN. Rewritten each time: the exit stores the
 * guest's state back.
 */
static void svm_erase_vmcb_init(struct vmcb *v, u32 asid)
{
	static const unsigned int intercepts[] = {
		INTERCEPT_INTR, INTERCEPT_NMI, INTERCEPT_SMI, INTERCEPT_INIT,
		INTERCEPT_HLT, INTERCEPT_SHUTDOWN, INTERCEPT_VMRUN,
	};
	u16 code = VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb);
	u16 data = VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3);
	unsigned int i;

	memset(v, 0, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(intercepts); i++)
		v->control.intercepts[intercepts[i] / 32] |=
			BIT(intercepts[i] % 32);
	for (i = 0; i < 32; i++)
		v->control.intercepts[(INTERCEPT_EXCEPTION_OFFSET + i) / 32] |=
			BIT((INTERCEPT_EXCEPTION_OFFSET + i) % 32);
	v->control.iopm_base_pa = svm_iopm_pa();
	v->control.msrpm_base_pa = svm_msrpm_pa();
	v->control.int_ctl = V_INTR_MASKING_MASK;
	v->control.asid = asid;
	v->control.tlb_ctl = TLB_CONTROL_FLUSH_ASID;
	svm_erase_seg(&v->save.cs, page_to_phys(svm_erase_code), code);
	svm_erase_seg(&v->save.ds, 0, data);
	v->save.es = v->save.ds;
	v->save.ss = v->save.ds;
	v->save.fs = v->save.ds;
	v->save.gs = v->save.ds;
	v->save.gdtr.limit = 0xffff;
	v->save.idtr.limit = 0xffff;
	v->save.cr0 = X86_CR0_ET;
	v->save.cr2 = native_read_cr2();
	v->save.efer = EFER_SVME;
	v->save.dr6 = DR6_RESERVED;
	v->save.dr7 = 0x400;	/* DR7 at reset */
	v->save.rflags = X86_EFLAGS_FIXED;
}

/*
 * #VMEXIT loads the host's RIP, RSP, RAX, CR0/3/4, EFER, RFLAGS, GDTR,
 * IDTR and CS/SS/DS/ES from the host save area (KVM's page, which vhm
 * leaves in VM_HSAVE_PA); the guest ran with the host's other registers
 * and changed none. It does not restore DR6, DR7 and CR2: vhm does.
 */
static u64 svm_erase_run(struct vmcb *v)
{
	unsigned long dr6, dr7;

	get_debugreg(dr6, 6);
	get_debugreg(dr7, 7);
	asm volatile("clgi\n\tvmrun %%rax\n\tstgi"
		     : : "a" (virt_to_phys(v)) : "memory", "cc");
	set_debugreg(dr7, 7);
	set_debugreg(dr6, 6);
	native_write_cr2(v->save.cr2);
	return vhm_vmcb_exit_code(&v->control);
}

/* On top of KVM: interrupts off, see svm_dirty_asid. */
void svm_cpu_leave(void)
{
	u32 asid = __this_cpu_read(svm_dirty_asid);
	struct vmcb *v;
	u64 efer, code;

	lockdep_assert_irqs_disabled();
	if (!asid)
		return;
	__this_cpu_write(svm_dirty_asid, 0);
	svm_give_back_tsc_ratio();
	/* Without SVM (KVM turned it off, a reboot) the TLB was flushed. */
	vhm_rdmsr(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	v = page_address(__this_cpu_read(svm_erase_vmcb));
	svm_erase_vmcb_init(v, asid);
	code = svm_erase_run(v);
	if (unlikely(code == (u64)SVM_EXIT_ERR))
		WRITE_ONCE(svm_erase_failed_asid, asid);
}

/* NPT entries are ordinary x86 page table entries, user-accessible. */
/* SVM's nested paging always has 2 MiB entries (AMD APM vol. 2, 15.25). */
bool svm_npt_has_2m(void)
{
	return true;
}

u64 svm_npt_pte(phys_addr_t pa, unsigned int perm, int level)
{
	u64 pte = pa | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;

	if (!level)
		return pte | _PAGE_RW;
	if (perm & VHM_NPT_WRITE)
		pte |= _PAGE_RW | _PAGE_DIRTY;
	if (level == 2)
		pte |= _PAGE_PSE;
	return pte;
}

bool svm_cpu_in_use(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	return efer & EFER_SVME;
}

int svm_cpu_enable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	if (efer & EFER_SVME)
		return -EBUSY;
	vhm_wrmsr(MSR_VM_HSAVE_PA,
		  page_to_phys(__this_cpu_read(svm_hsave_page)));
	vhm_wrmsr(MSR_EFER, efer | EFER_SVME);
	/* Whatever ran before may have left tagged translations. */
	this_cpu_ptr(&svm_asids)->flush_all = true;
	return 0;
}

void svm_cpu_disable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	vhm_wrmsr(MSR_EFER, efer & ~EFER_SVME);
	vhm_wrmsr(MSR_VM_HSAVE_PA, 0);
}

void svm_cpu_emergency_disable(void)
{
	u64 efer;

	vhm_rdmsr(MSR_EFER, efer);
	if (!(efer & EFER_SVME))
		return;
	/* A crash between CLGI and STGI leaves GIF clear: INIT is blocked. */
	asm volatile("stgi" ::: "memory");
	vhm_wrmsr(MSR_EFER, efer & ~EFER_SVME);
}

u32 svm_nr_tlb_tags(void)
{
	return svm_nr_asids;
}

const struct vhm_vendor_ops vhm_svm_ops = {
	VHM_VENDOR_TABLE(svm, "AMD-V (SVM)", VHM_HW_SVM, "kvm_amd", SVM_HW_REGS)
	/* EFER has no kernel shadow: own enablement works on every kernel. */
	.own_enable = true,
	.on_kvm = true,
};
