// SPDX-License-Identifier: GPL-2.0
/*
 * vm-busy: keep vhm busy until the host reboots under it (issue 13, defect
 * 11). Two VMs: one vCPU spins in the guest (jmp .) and never exits on its
 * own, the other exits to userspace on every instruction pair (OUT) and
 * reads its registers between runs. The test host starts it in the
 * background right before kexec and power-off: the reboot notifier turns
 * virtualization off under both, and vhm must end their runs cleanly
 * (VHM_RUN fails with EIO) instead of oopsing on the next entry or VMCS
 * access. It prints one line per vCPU when its run ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhm.h>

#define RESET_BASE	0xffff0000ull	/* CS.base at RESET; RIP is 0xfff0 */
#define RESET_SIZE	0x10000ull

struct busy {
	const char *name;
	const unsigned char *code;
	size_t len;
	int vcpu;
	struct vhm_run *run;
};

static int busy_vm(int sys, struct busy *b)
{
	struct vhm_memory_slot m = { 0 };
	unsigned char *ram;
	long size;
	int vm;

	vm = ioctl(sys, VHM_CREATE_VM, 0);
	ram = mmap(NULL, RESET_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || ram == MAP_FAILED)
		return -1;
	memcpy(ram + 0xfff0, b->code, b->len);
	m.guest_phys_addr = RESET_BASE;
	m.size = RESET_SIZE;
	m.userspace_addr = (unsigned long)ram;
	if (ioctl(vm, VHM_SET_MEMORY_SLOT, &m))
		return -1;
	b->vcpu = ioctl(vm, VHM_CREATE_VCPU, 0);
	size = ioctl(sys, VHM_GET_VCPU_MMAP_SIZE, 0);
	if (b->vcpu < 0 || size <= 0)
		return -1;
	b->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->vcpu, 0);
	return b->run == MAP_FAILED ? -1 : 0;
}

static void *busy_thread(void *arg)
{
	struct busy *b = arg;
	struct vhm_sregs sregs;
	struct vhm_regs regs;
	unsigned long runs = 0;

	for (;;) {
		if (ioctl(b->vcpu, VHM_RUN, 0)) {
			if (errno == EINTR)
				continue;
			break;
		}
		runs++;
		if (ioctl(b->vcpu, VHM_GET_REGS, &regs) ||
		    ioctl(b->vcpu, VHM_GET_SREGS, &sregs))
			break;
	}
	printf("vm-busy: %s: VHM_RUN or a register read failed after %lu runs: %s\n",
	       b->name, runs, strerror(errno));
	fflush(stdout);
	return NULL;
}

int main(void)
{
	static const unsigned char spin[] = { 0xeb, 0xfe };	/* jmp . */
	static const unsigned char outs[] = {
		0xe6, 0x80,		/* out %al, $0x80 */
		0xeb, 0xfc,		/* jmp back to it */
	};
	struct busy b[2] = {
		{ .name = "spinning vCPU", .code = spin, .len = sizeof(spin) },
		{ .name = "exiting vCPU", .code = outs, .len = sizeof(outs) },
	};
	pthread_t t[2];
	int sys, i;

	sys = open("/dev/vhm", O_RDWR | O_CLOEXEC);
	if (sys < 0) {
		perror("vm-busy: /dev/vhm");
		return 1;
	}
	for (i = 0; i < 2; i++) {
		if (busy_vm(sys, &b[i])) {
			perror("vm-busy: creating a VM");
			return 1;
		}
	}
	printf("vm-busy: 2 VMs running\n");
	fflush(stdout);
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, busy_thread, &b[i]);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return 0;
}
