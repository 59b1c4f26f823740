/* SPDX-License-Identifier: GPL-2.0 */
/* VMs and vCPUs: vendor-neutral objects behind the VM and vCPU fds. */
#ifndef VHM_VM_H
#define VHM_VM_H

#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include <asm/cpufeature.h>
#include <uapi/linux/vhm.h>

#include "emulate.h"
#include "mmu.h"

struct vhm_memslot {
	u64 gpa;
	u64 size;		/* 0: unused */
	u64 hva;
	u32 flags;		/* VHM_MEM_* */
};

struct vhm_vm {
	refcount_t refs;	/* the VM fd and each vCPU */
	struct mm_struct *mm;	/* the creator's; only it may use the VM */
	struct mutex lock;	/* vCPU creation */
	struct vhm_vcpu *vcpus[VHM_MAX_VCPUS];
	unsigned int nr_vcpus;
	/* vcpus[] beyond this was never used (grows under lock): scans stop */
	unsigned int vcpu_slots;
	struct mutex slots_lock;	/* slot changes; readers use mmu.lock */
	struct vhm_memslot slots[VHM_MAX_MEMORY_SLOTS];
	struct vhm_mmu mmu;
	u32 msr_exits;		/* VHM_MSR_EXIT_* reasons that go to userspace */
	bool lapic;		/* VHM_CREATE_LAPIC done (under lock) */
	struct vhm_ioapic *ioapic;	/* VHM_LAPIC_IOAPIC (ioapic.c), or NULL */
	bool vcpu_created;	/* VHM_CREATE_VCPU succeeded once (under lock) */
	bool charged;		/* counted in its creator's VMs (limits.c) */
	uid_t uid;		/* the creator's real uid */
	u64 id;			/* unique, never reused (spec.c) */
	/* On top of KVM: the KVM VM this VM holds (kvm_host.c), or NULL. */
	struct file *kvm_vm;
};

/* A string I/O exit, as the vendor decoded it. */
struct vhm_pio_string {
	u16 port;
	u8 size;		/* 1, 2, 4 */
	u8 addr_size;		/* 2, 4, 8 */
	bool in;
	bool rep;
	u64 next_rip;
};

/*
 * A task switch, as the vendor decoded it (task_switch.c). source is what
 * caused it, numbered as VMX's exit qualification bits 31:30. For
 * VHM_TS_GATE, the event delivered through the IDT's task gate: its kind
 * (enum vhm_cut_event; the vendor already put it back in the queue, and
 * vhm_task_switch() takes it out), vector and error code. insn_len: the
 * length of the instruction that caused it, 0 if the vendor does not know
 * (then decoded at CS:EIP).
 */
enum vhm_ts_source {
	VHM_TS_CALL,
	VHM_TS_IRET,
	VHM_TS_JMP,
	VHM_TS_GATE,
};

struct vhm_task_switch {
	u16 selector;		/* the new task's TSS */
	u8 source;		/* enum vhm_ts_source */
	u8 insn_len;
	u8 kind;		/* VHM_TS_GATE: enum vhm_cut_event */
	u8 vector;
	bool has_err;
	u32 err;
};

/*
 * Events not yet delivered to the guest (events.c), the same on both
 * vendors: an exception with its error code, an NMI, an external interrupt
 * (VHM_EVENT_EXCEPTION, _ERROR_CODE, _NMI_PENDING, _INTERRUPT). The vendor
 * takes one out when it injects it and puts it back when an exit cut its
 * delivery short. What blocks them (NMI masking, the interrupt shadow) is
 * the vendor's state.
 */
struct vhm_event_queue {
	u32 flags;
	u32 error_code;
	u8 exception_vector;
	u8 interrupt_vector;
	/* A fault while #DF was pending: the next entry is a shutdown. */
	bool shutdown;
};

/* The guest's FPU state (fpu.c): the size of VHM_GET/SET_XSAVE's buffer. */
#define VHM_FPU_IMAGE_SIZE	4096
struct vhm_fpu_image;

/* vcpu->regs[]: the 16 GPRs, RIP and RFLAGS (regs.h). */
#define VHM_NR_REGS	18

