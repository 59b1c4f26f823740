// SPDX-License-Identifier: GPL-2.0
/*
 * Exception classes and what two at once make (exception.h): contributory
 * and page-fault-class exceptions combine into #DF, and a contributory or
 * page-fault-class one while delivering #DF is a triple fault. Everything
 * else is benign and handled serially.
 */
#include "exception.h"

enum vhm_exc_class { VHM_EXC_BENIGN, VHM_EXC_CONTRIBUTORY, VHM_EXC_PF };

/* #DE, #TS, #NP, #SS, #GP, #CP. */
#define VHM_CONTRIBUTORY	((1u << 0) | (1u << 10) | (1u << 11) | \
				 (1u << 12) | (1u << 13) | (1u << 21))
/* #PF, #VE. */
#define VHM_PAGE_FAULTS		((1u << 14) | (1u << 20))

static enum vhm_exc_class vhm_exc_class(u8 vector)
{
	u32 bit = vector < 32 ? 1u << vector : 0;

	if (bit & VHM_CONTRIBUTORY)
		return VHM_EXC_CONTRIBUTORY;
	if (bit & VHM_PAGE_FAULTS)
		return VHM_EXC_PF;
	return VHM_EXC_BENIGN;
}

int vhm_exception_merge(u8 first, u8 second)
{
	enum vhm_exc_class c1 = vhm_exc_class(first);
	enum vhm_exc_class c2 = vhm_exc_class(second);

	if (c2 == VHM_EXC_BENIGN)
		return second;
	if (first == VHM_EXC_DF)
		return VHM_EXC_SHUTDOWN;
	if (c1 == VHM_EXC_PF ||
	    (c1 == VHM_EXC_CONTRIBUTORY && c2 == VHM_EXC_CONTRIBUTORY))
		return VHM_EXC_DF;
	return second;
}
