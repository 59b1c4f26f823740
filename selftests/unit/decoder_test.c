// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of kmod/emulate.c, the MMIO instruction decoder, built in
 * userspace through the shim headers in unit/shim. Every decoded instruction
 * is also checked for its length and for -EAGAIN on each truncation.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "emulate.h"

#define REAL	VHM_MODE_REAL
#define PROT16	VHM_MODE_PROT16
#define PROT32	VHM_MODE_PROT32
#define LONG64	VHM_MODE_LONG64
#define NONE	VHM_GPR_NONE

/* Decode @bytes followed by INT3 padding up to the maximum length. */
static int decode_padded(enum vhm_cpu_mode mode, const u8 *bytes,
			 unsigned int len, struct vhm_insn *insn)
{
	u8 buf[VHM_INSN_MAX_LEN];

	memset(buf, 0xcc, sizeof(buf));
	memcpy(buf, bytes, len);
	return vhm_insn_decode(buf, sizeof(buf), mode, insn);
}

/* The first shorter prefix of @bytes that does not give -EAGAIN, or -1. */
static int bad_truncation(enum vhm_cpu_mode mode, const u8 *bytes,
			  unsigned int len)
{
	struct vhm_insn insn;
	unsigned int avail;

	for (avail = 0; avail < len; avail++)
		if (vhm_insn_decode(bytes, avail, mode, &insn) != -EAGAIN)
			return avail;
	return -1;
}

/* Decode into `insn` an instruction that must be exactly these bytes. */
#define DECODE(mode, ...)						\
	do {								\
		const u8 _bytes[] = { __VA_ARGS__ };			\
									\
		ASSERT_EQ(0, decode_padded(mode, _bytes,		\
					   sizeof(_bytes), &insn));	\
		ASSERT_EQ(sizeof(_bytes), insn.len);			\
		ASSERT_EQ(-1, bad_truncation(mode, _bytes,		\
					     sizeof(_bytes)));		\
	} while (0)

/* Decoding these bytes (padded) must fail with @err. */
#define DECODE_FAILS(err, mode, ...)					\
	do {								\
		const u8 _bytes[] = { __VA_ARGS__ };			\
									\
		ASSERT_EQ(err, decode_padded(mode, _bytes,		\
					     sizeof(_bytes), &insn));	\
	} while (0)

/* Decoding exactly these bytes, unpadded, must ask for more. */
#define DECODE_TRUNCATED(mode, ...)					\
	do {								\
		const u8 _bytes[] = { __VA_ARGS__ };			\
									\
		ASSERT_EQ(-EAGAIN, vhm_insn_decode(_bytes,		\
						   sizeof(_bytes),	\
						   mode, &insn));	\
	} while (0)

#define ASSERT_MEM(b, i, s, d)						\
	do {								\
		ASSERT_EQ(b, insn.base);				\
		ASSERT_EQ(i, insn.index);				\
		ASSERT_EQ(s, insn.scale);				\
		ASSERT_EQ(d, insn.disp);				\
	} while (0)

/* ---- 32/64-bit ModRM and SIB addressing ---- */

TEST(mov_load_base_register)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x8b, 0x07);			/* mov eax, [rdi] */
	ASSERT_EQ(VHM_INSN_MOV_LOAD, insn.op);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(4, insn.dst_size);
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_FALSE(insn.high8);
	ASSERT_EQ(8, insn.addr_size);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	ASSERT_FALSE(insn.rip_relative);
	ASSERT_MEM(VHM_GPR_RDI, NONE, 0, 0);
	ASSERT_TRUE(vhm_insn_is_load(&insn));
}

TEST(mov_store_sib_rsp)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x89, 0x0c, 0x24);		/* mov [rsp], ecx */
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(VHM_GPR_RCX, insn.reg);
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
	ASSERT_MEM(VHM_GPR_RSP, NONE, 0, 0);
	ASSERT_FALSE(vhm_insn_is_load(&insn));
}

TEST(sib_disp8)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x8b, 0x44, 0x24, 0x08);		/* mov eax, [rsp+8] */
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_MEM(VHM_GPR_RSP, NONE, 0, 8);

	DECODE(LONG64, 0x8b, 0x44, 0x24, 0xf8);		/* mov eax, [rsp-8] */
	ASSERT_MEM(VHM_GPR_RSP, NONE, 0, -8);
}

TEST(sib_disp32)
{
	struct vhm_insn insn;

	/* mov eax, [rsp+0x100] */
	DECODE(LONG64, 0x8b, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00);
	ASSERT_MEM(VHM_GPR_RSP, NONE, 0, 0x100);
	/* mov eax, [rbp-0x80000000] */
	DECODE(LONG64, 0x8b, 0x85, 0x00, 0x00, 0x00, 0x80);
	ASSERT_MEM(VHM_GPR_RBP, NONE, 0, -0x80000000LL);
}