struct vhm_vcpu {
	struct vhm_vm *vm;
	u32 id;
	struct mutex lock;	/* one ioctl at a time */
	struct vhm_run *run;	/* one page, mmap'ed by the VMM */
	void *vendor;		/* the backend's per-vCPU state */
	int cpu;		/* the host CPU it last ran on */
	/* spec.c, on top of KVM: its CPU and switch count at its last entry */
	int spec_cpu;
	unsigned long spec_switches;
	bool in_guest;		/* between entry and exit (TLB shootdowns) */
	u64 tlb_gen;		/* vm->mmu.tlb_gen its TLB tag is clean for */
	struct vhm_fpu_image *fpu;	/* the guest's XSAVE image (fpu.c) */
	struct rcu_work free_work;	/* freed a grace period after close */
	/* The register file (regs.h): values, which are current, which changed. */
	u64 regs[VHM_NR_REGS];
	unsigned long regs_avail;
	unsigned long regs_dirty;
	struct vhm_event_queue events;
	/* An IN whose data (this many bytes) userspace provides for RAX. */
	u8 pio_in_size;
	struct vhm_cpuid_entry *cpuid;	/* the guest's CPUID table */
	u32 nr_cpuid;
	/* MSRs kept the same way on both vendors (msrs.c). */
	u64 apic_base;
	u64 misc_enable;
	u64 tsc_aux;
	u64 tsc_adjust;		/* IA32_TSC_ADJUST, signed */
	u64 mtrr_def_type;
	u64 mtrr_fixed[11];
	u64 mtrr_var[16];
	/* MSRs of the fixed table that keep a value (msr_table.c). */
	u64 msr_hwcr;
	u64 msr_de_cfg;
	u64 ucode_rev;
	/* An INS whose data userspace provides before the next entry. */
	struct vhm_pio_string pio_in;
	u64 pio_in_gva;
	u32 pio_in_count;
	/* DR0-3 as the guest set them (dr.c). */
	u64 db[4];
	/* The host's DR0-3 and DR7 while the guest runs, if saved (dr.c). */
	unsigned long host_db[4];
	unsigned long host_dr7;
	bool host_db_saved;
#ifdef CONFIG_PREEMPT_NOTIFIERS
	/* On top of KVM: the thread gives the CPU up (kvm_host.c). */
	struct preempt_notifier kvm_pn;
#endif
	/* XCR0 as the guest set it with XSETBV (xcr.c). */
	u64 xcr0;
	u32 host_pkru;		/* the VMM thread's PKRU while the guest runs */
	/* An RDMSR/WRMSR userspace completes before the next entry. */
	bool msr_exit_pending;
	bool msr_exit_write;
	u8 msr_exit_len;	/* the instruction's length */
	/* A hypercall whose result (run->hypercall.ret) goes to RAX. */
	bool hypercall_pending;
	/* An MMIO load userspace completes before the next entry. */
	struct vhm_insn mmio_load;
	bool mmio_load_pending;
	u64 mmio_movs_dst;	/* a MOVS load: where its data goes (ES:rDI) */
	u8 mmio_db_hits;	/* the load's data breakpoint hits (dr.c) */
	struct vhm_lapic *lapic;	/* in-kernel local APIC (lapic.c), or NULL */
};

/* IA32_APIC_BASE: base, enable, x2APIC enable, BSP. */
#define VHM_APIC_BASE_VALID	(GENMASK_ULL(51, 12) | BIT_ULL(11) | \
				 BIT_ULL(10) | BIT_ULL(8))

/* vm.c */
long vhm_create_vm(unsigned long arg);
void vhm_vm_get(struct vhm_vm *vm);
void vhm_vm_put(struct vhm_vm *vm);
/* Only the process that created the VM may drive it. */
static inline bool vhm_vm_owned_by_current(struct vhm_vm *vm)
{
	return current->mm == vm->mm;
}

/* vcpu.c */
long vhm_create_vcpu(struct vhm_vm *vm, unsigned long id);

/* exits.c: exit handlers both vendors share */
int vhm_exit_internal_error(struct vhm_vcpu *vcpu, u32 suberror, u64 code,
			    u64 info1, u64 info2, u64 rip);
