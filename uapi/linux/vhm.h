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
/* arg must be 0; returns a new VM fd. */
#define VHM_CREATE_VM		_IO(VHMIO, 0x02)
/* arg must be 0; returns the size to mmap() from a vCPU fd. */
#define VHM_GET_VCPU_MMAP_SIZE	_IO(VHMIO, 0x03)
/* The CPUID table vCPUs start with: what they really provide. */
#define VHM_GET_SUPPORTED_CPUID	_IOWR(VHMIO, 0x04, struct vhm_cpuid)
/* The MSRs vhm answers in the kernel on this host, and how (VHM_CAP_MSR_LIST). */
#define VHM_GET_MSR_LIST	_IOWR(VHMIO, 0x05, struct vhm_msr_list)

/*
 * VM fd ioctls.
 *
 * VHM_CREATE_VCPU: arg is the vCPU id (0 .. VHM_MAX_VCPUS - 1, each once);
 *   returns a new vCPU fd.
 * VHM_SET_MEMORY_SLOT: create, move, resize, change or delete (size 0) a
 *   slot of guest-physical memory backed by the VMM's own memory.
 */
#define VHM_CREATE_VCPU		_IO(VHMIO, 0x40)
#define VHM_SET_MEMORY_SLOT	_IOW(VHMIO, 0x41, struct vhm_memory_slot)
/* Turn on (or off) an optional behaviour of the VM: see VHM_CAP_*. */
#define VHM_ENABLE_CAP		_IOW(VHMIO, 0x42, struct vhm_enable_cap)

struct vhm_enable_cap {		/* in: VHM_ENABLE_CAP */
	__u32 cap;		/* a VHM_CAP_* that can be enabled */
	__u32 flags;		/* must be 0 */
	__u64 args[4];		/* per capability; unused ones must be 0 */
	__u64 reserved[4];	/* must be 0 */
};
/*
 * An in-kernel local APIC for every vCPU created after it (docs/API.md):
 * before the first VHM_CREATE_VCPU, once.
 */
#define VHM_CREATE_LAPIC	_IOW(VHMIO, 0x43, struct vhm_create_lapic)

struct vhm_create_lapic {	/* in: VHM_CREATE_LAPIC */
	__u32 flags;		/* VHM_LAPIC_*; others must be 0 */
	__u32 padding;		/* must be 0 */
	__u64 reserved[3];	/* must be 0 */
};
/* Also an in-kernel IOAPIC (24 pins at 0xfec00000) fed by VHM_IRQ_LINE. */
#define VHM_LAPIC_IOAPIC	(1u << 0)

/* Raise or lower an IOAPIC input (VHM_LAPIC_IOAPIC; docs/API.md). */
#define VHM_IRQ_LINE		_IOW(VHMIO, 0x44, struct vhm_irq_line)

struct vhm_irq_line {		/* in: VHM_IRQ_LINE */
	__u32 gsi;		/* IOAPIC pin, 0-23 */
	__u32 level;		/* 0 or 1 */
	__u32 flags;		/* must be 0 */
	__u32 reserved;		/* must be 0 */
};
/* Counters of the VM's nested paging (docs/API.md). */
#define VHM_GET_VM_STATS	_IOWR(VHMIO, 0x4f, struct vhm_vm_stats)

#define VHM_MAX_VCPUS		64
#define VHM_MAX_MEMORY_SLOTS	256

#define VHM_MEM_READONLY	(1u << 0)	/* guest writes exit as MMIO */
#define VHM_MEM_FLAGS_VALID	VHM_MEM_READONLY

struct vhm_memory_slot {	/* in: VHM_SET_MEMORY_SLOT */
	__u32 slot;		/* 0 .. VHM_MAX_MEMORY_SLOTS - 1 */
	__u32 flags;		/* VHM_MEM_*; other bits must be 0 */
	__u64 guest_phys_addr;	/* page aligned */
	__u64 size;		/* page aligned; 0 deletes the slot */
	__u64 userspace_addr;	/* page aligned, in the VMM's address space */
	__u64 reserved[4];	/* must be 0 */
};

struct vhm_vm_stats {		/* VHM_GET_VM_STATS */
	__u32 flags;		/* in: must be 0 */
	__u32 padding;		/* in: must be 0 */
	__u64 nested_faults;	/* out: nested page faults that mapped RAM */
	__u64 mapped_4k;	/* out: 4 KiB entries mapped now */
	__u64 mapped_2m;	/* out: 2 MiB entries mapped now */
	__u64 invalidations;	/* out: host invalidations that hit guest RAM */
	__u64 zapped_4k;	/* out: 4 KiB entries removed so far */
	__u64 zapped_2m;	/* out: 2 MiB entries removed so far */
	__u64 reserved[9];	/* out: 0 */
};