TEST(rip_relative)
{
	struct vhm_insn insn;

	/* mov rax, [rip+0x10] */
	DECODE(LONG64, 0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00);
	ASSERT_EQ(8, insn.size);
	ASSERT_TRUE(insn.rip_relative);
	ASSERT_MEM(NONE, NONE, 0, 0x10);
	/* mov rax, [rip-0x10] */
	DECODE(LONG64, 0x48, 0x8b, 0x05, 0xf0, 0xff, 0xff, 0xff);
	ASSERT_TRUE(insn.rip_relative);
	ASSERT_EQ(-16, insn.disp);
	/* mov eax, [eip+0x10]: still RIP-relative with 32-bit addresses */
	DECODE(LONG64, 0x67, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00);
	ASSERT_TRUE(insn.rip_relative);
	ASSERT_EQ(4, insn.addr_size);
	/* mod 00 rm 101 with REX.B is still RIP-relative, not r13 */
	DECODE(LONG64, 0x41, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00);
	ASSERT_TRUE(insn.rip_relative);
	ASSERT_MEM(NONE, NONE, 0, 0x10);
}

TEST(absolute_disp32_outside_long_mode)
{
	struct vhm_insn insn;

	/* mov eax, [0xfee00020] */
	DECODE(PROT32, 0x8b, 0x05, 0x20, 0x00, 0xe0, 0xfe);
	ASSERT_FALSE(insn.rip_relative);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	ASSERT_MEM(NONE, NONE, 0, (s32)0xfee00020);
}

TEST(sib_no_base)
{
	struct vhm_insn insn;

	/* mov eax, [rcx*4+0x1000] */
	DECODE(LONG64, 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00);
	ASSERT_FALSE(insn.rip_relative);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	ASSERT_MEM(NONE, VHM_GPR_RCX, 4, 0x1000);
	/* mov eax, [0x1000] through SIB: absolute, not RIP-relative */
	DECODE(LONG64, 0x8b, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00);
	ASSERT_FALSE(insn.rip_relative);
	ASSERT_MEM(NONE, NONE, 0, 0x1000);
}

TEST(rex_r_sib_scale4)
{
	struct vhm_insn insn;

	/* mov r9d, [rsi+rbx*4+0x10] */
	DECODE(LONG64, 0x44, 0x8b, 0x4c, 0x9e, 0x10);
	ASSERT_EQ(VHM_INSN_MOV_LOAD, insn.op);
	ASSERT_EQ(VHM_GPR_R9, insn.reg);
	ASSERT_EQ(4, insn.size);
	ASSERT_MEM(VHM_GPR_RSI, VHM_GPR_RBX, 4, 0x10);
}

TEST(rex_b)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x41, 0x89, 0x00);		/* mov [r8], eax */
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_MEM(VHM_GPR_R8, NONE, 0, 0);
	/* mov eax, [r13+0]: r13 needs a disp8, r13 base is not SS */
	DECODE(LONG64, 0x41, 0x8b, 0x45, 0x00);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	ASSERT_MEM(VHM_GPR_R13, NONE, 0, 0);
	DECODE(LONG64, 0x41, 0x8b, 0x04, 0x24);		/* mov eax, [r12] */
	ASSERT_MEM(VHM_GPR_R12, NONE, 0, 0);
}

TEST(rex_x_index)
{
	struct vhm_insn insn;

	/* mov eax, [rax+r12]: index 100 with REX.X is r12, not "none" */
	DECODE(LONG64, 0x42, 0x8b, 0x04, 0x20);
	ASSERT_MEM(VHM_GPR_RAX, VHM_GPR_R12, 1, 0);
	/* mov eax, [r12*8+0x1000]: SIB base 101, mod 00: no base, REX.B too */
	DECODE(LONG64, 0x43, 0x8b, 0x04, 0xe5, 0x00, 0x10, 0x00, 0x00);
	ASSERT_MEM(NONE, VHM_GPR_R12, 8, 0x1000);
	/* mov r15, [r15+r15*2+0x7f] */
	DECODE(LONG64, 0x4f, 0x8b, 0x7c, 0x7f, 0x7f);
	ASSERT_EQ(VHM_GPR_R15, insn.reg);
	ASSERT_EQ(8, insn.size);
	ASSERT_MEM(VHM_GPR_R15, VHM_GPR_R15, 2, 0x7f);
}

TEST(operand_size_prefix)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x66, 0x89, 0x07);		/* mov [rdi], ax */
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(2, insn.size);
	DECODE(PROT32, 0x66, 0x8b, 0x07);		/* mov ax, [edi] */
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(4, insn.addr_size);
	/* REX.W wins over 66 */
	DECODE(LONG64, 0x66, 0x48, 0x89, 0x07);
	ASSERT_EQ(8, insn.size);
	/* REX.W does not widen byte forms */
	DECODE(LONG64, 0x48, 0x88, 0x07);
	ASSERT_EQ(1, insn.size);
}

TEST(address_size_prefix)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x67, 0x8b, 0x07);		/* mov eax, [edi] */
	ASSERT_EQ(4, insn.addr_size);
	ASSERT_MEM(VHM_GPR_RDI, NONE, 0, 0);
	DECODE(PROT32, 0x67, 0x8b, 0x07);		/* mov eax, [bx] */
	ASSERT_EQ(2, insn.addr_size);
	ASSERT_EQ(4, insn.size);
	ASSERT_MEM(VHM_GPR_RBX, NONE, 0, 0);
}

/* ---- Byte registers ---- */

