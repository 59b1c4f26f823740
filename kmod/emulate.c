// SPDX-License-Identifier: GPL-2.0
/*
 * x86 instruction decoding for MMIO emulation: the MOV, MOVZX, MOVSX,
 * MOVSXD, STOS and MOVS forms compilers emit for device accesses, with
 * their legacy and REX prefixes and every ModRM/SIB addressing mode (Intel
 * SDM vol. 2, chapter 2). Everything else is refused.
 */
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>

#include "emulate.h"

#define REX_B	BIT(0)	/* extends ModRM.rm, SIB.base */
#define REX_X	BIT(1)	/* extends SIB.index */
#define REX_R	BIT(2)	/* extends ModRM.reg */
#define REX_W	BIT(3)	/* 64-bit operand size */

/* Opcode properties, beside what the instruction does. */
#define OPF_MODRM	BIT(0)	/* a ModRM memory operand follows the opcode */
#define OPF_MOFFS	BIT(1)	/* an address-size offset follows the opcode */
#define OPF_IMM		BIT(2)	/* an immediate follows the memory operand */
#define OPF_REX_W	BIT(3)	/* valid only in 64-bit mode with REX.W */

struct opcode_info {
	u8 op;		/* enum vhm_insn_op; 0: not supported */
	u8 mem_size;	/* bytes of memory accessed; 0: the operand size */
	u8 flags;	/* OPF_* */
};

static const struct opcode_info one_byte_opcodes[256] = {
	[0x63] = { VHM_INSN_MOVSX, 4, OPF_MODRM | OPF_REX_W },
	[0x88] = { VHM_INSN_MOV_STORE, 1, OPF_MODRM },
	[0x89] = { VHM_INSN_MOV_STORE, 0, OPF_MODRM },
	[0x8a] = { VHM_INSN_MOV_LOAD, 1, OPF_MODRM },
	[0x8b] = { VHM_INSN_MOV_LOAD, 0, OPF_MODRM },
	[0xa0] = { VHM_INSN_MOV_LOAD, 1, OPF_MOFFS },
	[0xa1] = { VHM_INSN_MOV_LOAD, 0, OPF_MOFFS },
	[0xa2] = { VHM_INSN_MOV_STORE, 1, OPF_MOFFS },
	[0xa3] = { VHM_INSN_MOV_STORE, 0, OPF_MOFFS },
	[0xa4] = { VHM_INSN_MOVS, 1, 0 },
	[0xa5] = { VHM_INSN_MOVS, 0, 0 },
	[0xaa] = { VHM_INSN_STOS, 1, 0 },
	[0xab] = { VHM_INSN_STOS, 0, 0 },
	[0xc6] = { VHM_INSN_MOV_STORE_IMM, 1, OPF_MODRM | OPF_IMM },
	[0xc7] = { VHM_INSN_MOV_STORE_IMM, 0, OPF_MODRM | OPF_IMM },
};

/* Opcodes after the 0F escape byte. */
static const struct opcode_info two_byte_opcodes[256] = {
	[0xb6] = { VHM_INSN_MOVZX, 1, OPF_MODRM },
	[0xb7] = { VHM_INSN_MOVZX, 2, OPF_MODRM },
	[0xbe] = { VHM_INSN_MOVSX, 1, OPF_MODRM },
	[0xbf] = { VHM_INSN_MOVSX, 2, OPF_MODRM },
};

/* The 16-bit addressing forms, by ModRM.rm (SDM vol. 2, table 2-1). */
static const struct {
	s8 base;
	s8 index;
} mem16_forms[8] = {
	{ VHM_GPR_RBX, VHM_GPR_RSI }, { VHM_GPR_RBX, VHM_GPR_RDI },
	{ VHM_GPR_RBP, VHM_GPR_RSI }, { VHM_GPR_RBP, VHM_GPR_RDI },
	{ VHM_GPR_RSI, VHM_GPR_NONE }, { VHM_GPR_RDI, VHM_GPR_NONE },
	{ VHM_GPR_RBP, VHM_GPR_NONE }, { VHM_GPR_RBX, VHM_GPR_NONE },
};

/* Decoding state beside what goes into struct vhm_insn. */
struct decoder {
	const u8 *bytes;
	unsigned int avail;
	unsigned int pos;	/* bytes consumed */
	enum vhm_cpu_mode mode;
	bool operand_prefix;	/* 66 */
	bool address_prefix;	/* 67 */
	bool rep_prefix;	/* F2 or F3 */
	bool lock_prefix;	/* F0 */
	int seg_override;	/* enum vhm_sreg, or -1 */
	u8 rex;			/* the REX prefix before the opcode, or 0 */
	u8 operand_size;
	struct vhm_insn *insn;
};

