// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vhm_util.h"
#include "vhm_vm.h"

static int ret(int r)
{
	return r < 0 ? -errno : r;
}

/*
 * State the harness' forked test processes leave for the parent process
 * (and later tests): memory shared across fork().
 */
static volatile struct {
	int vhm_left_loaded;	/* a fixture loaded vhm and left it loaded */
} *shared;

__attribute__((constructor)) static void shared_map(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	shared = p == MAP_FAILED ? NULL : p;
}

/* The program ends (the harness' parent): vhm unloaded as it was found. */
__attribute__((destructor)) static void shared_unload(void)
{
	if (shared && shared->vhm_left_loaded && module_loaded("vhm") &&
	    vhm_unload())
		fprintf(stderr, "# vhm_vm: could not unload vhm at exit\n");
}

int vhm_guests_host_ready(void)
{
	int r;

	/*
	 * VHM_TEST_ON_KVM=1 (a test host's kernel command line passes it to
	 * init): the guests run with kvm_amd or kvm_intel loaded, where vhm
	 * runs on top of KVM (7.x) instead of turning virtualization on
	 * itself (or, with VMX, refusing).
	 */
	if (vhm_test_on_kvm()) {
		if (!module_loaded(kvm_vendor_module()) && module_loaded("vhm"))
			vhm_unload();
		if (modprobe(kvm_vendor_module()))
			return -ENODEV;
	} else {
		kvm_unload_all();
	}
	if (module_loaded("vhm"))
		return 0;
	r = vhm_load(NULL);
	if (!r && shared)
		shared->vhm_left_loaded = 1;
	return r;
}

int vhm_sys_open(void)
{
	return ret(open("/dev/vhm", O_RDWR | O_CLOEXEC));
}

int vhm_vm_create(int sys)
{
	return ret(ioctl(sys, VHM_CREATE_VM, 0));
}

int vhm_vcpu_create(int vm, int id, struct test_vcpu *vcpu)
{
	void *run;

	vcpu->fd = ret(ioctl(vm, VHM_CREATE_VCPU, id));
	if (vcpu->fd < 0)
		return vcpu->fd;
	run = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int e = errno;

		close(vcpu->fd);
		vcpu->fd = -1;
		return -e;
	}
	vcpu->run = run;
	return 0;
}

void vhm_vcpu_close(struct test_vcpu *vcpu)
{
	munmap(vcpu->run, 4096);
	close(vcpu->fd);
}

int vhm_set_slot(int vm, uint32_t slot, uint32_t flags, uint64_t gpa,
		 uint64_t size, void *hva)
{
	struct vhm_memory_slot m = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	return ret(ioctl(vm, VHM_SET_MEMORY_SLOT, &m));
}

void *guest_ram(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int vhm_run(struct test_vcpu *vcpu)
{
	return ret(ioctl(vcpu->fd, VHM_RUN, 0));
}

int vhm_get_regs(struct test_vcpu *vcpu, struct vhm_regs *regs)
{
	return ret(ioctl(vcpu->fd, VHM_GET_REGS, regs));
}

int vhm_set_regs(struct test_vcpu *vcpu, const struct vhm_regs *regs)
{
	return ret(ioctl(vcpu->fd, VHM_SET_REGS, regs));
}

int vhm_get_sregs(struct test_vcpu *vcpu, struct vhm_sregs *sregs)
{
	return ret(ioctl(vcpu->fd, VHM_GET_SREGS, sregs));
}

int vhm_set_sregs(struct test_vcpu *vcpu, const struct vhm_sregs *sregs)
{
	return ret(ioctl(vcpu->fd, VHM_SET_SREGS, sregs));
}

int vhm_get_events(struct test_vcpu *vcpu, struct vhm_vcpu_events *ev)
{
	return ret(ioctl(vcpu->fd, VHM_GET_VCPU_EVENTS, ev));
}

int vhm_set_events(struct test_vcpu *vcpu, const struct vhm_vcpu_events *ev)
{
	return ret(ioctl(vcpu->fd, VHM_SET_VCPU_EVENTS, ev));
}

int vhm_real_mode_at(struct test_vcpu *vcpu, uint16_t ip)
{
	struct vhm_sregs s;
	struct vhm_regs r;
	int e;

	e = vhm_get_sregs(vcpu, &s);
	if (e)
		return e;
	s.cs.base = 0;
	s.cs.selector = 0;
	e = vhm_set_sregs(vcpu, &s);
	if (e)
		return e;
	memset(&r, 0, sizeof(r));
	r.rip = ip;
	r.rflags = 2;
	r.rsp = 0xfff0;
	return vhm_set_regs(vcpu, &r);
}

void *vhm_io_data(struct test_vcpu *vcpu)
{
	return (char *)vcpu->run + vcpu->run->io.data_offset;
}

int real_vm_create(struct real_vm *v, const void *code, size_t len,
		   int nr_vcpus)
{
	int i, r;

	memset(v, 0, sizeof(*v));
	v->vm = -1;
	for (i = 0; i < REAL_VM_MAX_VCPUS; i++)
		v->vcpu[i].fd = -1;
	if (nr_vcpus < 1 || nr_vcpus > REAL_VM_MAX_VCPUS ||
	    len > REAL_VM_RAM - REAL_VM_CODE)
		return -EINVAL;
	v->sys = vhm_sys_open();
	if (v->sys < 0)
		return v->sys;
	v->vm = vhm_vm_create(v->sys);
	if (v->vm < 0)
		return v->vm;
	v->ram = guest_ram(REAL_VM_RAM);
	if (!v->ram)
		return -ENOMEM;
	memcpy((char *)v->ram + REAL_VM_CODE, code, len);
	r = vhm_set_slot(v->vm, 0, 0, 0, REAL_VM_RAM, v->ram);
	for (i = 0; !r && i < nr_vcpus; i++) {
		r = vhm_vcpu_create(v->vm, i, &v->vcpu[i]);
		if (!r)
			r = vhm_real_mode_at(&v->vcpu[i], REAL_VM_CODE);
	}
	return r;
}

void real_vm_close(struct real_vm *v)
{
	int i;

	for (i = 0; i < REAL_VM_MAX_VCPUS; i++)
		if (v->vcpu[i].fd >= 0)
			vhm_vcpu_close(&v->vcpu[i]);
	if (v->vm >= 0)
		close(v->vm);
	if (v->sys >= 0)
		close(v->sys);
	if (v->ram)
		munmap(v->ram, REAL_VM_RAM);
}
