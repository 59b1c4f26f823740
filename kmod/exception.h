/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the CPU delivers when an exception occurs while it delivers another
 * (Intel SDM vol. 3A, "Interrupt 8—Double Fault Exception (#DF)", tables
 * "Interrupt and Exception Classes" and "Conditions for Generating a
 * Double Fault"; AMD APM vol. 2, "#DF—Double-Fault Exception"). Free of
 * kernel APIs other than types, so that the unit tests build it in
 * userspace.
 */
#ifndef VHM_EXCEPTION_H
#define VHM_EXCEPTION_H

#include <linux/types.h>

#define VHM_EXC_DF		8
/* Not a vector: a fault while delivering #DF shuts the CPU down. */
#define VHM_EXC_SHUTDOWN	(-1)

/*
 * The vector to deliver when second occurs while first is being delivered
 * (both exception vectors, 0-31): second itself (the two are handled
 * serially: first comes again when its instruction runs again), #DF, or
 * VHM_EXC_SHUTDOWN.
 */
int vhm_exception_merge(u8 first, u8 second);

#endif /* VHM_EXCEPTION_H */