TEST(high8_store_ah)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x88, 0x27);			/* mov [rdi], ah */
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(1, insn.size);
	ASSERT_TRUE(insn.high8);
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_EQ(0x12, vhm_insn_store_value(&insn, 0x1234));
	DECODE(REAL, 0x88, 0x3f);			/* mov [bx], bh */
	ASSERT_TRUE(insn.high8);
	ASSERT_EQ(VHM_GPR_RBX, insn.reg);
	ASSERT_MEM(VHM_GPR_RBX, NONE, 0, 0);
}

TEST(rex_selects_low_byte_registers)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x40, 0x88, 0x27);		/* mov [rdi], spl */
	ASSERT_FALSE(insn.high8);
	ASSERT_EQ(VHM_GPR_RSP, insn.reg);
	ASSERT_EQ(0x34, vhm_insn_store_value(&insn, 0x1234));
	DECODE(LONG64, 0x40, 0x88, 0x3f);		/* mov [rdi], dil */
	ASSERT_FALSE(insn.high8);
	ASSERT_EQ(VHM_GPR_RDI, insn.reg);
	DECODE(LONG64, 0x44, 0x8a, 0x27);		/* mov r12b, [rdi] */
	ASSERT_FALSE(insn.high8);
	ASSERT_EQ(VHM_GPR_R12, insn.reg);
}

TEST(high8_load_result)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x8a, 0x3f);			/* mov bh, [rdi] */
	ASSERT_EQ(VHM_INSN_MOV_LOAD, insn.op);
	ASSERT_TRUE(insn.high8);
	ASSERT_EQ(VHM_GPR_RBX, insn.reg);
	ASSERT_EQ(0x1122334455667788ULL,
		  vhm_insn_load_result(&insn, 0x1122334455661188ULL, 0x77));
	DECODE(LONG64, 0x8a, 0x07);			/* mov al, [rdi] */
	ASSERT_FALSE(insn.high8);
	ASSERT_EQ(0x11ab,
		  vhm_insn_load_result(&insn, 0x1111, 0xffffffab));
}

/* ---- MOV with an immediate ---- */

TEST(mov_store_imm32)
{
	struct vhm_insn insn;

	/* mov dword [rdi], 0x12345678 */
	DECODE(LONG64, 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12);
	ASSERT_EQ(VHM_INSN_MOV_STORE_IMM, insn.op);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(0x12345678, insn.imm);
	ASSERT_EQ(0x12345678, vhm_insn_store_value(&insn, ~0ULL));
	/* mov dword [rdi], 0x80000000: imm sign-extended, store 32 bits */
	DECODE(LONG64, 0xc7, 0x07, 0x00, 0x00, 0x00, 0x80);
	ASSERT_EQ(0xffffffff80000000ULL, insn.imm);
	ASSERT_EQ(0x80000000ULL, vhm_insn_store_value(&insn, 0));
}

TEST(mov_store_imm_rex_w)
{
	struct vhm_insn insn;

	/* mov qword [rdi], -1 */
	DECODE(LONG64, 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff);
	ASSERT_EQ(8, insn.size);
	ASSERT_EQ(~0ULL, insn.imm);
	ASSERT_EQ(~0ULL, vhm_insn_store_value(&insn, 0));
	/* mov qword [rdi], 0x7fffffff */
	DECODE(LONG64, 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0x7f);
	ASSERT_EQ(0x7fffffffULL, vhm_insn_store_value(&insn, 0));
}

TEST(mov_store_imm16_and_imm8)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x66, 0xc7, 0x07, 0x34, 0x12);	/* mov word [rdi], 0x1234 */
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(0x1234, vhm_insn_store_value(&insn, 0));
	DECODE(REAL, 0xc7, 0x07, 0x34, 0x12);		/* mov word [bx], 0x1234 */
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(0x1234, insn.imm);
	DECODE(LONG64, 0xc6, 0x47, 0x04, 0x7f);		/* mov byte [rdi+4], 0x7f */
	ASSERT_EQ(1, insn.size);
	ASSERT_EQ(0x7f, insn.imm);
	ASSERT_MEM(VHM_GPR_RDI, NONE, 0, 4);
	DECODE(LONG64, 0xc6, 0x07, 0x80);		/* mov byte [rdi], 0x80 */
	ASSERT_EQ(0xffffffffffffff80ULL, insn.imm);
	ASSERT_EQ(0x80, vhm_insn_store_value(&insn, 0));
}

TEST(mov_store_imm_after_sib_disp32)
{
	struct vhm_insn insn;

	/* mov dword [rsp+0x100], 0x12345678 */
	DECODE(LONG64, 0xc7, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00,
	       0x78, 0x56, 0x34, 0x12);
	ASSERT_EQ(11, insn.len);
	ASSERT_EQ(0x12345678, insn.imm);
	ASSERT_MEM(VHM_GPR_RSP, NONE, 0, 0x100);
}

/* ---- MOVZX, MOVSX, MOVSXD ---- */