/*
 * vCPU fd ioctls.
 */
#define VHM_RUN			_IO(VHMIO, 0x80)
#define VHM_GET_REGS		_IOR(VHMIO, 0x81, struct vhm_regs)
#define VHM_SET_REGS		_IOW(VHMIO, 0x82, struct vhm_regs)
#define VHM_GET_SREGS		_IOR(VHMIO, 0x83, struct vhm_sregs)
#define VHM_SET_SREGS		_IOW(VHMIO, 0x84, struct vhm_sregs)
#define VHM_GET_MSRS		_IOWR(VHMIO, 0x85, struct vhm_msrs)
#define VHM_SET_MSRS		_IOW(VHMIO, 0x86, struct vhm_msrs)
#define VHM_GET_XSAVE		_IOR(VHMIO, 0x87, struct vhm_xsave)
#define VHM_SET_XSAVE		_IOW(VHMIO, 0x88, struct vhm_xsave)
#define VHM_SET_CPUID		_IOW(VHMIO, 0x89, struct vhm_cpuid)
#define VHM_GET_CPUID		_IOWR(VHMIO, 0x8a, struct vhm_cpuid)
#define VHM_GET_VCPU_EVENTS	_IOR(VHMIO, 0x8b, struct vhm_vcpu_events)
#define VHM_SET_VCPU_EVENTS	_IOW(VHMIO, 0x8c, struct vhm_vcpu_events)
#define VHM_GET_XCRS		_IOR(VHMIO, 0x8d, struct vhm_xcrs)
#define VHM_SET_XCRS		_IOW(VHMIO, 0x8e, struct vhm_xcrs)
#define VHM_GET_DEBUGREGS	_IOR(VHMIO, 0x8f, struct vhm_debugregs)
#define VHM_SET_DEBUGREGS	_IOW(VHMIO, 0x90, struct vhm_debugregs)

struct vhm_regs {		/* out: VHM_GET_REGS, in: VHM_SET_REGS */
	__u64 rax, rbx, rcx, rdx;
	__u64 rsi, rdi, rsp, rbp;
	__u64 r8, r9, r10, r11;
	__u64 r12, r13, r14, r15;
	__u64 rip, rflags;
};

struct vhm_segment {
	__u64 base;
	__u32 limit;		/* in bytes (granularity already applied) */
	__u16 selector;
	__u16 attrib;		/* VHM_SEG_* bits below */
};

/* Segment attributes, as in the descriptor's bits 40-47 and 52-55. */
#define VHM_SEG_TYPE(t)		((t) & 0xf)
#define VHM_SEG_S		(1u << 4)	/* code/data (not system) */
#define VHM_SEG_DPL(d)		(((d) & 3) << 5)
#define VHM_SEG_P		(1u << 7)	/* present */
#define VHM_SEG_AVL		(1u << 8)
#define VHM_SEG_L		(1u << 9)	/* 64-bit code */
#define VHM_SEG_DB		(1u << 10)	/* 32-bit default size */
#define VHM_SEG_G		(1u << 11)	/* 4 KiB granularity */
#define VHM_SEG_UNUSABLE	(1u << 12)	/* null selector loaded */
#define VHM_SEG_ATTRIB_VALID	0x1fffu

struct vhm_dtable {
	__u64 base;
	__u16 limit;
	__u16 padding[3];	/* must be 0 */
};

struct vhm_sregs {		/* out: VHM_GET_SREGS, in: VHM_SET_SREGS */
	struct vhm_segment cs, ds, es, fs, gs, ss;
	struct vhm_segment tr, ldt;
	struct vhm_dtable gdt, idt;
	__u64 cr0, cr2, cr3, cr4, cr8;
	__u64 efer;
	__u64 apic_base;
	__u64 reserved[8];	/* must be 0 */
};