int vhm_exit_fail_entry(struct vhm_vcpu *vcpu, u64 hardware_reason);
int vhm_exit_machine_check(struct vhm_vcpu *vcpu);
int vhm_exit_hlt(struct vhm_vcpu *vcpu, unsigned int len);
int vhm_exit_shutdown(struct vhm_vcpu *vcpu);
int vhm_exit_cpuid(struct vhm_vcpu *vcpu, unsigned int len);
int vhm_exit_xsetbv(struct vhm_vcpu *vcpu, unsigned int len);
int vhm_exit_rdpmc(struct vhm_vcpu *vcpu);
int vhm_exit_hypercall(struct vhm_vcpu *vcpu, unsigned int len);
int vhm_exit_msr(struct vhm_vcpu *vcpu, bool write, unsigned int len);
int vhm_exit_wrmsr_fast(struct vhm_vcpu *vcpu, unsigned int len);
int vhm_exit_pio(struct vhm_vcpu *vcpu, u16 port, u8 size, bool in,
		 unsigned int len);
int vhm_exit_nested_fault(struct vhm_vcpu *vcpu, u64 gpa, bool write,
			  bool delivering);
void __vhm_complete_user_exit(struct vhm_vcpu *vcpu);

/* Before the next entry: what userspace answered, if it was asked. */
static inline void vhm_complete_user_exit(struct vhm_vcpu *vcpu)
{
	if (vcpu->pio_in_size | vcpu->pio_in_count | vcpu->hypercall_pending |
	    vcpu->msr_exit_pending | vcpu->mmio_load_pending)
		__vhm_complete_user_exit(vcpu);
}

/* run.c: VHM_RUN */
int vhm_vcpu_run(struct vhm_vcpu *vcpu);

/* msrs.c: VHM_GET_MSRS, VHM_SET_MSRS, and the guest's RDMSR/WRMSR */
void vhm_msrs_reset(struct vhm_vcpu *vcpu);
int vhm_get_msr(struct vhm_vcpu *vcpu, u32 index, u64 *data);
int vhm_set_msr(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host);
long vhm_vcpu_get_msrs(struct vhm_vcpu *vcpu, struct vhm_msrs __user *umsrs);
long vhm_vcpu_set_msrs(struct vhm_vcpu *vcpu, struct vhm_msrs __user *umsrs);
/*
 * EFER written by the guest (host false) or by VHM_SET_MSRS: *efer is the
 * value the vendor stores (LMA the CPU's own unless host), or -EINVAL for a
 * value the architecture refuses, #GP for the guest.
 */
int vhm_efer_update(u64 old, u64 *efer, u64 cr0, u64 cr4, bool host);
/* A PAT value the CPU accepts (both vendors refuse the same ones). */
bool vhm_pat_valid(u64 pat);

/*
 * A canonical linear address as this CPU's WRMSR checks it: 57 bits where
 * it has 5-level paging (whether or not CR4.LA57 is on), else 48.
 */
static inline bool vhm_canonical(u64 addr)
{
	int shift = boot_cpu_has(X86_FEATURE_LA57) ? 64 - 57 : 64 - 48;

	return (u64)(((s64)addr << shift) >> shift) == addr;
}

/*
 * The guest's RDMSR/WRMSR: what vhm_guest_rdmsr/wrmsr decided. For
 * VHM_MSR_USER, vcpu->run holds a VHM_EXIT_MSR exit and the vendor
 * returns to userspace without completing the instruction; before the
 * next entry it calls vhm_complete_msr_exit().
 */
enum vhm_msr_result { VHM_MSR_DONE, VHM_MSR_GP, VHM_MSR_USER };
enum vhm_msr_result vhm_guest_rdmsr(struct vhm_vcpu *vcpu, u32 index,
				    u64 *data);
enum vhm_msr_result vhm_guest_wrmsr(struct vhm_vcpu *vcpu, u32 index,
				    u64 data);
/* For a pending RDMSR, data is what userspace gave. */
enum vhm_msr_result vhm_complete_msr_exit(struct vhm_vcpu *vcpu, u64 *data);