TEST(movzx)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x0f, 0xb6, 0x07);		/* movzx eax, byte [rdi] */
	ASSERT_EQ(VHM_INSN_MOVZX, insn.op);
	ASSERT_EQ(1, insn.size);
	ASSERT_EQ(4, insn.dst_size);
	ASSERT_FALSE(insn.high8);
	ASSERT_EQ(0xff, vhm_insn_load_result(&insn, ~0ULL, 0xff));
	DECODE(LONG64, 0x0f, 0xb7, 0x47, 0x02);		/* movzx eax, word [rdi+2] */
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(4, insn.dst_size);
	ASSERT_MEM(VHM_GPR_RDI, NONE, 0, 2);
	ASSERT_EQ(0x8000, vhm_insn_load_result(&insn, ~0ULL, 0x8000));
	DECODE(LONG64, 0x48, 0x0f, 0xb7, 0x07);		/* movzx rax, word [rdi] */
	ASSERT_EQ(8, insn.dst_size);
	ASSERT_EQ(0xffff, vhm_insn_load_result(&insn, ~0ULL, 0xffff));
	DECODE(LONG64, 0x66, 0x0f, 0xb6, 0x27);		/* movzx sp, byte [rdi] */
	ASSERT_EQ(2, insn.dst_size);
	ASSERT_EQ(VHM_GPR_RSP, insn.reg);
	ASSERT_FALSE(insn.high8);
	ASSERT_EQ(0xffffffffffff0080ULL,
		  vhm_insn_load_result(&insn, ~0ULL, 0x80));
}

TEST(movsx_to_16_32_64)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x66, 0x0f, 0xbe, 0x07);		/* movsx ax, byte [rdi] */
	ASSERT_EQ(VHM_INSN_MOVSX, insn.op);
	ASSERT_EQ(1, insn.size);
	ASSERT_EQ(2, insn.dst_size);
	ASSERT_EQ(0x111111111111ff80ULL,
		  vhm_insn_load_result(&insn, 0x1111111111111111ULL, 0x80));
	DECODE(LONG64, 0x0f, 0xbe, 0x07);		/* movsx eax, byte [rdi] */
	ASSERT_EQ(4, insn.dst_size);
	ASSERT_EQ(0xffffff80ULL, vhm_insn_load_result(&insn, ~0ULL, 0x80));
	ASSERT_EQ(0x7fULL, vhm_insn_load_result(&insn, ~0ULL, 0x7f));
	DECODE(LONG64, 0x48, 0x0f, 0xbe, 0x07);		/* movsx rax, byte [rdi] */
	ASSERT_EQ(8, insn.dst_size);
	ASSERT_EQ(0xffffffffffffff80ULL,
		  vhm_insn_load_result(&insn, 0, 0x80));
	DECODE(LONG64, 0x0f, 0xbf, 0x07);		/* movsx eax, word [rdi] */
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(0xffff8000ULL, vhm_insn_load_result(&insn, 0, 0x8000));
	DECODE(LONG64, 0x48, 0x0f, 0xbf, 0x07);		/* movsx rax, word [rdi] */
	ASSERT_EQ(0xffffffffffff8000ULL,
		  vhm_insn_load_result(&insn, 0, 0x8000));
}

TEST(movsxd)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x48, 0x63, 0x07);		/* movsxd rax, [rdi] */
	ASSERT_EQ(VHM_INSN_MOVSX, insn.op);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(8, insn.dst_size);
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_EQ(0xffffffff80000000ULL,
		  vhm_insn_load_result(&insn, 0, 0x80000000));
	ASSERT_EQ(0x7fffffffULL, vhm_insn_load_result(&insn, ~0ULL, 0x7fffffff));
	/* movsxd r10, [rdi] */
	DECODE(LONG64, 0x4c, 0x63, 0x17);
	ASSERT_EQ(VHM_GPR_R10, insn.reg);
	/* Without REX.W (odd forms) and outside 64-bit mode (ARPL) */
	DECODE_FAILS(-EINVAL, LONG64, 0x63, 0x07);
	DECODE_FAILS(-EINVAL, PROT32, 0x63, 0x07);
}

/* ---- String instructions ---- */

TEST(stos)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0xf3, 0xab);			/* rep stosd */
	ASSERT_EQ(VHM_INSN_STOS, insn.op);
	ASSERT_TRUE(insn.rep);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(8, insn.addr_size);
	ASSERT_EQ(VHM_SREG_ES, insn.seg);
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_MEM(NONE, NONE, 0, 0);
	ASSERT_EQ(0x55667788, vhm_insn_store_value(&insn, 0x1122334455667788ULL));
	DECODE(LONG64, 0xf3, 0x48, 0xab);		/* rep stosq */
	ASSERT_EQ(8, insn.size);
	ASSERT_TRUE(insn.rep);
	DECODE(LONG64, 0x67, 0xab);			/* stosd with edi */
	ASSERT_FALSE(insn.rep);
	ASSERT_EQ(4, insn.addr_size);
	DECODE(REAL, 0xf3, 0xaa);			/* rep stosb with di */
	ASSERT_EQ(1, insn.size);
	ASSERT_EQ(2, insn.addr_size);
	ASSERT_TRUE(insn.rep);
	ASSERT_EQ(0x88, vhm_insn_store_value(&insn, 0x7788));
}

TEST(stos_destination_is_always_es)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x64, 0xab);
	ASSERT_EQ(VHM_SREG_ES, insn.seg);
	DECODE(PROT32, 0x2e, 0xaa);
	ASSERT_EQ(VHM_SREG_ES, insn.seg);
}