static u64 size_mask(unsigned int size)
{
	return size >= 8 ? ~0ULL : BIT_ULL(8 * size) - 1;
}

static u64 sign_extend(u64 val, unsigned int size)
{
	unsigned int shift = 64 - 8 * size;

	return (u64)((s64)(val << shift) >> shift);
}

static int fetch_byte(struct decoder *d, u8 *byte)
{
	if (d->pos >= VHM_INSN_MAX_LEN)
		return -EINVAL;
	if (d->pos >= d->avail)
		return -EAGAIN;
	*byte = d->bytes[d->pos++];
	return 0;
}

/* Fetch a little-endian value of @size bytes, zero-extended. */
static int fetch_value(struct decoder *d, unsigned int size, u64 *val)
{
	unsigned int i;
	u8 byte;
	int err;

	*val = 0;
	for (i = 0; i < size; i++) {
		err = fetch_byte(d, &byte);
		if (err)
			return err;
		*val |= (u64)byte << (8 * i);
	}
	return 0;
}

static int fetch_disp(struct decoder *d, unsigned int size)
{
	u64 disp;
	int err;

	err = fetch_value(d, size, &disp);
	if (err)
		return err;
	d->insn->disp = size ? (s64)sign_extend(disp, size) : 0;
	return 0;
}

/*
 * The last segment override counts. In 64-bit mode, ES, CS, SS and DS
 * prefixes are null prefixes: they do not cancel an FS or GS override.
 */
static void set_seg_override(struct decoder *d, int seg)
{
	if (d->mode != VHM_MODE_LONG64 || seg == VHM_SREG_FS ||
	    seg == VHM_SREG_GS)
		d->seg_override = seg;
}

/* Record a legacy prefix; false if @byte is not one. */
static bool decode_legacy_prefix(struct decoder *d, u8 byte)
{
	switch (byte) {
	case 0x66:
		d->operand_prefix = true;
		break;
	case 0x67:
		d->address_prefix = true;
		break;
	case 0xf2:
	case 0xf3:
		d->rep_prefix = true;
		break;
	case 0xf0:	/* LOCK: nothing to do for a single access */
		d->lock_prefix = true;
		break;
	case 0x26:
		set_seg_override(d, VHM_SREG_ES);
		break;
	case 0x2e:
		set_seg_override(d, VHM_SREG_CS);
		break;
	case 0x36:
		set_seg_override(d, VHM_SREG_SS);
		break;
	case 0x3e:
		set_seg_override(d, VHM_SREG_DS);
		break;
	case 0x64:
		set_seg_override(d, VHM_SREG_FS);
		break;
	case 0x65:
		set_seg_override(d, VHM_SREG_GS);
		break;
	default:
		return false;
	}
	return true;
}

/*
 * Consume the prefixes and return the first opcode byte. REX counts only
 * right before the opcode: a legacy prefix after it cancels it.
 */
static int decode_prefixes(struct decoder *d, u8 *opcode)
{
	u8 byte;
	int err;

	for (;;) {
		err = fetch_byte(d, &byte);
		if (err)
			return err;
		if (d->mode == VHM_MODE_LONG64 && (byte & 0xf0) == 0x40) {
			d->rex = byte;
			continue;
		}
		if (!decode_legacy_prefix(d, byte)) {
			*opcode = byte;
			return 0;
		}
		d->rex = 0;
	}
}

static int decode_opcode(struct decoder *d, const struct opcode_info **info)
{
	u8 byte;
	int err;

	err = decode_prefixes(d, &byte);
	if (err)
		return err;
	*info = &one_byte_opcodes[byte];
	if (byte == 0x0f) {
		err = fetch_byte(d, &byte);
		if (err)
			return err;
		*info = &two_byte_opcodes[byte];
	}
	return (*info)->op ? 0 : -EINVAL;
}

/* Operand and address sizes from the mode, 66, 67 and REX.W. */
static int decode_sizes(struct decoder *d)
{
	unsigned int operand_size, address_size;

	switch (d->mode) {
	case VHM_MODE_REAL:
	case VHM_MODE_PROT16:
		operand_size = 2;
		address_size = 2;
		break;
	case VHM_MODE_PROT32:
		operand_size = 4;
		address_size = 4;
		break;
	case VHM_MODE_LONG64:
		operand_size = 4;
		address_size = 8;
		break;
	default:
		return -EINVAL;
	}
	if (d->operand_prefix)
		operand_size = operand_size == 2 ? 4 : 2;
	if (d->rex & REX_W)
		operand_size = 8;
	if (d->address_prefix)
		address_size = address_size == 4 ? 2 : 4;
	d->operand_size = operand_size;
	d->insn->addr_size = address_size;
	return 0;
}

