// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of kmod/xcr0.c, the architectural rules for XCR0 (issue 13,
 * defect 2), built in userspace: every rule on a CPU that offers every
 * feature, so the AMX pair is checked even where no test host has AMX (an
 * XCR0 with XTILECFG but not XTILEDATA that vhm accepted made the host's
 * own XSETBV before the next entry fault with interrupts off).
 */
#include "kselftest_harness.h"
#include "xcr0.h"

#define ALL	(~0ull)
#define FPSSE	(VHM_XCR0_X87 | VHM_XCR0_SSE)
#define AVX	(FPSSE | VHM_XCR0_YMM)

TEST(x87_is_always_on)
{
	EXPECT_FALSE(vhm_xcr0_valid(0, ALL));
	EXPECT_FALSE(vhm_xcr0_valid(VHM_XCR0_SSE, ALL));
	EXPECT_TRUE(vhm_xcr0_valid(VHM_XCR0_X87, ALL));
	EXPECT_TRUE(vhm_xcr0_valid(FPSSE, ALL));
}

TEST(nothing_outside_allowed)
{
	EXPECT_FALSE(vhm_xcr0_valid(AVX, FPSSE));
	EXPECT_TRUE(vhm_xcr0_valid(AVX, AVX));
	EXPECT_FALSE(vhm_xcr0_valid(FPSSE | VHM_XCR0_PKRU, AVX));
	EXPECT_TRUE(vhm_xcr0_valid(FPSSE | VHM_XCR0_PKRU, ALL));
}

TEST(avx_needs_sse)
{
	EXPECT_FALSE(vhm_xcr0_valid(VHM_XCR0_X87 | VHM_XCR0_YMM, ALL));
}

TEST(mpx_pair)
{
	EXPECT_FALSE(vhm_xcr0_valid(FPSSE | VHM_XCR0_BNDREGS, ALL));
	EXPECT_FALSE(vhm_xcr0_valid(FPSSE | VHM_XCR0_BNDCSR, ALL));
	EXPECT_TRUE(vhm_xcr0_valid(FPSSE | VHM_XCR0_BNDREGS |
				   VHM_XCR0_BNDCSR, ALL));
}

TEST(avx512_triple_with_avx)
{
	EXPECT_TRUE(vhm_xcr0_valid(AVX | VHM_XCR0_AVX512, ALL));
	EXPECT_FALSE(vhm_xcr0_valid(FPSSE | VHM_XCR0_AVX512, ALL));
	EXPECT_FALSE(vhm_xcr0_valid(AVX | VHM_XCR0_OPMASK, ALL));
	EXPECT_FALSE(vhm_xcr0_valid(AVX | VHM_XCR0_OPMASK |
				    VHM_XCR0_ZMM_HI256, ALL));
	EXPECT_FALSE(vhm_xcr0_valid(AVX | VHM_XCR0_HI16_ZMM, ALL));
}

TEST(amx_pair)
{
	EXPECT_FALSE(vhm_xcr0_valid(AVX | VHM_XCR0_XTILECFG, ALL));
	EXPECT_FALSE(vhm_xcr0_valid(AVX | VHM_XCR0_XTILEDATA, ALL));
	EXPECT_TRUE(vhm_xcr0_valid(AVX | VHM_XCR0_XTILE, ALL));
	/* The CPU offers the pair, the guest's fpstate only the first. */
	EXPECT_FALSE(vhm_xcr0_valid(AVX | VHM_XCR0_XTILECFG,
				    ALL & ~VHM_XCR0_XTILEDATA));
}

TEST_HARNESS_MAIN
