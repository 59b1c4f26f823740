/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The architectural rules for an XCR0 value (Intel SDM vol. 1, 13.3 and
 * vol. 2 XSETBV; AMD APM vol. 3 XSETBV), apart from what a given CPU and
 * guest may enable. Free of kernel APIs other than types and bits, so that
 * the unit tests build it in userspace.
 */
#ifndef VHM_XCR0_H
#define VHM_XCR0_H

#include <linux/bits.h>
#include <linux/types.h>

#define VHM_XCR0_X87		BIT_ULL(0)
#define VHM_XCR0_SSE		BIT_ULL(1)
#define VHM_XCR0_YMM		BIT_ULL(2)
#define VHM_XCR0_BNDREGS	BIT_ULL(3)
#define VHM_XCR0_BNDCSR		BIT_ULL(4)
#define VHM_XCR0_OPMASK		BIT_ULL(5)
#define VHM_XCR0_ZMM_HI256	BIT_ULL(6)
#define VHM_XCR0_HI16_ZMM	BIT_ULL(7)
#define VHM_XCR0_PKRU		BIT_ULL(9)
#define VHM_XCR0_XTILECFG	BIT_ULL(17)
#define VHM_XCR0_XTILEDATA	BIT_ULL(18)
#define VHM_XCR0_AVX512		(VHM_XCR0_OPMASK | VHM_XCR0_ZMM_HI256 | \
				 VHM_XCR0_HI16_ZMM)
#define VHM_XCR0_XTILE		(VHM_XCR0_XTILECFG | VHM_XCR0_XTILEDATA)

/*
 * Would XSETBV accept value, on a CPU (and for a guest) that may enable
 * the features in allowed? x87 always; no bit outside allowed; AVX needs
 * SSE; the MPX pair together; the AVX-512 triple together, with AVX; the
 * AMX pair together (XSETBV of one without the other is a #GP, also in
 * the host when vhm loads the guest's XCR0 before entry).
 */
bool vhm_xcr0_valid(u64 value, u64 allowed);

#endif /* VHM_XCR0_H */
