/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The asserting tier over the raw wrappers, as KVM's selftests have
 * vcpu_ioctl() over __vcpu_ioctl(). The raw tier (vhm_vm.h, guest.h and a
 * test's own helpers) returns 0 or -errno and prints nothing: negative
 * tests check its errnos. Positive calls go through these macros, which
 * fail the test and say which call failed and why:
 *
 *	ASSERT_VHM(vhm_get_regs(&vcpu, &regs));
 *	ASSERT_VHM_IOCTL(vm, VHM_CREATE_LAPIC, &c);
 *
 * ASSERT_VHM(call): call returns 0 or -errno (not ioctl()'s -1: a test's
 * own helper converts it); anything but 0 fails.
 * ASSERT_VHM_IOCTL(fd, cmd, arg): ioctl(fd, cmd, arg) on a vhm fd
 * (/dev/vhm, a VM, a vCPU) must return 0.
 * EXPECT_VHM() and EXPECT_VHM_IOCTL() are their EXPECT_EQ() forms: the
 * test fails but goes on.
 *
 * On failure the harness's own line comes first, then the call's text
 * (hence the ioctl's name) and the errno:
 *
 *	# vm_test.c:762:xsave_state:Expected 0 (0) == vhm_result (-22)
 *	# vm_test.c:762:xsave_state:ioctl(self->vcpu.fd, VHM_GET_XSAVE, &x): Invalid argument
 *
 * Each macro is one ASSERT_EQ()/EXPECT_EQ() of kselftest_harness.h
 * (included first): use it where those work, in TEST/TEST_F bodies and in
 * functions with _metadata in scope. It is a statement, so it takes no
 * TH_LOG() of its own.
 */
#ifndef VHM_ASSERT_H
#define VHM_ASSERT_H

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#define __VHM_CHECK(check, call, text)					\
	do {								\
		int vhm_result = (call);				\
									\
		check(0, vhm_result)					\
			TH_LOG("%s: %s", text, vhm_result < 0 ?		\
			       strerror(-vhm_result) : "not 0, no -errno"); \
	} while (0)

/* ioctl()'s result as the raw tier returns it: -errno on failure. */
#define __vhm_ioctl(fd, cmd, arg)					\
	({								\
		int __vhm_r = ioctl(fd, cmd, arg);			\
									\
		__vhm_r < 0 ? -errno : __vhm_r;				\
	})

#define ASSERT_VHM(call)	__VHM_CHECK(ASSERT_EQ, call, #call)
#define EXPECT_VHM(call)	__VHM_CHECK(EXPECT_EQ, call, #call)
#define ASSERT_VHM_IOCTL(fd, cmd, arg)					\
	__VHM_CHECK(ASSERT_EQ, __vhm_ioctl(fd, cmd, arg),		\
		    "ioctl(" #fd ", " #cmd ", " #arg ")")
#define EXPECT_VHM_IOCTL(fd, cmd, arg)					\
	__VHM_CHECK(EXPECT_EQ, __vhm_ioctl(fd, cmd, arg),		\
		    "ioctl(" #fd ", " #cmd ", " #arg ")")

#endif /* VHM_ASSERT_H */