/*
 * Capabilities: append-only, never renumbered or reused.
 *
 * VHM_CAP_HW_VENDOR      which hardware extension vhm drives:
 *                        VHM_HW_SVM (AMD-V) or VHM_HW_VMX (Intel VT-x).
 * VHM_CAP_NESTED_PAGING  1: guests run on nested page tables (NPT or EPT).
 * VHM_CAP_TLB_TAGS       number of hardware TLB tags (SVM ASIDs, or VMX
 *                        VPIDs: 65535 when VPID is supported, else 0
 *                        meaning absent).
 * VHM_CAP_MSR_EXITS      the VHM_MSR_EXIT_* reasons VHM_ENABLE_CAP accepts
 *                        in args[0]: guest RDMSR/WRMSR for those reasons
 *                        exit to userspace (VHM_EXIT_MSR) instead of #GP.
 * VHM_CAP_XCRS           1: VHM_GET_XCRS / VHM_SET_XCRS exist and the
 *                        guest's XSETBV is virtualized.
 * VHM_CAP_DEBUGREGS      1: VHM_GET_DEBUGREGS / VHM_SET_DEBUGREGS exist
 *                        and the guest's debug registers are its own.
 * VHM_CAP_LAPIC          1: VHM_CREATE_LAPIC exists (an in-kernel local
 *                        APIC per vCPU: xAPIC MMIO and x2APIC MSRs, its
 *                        timer, IPIs; vCPUs other than 0 wait for
 *                        INIT/SIPI in VHM_RUN).
 * VHM_CAP_IOAPIC         1: VHM_LAPIC_IOAPIC and VHM_IRQ_LINE exist.
 * VHM_CAP_MSR_LIST       1: VHM_GET_MSR_LIST exists.
 */
#define VHM_CAP_HW_VENDOR	1
#define VHM_CAP_NESTED_PAGING	2
#define VHM_CAP_TLB_TAGS	3
#define VHM_CAP_MSR_EXITS	4
#define VHM_CAP_XCRS		5
#define VHM_CAP_DEBUGREGS	6
#define VHM_CAP_LAPIC		7
#define VHM_CAP_IOAPIC		8
#define VHM_CAP_MSR_LIST	9

/* VHM_CAP_MSR_EXITS reasons (args[0] of VHM_ENABLE_CAP, run->msr.reason). */
#define VHM_MSR_EXIT_UNKNOWN	(1u << 0)	/* an MSR vhm does not virtualize */
#define VHM_MSR_EXIT_INVALID	(1u << 1)	/* a WRMSR value it cannot hold */
#define VHM_MSR_EXIT_VALID	(VHM_MSR_EXIT_UNKNOWN | VHM_MSR_EXIT_INVALID)

#define VHM_HW_SVM		1
#define VHM_HW_VMX		2

struct vhm_msr_entry {
	__u32 index;
	__u32 reserved;		/* must be 0 */
	__u64 data;
};

/*
 * VHM_GET_MSRS / VHM_SET_MSRS: nmsrs entries follow the header. Both return
 * the number of entries processed; they stop at the first MSR vhm does not
 * virtualize (docs/API.md lists them), so a return value below nmsrs names
 * the entry that failed.
 */
struct vhm_msrs {
	__u32 nmsrs;		/* at most VHM_MAX_MSR_ENTRIES */
	__u32 flags;		/* must be 0 */
	struct vhm_msr_entry entries[];
};

#define VHM_MAX_MSR_ENTRIES	256

/*
 * VHM_GET_MSR_LIST. In: nranges is the room in ranges[]; out: the number
 * of ranges filled in, or -E2BIG with nranges set to the number needed.
 * The ranges are sorted by first and do not overlap. An MSR in none of
 * them is unknown to vhm: the guest's RDMSR/WRMSR raises #GP, or exits
 * to the VMM (VHM_EXIT_MSR, VHM_MSR_EXIT_UNKNOWN) where it enabled
 * VHM_CAP_MSR_EXITS.
 */
#define VHM_MSR_VIRTUALIZED	1	/* the guest's own value, kept by vhm */
#define VHM_MSR_READ_ZERO	2	/* reads 0; writes are dropped */
#define VHM_MSR_READ_ZERO_GP	3	/* reads 0; the guest's writes #GP */
#define VHM_MSR_READ_ONLY	4	/* a fixed value; the guest's writes #GP */
#define VHM_MSR_WRITE_IGNORED	5	/* what the VMM set; guest writes dropped */

/* vhm_msr_info.flags: when the range is answered at all (else unknown). */
#define VHM_MSR_INFO_LAPIC	(1u << 0)	/* with VHM_CREATE_LAPIC */
#define VHM_MSR_INFO_X2APIC	(1u << 1)	/* while its APIC is in x2APIC mode */