TEST(movs)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0xa4);				/* movsb */
	ASSERT_EQ(VHM_INSN_MOVS, insn.op);
	ASSERT_EQ(1, insn.size);
	ASSERT_FALSE(insn.rep);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	DECODE(LONG64, 0x64, 0xa5);			/* movsd from fs:[rsi] */
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(VHM_SREG_FS, insn.seg);
	DECODE(PROT32, 0xf3, 0x66, 0xa5);		/* rep movsw */
	ASSERT_TRUE(insn.rep);
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(4, insn.addr_size);
	DECODE(REAL, 0x26, 0xf2, 0xa5);			/* F2 repeats too */
	ASSERT_TRUE(insn.rep);
	ASSERT_EQ(VHM_SREG_ES, insn.seg);
	ASSERT_FALSE(vhm_insn_is_load(&insn));
}

/* ---- MOV with a memory offset (A0-A3) ---- */

TEST(moffs_real_mode)
{
	struct vhm_insn insn;

	DECODE(REAL, 0xa1, 0x34, 0x12);			/* mov ax, [0x1234] */
	ASSERT_EQ(VHM_INSN_MOV_LOAD, insn.op);
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(2, insn.addr_size);
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_MEM(NONE, NONE, 0, 0x1234);
	DECODE(REAL, 0x67, 0x66, 0xa1, 0x78, 0x56, 0x34, 0x12);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(0x12345678, insn.disp);
	DECODE(PROT16, 0xa2, 0x00, 0x80);		/* mov [0x8000], al */
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(1, insn.size);
	ASSERT_EQ(0x8000, insn.disp);
}

TEST(moffs_protected_mode)
{
	struct vhm_insn insn;

	DECODE(PROT32, 0xa1, 0x00, 0x00, 0xc0, 0xfe);	/* mov eax, [0xfec00000] */
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(4, insn.addr_size);
	ASSERT_EQ(0xfec00000LL, insn.disp);		/* zero-extended */
	DECODE(PROT32, 0x64, 0xa3, 0x10, 0x00, 0x00, 0x00);
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(VHM_SREG_FS, insn.seg);
	DECODE(PROT32, 0x67, 0xa0, 0x34, 0x12);		/* mov al, [0x1234] */
	ASSERT_EQ(1, insn.size);
	ASSERT_EQ(2, insn.addr_size);
}

TEST(moffs_long_mode)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0xa1, 0x00, 0x00, 0xc0, 0xfe, 0x00, 0x00, 0x00, 0x00);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(8, insn.addr_size);
	ASSERT_EQ(0xfec00000LL, insn.disp);
	DECODE(LONG64, 0x48, 0xa3, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0xff);
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(8, insn.size);
	ASSERT_EQ(0xfffffffffffffff0ULL, (u64)insn.disp);
	DECODE(LONG64, 0x67, 0xa1, 0x00, 0x00, 0xc0, 0xfe);
	ASSERT_EQ(4, insn.addr_size);
	/* REX.B does not select another register for A0-A3 */
	DECODE(LONG64, 0x41, 0xa0, 1, 0, 0, 0, 0, 0, 0, 0);
	ASSERT_EQ(VHM_GPR_RAX, insn.reg);
	ASSERT_FALSE(insn.high8);
}

/* ---- 16-bit addressing ---- */

TEST(real_mode_bx)
{
	struct vhm_insn insn;

	DECODE(REAL, 0x8b, 0x07);			/* mov ax, [bx] */
	ASSERT_EQ(2, insn.size);
	ASSERT_EQ(2, insn.dst_size);
	ASSERT_EQ(2, insn.addr_size);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	ASSERT_MEM(VHM_GPR_RBX, NONE, 0, 0);
}

TEST(real_mode_bp_uses_ss)
{
	struct vhm_insn insn;

	DECODE(REAL, 0x8b, 0x46, 0x02);			/* mov ax, [bp+2] */
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
	ASSERT_MEM(VHM_GPR_RBP, NONE, 0, 2);
	DECODE(REAL, 0x8b, 0x02);			/* mov ax, [bp+si] */
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
	ASSERT_MEM(VHM_GPR_RBP, VHM_GPR_RSI, 1, 0);
	DECODE(REAL, 0x3e, 0x8b, 0x46, 0x02);		/* mov ax, ds:[bp+2] */
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
}

TEST(real_mode_disp16)
{
	struct vhm_insn insn;

	DECODE(REAL, 0x89, 0x36, 0x34, 0x12);		/* mov [0x1234], si */
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	ASSERT_EQ(VHM_GPR_RSI, insn.reg);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	ASSERT_MEM(NONE, NONE, 0, 0x1234);
	/* mov ax, [bx+0x8000]: sign-extended, wraps at 16 bits */
	DECODE(PROT16, 0x8b, 0x87, 0x00, 0x80);
	ASSERT_MEM(VHM_GPR_RBX, NONE, 0, -0x8000);
}

