/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decoding of the x86 instructions a guest uses to reach MMIO, for nested
 * page faults and EPT violations on memory without RAM behind it. The
 * hardware gives no decode assist: the caller fetches the instruction bytes
 * at the guest's RIP, decodes them here, does the MMIO access and, for a
 * load, writes vhm_insn_load_result() back to the destination register.
 *
 * Vendor-neutral and free of kernel APIs other than types, errno codes and
 * memset, so that the unit tests build it in userspace.
 */
#ifndef VHM_EMULATE_H
#define VHM_EMULATE_H

#include <linux/types.h>

/* The longest legal x86 instruction, in bytes. */
#define VHM_INSN_MAX_LEN	15

/*
 * The guest's execution mode, which gives the default operand and address
 * sizes: 16 bits for REAL (and virtual-8086) and PROT16; 32 bits for PROT32
 * (also compatibility mode with a 32-bit code segment); 32-bit operands and
 * 64-bit addresses for LONG64 (64-bit code segment).
 */
enum vhm_cpu_mode {
	VHM_MODE_REAL,
	VHM_MODE_PROT16,
	VHM_MODE_PROT32,
	VHM_MODE_LONG64,
};

/* General-purpose registers, numbered as in ModRM, SIB and REX. */
enum vhm_gpr {
	VHM_GPR_RAX, VHM_GPR_RCX, VHM_GPR_RDX, VHM_GPR_RBX,
	VHM_GPR_RSP, VHM_GPR_RBP, VHM_GPR_RSI, VHM_GPR_RDI,
	VHM_GPR_R8, VHM_GPR_R9, VHM_GPR_R10, VHM_GPR_R11,
	VHM_GPR_R12, VHM_GPR_R13, VHM_GPR_R14, VHM_GPR_R15,
};

/* vhm_insn.base and .index when the memory operand has none. */
#define VHM_GPR_NONE	(-1)

/* Segment registers, numbered as in the Sreg field of MOV Sreg. */
enum vhm_sreg {
	VHM_SREG_ES, VHM_SREG_CS, VHM_SREG_SS,
	VHM_SREG_DS, VHM_SREG_FS, VHM_SREG_GS,
};

/* The supported instructions, by what they do. */
enum vhm_insn_op {
	VHM_INSN_MOV_LOAD = 1,	/* reg <- mem: 8A, 8B, A0, A1 */
	VHM_INSN_MOV_STORE,	/* mem <- reg: 88, 89, A2, A3 */
	VHM_INSN_MOV_STORE_IMM,	/* mem <- imm: C6 /0, C7 /0 */
	VHM_INSN_MOVZX,		/* reg <- zero-extended mem: 0F B6, 0F B7 */
	VHM_INSN_MOVSX,		/* reg <- sign-extended mem: 0F BE, 0F BF, REX.W 63 */
	VHM_INSN_STOS,		/* ES:[rDI] <- rAX: AA, AB */
	VHM_INSN_MOVS,		/* ES:[rDI] <- seg:[rSI]: A4, A5 */
};

/*
 * A decoded instruction. The memory operand's effective address is the sum
 * of disp, reg[base] unless base is VHM_GPR_NONE, and reg[index] * scale
 * unless index is VHM_GPR_NONE; when rip_relative, it is rip + len + disp.
 * Either way it is truncated to addr_size bytes, then added to the base of
 * segment seg. MOV moffs (A0-A3) has disp only. String instructions have no
 * ModRM operand (base and index are VHM_GPR_NONE): they use rSI and rDI
 * truncated to addr_size, and rCX when rep.
 */
struct vhm_insn {
	u8 len;		/* length in bytes, prefixes included */
	u8 op;		/* enum vhm_insn_op */
	u8 size;	/* bytes the memory access moves: 1, 2, 4 or 8 */
	u8 dst_size;	/* loads: bytes of the destination register */
	u8 reg;		/* enum vhm_gpr: loads' destination, stores' source */
	bool high8;	/* the operand is bits 15:8 of reg (AH, CH, DH, BH) */
	bool rep;	/* F2 or F3 prefix on a string instruction */
	u8 addr_size;	/* 2, 4 or 8 */
	u8 seg;		/* enum vhm_sreg of the operand (MOVS: the source) */
	u64 imm;	/* MOV_STORE_IMM's immediate, sign-extended to 64 bits */
	int base;	/* enum vhm_gpr or VHM_GPR_NONE */
	int index;	/* enum vhm_gpr or VHM_GPR_NONE */
	u8 scale;	/* 1, 2, 4 or 8; 0 without index */
	bool rip_relative;
	s64 disp;	/* moffs: zero-extended; otherwise sign-extended */
};

/*
 * Decode the instruction at @bytes, of which @avail are readable, executed
 * in @mode. Return 0 and fill @insn, -EAGAIN if the instruction continues
 * past @avail bytes (so handing over VHM_INSN_MAX_LEN bytes, when the guest
 * has them, never gives -EAGAIN), or -EINVAL if it is not a supported
 * memory access or longer than VHM_INSN_MAX_LEN. As on the CPU, ES, CS,
 * SS and DS prefixes are null prefixes in 64-bit mode (only FS and GS
 * override there). LOCK, and F2/F3 on MOV (XACQUIRE/XRELEASE), are accepted
 * and ignored.
 */
int vhm_insn_decode(const u8 *bytes, unsigned int avail,
		    enum vhm_cpu_mode mode, struct vhm_insn *insn);

/* Whether @insn reads memory into a register; the others write memory. */
static inline bool vhm_insn_is_load(const struct vhm_insn *insn)
{
	return insn->op == VHM_INSN_MOV_LOAD || insn->op == VHM_INSN_MOVZX ||
	       insn->op == VHM_INSN_MOVSX;
}

/*
 * For a load that read @val (its low insn->size bytes count) from memory:
 * the new value of register insn->reg, whose value was @old_reg. 8- and
 * 16-bit results keep the other bits; 32-bit results are zero-extended to
 * 64 bits, as the CPU does in every mode.
 */
u64 vhm_insn_load_result(const struct vhm_insn *insn, u64 old_reg, u64 val);

/*
 * For MOV_STORE and STOS: the insn->size bytes to write, given @src_reg, the
 * full value of register insn->reg. For MOV_STORE_IMM: the immediate
 * (@src_reg is ignored). MOVS copies memory and has no such value.
 */
u64 vhm_insn_store_value(const struct vhm_insn *insn, u64 src_reg);

/* MOV to or from a control or debug register: 0F 20-23 /r. */
struct vhm_mov_cr {
	u8 len;		/* length in bytes, prefixes included */
	u8 cr;		/* CR or DR number: ModRM.reg, + 8 with REX.R or LOCK */
	u8 gpr;		/* enum vhm_gpr: ModRM.rm, + 8 with REX.B */
	bool write;	/* to the control/debug register (0F 22, 0F 23) */
	bool debug;	/* a debug register (0F 21, 0F 23) */
};

/*
 * Decode the MOV CR/DR at @bytes like vhm_insn_decode(): 0, -EAGAIN or
 * -EINVAL. ModRM.mod is ignored (the operand is always a register), and
 * LOCK selects CR8 and up as on AMD's AltMovCr8.
 */
int vhm_decode_mov_cr(const u8 *bytes, unsigned int avail,
		      enum vhm_cpu_mode mode, struct vhm_mov_cr *m);

#endif /* VHM_EMULATE_H */