static unsigned int disp_size(struct decoder *d, unsigned int mod)
{
	if (mod == 1)
		return 1;
	if (mod == 2)
		return d->insn->addr_size == 2 ? 2 : 4;
	return 0;
}

/* A memory operand with 16-bit addressing. */
static int decode_mem16(struct decoder *d, unsigned int mod, unsigned int rm)
{
	struct vhm_insn *insn = d->insn;

	if (mod == 0 && rm == 6)	/* [disp16] */
		return fetch_disp(d, 2);
	insn->base = mem16_forms[rm].base;
	insn->index = mem16_forms[rm].index;
	if (insn->index != VHM_GPR_NONE)
		insn->scale = 1;
	return fetch_disp(d, disp_size(d, mod));
}

/* A SIB memory operand with 32- or 64-bit addressing. */
static int decode_sib(struct decoder *d, unsigned int mod)
{
	struct vhm_insn *insn = d->insn;
	unsigned int index, base;
	u8 sib;
	int err;

	err = fetch_byte(d, &sib);
	if (err)
		return err;
	index = ((sib >> 3) & 7) | (d->rex & REX_X ? 8 : 0);
	base = sib & 7;
	if (index != VHM_GPR_RSP) {	/* 100 without REX.X: no index */
		insn->index = index;
		insn->scale = 1 << (sib >> 6);
	}
	if (mod == 0 && base == 5)	/* [index * scale + disp32] */
		return fetch_disp(d, 4);
	insn->base = base | (d->rex & REX_B ? 8 : 0);
	return fetch_disp(d, disp_size(d, mod));
}

/* A memory operand with 32- or 64-bit addressing. */
static int decode_mem32(struct decoder *d, unsigned int mod, unsigned int rm)
{
	struct vhm_insn *insn = d->insn;

	if (rm == 4)
		return decode_sib(d, mod);
	if (mod == 0 && rm == 5) {	/* [disp32], [rip + disp32] in 64-bit */
		insn->rip_relative = d->mode == VHM_MODE_LONG64;
		return fetch_disp(d, 4);
	}
	insn->base = rm | (d->rex & REX_B ? 8 : 0);
	return fetch_disp(d, disp_size(d, mod));
}

/*
 * The operand's segment: the override if any, otherwise SS for a stack or
 * frame pointer base, else DS.
 */
static u8 operand_segment(struct decoder *d)
{
	int base = d->insn->base;

	if (d->seg_override >= 0)
		return d->seg_override;
	if (base == VHM_GPR_RSP || base == VHM_GPR_RBP)
		return VHM_SREG_SS;
	return VHM_SREG_DS;
}

/* ModRM: the register operand, then the memory operand. */
static int decode_modrm(struct decoder *d, const struct opcode_info *info)
{
	struct vhm_insn *insn = d->insn;
	unsigned int mod, reg, rm;
	u8 modrm;
	int err;

	err = fetch_byte(d, &modrm);
	if (err)
		return err;
	mod = modrm >> 6;
	reg = (modrm >> 3) & 7;
	rm = modrm & 7;
	if (mod == 3)		/* a register, not memory */
		return -EINVAL;
	if (info->op == VHM_INSN_MOV_STORE_IMM && reg != 0)
		return -EINVAL;	/* C6 /0 and C7 /0 only */
	insn->reg = reg | (d->rex & REX_R ? 8 : 0);
	if (insn->addr_size == 2)
		return decode_mem16(d, mod, rm);
	return decode_mem32(d, mod, rm);
}

static int decode_immediate(struct decoder *d)
{
	unsigned int size = d->insn->size < 4 ? d->insn->size : 4;
	u64 imm;
	int err;

	err = fetch_value(d, size, &imm);
	if (err)
		return err;
	d->insn->imm = sign_extend(imm, size);
	return 0;
}

static int decode_moffs(struct decoder *d)
{
	u64 offset;
	int err;

	err = fetch_value(d, d->insn->addr_size, &offset);
	if (err)
		return err;
	d->insn->disp = (s64)offset;
	return 0;
}

/* The operands: a ModRM or moffs operand, or the string registers. */
static int decode_operands(struct decoder *d, const struct opcode_info *info)
{
	struct vhm_insn *insn = d->insn;
	int err = 0;

	if (info->flags & OPF_MODRM)
		err = decode_modrm(d, info);
	else if (info->flags & OPF_MOFFS)
		err = decode_moffs(d);
	if (err)
		return err;
	if (info->flags & OPF_IMM) {
		err = decode_immediate(d);
		if (err)
			return err;
	}
	if (insn->op == VHM_INSN_STOS)
		insn->seg = VHM_SREG_ES;	/* ES:[rDI], no override */
	else
		insn->seg = operand_segment(d);
	if (insn->op == VHM_INSN_STOS || insn->op == VHM_INSN_MOVS)
		insn->rep = d->rep_prefix;
	return 0;
}

