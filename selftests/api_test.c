// SPDX-License-Identifier: GPL-2.0
/*
 * The system fd: the device node, VHM_GET_API_VERSION, VHM_CHECK_EXTENSION,
 * VHM_GET_MSR_LIST and what happens with ioctl numbers and arguments it
 * does not know.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cpuid.h>
#include <linux/vhm.h>

#include "kselftest_harness.h"
#include "vhm_util.h"

FIXTURE(sys) {
	int fd;
};

FIXTURE_SETUP(sys)
{
	self->fd = -1;
	REQUIRE_VHM_HOST();
	host_reset();
	ASSERT_EQ(0, vhm_load(NULL));
	self->fd = open("/dev/vhm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(sys)
{
	if (self->fd >= 0)
		close(self->fd);
	host_reset();
}

TEST_F(sys, device_node_is_root_only)
{
	struct stat st;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, stat("/dev/vhm", &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
}

TEST_F(sys, unprivileged_open_refused)
{
	int status;
	pid_t pid;

	RETURN_IF_SKIPPED();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(open("/dev/vhm", O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(sys, api_version)
{
	RETURN_IF_SKIPPED();
	EXPECT_EQ(VHM_API_VERSION, ioctl(self->fd, VHM_GET_API_VERSION, 0));
	EXPECT_EQ(1, VHM_API_VERSION);
}

TEST_F(sys, api_version_rejects_argument)
{
	RETURN_IF_SKIPPED();
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_API_VERSION, 1UL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_API_VERSION, (unsigned long)&self->fd));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(sys, cap_hw_vendor_matches_cpu)
{
	long v;

	RETURN_IF_SKIPPED();
	v = ioctl(self->fd, VHM_CHECK_EXTENSION, VHM_CAP_HW_VENDOR);
	EXPECT_EQ(host_vendor() == VENDOR_AMD ? VHM_HW_SVM : VHM_HW_VMX, v);
}

TEST_F(sys, cap_nested_paging)
{
	RETURN_IF_SKIPPED();
	EXPECT_EQ(1, ioctl(self->fd, VHM_CHECK_EXTENSION, VHM_CAP_NESTED_PAGING));
}

/* The number of ASIDs is CPUID 0x8000000a EBX; VPID is 16 bits. */
TEST_F(sys, cap_tlb_tags_matches_cpuid)
{
	long v;
	unsigned int a, b, c, d;
	char line[4096];
	bool vpid = false;
	FILE *f;

	RETURN_IF_SKIPPED();
	v = ioctl(self->fd, VHM_CHECK_EXTENSION, VHM_CAP_TLB_TAGS);
	if (host_vendor() == VENDOR_AMD) {
		ASSERT_TRUE(__get_cpuid(0x8000000a, &a, &b, &c, &d));
		EXPECT_EQ((long)b, v);
		EXPECT_LT(0, v);
		return;
	}
	/* 6.1+ lists VMX features on a "vmx flags" line. */
	f = fopen("/proc/cpuinfo", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "vmx flags", 9) && strstr(line, " vpid"))
			vpid = true;
	fclose(f);
	EXPECT_EQ(vpid ? 65535 : 0, v);
}

TEST_F(sys, unknown_caps_are_absent)
{
	static const unsigned long caps[] = {
		0, 1000, 0x7fffffff, 0xffffffff, 0x100000001ul, ~0ul,
	};
	size_t i;

	RETURN_IF_SKIPPED();
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		EXPECT_EQ(0, ioctl(self->fd, VHM_CHECK_EXTENSION, caps[i]))
			TH_LOG("cap %#lx", caps[i]);
}

TEST_F(sys, unknown_ioctls_are_enotty)
{
	static const unsigned long bad[] = {
		_IO(VHMIO, 0x04), _IO(VHMIO, 0x3f),	/* unused system numbers */
		_IO(VHMIO, 0x40), _IO(VHMIO, 0x80),	/* VM and vCPU bands */
		_IOR(VHMIO, 0x00, int),			/* right number, wrong size */
		_IOW(VHMIO, 0x01, __u64),
		_IO(0xAE, 0x00), _IO(0xAE, 0x03),	/* KVM's numbers */
		0, ~0u,
	};
	size_t i;

	RETURN_IF_SKIPPED();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-1, ioctl(self->fd, bad[i], 0)) TH_LOG("ioctl %#lx", bad[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("ioctl %#lx", bad[i]);
	}
}

