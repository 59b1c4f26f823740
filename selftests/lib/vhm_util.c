// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/kvm.h>

#include "vhm_util.h"

enum vhm_vendor host_vendor(void)
{
	static enum vhm_vendor cached = -1;
	char line[4096];
	FILE *f;

	if ((int)cached != -1)
		return cached;
	cached = VENDOR_NONE;
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return cached;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		if (strstr(line, " svm"))
			cached = VENDOR_AMD;
		else if (strstr(line, " vmx"))
			cached = VENDOR_INTEL;
		break;
	}
	fclose(f);
	return cached;
}

bool host_is_qemu_tcg(void)
{
	unsigned int a, b, c, d;
	char sig[13];

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 31)))		/* no hypervisor */
		return false;
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	return !strcmp(sig, "TCGTCGTCGTCG");
}

const char *kvm_vendor_module(void)
{
	return host_vendor() == VENDOR_AMD ? "kvm_amd" : "kvm_intel";
}

const char *vhm_module_path(void)
{
	static char path[256];
	struct utsname u;

	if (getenv("VHM_MODULE"))
		return getenv("VHM_MODULE");
	uname(&u);
	snprintf(path, sizeof(path), "/lib/modules/%s/extra/vhm.ko", u.release);
	return path;
}

int module_load(const char *path, const char *params)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = syscall(SYS_finit_module, fd, params ? params : "", 0);
	r = r ? -errno : 0;
	close(fd);
	return r;
}

int module_unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

bool module_loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return access(path, F_OK) == 0;
}

bool vhm_test_on_kvm(void)
{
	return getenv("VHM_TEST_ON_KVM") && kernel_owns_virt();
}

int vhm_load(const char *params)
{
	if (vhm_test_on_kvm() && !module_loaded(kvm_vendor_module()) &&
	    modprobe(kvm_vendor_module()))
		return -ENODEV;
	return vhm_load_alone(params);
}

int vhm_load_alone(const char *params)
{
	return module_load(vhm_module_path(), params);
}

int vhm_unload(void)
{
	return module_unload("vhm");
}

int modprobe(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "modprobe %s", name);
	return system(cmd);
}

void kvm_unload_all(void)
{
	if (module_loaded("kvm_amd"))
		module_unload("kvm_amd");
	if (module_loaded("kvm_intel"))
		module_unload("kvm_intel");
	if (module_loaded("kvm"))
		module_unload("kvm");
}

void host_reset_all(void)
{
	if (module_loaded("vhm"))
		vhm_unload();
	kvm_unload_all();
}

void host_reset(void)
{
	/*
	 * On top of KVM (VHM_TEST_ON_KVM) KVM's vendor module stays: vhm
	 * needs it loaded, and unloading and loading it again for each test
	 * costs Bochs half a minute and more.
	 */
	if (!vhm_test_on_kvm())
		return host_reset_all();
	if (module_loaded("vhm"))
		vhm_unload();
}

int kmsg_open(struct kmsg_log *k)
{
	k->text = NULL;
	k->len = 0;
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0)
		return -errno;
	lseek(k->fd, 0, SEEK_END);
	return 0;
}

void kmsg_close(struct kmsg_log *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	free(k->text);
	k->text = NULL;
}

/* Append the records written since the last call to k->text. */
static void kmsg_drain(struct kmsg_log *k)
{
	char rec[8192], *msg, *grown;
	size_t mlen;
	ssize_t n;

	for (;;) {
		n = read(k->fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten: go on */
		if (n <= 0)
			return;
		rec[n] = 0;
		/* "prio,seq,time,flags;message\n" */
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		mlen = strcspn(msg, "\n");
		grown = realloc(k->text, k->len + mlen + 2);
		if (!grown)
			return;
		k->text = grown;
		memcpy(k->text + k->len, msg, mlen);
		k->len += mlen;
		k->text[k->len++] = '\n';
		k->text[k->len] = 0;
	}
}

bool kmsg_find(struct kmsg_log *k, const char *needle, char *line, size_t len)
{
	char *hit, *start, *end;

	kmsg_drain(k);
	hit = k->text ? strstr(k->text, needle) : NULL;
	if (!hit)
		return false;
	if (line) {
		for (start = hit; start > k->text && start[-1] != '\n'; start--)
			;
		end = strchr(hit, '\n');
		snprintf(line, len, "%.*s", (int)(end - start), start);
	}
	return true;
}

int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	if (n < 0)
		n = -errno;
	close(fd);
	buf[got] = 0;
	return n < 0 ? n : 0;
}