/* vm_caps.c: VHM_ENABLE_CAP */
long vhm_vm_enable_cap(struct vhm_vm *vm,
		       const struct vhm_enable_cap __user *ucap);

/*
 * cr.c: intercepted control register writes. vhm_decode_cr_write() finds
 * the value a MOV to control register cr at the guest's RIP writes, and
 * the instruction's length (-EINVAL: not such a MOV). The check says
 * whether the guest may go from CR4 old to cr4 (-EINVAL: #GP).
 */
int vhm_decode_cr_write(struct vhm_vcpu *vcpu, unsigned int cr, u64 *value,
			unsigned int *len);
/* The MOV CR/DR at the guest's RIP, decoded, with the registers. */
int vhm_fetch_mov_cr(struct vhm_vcpu *vcpu, struct vhm_mov_cr *m,
		     struct vhm_regs *r, enum vhm_cpu_mode *mode);
/* General register n (enum vhm_gpr) of r. */
u64 *vhm_regs_gpr(struct vhm_regs *r, unsigned int n);

/*
 * dr.c: the guest's debug registers. DR0-3 live here, DR6 and DR7 with
 * the vendor (in the VMCB/VMCS), which passes pointers to them.
 * vhm_emulate_mov_dr() does the intercepted MOV DR at the guest's RIP.
 */
enum vhm_emul {
	VHM_EMUL_DONE,
	VHM_EMUL_GP,
	VHM_EMUL_UD,
	VHM_EMUL_DB,		/* DR6 and DR7 already say why */
	VHM_EMUL_FAILED,
};
enum vhm_emul vhm_emulate_mov_dr(struct vhm_vcpu *vcpu, u64 *dr6, u64 *dr7,
				 u64 cr4, unsigned int cpl);
bool vhm_emul_done(struct vhm_vcpu *vcpu, enum vhm_emul e);
/* Interrupts off, around entry: the guest's DR0-3 while it has enabled breakpoints. */
void vhm_dr_load_guest(struct vhm_vcpu *vcpu, u64 dr7);
void vhm_dr_put_guest(struct vhm_vcpu *vcpu, u64 dr7);
void vhm_dr_reset(struct vhm_vcpu *vcpu);
void vhm_dr_db_delivered(struct vhm_vcpu *vcpu);
void vhm_dr_single_step(struct vhm_vcpu *vcpu);
/*
 * For instructions vhm emulates itself (mmio.c, pio.c): the breakpoints
 * their accesses hit, how far a REP string may go before its trap, and
 * the #DB trap after it (single step, those hits).
 */
u32 vhm_dr_data_hits(struct vhm_vcpu *vcpu, u64 la, u64 len, bool write);
u32 vhm_dr_io_hits(struct vhm_vcpu *vcpu, u16 port, unsigned int size);
u32 vhm_dr_string_elements(struct vhm_vcpu *vcpu, u64 la, unsigned int size,
			   u32 n, bool write);
void vhm_dr_trap(struct vhm_vcpu *vcpu, u32 hits);
long vhm_vcpu_get_debugregs(struct vhm_vcpu *vcpu,
			    struct vhm_debugregs __user *u);
long vhm_vcpu_set_debugregs(struct vhm_vcpu *vcpu,
			    const struct vhm_debugregs __user *u);
int vhm_check_guest_cr4(struct vhm_vcpu *vcpu, u64 old, u64 cr4, u64 efer,
			u64 cr3);

/* xcr.c: the guest's XCR0 */
void vhm_xcr_reset(struct vhm_vcpu *vcpu);
int vhm_set_xcr(struct vhm_vcpu *vcpu, u32 index, u64 value);
void vhm_xcr_load_guest(struct vhm_vcpu *vcpu, bool osxsave);
void vhm_xcr_put_guest(struct vhm_vcpu *vcpu, bool osxsave);
long vhm_vcpu_get_xcrs(struct vhm_vcpu *vcpu, struct vhm_xcrs __user *u);
long vhm_vcpu_set_xcrs(struct vhm_vcpu *vcpu, const struct vhm_xcrs __user *u);

