/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for vhm's selftests: loading and unloading vhm.ko and the stock
 * KVM modules, the kernel log, CPU hotplug and MSRs of the test host.
 */
#ifndef VHM_UTIL_H
#define VHM_UTIL_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <unistd.h>

/* REQUIRE_VHM_HOST() uses SKIP() from kselftest_harness.h, included first. */

/*
 * Each test's time limit. The harness's 30 s is too little in the Intel
 * test host, where Bochs runs the whole kernel at a few hundred MIPS; the
 * test host's runner bounds the whole suite as well.
 */
#ifdef TEST_TIMEOUT_DEFAULT
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600
#endif

enum vhm_vendor { VENDOR_NONE, VENDOR_AMD, VENDOR_INTEL };

/* The CPU's virtualization extension per /proc/cpuinfo (svm or vmx flag). */
enum vhm_vendor host_vendor(void);
/* "kvm_amd" or "kvm_intel". */
const char *kvm_vendor_module(void);
/* The test host is QEMU's TCG emulator (the AMD one): CPUID's signature. */
bool host_is_qemu_tcg(void);
/* The path of vhm.ko: $VHM_MODULE, else /lib/modules/$(uname -r)/extra/vhm.ko. */
const char *vhm_module_path(void);

/* finit_module()/delete_module(): 0 or -errno, nothing printed. */
int module_load(const char *path, const char *params);
int module_unload(const char *name);
bool module_loaded(const char *name);
/* vhm.ko loaded (with the KVM vendor module first under vhm_test_on_kvm()). */
int vhm_load(const char *params);
/* vhm.ko alone, whatever VHM_TEST_ON_KVM says (tests that manage KVM). */
int vhm_load_alone(const char *params);
int vhm_unload(void);
/* Unload kvm_amd, kvm_intel and kvm where loaded. */
void kvm_unload_all(void);
/*
 * Every test starts from a clean host: vhm unloaded, and KVM too unless
 * the tests run on top of KVM (vhm_test_on_kvm()), where it stays loaded.
 */
void host_reset(void);
/* vhm and KVM unloaded, whatever VHM_TEST_ON_KVM says (kvm_test, coexist_test). */
void host_reset_all(void);
/* modprobe NAME (stock modules of the test host); 0 or the exit status. */
int modprobe(const char *name);

/*
 * Skip (never pass) when the test cannot run here: not root, no vhm.ko,
 * or a CPU without AMD-V/VT-x.
 */
#define REQUIRE_VHM_HOST()						\
	do {								\
		if (geteuid() != 0)					\
			SKIP(return, "needs root");			\
		if (access(vhm_module_path(), R_OK))			\
			SKIP(return, "no vhm.ko at %s (set VHM_MODULE)",	\
			     vhm_module_path());			\
		if (host_vendor() == VENDOR_NONE)			\
			SKIP(return, "CPU has neither SVM nor VMX");	\
	} while (0)

/*
 * First line of every TEST_F body: the harness of 6.1 runs the body even
 * when FIXTURE_SETUP skipped.
 */
#define RETURN_IF_SKIPPED()						\
	do {								\
		if (_metadata->skip)					\
			return;						\
	} while (0)

/*
 * First line of a TEST_F body whose case applies in one of vhm's modes
 * only (own enablement, on top of KVM): else SKIP with why.
 */
#define REQUIRE_MODE(applies, why)					\
	do {								\
		RETURN_IF_SKIPPED();					\
		if (!(applies))						\
			SKIP(return, "%s", why);			\
	} while (0)

/* The kernel log from the moment kmsg_open() was called. */
struct kmsg_log {
	int fd;
	char *text;	/* messages read so far, one per line */
	size_t len;
};
int kmsg_open(struct kmsg_log *k);
void kmsg_close(struct kmsg_log *k);
/* Is there a message containing needle since kmsg_open()? Copy its line. */
bool kmsg_find(struct kmsg_log *k, const char *needle, char *line, size_t len);

/*
 * Small files of /proc, /sys and cgroupfs: 0 or -errno. read_text() reads
 * to the end or to len - 1 bytes and NUL-terminates buf; write_text()
 * writes s with one write().
 */
int read_text(const char *path, char *buf, size_t len);
int write_text(const char *path, const char *s);

/*
 * A memory cgroup (a directory under CGROOT, created afresh): cgroup v2
 * mounted at CGROOT if it is not there yet, the memory controller enabled
 * for the root's children. 0 or -errno (-ENOENT: no memory controller).
 */
#define CGROOT		"/sys/fs/cgroup"
int cgroup_make(const char *cg);

/*
 * The processes other than this one that hold /dev/vhm, a VM or a vCPU fd
 * open: how many, and the first max of their pids in pids[].
 */
int vhm_fd_holders(pid_t *pids, int max);
/* CLOCK_MONOTONIC, in milliseconds. */
double now_ms(void);

/* /sys/devices/system/cpu/cpuN/online; 0 or -errno. */
int cpu_set_online(int cpu, bool online);
int nr_cpus_online(void);
/* Read an MSR of one CPU through /dev/cpu/N/msr (loads msr.ko). */
int read_msr(int cpu, uint32_t msr, uint64_t *val);

#define MSR_EFER	0xc0000080
#define EFER_SVME	(1ull << 12)

/* A KVM VM kept alive in a child process, so KVM holds the hardware. */
struct kvm_holder {
	int pid;
	int release_fd;
};
/* 0 when the child created the VM; -errno of KVM_CREATE_VM otherwise. */
int kvm_hold_vm(struct kvm_holder *h);
void kvm_release_vm(struct kvm_holder *h);
/* Open /dev/kvm and create (and close) one VM: 0 or -errno. */
int kvm_try_create_vm(void);
/*
 * The kernel turns VMX/SVM on itself, for KVM (7.x: x86_virt_get_ref() in
 * /proc/kallsyms). vhm then runs on top of KVM (AMD) or refuses (Intel)
 * instead of refusing beside KVM (docs/ARCHITECTURE.md, "Compatibility").
 */
bool kernel_owns_virt(void);
/*
 * VHM_TEST_ON_KVM=1 (a test host's kernel command line) on a kernel that
 * owns VMX/SVM (7.x): vhm runs on top of KVM's enablement; vhm_load()
 * loads the KVM vendor module first.
 */
bool vhm_test_on_kvm(void);

#endif /* VHM_UTIL_H */