TEST(real_mode_every_rm_form)
{
	static const struct {
		int base, index, seg;
	} forms[8] = {
		{ VHM_GPR_RBX, VHM_GPR_RSI, VHM_SREG_DS },
		{ VHM_GPR_RBX, VHM_GPR_RDI, VHM_SREG_DS },
		{ VHM_GPR_RBP, VHM_GPR_RSI, VHM_SREG_SS },
		{ VHM_GPR_RBP, VHM_GPR_RDI, VHM_SREG_SS },
		{ VHM_GPR_RSI, NONE, VHM_SREG_DS },
		{ VHM_GPR_RDI, NONE, VHM_SREG_DS },
		{ VHM_GPR_RBP, NONE, VHM_SREG_SS },
		{ VHM_GPR_RBX, NONE, VHM_SREG_DS },
	};
	struct vhm_insn insn;
	unsigned int rm;

	for (rm = 0; rm < 8; rm++) {
		const u8 bytes[] = { 0x8a, 0x48 | rm, 0xfe };	/* disp8 -2 */

		ASSERT_EQ(0, vhm_insn_decode(bytes, sizeof(bytes), REAL, &insn));
		ASSERT_EQ(3, insn.len);
		ASSERT_EQ(VHM_GPR_RCX, insn.reg);
		ASSERT_EQ(forms[rm].base, insn.base);
		ASSERT_EQ(forms[rm].index, insn.index);
		ASSERT_EQ(forms[rm].index == NONE ? 0 : 1, insn.scale);
		ASSERT_EQ(forms[rm].seg, insn.seg);
		ASSERT_EQ(-2, insn.disp);
	}
}

TEST(real_mode_32bit_prefixes)
{
	struct vhm_insn insn;

	/* mov eax, [ebx+ecx*4] */
	DECODE(REAL, 0x66, 0x67, 0x8b, 0x04, 0x8b);
	ASSERT_EQ(4, insn.size);
	ASSERT_EQ(4, insn.dst_size);
	ASSERT_EQ(4, insn.addr_size);
	ASSERT_MEM(VHM_GPR_RBX, VHM_GPR_RCX, 4, 0);
	/* mov eax, [esp]: the SIB byte is missing */
	DECODE_TRUNCATED(REAL, 0x66, 0x67, 0x8b, 0x04);
	/* mov eax, [ebp+8] uses SS */
	DECODE(PROT16, 0x66, 0x67, 0x8b, 0x45, 0x08);
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
}

/* ---- Segments ---- */

TEST(fs_gs_overrides)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x64, 0x8b, 0x00);		/* mov eax, fs:[rax] */
	ASSERT_EQ(VHM_SREG_FS, insn.seg);
	ASSERT_MEM(VHM_GPR_RAX, NONE, 0, 0);
	/* mov rax, gs:[0x28] */
	DECODE(LONG64, 0x65, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00);
	ASSERT_EQ(VHM_SREG_GS, insn.seg);
	ASSERT_MEM(NONE, NONE, 0, 0x28);
	/* mov eax, gs:[rbp]: an override beats the SS default */
	DECODE(LONG64, 0x65, 0x8b, 0x45, 0x00);
	ASSERT_EQ(VHM_SREG_GS, insn.seg);
}

TEST(segment_defaults_32bit)
{
	struct vhm_insn insn;

	DECODE(PROT32, 0x8b, 0x45, 0x08);		/* [ebp+8] */
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
	DECODE(PROT32, 0x8b, 0x04, 0x24);		/* [esp] */
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
	DECODE(PROT32, 0x8b, 0x04, 0x28);		/* [eax+ebp]: index */
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	DECODE(PROT32, 0x8b, 0x44, 0x25, 0x08);		/* [ebp+8] via SIB */
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
	DECODE(PROT32, 0x8b, 0x03);			/* [ebx] */
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
}

TEST(segment_overrides_32bit)
{
	static const u8 prefixes[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
	static const u8 segs[] = {
		VHM_SREG_ES, VHM_SREG_CS, VHM_SREG_SS,
		VHM_SREG_DS, VHM_SREG_FS, VHM_SREG_GS,
	};
	struct vhm_insn insn;
	unsigned int i;

	for (i = 0; i < sizeof(prefixes); i++) {
		/* mov eax, seg:[ebp+4] */
		const u8 bytes[] = { prefixes[i], 0x8b, 0x45, 0x04 };

		ASSERT_EQ(0, vhm_insn_decode(bytes, sizeof(bytes), PROT32,
					     &insn));
		ASSERT_EQ(segs[i], insn.seg);
	}
	/* The last override counts */
	DECODE(PROT32, 0x64, 0x26, 0x8b, 0x07);
	ASSERT_EQ(VHM_SREG_ES, insn.seg);
}

TEST(long_mode_ignores_es_cs_ss_ds_overrides)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x26, 0x8b, 0x07);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	DECODE(LONG64, 0x2e, 0x8b, 0x07);
	ASSERT_EQ(VHM_SREG_DS, insn.seg);
	DECODE(LONG64, 0x3e, 0x8b, 0x45, 0x00);		/* [rbp] stays SS */
	ASSERT_EQ(VHM_SREG_SS, insn.seg);
	/* They are null prefixes: FS still counts after them */
	DECODE(LONG64, 0x64, 0x26, 0x8b, 0x07);
	ASSERT_EQ(VHM_SREG_FS, insn.seg);
}

/* ---- Prefix rules ---- */