/* cpuid.c: the guest's CPUID */
int vhm_cpuid_vcpu_init(struct vhm_vcpu *vcpu);
void vhm_cpuid_vcpu_free(struct vhm_vcpu *vcpu);
/* regs: EAX, EBX, ECX, EDX out. */
void vhm_cpuid(struct vhm_vcpu *vcpu, u32 function, u32 index, u32 *regs);
/* What the guest's CPUID returns with its control register 4 = cr4. */
void vhm_guest_cpuid(struct vhm_vcpu *vcpu, u32 function, u32 index, u64 cr4,
		     u32 *regs);
long vhm_get_supported_cpuid(struct vhm_cpuid __user *u);
long vhm_vcpu_get_cpuid(struct vhm_vcpu *vcpu, struct vhm_cpuid __user *u);
long vhm_vcpu_set_cpuid(struct vhm_vcpu *vcpu, struct vhm_cpuid __user *u);

/* fpu.c: the guest's FPU state */
int vhm_fpu_init(struct vhm_vcpu *vcpu);
void vhm_fpu_free(struct vhm_vcpu *vcpu);
void vhm_fpu_enter(struct vhm_vcpu *vcpu);
void vhm_fpu_exit(struct vhm_vcpu *vcpu);
long vhm_vcpu_get_xsave(struct vhm_vcpu *vcpu, void __user *argp);
long vhm_vcpu_set_xsave(struct vhm_vcpu *vcpu, const void __user *argp);

/* events.c: VHM_GET_VCPU_EVENTS, VHM_SET_VCPU_EVENTS */
long vhm_vcpu_get_events(struct vhm_vcpu *vcpu, void __user *argp);
long vhm_vcpu_set_events(struct vhm_vcpu *vcpu, const void __user *argp);

/* sregs.c: architectural validity of special registers */
int vhm_check_sregs(const struct vhm_sregs *sregs);
bool vhm_long_mode_consistent(u64 cr0, u64 cr4, u64 efer);

/* limits.c: what one user may hold */
int vhm_limit_vm_charge(struct vhm_vm *vm);
void vhm_limit_vm_uncharge(struct vhm_vm *vm);
int vhm_limit_vcpu(struct vhm_vm *vm);

/* mmu.c */
void vhm_flush_remote_tlbs(struct vhm_vm *vm);
long vhm_vm_get_stats(struct vhm_vm *vm, struct vhm_vm_stats __user *u);

/* guest_mem.c: guest memory as seen from the vCPU thread */
int vhm_read_guest_phys(struct vhm_vm *vm, u64 gpa, void *buf, unsigned int len);
/*
 * Accesses through the guest's page tables are checked as the CPU checks
 * them (U/S, R/W with CR0.WP, NX, SMEP, SMAP with RFLAGS.AC): access is
 * what vhm_gva_access() makes of the guest's state and the kind of access
 * (VHM_PF_WRITE, VHM_PF_FETCH, or 0 for a read). A check that fails gives
 * VHM_GVA_PF | the #PF error code, for vhm_inject_page_fault().
 */
#define VHM_PF_PRESENT	BIT(0)
#define VHM_PF_WRITE	BIT(1)
#define VHM_PF_USER	BIT(2)
#define VHM_PF_FETCH	BIT(4)
#define VHM_GVA_WP	BIT(8)		/* CR0.WP */
#define VHM_GVA_SMEP	BIT(9)		/* CR4.SMEP */
#define VHM_GVA_SMAP	BIT(10)		/* CR4.SMAP */
#define VHM_GVA_AC	BIT(11)		/* RFLAGS.AC */
#define VHM_GVA_PF	BIT(30)		/* result: a #PF, error code below */
#define VHM_PF_ERROR(r)	((r) & 0xffff)
u32 vhm_gva_access(const struct vhm_sregs *s, u64 rflags, u32 what);
/* 0 with *gpa, -EFAULT (page tables outside RAM) or VHM_GVA_PF | error. */
int vhm_gva_to_gpa(struct vhm_vm *vm, const struct vhm_sregs *s, u64 gva,
		   u32 access, u64 *gpa);
/* The same for every page of [gva, gva + len); *fault: where it failed. */
int vhm_guest_virt_check(struct vhm_vm *vm, const struct vhm_sregs *s,
			 u64 gva, unsigned int len, u32 access, u64 *fault);
