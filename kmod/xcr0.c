// SPDX-License-Identifier: GPL-2.0
/* The architectural rules for an XCR0 value (xcr0.h). */
#include "xcr0.h"

/* Features that must be enabled together or not at all. */
static bool vhm_xcr0_all_or_none(u64 value, u64 group)
{
	return (value & group) == 0 || (value & group) == group;
}

bool vhm_xcr0_valid(u64 value, u64 allowed)
{
	if (!(value & VHM_XCR0_X87) || (value & ~allowed))
		return false;
	if ((value & VHM_XCR0_YMM) && !(value & VHM_XCR0_SSE))
		return false;
	if (!vhm_xcr0_all_or_none(value, VHM_XCR0_BNDREGS | VHM_XCR0_BNDCSR))
		return false;
	if (!vhm_xcr0_all_or_none(value, VHM_XCR0_AVX512))
		return false;
	if ((value & VHM_XCR0_AVX512) && !(value & VHM_XCR0_YMM))
		return false;
	return vhm_xcr0_all_or_none(value, VHM_XCR0_XTILE);
}