TEST(rex_must_precede_opcode)
{
	struct vhm_insn insn;

	/* REX.W then 66: REX ignored, 16-bit store */
	DECODE(LONG64, 0x48, 0x66, 0x89, 0x07);
	ASSERT_EQ(2, insn.size);
	/* REX.B then F0: REX ignored, [rax] not [r8] */
	DECODE(LONG64, 0x41, 0xf0, 0x89, 0x00);
	ASSERT_MEM(VHM_GPR_RAX, NONE, 0, 0);
	/* Two REX prefixes: only the last one counts */
	DECODE(LONG64, 0x41, 0x48, 0x89, 0x00);
	ASSERT_EQ(8, insn.size);
	ASSERT_MEM(VHM_GPR_RAX, NONE, 0, 0);
	/* A cancelled REX does not turn AH into SPL */
	DECODE(LONG64, 0x40, 0x3e, 0x88, 0x27);
	ASSERT_TRUE(insn.high8);
}

TEST(rex_is_not_a_prefix_outside_long_mode)
{
	struct vhm_insn insn;

	DECODE_FAILS(-EINVAL, PROT32, 0x48, 0x8b, 0x07);	/* dec eax */
	DECODE_FAILS(-EINVAL, REAL, 0x40, 0x88, 0x27);		/* inc ax */
}

TEST(lock_and_rep_on_mov_accepted)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0xf0, 0x89, 0x07);
	ASSERT_EQ(VHM_INSN_MOV_STORE, insn.op);
	DECODE(LONG64, 0xf3, 0x89, 0x07);		/* XRELEASE hint */
	ASSERT_FALSE(insn.rep);
}

TEST(maximum_length)
{
	/* 14 prefixes + 8b 07: 16 bytes, #GP on hardware */
	static const u8 too_long[16] = {
		0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e,
		0x3e, 0x3e, 0x3e, 0x3e, 0x8b, 0x07,
	};
	struct vhm_insn insn;

	/* 13 prefixes + 8b 07: 15 bytes, the longest legal */
	DECODE(PROT32, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e,
	       0x3e, 0x3e, 0x3e, 0x3e, 0x8b, 0x07);
	ASSERT_EQ(15, insn.len);
	ASSERT_EQ(-EINVAL, vhm_insn_decode(too_long, sizeof(too_long), PROT32,
					   &insn));
	ASSERT_EQ(-EINVAL, vhm_insn_decode(too_long, 15, PROT32, &insn));
}

/* ---- Refusals ---- */

TEST(truncated_input_asks_for_more)
{
	struct vhm_insn insn;

	ASSERT_EQ(-EAGAIN, vhm_insn_decode(NULL, 0, LONG64, &insn));
	DECODE_TRUNCATED(LONG64, 0x48);
	DECODE_TRUNCATED(LONG64, 0x66, 0xf3);
	DECODE_TRUNCATED(LONG64, 0x0f);
	DECODE_TRUNCATED(LONG64, 0x8b);
	DECODE_TRUNCATED(LONG64, 0x8b, 0x44, 0x24);
	DECODE_TRUNCATED(LONG64, 0x48, 0x8b, 0x05, 0x10, 0x00, 0x00);
	DECODE_TRUNCATED(LONG64, 0xc7, 0x07, 0x78, 0x56, 0x34);
	DECODE_TRUNCATED(LONG64, 0xa1, 0, 0, 0, 0, 0, 0, 0);
	DECODE_TRUNCATED(REAL, 0x89, 0x36, 0x34);
}

TEST(unsupported_instructions)
{
	struct vhm_insn insn;

	DECODE_FAILS(-EINVAL, LONG64, 0x0f, 0x0b);		/* ud2 */
	DECODE_FAILS(-EINVAL, LONG64, 0x90);			/* nop */
	DECODE_FAILS(-EINVAL, LONG64, 0xff, 0x07);		/* inc [rdi] */
	DECODE_FAILS(-EINVAL, LONG64, 0x8c, 0x07);		/* mov [rdi], es */
	DECODE_FAILS(-EINVAL, LONG64, 0xc5, 0xf9, 0x6f, 0x07);	/* vmovdqa */
	DECODE_FAILS(-EINVAL, LONG64, 0x0f, 0x38, 0xf0, 0x07);	/* movbe */
	DECODE_FAILS(-EINVAL, LONG64, 0xc7, 0x4f, 0x04, 0, 0, 0, 0); /* C7 /1 */
	DECODE_FAILS(-EINVAL, 7, 0x8b, 0x07);			/* no such mode */
}

TEST(register_operands_refused)
{
	struct vhm_insn insn;

	DECODE_FAILS(-EINVAL, LONG64, 0x8b, 0xc0);		/* mov eax, eax */
	DECODE_FAILS(-EINVAL, LONG64, 0x88, 0xe0);		/* mov al, ah */
	DECODE_FAILS(-EINVAL, LONG64, 0xc7, 0xc0, 1, 0, 0, 0);	/* mov eax, 1 */
	DECODE_FAILS(-EINVAL, LONG64, 0x0f, 0xb6, 0xc0);	/* movzx eax, al */
	DECODE_FAILS(-EINVAL, REAL, 0x8b, 0xc0);
}

/* ---- Load and store values ---- */