/* The sizes of the memory access and of a load's destination. */
static void set_access_sizes(struct decoder *d, const struct opcode_info *info)
{
	struct vhm_insn *insn = d->insn;

	insn->size = info->mem_size ? info->mem_size : d->operand_size;
	if (insn->op == VHM_INSN_MOVZX || insn->op == VHM_INSN_MOVSX)
		insn->dst_size = d->operand_size;
	else if (insn->op == VHM_INSN_MOV_LOAD)
		insn->dst_size = insn->size;
}

/*
 * Without REX, byte registers 4-7 are AH, CH, DH and BH: bits 15:8 of
 * registers 0-3. With any REX, they are SPL, BPL, SIL and DIL.
 */
static void decode_high8(struct decoder *d)
{
	struct vhm_insn *insn = d->insn;
	bool byte_reg = insn->size == 1 && (insn->op == VHM_INSN_MOV_LOAD ||
					    insn->op == VHM_INSN_MOV_STORE);

	if (byte_reg && !d->rex && insn->reg >= 4 && insn->reg <= 7) {
		insn->high8 = true;
		insn->reg -= 4;
	}
}

int vhm_insn_decode(const u8 *bytes, unsigned int avail,
		    enum vhm_cpu_mode mode, struct vhm_insn *insn)
{
	const struct opcode_info *info;
	struct decoder d = {
		.bytes = bytes,
		.avail = avail,
		.mode = mode,
		.seg_override = -1,
		.insn = insn,
	};
	int err;

	memset(insn, 0, sizeof(*insn));
	insn->base = VHM_GPR_NONE;
	insn->index = VHM_GPR_NONE;

	err = decode_opcode(&d, &info);
	if (err)
		return err;
	insn->op = info->op;
	err = decode_sizes(&d);
	if (err)
		return err;
	if ((info->flags & OPF_REX_W) && d.operand_size != 8)
		return -EINVAL;	/* ARPL outside 64-bit mode, odd MOVSXD */
	set_access_sizes(&d, info);
	err = decode_operands(&d, info);
	if (err)
		return err;
	decode_high8(&d);
	insn->len = d.pos;
	return 0;
}

/* @val written to the low @size bytes of a register holding @old. */
static u64 write_gpr(u64 old, u64 val, unsigned int size, bool high8)
{
	if (high8)
		return (old & ~0xff00ULL) | ((val & 0xff) << 8);
	if (size >= 4)		/* 32-bit results zero-extend to 64 bits */
		return val & size_mask(size);
	return (old & ~size_mask(size)) | (val & size_mask(size));
}

u64 vhm_insn_load_result(const struct vhm_insn *insn, u64 old_reg, u64 val)
{
	val &= size_mask(insn->size);
	if (insn->op == VHM_INSN_MOVSX)
		val = sign_extend(val, insn->size);
	return write_gpr(old_reg, val, insn->dst_size, insn->high8);
}

u64 vhm_insn_store_value(const struct vhm_insn *insn, u64 src_reg)
{
	if (insn->op == VHM_INSN_MOV_STORE_IMM)
		return insn->imm & size_mask(insn->size);
	if (insn->high8)
		return (src_reg >> 8) & 0xff;
	return src_reg & size_mask(insn->size);
}

int vhm_decode_mov_cr(const u8 *bytes, unsigned int avail,
		      enum vhm_cpu_mode mode, struct vhm_mov_cr *m)
{
	struct decoder d = {
		.bytes = bytes,
		.avail = avail,
		.mode = mode,
		.seg_override = -1,
	};
	u8 byte, modrm;
	int err;

	memset(m, 0, sizeof(*m));
	err = decode_prefixes(&d, &byte);
	if (!err && byte != 0x0f)
		return -EINVAL;
	if (!err)
		err = fetch_byte(&d, &byte);
	if (!err && (byte < 0x20 || byte > 0x23))
		return -EINVAL;
	if (!err)
		err = fetch_byte(&d, &modrm);
	if (err)
		return err;
	m->write = byte & 2;
	m->debug = byte & 1;
	m->cr = ((modrm >> 3) & 7) | (d.rex & REX_R ? 8 : 0);
	if (d.lock_prefix && !m->debug)
		m->cr |= 8;
	m->gpr = (modrm & 7) | (d.rex & REX_B ? 8 : 0);
	m->len = d.pos;
	return 0;
}