TEST_F(sys, read_write_mmap_unsupported)
{
	char buf[8];

	RETURN_IF_SKIPPED();
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
}

/* ---------------------------------------------------------------------
 * Limits (issue 13, defect 7): VMs per user, vCPUs per VM.
 */

static int write_param(const char *name, unsigned int v)
{
	char path[128];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/sys/module/vhm/parameters/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	r = fprintf(f, "%u\n", v) < 0 ? -EIO : 0;
	if (fclose(f))
		r = -errno;
	return r;
}

/* In a child with uid, create n VMs on sys: how many it got. */
static int vms_as_user(int sys, uid_t uid, int n)
{
	int status, got = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(255);
		while (got < n && ioctl(sys, VHM_CREATE_VM, 0) >= 0)
			got++;
		_exit(got);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * max_vms_per_user: the next VM is ENOSPC; closing one makes room; another
 * user has a count of its own, so one user's VMs cannot lock others out.
 */
TEST_F(sys, vms_per_user_limited)
{
	struct stat kvm_st;
	int vm[3], i;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, write_param("max_vms_per_user", 2));
	for (i = 0; i < 2; i++) {
		vm[i] = ioctl(self->fd, VHM_CREATE_VM, 0);
		ASSERT_LE(0, vm[i]);
	}
	EXPECT_EQ(-1, ioctl(self->fd, VHM_CREATE_VM, 0));
	EXPECT_EQ(ENOSPC, errno);
	/*
	 * Another user (the fd was opened by root): two of its own. On top
	 * of KVM each VM holds a KVM VM made with the caller's rights, so
	 * that user needs /dev/kvm too (docs/API.md): granted for the call.
	 */
	if (vhm_test_on_kvm()) {
		ASSERT_EQ(0, stat("/dev/kvm", &kvm_st));
		ASSERT_EQ(0, chmod("/dev/kvm", 0666));
	}
	EXPECT_EQ(2, vms_as_user(self->fd, 4242, 3));
	if (vhm_test_on_kvm())
		chmod("/dev/kvm", kvm_st.st_mode & 07777);
	close(vm[0]);
	vm[2] = ioctl(self->fd, VHM_CREATE_VM, 0);
	EXPECT_LE(0, vm[2]);
	/* 0: no limit. */
	ASSERT_EQ(0, write_param("max_vms_per_user", 0));
	vm[0] = ioctl(self->fd, VHM_CREATE_VM, 0);
	EXPECT_LE(0, vm[0]);
	for (i = 0; i < 3; i++)
		if (vm[i] >= 0)
			close(vm[i]);
}

/* max_vcpus_per_vm: the next vCPU is ENOSPC, whatever its id. */
TEST_F(sys, vcpus_per_vm_limited)
{
	int vm, a, b;

	RETURN_IF_SKIPPED();
	ASSERT_EQ(0, write_param("max_vcpus_per_vm", 2));
	vm = ioctl(self->fd, VHM_CREATE_VM, 0);
	ASSERT_LE(0, vm);
	a = ioctl(vm, VHM_CREATE_VCPU, 5);
	b = ioctl(vm, VHM_CREATE_VCPU, 63);
	EXPECT_LE(0, a);
	EXPECT_LE(0, b);
	EXPECT_EQ(-1, ioctl(vm, VHM_CREATE_VCPU, 0));
	EXPECT_EQ(ENOSPC, errno);
	close(a);
	close(b);
	close(vm);
}

/* ---------------------------------------------------------------------
 * VHM_GET_MSR_LIST: the MSRs the module answers in the kernel, and how.
 */
#define MSR_LIST_ROOM	128

struct msr_list_buf {
	struct vhm_msr_list h;
	struct vhm_msr_info r[MSR_LIST_ROOM];
};

/* The module's list into *l; its length, or -1. */
static int msr_list(int fd, struct msr_list_buf *l)
{
	memset(l, 0, sizeof(*l));
	l->h.nranges = MSR_LIST_ROOM;
	if (ioctl(fd, VHM_GET_MSR_LIST, l))
		return -1;
	return l->h.nranges;
}