struct vhm_msr_info {
	__u32 first;		/* the range's first MSR index */
	__u32 last;		/* and its last (inclusive) */
	__u32 handling;		/* VHM_MSR_VIRTUALIZED ... */
	__u32 flags;		/* VHM_MSR_INFO_* */
};

struct vhm_msr_list {
	__u32 nranges;
	__u32 flags;		/* must be 0 */
	__u64 reserved;		/* must be 0 */
	struct vhm_msr_info ranges[];
};

/*
 * CPUID tables. In: nent is the room in entries[] (GET) or the number of
 * entries (SET); out (GET): the number filled in, or -E2BIG with nent set
 * to the number needed. A guest CPUID with no matching entry returns zeros.
 */
#define VHM_CPUID_SIGNIFICANT_INDEX	(1u << 0)	/* index must match */
#define VHM_CPUID_FLAGS_VALID		VHM_CPUID_SIGNIFICANT_INDEX
#define VHM_MAX_CPUID_ENTRIES		256

struct vhm_cpuid_entry {
	__u32 function;
	__u32 index;		/* subleaf (ECX), if SIGNIFICANT_INDEX */
	__u32 flags;		/* VHM_CPUID_*; other bits must be 0 */
	__u32 eax, ebx, ecx, edx;
	__u32 reserved[3];	/* must be 0 */
};

struct vhm_cpuid {
	__u32 nent;
	__u32 flags;		/* must be 0 */
	struct vhm_cpuid_entry entries[];
};

/*
 * Extended control registers (XCR0, the XSAVE feature mask the guest set
 * with XSETBV). VHM_SET_XCRS checks each value as the guest's XSETBV
 * would be checked (-EINVAL otherwise).
 */
#define VHM_MAX_XCRS		16

struct vhm_xcr {
	__u32 xcr;		/* 0: XCR0; no other XCR exists yet */
	__u32 reserved;		/* must be 0 */
	__u64 value;
};

struct vhm_xcrs {
	__u32 nr_xcrs;		/* GET: out; SET: in, at most VHM_MAX_XCRS */
	__u32 flags;		/* must be 0 */
	struct vhm_xcr xcrs[VHM_MAX_XCRS];
	__u64 reserved[8];	/* must be 0 */
};

/*
 * Events not yet delivered to the guest, and what blocks them (docs/API.md).
 * VHM_GET_VCPU_EVENTS fills in everything; VHM_SET_VCPU_EVENTS replaces
 * everything. A field whose flag is clear is 0.
 */
#define VHM_EVENT_EXCEPTION	(1u << 0)	/* exception_vector pending */
#define VHM_EVENT_ERROR_CODE	(1u << 1)	/* ... with exception_error_code */
#define VHM_EVENT_INTERRUPT	(1u << 2)	/* interrupt_vector pending */
#define VHM_EVENT_NMI_PENDING	(1u << 3)	/* an NMI is pending */
#define VHM_EVENT_NMI_MASKED	(1u << 4)	/* NMIs blocked until IRET */
#define VHM_EVENT_INT_SHADOW	(1u << 5)	/* STI / MOV SS shadow */
#define VHM_EVENT_FLAGS_VALID	0x3fu

struct vhm_vcpu_events {	/* out: VHM_GET_VCPU_EVENTS, in: VHM_SET_VCPU_EVENTS */
	__u32 flags;			/* VHM_EVENT_*; other bits must be 0 */
	__u32 exception_error_code;
	__u8 exception_vector;		/* 0-31 except 2 (NMI) */
	__u8 interrupt_vector;		/* 0-255 */
	__u8 padding[6];		/* must be 0 */
	__u64 reserved[6];		/* must be 0 */
};

/*
 * The guest's debug registers. VHM_SET_DEBUGREGS: -EINVAL for DR6/DR7
 * bits above 31; the bits that have fixed values are forced to them.
 */
struct vhm_debugregs {
	__u64 db[4];		/* DR0-DR3 */
	__u64 dr6;
	__u64 dr7;
	__u32 flags;		/* must be 0 */
	__u32 padding;		/* must be 0 */
	__u64 reserved[8];	/* must be 0 */
};

/* The guest's x87/SSE/AVX state in the XSAVE layout (non-compacted). */
struct vhm_xsave {
	__u32 region[1024];
};

/*
 * The run area: mmap(NULL, VHM_GET_VCPU_MMAP_SIZE, PROT_READ | PROT_WRITE,
 * MAP_SHARED, vcpu_fd, 0). VHM_RUN returns 0 with exit_reason and the
 * matching union member filled in, or -1 with errno (EINTR: a signal is
 * pending; exit_reason is then VHM_EXIT_INTR).
 */