int write_text(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? n : 0;
}

int cgroup_make(const char *cg)
{
	char ctl[256];

	if (access(CGROOT "/cgroup.controllers", R_OK) &&
	    mount("cgroup2", CGROOT, "cgroup2", 0, NULL))
		return -errno;
	if (read_text(CGROOT "/cgroup.controllers", ctl, sizeof(ctl)) ||
	    !strstr(ctl, "memory"))
		return -ENOENT;
	if (write_text(CGROOT "/cgroup.subtree_control", "+memory"))
		return -EIO;
	rmdir(cg);	/* left by a killed run */
	return mkdir(cg, 0755) ? -errno : 0;
}

/* Does process pid (a /proc entry) hold a vhm fd open? */
static bool holds_vhm(const char *pid)
{
	char path[600], target[256];
	struct dirent *f;
	bool found = false;
	DIR *fds;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	fds = opendir(path);
	while (fds && !found && (f = readdir(fds))) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, f->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		found = strstr(target, "/dev/vhm") || strstr(target, "vhm-vm") ||
			strstr(target, "vhm-vcpu");
	}
	if (fds)
		closedir(fds);
	return found;
}

int vhm_fd_holders(pid_t *pids, int max)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;
	int n = 0;

	while (proc && (p = readdir(proc))) {
		if (p->d_name[0] < '0' || p->d_name[0] > '9' ||
		    atoi(p->d_name) == getpid() || !holds_vhm(p->d_name))
			continue;
		if (n < max)
			pids[n] = atoi(p->d_name);
		n++;
	}
	if (proc)
		closedir(proc);
	return n;
}

double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int cpu_set_online(int cpu, bool online)
{
	char path[96];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, online ? "1" : "0", 1) != 1)
		r = -errno;
	close(fd);
	return r;
}

int nr_cpus_online(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

int read_msr(int cpu, uint32_t msr, uint64_t *val)
{
	char path[64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/dev/cpu/%d/msr", cpu);
	if (access(path, F_OK))
		modprobe("msr");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, val, sizeof(*val), msr) != sizeof(*val))
		r = -EIO;
	close(fd);
	return r;
}

int kvm_try_create_vm(void)
{
	int kvm, vm, r = 0;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return -errno;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		r = -errno;
	else
		close(vm);
	close(kvm);
	return r;
}

int kvm_hold_vm(struct kvm_holder *h)
{
	int ready[2], release[2], r = 0;
	int kvm, vm;
	char c;

	if (pipe(ready) || pipe(release))
		return -errno;
	h->pid = fork();
	if (h->pid < 0)
		return -errno;
	if (h->pid == 0) {
		close(ready[0]);
		close(release[1]);
		kvm = open("/dev/kvm", O_RDWR);
		vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
		r = vm < 0 ? -errno : 0;
		if (write(ready[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		/* Hold the VM until the parent closes its end. */
		if (read(release[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	h->release_fd = release[1];
	if (read(ready[0], &r, sizeof(r)) != sizeof(r))
		r = -EIO;
	close(ready[0]);
	return r;
}

void kvm_release_vm(struct kvm_holder *h)
{
	close(h->release_fd);
	waitpid(h->pid, NULL, 0);
}

bool kernel_owns_virt(void)
{
	static int owns = -1;
	char line[256];
	FILE *f;

	if (owns >= 0)
		return owns;
	owns = 0;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, ' ');

		if (name && !strcmp(name + 1, "x86_virt_get_ref\n")) {
			owns = 1;
			break;
		}
	}
	fclose(f);
	return owns;
}
