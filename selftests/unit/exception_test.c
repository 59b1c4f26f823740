// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of kmod/exception.c: what vhm delivers when it raises an
 * exception while another is being delivered (issue 15), the SDM's table
 * "Conditions for Generating a Double Fault", every pair of vectors.
 */
#include "kselftest_harness.h"
#include "exception.h"

#define DE	0
#define DB	1
#define NMI	2
#define BP	3
#define UD	6
#define DF	8
#define TS	10
#define NP	11
#define SS	12
#define GP	13
#define PF	14
#define AC	17
#define MC	18
#define VE	20
#define CP	21

static const unsigned char contributory[] = { DE, TS, NP, SS, GP, CP };
static const unsigned char page_faults[] = { PF, VE };

static bool in(const unsigned char *set, size_t n, unsigned int v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

#define IS_CONTRIB(v)	in(contributory, sizeof(contributory), v)
#define IS_PF(v)	in(page_faults, sizeof(page_faults), v)

/* The table, written out: every first x second of the 32 vectors. */
static int expected(unsigned int first, unsigned int second)
{
	bool benign2 = !IS_CONTRIB(second) && !IS_PF(second);

	if (benign2)
		return second;
	if (first == DF)
		return VHM_EXC_SHUTDOWN;
	if (IS_PF(first))
		return DF;
	if (IS_CONTRIB(first) && IS_CONTRIB(second))
		return DF;
	return second;
}

TEST(every_pair_follows_the_table)
{
	unsigned int a, b, bad = 0;

	for (a = 0; a < 32; a++)
		for (b = 0; b < 32; b++)
			if (vhm_exception_merge(a, b) != expected(a, b)) {
				TH_LOG("first %u, second %u: %d, want %d", a, b,
				       vhm_exception_merge(a, b),
				       expected(a, b));
				bad++;
			}
	EXPECT_EQ(0, bad);
}

TEST(contributory_twice_is_double_fault)
{
	EXPECT_EQ(DF, vhm_exception_merge(GP, GP));
	EXPECT_EQ(DF, vhm_exception_merge(NP, TS));
	EXPECT_EQ(DF, vhm_exception_merge(DE, SS));
	EXPECT_EQ(DF, vhm_exception_merge(CP, GP));
}

TEST(page_fault_then_contributory_or_page_fault_is_double_fault)
{
	EXPECT_EQ(DF, vhm_exception_merge(PF, PF));
	EXPECT_EQ(DF, vhm_exception_merge(PF, GP));
	EXPECT_EQ(DF, vhm_exception_merge(VE, PF));
}

TEST(contributory_then_page_fault_is_serial)
{
	EXPECT_EQ(PF, vhm_exception_merge(GP, PF));
	EXPECT_EQ(PF, vhm_exception_merge(TS, PF));
}

TEST(benign_either_way_is_serial)
{
	EXPECT_EQ(GP, vhm_exception_merge(DB, GP));
	EXPECT_EQ(PF, vhm_exception_merge(UD, PF));
	EXPECT_EQ(DB, vhm_exception_merge(GP, DB));
	EXPECT_EQ(AC, vhm_exception_merge(PF, AC));
	EXPECT_EQ(MC, vhm_exception_merge(DF, MC));
	EXPECT_EQ(BP, vhm_exception_merge(NMI, BP));
}

TEST(fault_while_delivering_double_fault_shuts_down)
{
	EXPECT_EQ(VHM_EXC_SHUTDOWN, vhm_exception_merge(DF, GP));
	EXPECT_EQ(VHM_EXC_SHUTDOWN, vhm_exception_merge(DF, PF));
	EXPECT_EQ(VHM_EXC_SHUTDOWN, vhm_exception_merge(DF, TS));
}

TEST_HARNESS_MAIN