/* Up to len bytes at gva: the count read, short at a page it may not read. */
int vhm_read_guest_virt(struct vhm_vm *vm, const struct vhm_sregs *s, u64 gva,
			u32 access, void *buf, unsigned int len);
/* The bytes at CS:RIP (len at most), fetched with the guest's rights. */
unsigned int vhm_fetch_insn(struct vhm_vcpu *vcpu, const struct vhm_sregs *s,
			    const struct vhm_regs *r, u8 *bytes,
			    unsigned int len);
unsigned int vhm_fetch_insn_at_rip(struct vhm_vcpu *vcpu, u8 *bytes,
				   unsigned int len);
/* Queue #PF for gva with error code error (CR2 = gva). */
void vhm_inject_page_fault(struct vhm_vcpu *vcpu, u64 gva, u32 error);
/* events.c: the event queue (struct vhm_event_queue) */
#define VHM_EVENT_QUEUED	(VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE | \
				 VHM_EVENT_INTERRUPT | VHM_EVENT_NMI_PENDING)
#define VHM_EVENT_BLOCKING	(VHM_EVENT_NMI_MASKED | VHM_EVENT_INT_SHADOW)
void vhm_queue_exception(struct vhm_vcpu *vcpu, u8 vector, bool has_err,
			 u32 err);
void vhm_queue_nmi(struct vhm_vcpu *vcpu);
void vhm_queue_interrupt(struct vhm_vcpu *vcpu, u8 vector);
/* What an exit cut short (vhm_requeue_event). */
enum vhm_cut_event {
	VHM_CUT_SOFTWARE = 0,
	VHM_CUT_EXCEPTION,
	VHM_CUT_NMI,
	VHM_CUT_INTERRUPT,
};

void vhm_requeue_event(struct vhm_vcpu *vcpu, enum vhm_cut_event kind,
		       u8 vector, bool has_err, u32 err);
void vhm_dequeue_exception(struct vhm_vcpu *vcpu);
void vhm_dequeue_interrupt(struct vhm_vcpu *vcpu);
void vhm_events_reset(struct vhm_vcpu *vcpu);
bool vhm_event_wakes_hlt(struct vhm_vcpu *vcpu);
/* The guest's execution mode (emulate.h), from its registers. */
enum vhm_cpu_mode vhm_guest_mode(const struct vhm_sregs *s,
				 const struct vhm_regs *r);

/* pio.c: string port I/O */
int vhm_pio_string(struct vhm_vcpu *vcpu, const struct vhm_pio_string *p);
void vhm_complete_pio_string(struct vhm_vcpu *vcpu);
int vhm_pio_error(struct vhm_vcpu *vcpu, u64 gva);
int vhm_write_guest_virt(struct vhm_vm *vm, const struct vhm_sregs *s,
			 u64 gva, u32 access, const void *buf, unsigned int len);

/*
 * task_switch.c: a task switch to a 32-bit TSS, emulated; 1 to enter
 * again (maybe with a fault queued), 0 with VHM_INTERNAL_TASK_SWITCH.
 */
int vhm_task_switch(struct vhm_vcpu *vcpu, const struct vhm_task_switch *ts);

/* mmio.c: MMIO exits, decoded in software */
int vhm_emulate_mmio(struct vhm_vcpu *vcpu, u64 gpa);
void vhm_complete_mmio(struct vhm_vcpu *vcpu);

/* memslot.c */
int vhm_set_memory_slot(struct vhm_vm *vm,
			const struct vhm_memory_slot __user *uslot);
/* The slot holding gpa, or NULL; mmu.lock or slots_lock held. */
const struct vhm_memslot *vhm_find_slot(struct vhm_vm *vm, u64 gpa);

/* How many vcpus[] entries a scan looks at: up to the highest slot used. */
static inline unsigned int vhm_vm_vcpu_slots(struct vhm_vm *vm)
{
	return min_t(unsigned int, READ_ONCE(vm->vcpu_slots), VHM_MAX_VCPUS);
}

#endif /* VHM_VM_H */