/* The range index lies in, or NULL. */
static const struct vhm_msr_info *msr_find(const struct msr_list_buf *l,
					   __u32 index)
{
	__u32 i;

	for (i = 0; i < l->h.nranges; i++)
		if (index >= l->r[i].first && index <= l->r[i].last)
			return &l->r[i];
	return NULL;
}

TEST_F(sys, cap_msr_list)
{
	RETURN_IF_SKIPPED();
	EXPECT_EQ(1, ioctl(self->fd, VHM_CHECK_EXTENSION, VHM_CAP_MSR_LIST));
}

/*
 * Sorted, disjoint, known handlings and flags; rows docs/API.md's table
 * gives for this vendor, and none of the other vendor's.
 */
TEST_F(sys, msr_list_is_sorted_and_has_known_rows)
{
	const struct vhm_msr_info *r;
	struct msr_list_buf l;
	int n, i;

	RETURN_IF_SKIPPED();
	n = msr_list(self->fd, &l);
	ASSERT_LT(10, n);
	for (i = 0; i < n; i++) {
		EXPECT_LE(l.r[i].first, l.r[i].last);
		if (i)
			EXPECT_LT(l.r[i - 1].last, l.r[i].first) TH_LOG("row %d", i);
		EXPECT_LE(VHM_MSR_VIRTUALIZED, l.r[i].handling);
		EXPECT_GE(VHM_MSR_WRITE_IGNORED, l.r[i].handling);
		EXPECT_EQ(0, l.r[i].flags & ~(VHM_MSR_INFO_LAPIC | VHM_MSR_INFO_X2APIC));
	}
	r = msr_find(&l, 0xc0000080);		/* EFER */
	ASSERT_NE(NULL, r);
	EXPECT_EQ(VHM_MSR_VIRTUALIZED, r->handling);
	EXPECT_EQ(0, r->flags);
	r = msr_find(&l, 0xfe);			/* MTRRcap */
	ASSERT_NE(NULL, r);
	EXPECT_EQ(VHM_MSR_READ_ONLY, r->handling);
	r = msr_find(&l, 0x8b);			/* UCODE_REV */
	ASSERT_NE(NULL, r);
	EXPECT_EQ(VHM_MSR_WRITE_IGNORED, r->handling);
	r = msr_find(&l, 0x830);		/* x2APIC ICR */
	ASSERT_NE(NULL, r);
	EXPECT_EQ(VHM_MSR_INFO_LAPIC | VHM_MSR_INFO_X2APIC, r->flags);
	r = msr_find(&l, 0x6e0);		/* TSC_DEADLINE */
	ASSERT_NE(NULL, r);
	EXPECT_EQ(VHM_MSR_INFO_LAPIC, r->flags);
	EXPECT_EQ(NULL, msr_find(&l, 0x179));	/* MCG_CAP: deliberately unknown */
	EXPECT_EQ(NULL, msr_find(&l, 0x48));	/* SPEC_CTRL */
	EXPECT_EQ(NULL, msr_find(&l, 0xc0010200)); /* Family 15h counters */
	if (host_vendor() == VENDOR_AMD) {
		r = msr_find(&l, 0xc0010000);	/* the legacy PMU */
		ASSERT_NE(NULL, r);
		EXPECT_EQ(0xc0010000, r->first);
		EXPECT_EQ(0xc0010007, r->last);
		EXPECT_EQ(VHM_MSR_READ_ZERO, r->handling);
		r = msr_find(&l, 0xc0010010);	/* SYSCFG */
		ASSERT_NE(NULL, r);
		EXPECT_EQ(VHM_MSR_READ_ZERO_GP, r->handling);
		r = msr_find(&l, 0xc0010015);	/* HWCR */
		ASSERT_NE(NULL, r);
		EXPECT_EQ(VHM_MSR_VIRTUALIZED, r->handling);
		EXPECT_EQ(NULL, msr_find(&l, 0xc1));
		EXPECT_EQ(NULL, msr_find(&l, 0x17));
	} else {
		r = msr_find(&l, 0xc1);		/* IA32_PMC0 */
		ASSERT_NE(NULL, r);
		EXPECT_EQ(VHM_MSR_READ_ZERO, r->handling);
		r = msr_find(&l, 0x17);		/* PLATFORM_ID */
		ASSERT_NE(NULL, r);
		EXPECT_EQ(VHM_MSR_READ_ZERO_GP, r->handling);
		EXPECT_EQ(NULL, msr_find(&l, 0xc0010000));
		EXPECT_EQ(NULL, msr_find(&l, 0xc0010015));
	}
}