TEST(load_32bit_zero_extends)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x8b, 0x07);
	ASSERT_EQ(0x89abcdefULL,
		  vhm_insn_load_result(&insn, ~0ULL, 0x89abcdefULL));
	/* bits above the access size in val are ignored */
	ASSERT_EQ(0x89abcdefULL,
		  vhm_insn_load_result(&insn, 0, 0x1234567889abcdefULL));
}

TEST(load_16bit_and_8bit_preserve)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x66, 0x8b, 0x07);
	ASSERT_EQ(2, insn.dst_size);
	ASSERT_EQ(0x111111111111abcdULL,
		  vhm_insn_load_result(&insn, 0x1111111111111111ULL,
				       0xdeadabcd));
	DECODE(LONG64, 0x8a, 0x07);
	ASSERT_EQ(0x11111111111111abULL,
		  vhm_insn_load_result(&insn, 0x1111111111111111ULL, 0xab));
}

TEST(load_64bit)
{
	struct vhm_insn insn;

	DECODE(LONG64, 0x48, 0x8b, 0x07);
	ASSERT_EQ(8, insn.dst_size);
	ASSERT_EQ(0x8877665544332211ULL,
		  vhm_insn_load_result(&insn, 0, 0x8877665544332211ULL));
}

TEST(store_values)
{
	const u64 rax = 0x1122334455667788ULL;
	struct vhm_insn insn;

	DECODE(LONG64, 0x48, 0x89, 0x07);
	ASSERT_EQ(rax, vhm_insn_store_value(&insn, rax));
	DECODE(LONG64, 0x89, 0x07);
	ASSERT_EQ(0x55667788ULL, vhm_insn_store_value(&insn, rax));
	DECODE(LONG64, 0x66, 0x89, 0x07);
	ASSERT_EQ(0x7788ULL, vhm_insn_store_value(&insn, rax));
	DECODE(LONG64, 0x88, 0x07);
	ASSERT_EQ(0x88ULL, vhm_insn_store_value(&insn, rax));
	DECODE(LONG64, 0x88, 0x27);
	ASSERT_EQ(0x77ULL, vhm_insn_store_value(&insn, rax));
}

/* ---------------------------------------------------------------------
 * MOV to and from control and debug registers (cr.c)
 */

TEST(mov_to_cr4)
{
	static const u8 b[] = { 0x0f, 0x22, 0xe0 };	/* mov %rax, %cr4 */
	struct vhm_mov_cr m;
	unsigned int avail;

	ASSERT_EQ(0, vhm_decode_mov_cr(b, sizeof(b), LONG64, &m));
	EXPECT_EQ(3, m.len);
	EXPECT_EQ(4, m.cr);
	EXPECT_EQ(VHM_GPR_RAX, m.gpr);
	EXPECT_TRUE(m.write);
	EXPECT_FALSE(m.debug);
	for (avail = 0; avail < sizeof(b); avail++)
		EXPECT_EQ(-EAGAIN, vhm_decode_mov_cr(b, avail, LONG64, &m));
}

TEST(mov_cr_rex_and_lock)
{
	static const u8 rex_b[] = { 0x41, 0x0f, 0x22, 0xe7 };	/* %r15, %cr4 */
	static const u8 rex_r[] = { 0x44, 0x0f, 0x20, 0xc1 };	/* %cr8, %rcx */
	static const u8 lock[] = { 0xf0, 0x0f, 0x22, 0xc2 };	/* %edx, %cr8 */
	struct vhm_mov_cr m;

	ASSERT_EQ(0, vhm_decode_mov_cr(rex_b, sizeof(rex_b), LONG64, &m));
	EXPECT_EQ(4, m.len);
	EXPECT_EQ(4, m.cr);
	EXPECT_EQ(VHM_GPR_R15, m.gpr);
	ASSERT_EQ(0, vhm_decode_mov_cr(rex_r, sizeof(rex_r), LONG64, &m));
	EXPECT_EQ(8, m.cr);
	EXPECT_EQ(VHM_GPR_RCX, m.gpr);
	EXPECT_FALSE(m.write);
	ASSERT_EQ(0, vhm_decode_mov_cr(lock, sizeof(lock), PROT32, &m));
	EXPECT_EQ(8, m.cr);
	EXPECT_EQ(VHM_GPR_RDX, m.gpr);
	EXPECT_TRUE(m.write);
	/* 0x41 is INC %ecx outside 64-bit mode, not REX. */
	EXPECT_EQ(-EINVAL, vhm_decode_mov_cr(rex_b, sizeof(rex_b), PROT32, &m));
}

TEST(mov_dr_and_others)
{
	static const u8 dr7[] = { 0x0f, 0x23, 0xf8 };	/* mov %rax, %db7 */
	static const u8 movzx[] = { 0x0f, 0xb6, 0x00 };
	struct vhm_mov_cr m;

	ASSERT_EQ(0, vhm_decode_mov_cr(dr7, sizeof(dr7), LONG64, &m));
	EXPECT_TRUE(m.debug);
	EXPECT_TRUE(m.write);
	EXPECT_EQ(7, m.cr);
	EXPECT_EQ(-EINVAL, vhm_decode_mov_cr(movzx, sizeof(movzx), LONG64, &m));
}

TEST_HARNESS_MAIN