#define VHM_EXIT_UNKNOWN	0
#define VHM_EXIT_IO		1	/* io: port I/O */
#define VHM_EXIT_MMIO		2	/* mmio: access outside RAM slots */
#define VHM_EXIT_HYPERCALL	3	/* hypercall: VMMCALL/VMCALL */
#define VHM_EXIT_HLT		4	/* the guest halted */
#define VHM_EXIT_SHUTDOWN	5	/* triple fault; the vCPU stays inspectable */
#define VHM_EXIT_FAIL_ENTRY	6	/* fail_entry: VM entry refused */
#define VHM_EXIT_INTERNAL_ERROR	7	/* internal: vhm could not go on */
#define VHM_EXIT_INTR		8	/* a signal interrupted VHM_RUN */
#define VHM_EXIT_MSR		9	/* msr: RDMSR/WRMSR (VHM_CAP_MSR_EXITS) */

#define VHM_IO_IN		0
#define VHM_IO_OUT		1

/* Where VHM_EXIT_IO data sits in the run area (io.data_offset). */
#define VHM_RUN_DATA_OFFSET	1024

/* internal.suberror */
#define VHM_INTERNAL_UNHANDLED_EXIT	1	/* data: exit code, info 1, 2, rip */
#define VHM_INTERNAL_EMULATION		2	/* data: gpa, rip, insn bytes */
/* data: gpa, rip; delivering an event touched memory without RAM */
#define VHM_INTERNAL_DELIVERY		3
/* data: VHM_TASK_SWITCH_* reason, TSS selector, source, rip */
#define VHM_INTERNAL_TASK_SWITCH	4

/* internal.data[0] of VHM_INTERNAL_TASK_SWITCH: what vhm did not emulate. */
#define VHM_TASK_SWITCH_TSS16		1	/* a 16-bit TSS (old or new) */
#define VHM_TASK_SWITCH_LONG_MODE	2	/* EFER.LMA set */
#define VHM_TASK_SWITCH_VM86		3	/* virtual-8086 mode, old or new */
#define VHM_TASK_SWITCH_MEMORY		4	/* a TSS, descriptor or stack not in RAM or unmapped */
#define VHM_TASK_SWITCH_DECODE		5	/* the instruction at CS:EIP not a task switch */

struct vhm_run {
	/* in */
	__u8 immediate_exit;	/* non-zero: return -EINTR before entering */
	__u8 padding1[7];
	/* out */
	__u32 exit_reason;	/* VHM_EXIT_* */
	__u32 padding2;
	union {
		/* VHM_EXIT_IO: count * size bytes at (char *)run + data_offset */
		struct {
			__u8 direction;	/* VHM_IO_IN or VHM_IO_OUT */
			__u8 size;	/* 1, 2 or 4 */
			__u16 port;
			__u32 count;	/* > 1 for rep ins/outs */
			__u64 data_offset;
		} io;
		/* VHM_EXIT_MMIO: reads are completed by filling data */
		struct {
			__u64 phys_addr;
			__u8 data[8];
			__u32 len;
			__u8 is_write;
			__u8 padding[3];
		} mmio;
		/* VHM_EXIT_HYPERCALL: see docs/HYPERCALLS.md */
		struct {
			__u64 nr;
			__u64 args[6];
			__u64 ret;	/* in: the guest's result */
			/* the caller's privilege level: always 0 (CPL > 0 gets #UD) */
			__u8 cpl;
			__u8 padding[7];
		} hypercall;
		/*
		 * VHM_EXIT_MSR: an RDMSR completes with data; error non-zero
		 * makes the instruction raise #GP instead.
		 */
		struct {
			__u8 error;	/* in */
			__u8 is_write;
			__u8 padding[2];
			__u32 reason;	/* VHM_MSR_EXIT_* */
			__u32 index;
			__u32 padding2;
			__u64 data;	/* WRMSR: out; RDMSR: in */
		} msr;
		/* VHM_EXIT_FAIL_ENTRY */
		struct {
			__u64 hardware_reason;	/* SVM exit code / VMX error */
			__u32 cpu;
			__u32 padding;
		} fail_entry;
		/* VHM_EXIT_INTERNAL_ERROR */
		struct {
			__u32 suberror;	/* VHM_INTERNAL_* */
			__u32 ndata;
			__u64 data[16];
		} internal;
		__u8 padding[256];
	};
};

#endif /* _UAPI_LINUX_VHM_H */