TEST_F(sys, msr_list_rejects_flags_and_reserved)
{
	struct msr_list_buf l;

	RETURN_IF_SKIPPED();
	memset(&l, 0, sizeof(l));
	l.h.nranges = MSR_LIST_ROOM;
	l.h.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_MSR_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	l.h.flags = 0x80000000u;
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_MSR_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	l.h.flags = 0;
	l.h.reserved = 1ull << 63;
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_MSR_LIST, &l));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing was written back. */
	EXPECT_EQ(MSR_LIST_ROOM, l.h.nranges);
	EXPECT_EQ(0, l.r[0].last);
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_MSR_LIST, NULL));
	EXPECT_EQ(EFAULT, errno);
}

/* Too little room: E2BIG, nranges says how much is needed, no entry written. */
TEST_F(sys, msr_list_too_small_is_e2big)
{
	struct msr_list_buf l, full;
	int n;

	RETURN_IF_SKIPPED();
	n = msr_list(self->fd, &full);
	ASSERT_LT(1, n);
	memset(&l, 0, sizeof(l));
	l.h.nranges = 0;
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_MSR_LIST, &l));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(n, l.h.nranges);
	memset(&l, 0, sizeof(l));
	l.h.nranges = n - 1;
	EXPECT_EQ(-1, ioctl(self->fd, VHM_GET_MSR_LIST, &l));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(n, l.h.nranges);
	EXPECT_EQ(0, l.r[0].last);
	/* Exactly enough room. */
	memset(&l, 0, sizeof(l));
	l.h.nranges = n;
	EXPECT_EQ(0, ioctl(self->fd, VHM_GET_MSR_LIST, &l));
	EXPECT_EQ(n, l.h.nranges);
	EXPECT_EQ(0, memcmp(full.r, l.r, n * sizeof(l.r[0])));
}

/*
 * The list says what VHM_GET_MSRS finds: every MSR of a range without
 * conditions reads on a vCPU without an in-kernel APIC, the MSRs around
 * each range that are in no range do not, and the LAPIC rows do not there
 * either (no in-kernel APIC: unknown).
 */
TEST_F(sys, msr_list_matches_get_msrs)
{
	struct {
		struct vhm_msrs h;
		struct vhm_msr_entry e[1];
	} m;
	struct msr_list_buf l;
	int n, i, vm, vcpu;
	__u32 idx, probe[3];
	unsigned int p;

	RETURN_IF_SKIPPED();
	n = msr_list(self->fd, &l);
	ASSERT_LT(0, n);
	vm = ioctl(self->fd, VHM_CREATE_VM, 0);
	ASSERT_LE(0, vm);
	vcpu = ioctl(vm, VHM_CREATE_VCPU, 0);
	ASSERT_LE(0, vcpu);
	for (i = 0; i < n; i++) {
		for (idx = l.r[i].first; idx <= l.r[i].last; idx++) {
			memset(&m, 0, sizeof(m));
			m.h.nmsrs = 1;
			m.e[0].index = idx;
			EXPECT_EQ(l.r[i].flags ? 0 : 1,
				  ioctl(vcpu, VHM_GET_MSRS, &m))
				TH_LOG("MSR %#x (flags %#x)", idx, l.r[i].flags);
			if (idx == l.r[i].last)
				break;
		}
		probe[0] = l.r[i].first - 1;
		probe[1] = l.r[i].last + 1;
		probe[2] = l.r[i].last + 0x100;
		for (p = 0; p < 3; p++) {
			if (msr_find(&l, probe[p]))
				continue;
			memset(&m, 0, sizeof(m));
			m.h.nmsrs = 1;
			m.e[0].index = probe[p];
			EXPECT_EQ(0, ioctl(vcpu, VHM_GET_MSRS, &m))
				TH_LOG("MSR %#x, in no range, is known", probe[p]);
		}
	}
	close(vcpu);
	close(vm);
}

TEST_HARNESS_MAIN
