// SPDX-License-Identifier: GPL-2.0
/*
 * The host side of include/guest.h: a VM whose RAM holds this very program
 * (its PT_LOAD segments at their link addresses), the long-mode tables,
 * vCPUs started in long, protected or real mode, and ucalls.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "guest.h"

#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_US		(1ull << 2)
#define PTE_PS		(1ull << 7)
#define SIZE_2M		(2ull << 20)

/* GDT descriptors: flags in bits 52-55, access byte in bits 40-47. */
#define DESC_CODE64	0x00af9b000000ffffull	/* G, L, P, S, type 0xb */
#define DESC_DATA	0x00cf93000000ffffull	/* G, DB, P, S, type 3 */
#define DESC_CODE32	0x00cf9b000000ffffull	/* G, DB, P, S, type 0xb */
#define DESC_UCODE64	0x00affb000000ffffull	/* as CODE64, DPL 3 */
#define DESC_UDATA	0x00cff3000000ffffull	/* as DATA, DPL 3 */
#define TSS_LIMIT	0x67
#define IDT_GATE_INTR	0x8e	/* P, DPL 0, 64-bit interrupt gate */
#define IDT_GATE_USER	0xee	/* P, DPL 3: INT n allowed at CPL 3 */

#define SEG_CODE	(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(0xb))
#define SEG_DATA	(VHM_SEG_P | VHM_SEG_S | VHM_SEG_TYPE(3))
#define SEG_TSS_BUSY	(VHM_SEG_P | VHM_SEG_TYPE(0xb))
#define SEG_LDT		(VHM_SEG_P | VHM_SEG_TYPE(2))

/* lib/guest_x86_stubs.S */
extern const uint64_t guest_exception_stubs[GUEST_NR_VECTORS];
extern const char guest_return_stub[];

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

void *guest_gpa_to_hva(struct guest_vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa >= vm->ram_size || len > vm->ram_size - gpa)
		return NULL;
	return vm->ram + gpa;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n;

	while (len) {
		n = pread(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EIO;
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

static int open_self(Elf64_Ehdr *eh)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = pread_full(fd, eh, sizeof(*eh), 0);
	if (!r && (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
		   eh->e_ident[EI_CLASS] != ELFCLASS64 ||
		   eh->e_machine != EM_X86_64))
		r = -ENOEXEC;
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Every PT_LOAD segment of this program at its own address: file bytes,
 * then zeros (RAM is fresh anonymous memory). A PIE would load elsewhere
 * in the host than its link addresses: only ET_EXEC is accepted.
 */
static int guest_load_image(struct guest_vm *vm)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, i, r = 0;

	fd = open_self(&eh);
	if (fd < 0)
		return fd;
	if (eh.e_type != ET_EXEC || eh.e_phentsize != sizeof(ph)) {
		r = -ENOEXEC;
		goto out;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		r = pread_full(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph));
		if (r)
			goto out;
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_vaddr < GUEST_IMAGE || ph.p_filesz > ph.p_memsz ||
		    !guest_gpa_to_hva(vm, ph.p_vaddr, ph.p_memsz)) {
			r = -E2BIG;
			goto out;
		}
		r = pread_full(fd, vm->ram + ph.p_vaddr, ph.p_filesz,
			       ph.p_offset);
		if (r)
			goto out;
		if (ph.p_vaddr + ph.p_memsz > vm->image_end)
			vm->image_end = ph.p_vaddr + ph.p_memsz;
	}
	if (!vm->image_end)
		r = -ENOEXEC;
out:
	close(fd);
	return r;
}

static void guest_build_gdt(struct guest_vm *vm)
{
	uint64_t *gdt = (uint64_t *)(vm->ram + GUEST_GDT);
	uint64_t tss = GUEST_TSS;

	gdt[GUEST_SEL_CODE64 / 8] = DESC_CODE64;
	gdt[GUEST_SEL_DATA / 8] = DESC_DATA;
	gdt[GUEST_SEL_CODE32 / 8] = DESC_CODE32;
	gdt[GUEST_SEL_USER_DATA / 8] = DESC_UDATA;
	gdt[GUEST_SEL_USER_CODE64 / 8] = DESC_UCODE64;
	/* A 64-bit TSS takes two slots; busy, as TR is loaded with it. */
	gdt[GUEST_SEL_TSS / 8] = TSS_LIMIT | (tss & 0xffffff) << 16 |
				 (uint64_t)(VHM_SEG_P | VHM_SEG_TYPE(0xb)) << 40 |
				 ((tss >> 24) & 0xff) << 56;
	gdt[GUEST_SEL_TSS / 8 + 1] = tss >> 32;
	/* The TSS stays zero (no IST) but for RSP0 (guest_enter_user()). */
}

static void guest_build_idt(struct guest_vm *vm)
{
	uint64_t *idt = (uint64_t *)(vm->ram + GUEST_IDT);
	int v;

	for (v = 0; v < GUEST_NR_VECTORS; v++) {
		uint64_t a = guest_exception_stubs[v];
		uint64_t type = v == GUEST_VEC_LEAVE_USER ? IDT_GATE_USER :
				IDT_GATE_INTR;

		idt[2 * v] = (a & 0xffff) | (uint64_t)GUEST_SEL_CODE64 << 16 |
			     type << 40 |
			     ((a >> 16) & 0xffff) << 48;
		idt[2 * v + 1] = a >> 32;
	}
}

/*
 * Identity map 0 .. GUEST_MAPPED_END with 2 MiB pages: supervisor pages
 * from GUEST_PML4, user pages (U/S at every level) from GUEST_PML4_USER.
 */
static void guest_build_map(struct guest_vm *vm, uint64_t pml4_gpa,
			    uint64_t pdpt_gpa, uint64_t pd_gpa, uint64_t flags)
{
	uint64_t *pml4 = (uint64_t *)(vm->ram + pml4_gpa);
	uint64_t *pdpt = (uint64_t *)(vm->ram + pdpt_gpa);
	uint64_t *pd = (uint64_t *)(vm->ram + pd_gpa);
	uint64_t i;

	pml4[0] = pdpt_gpa | flags;
	for (i = 0; i < GUEST_MAPPED_END >> 30; i++)
		pdpt[i] = (pd_gpa + i * 4096) | flags;
	for (i = 0; i < GUEST_MAPPED_END / SIZE_2M; i++)
		pd[i] = i * SIZE_2M | flags | PTE_PS;
}

static void guest_build_page_tables(struct guest_vm *vm)
{
	guest_build_map(vm, GUEST_PML4, GUEST_PDPT, GUEST_PD, PTE_P | PTE_RW);
	guest_build_map(vm, GUEST_PML4_USER, GUEST_PDPT_USER, GUEST_PD_USER,
			PTE_P | PTE_RW | PTE_US);
}

int guest_vm_create(struct guest_vm *vm, int sys)
{
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->fd = vhm_vm_create(sys);
	if (vm->fd < 0)
		return vm->fd;
	vm->ram_size = GUEST_RAM_SIZE;
	vm->ram = guest_ram(vm->ram_size);
	if (!vm->ram) {
		r = -ENOMEM;
		goto close_vm;
	}
	r = vhm_set_slot(vm->fd, 0, 0, 0, vm->ram_size, vm->ram);
	if (r)
		goto free_ram;
	r = guest_load_image(vm);
	if (r)
		goto free_ram;
	vm->free_gpa = align_up(vm->image_end, SIZE_2M);
	guest_build_gdt(vm);
	guest_build_idt(vm);
	guest_build_page_tables(vm);
	return 0;

free_ram:
	munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
close_vm:
	close(vm->fd);
	vm->fd = -1;
	return r;
}

void guest_vm_free(struct guest_vm *vm)
{
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->fd >= 0)
		close(vm->fd);
	vm->ram = NULL;
	vm->fd = -1;
}

int guest_vcpu_create(struct guest_vm *vm, int id, struct guest_vcpu *vcpu)
{
	int r;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->raw.fd = -1;
	r = vhm_vcpu_create(vm->fd, id, &vcpu->raw);
	if (r)
		return r;
	vcpu->run = vcpu->raw.run;
	vcpu->vm = vm;
	vcpu->id = id;
	return 0;
}

void guest_vcpu_free(struct guest_vcpu *vcpu)
{
	if (vcpu->raw.fd >= 0)
		vhm_vcpu_close(&vcpu->raw);
	vcpu->raw.fd = -1;
}

static uint64_t guest_stack_top(struct guest_vcpu *vcpu)
{
	return GUEST_IMAGE - (uint64_t)vcpu->id * GUEST_STACK_SIZE;
}

static struct vhm_segment seg(uint16_t sel, uint64_t base, uint32_t limit,
			      uint16_t attrib)
{
	return (struct vhm_segment){
		.base = base, .limit = limit, .selector = sel, .attrib = attrib,
	};
}

static int guest_copy_code(struct guest_vm *vm, uint64_t gpa, const void *code,
			   size_t len)
{
	void *hva = guest_gpa_to_hva(vm, gpa, len);

	if (!hva)
		return -EINVAL;
	if (code)
		memcpy(hva, code, len);
	return 0;
}

/*
 * Segments, tables and control registers of a mode; the registers are
 * reset to 0 but for RIP, RSP, RFLAGS (IF clear) and RDI.
 */
static int guest_vcpu_enter(struct guest_vcpu *vcpu, struct vhm_sregs *s,
			    uint64_t rip, uint64_t rsp, uint64_t rdi)
{
	struct vhm_regs r = { .rip = rip, .rsp = rsp, .rdi = rdi, .rflags = 2 };
	struct vhm_sregs old;
	int e;

	e = vhm_get_sregs(&vcpu->raw, &old);
	if (e)
		return e;
	s->apic_base = old.apic_base;
	e = vhm_set_sregs(&vcpu->raw, s);
	return e ? e : vhm_set_regs(&vcpu->raw, &r);
}

int guest_vcpu_start_long(struct guest_vcpu *vcpu, void *code, uint64_t arg)
{
	struct guest_vm *vm = vcpu->vm;
	struct vhm_sregs s = {
		.cs = seg(GUEST_SEL_CODE64, 0, 0xffffffff,
			  SEG_CODE | VHM_SEG_L | VHM_SEG_G),
		.tr = seg(GUEST_SEL_TSS, GUEST_TSS, TSS_LIMIT, SEG_TSS_BUSY),
		.ldt = seg(0, 0, 0, VHM_SEG_UNUSABLE),
		.gdt = { .base = GUEST_GDT, .limit = GUEST_GDT_LIMIT },
		.idt = { .base = GUEST_IDT, .limit = GUEST_NR_VECTORS * 16 - 1 },
		.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
		       X86_CR0_PG,
		.cr3 = GUEST_PML4,
		.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT,
		.efer = EFER_LME | EFER_LMA,
	};
	uint64_t rsp = guest_stack_top(vcpu) - 8;
	uint64_t *ret = guest_gpa_to_hva(vm, rsp, 8);

	if (!ret)
		return -EINVAL;
	s.ds = s.es = s.fs = s.gs = s.ss =
		seg(GUEST_SEL_DATA, 0, 0xffffffff,
		    SEG_DATA | VHM_SEG_DB | VHM_SEG_G);
	/* As if called: RSP + 8 is 16-byte aligned, a return address on top. */
	*ret = (uintptr_t)guest_return_stub;
	return guest_vcpu_enter(vcpu, &s, (uintptr_t)code, rsp, arg);
}

int guest_vcpu_start_prot32(struct guest_vcpu *vcpu, uint64_t gpa,
			    const void *code, size_t len)
{
	struct vhm_sregs s = {
		.cs = seg(GUEST_SEL_CODE32, 0, 0xffffffff,
			  SEG_CODE | VHM_SEG_DB | VHM_SEG_G),
		.tr = seg(GUEST_SEL_TSS, GUEST_TSS, TSS_LIMIT, SEG_TSS_BUSY),
		.ldt = seg(0, 0, 0, VHM_SEG_UNUSABLE),
		.gdt = { .base = GUEST_GDT, .limit = GUEST_GDT_LIMIT },
		.idt = { .base = 0, .limit = 0 },
		.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE,
	};
	int e;

	if (gpa >= 1ull << 32)
		return -EINVAL;
	e = guest_copy_code(vcpu->vm, gpa, code, len);
	if (e)
		return e;
	s.ds = s.es = s.fs = s.gs = s.ss =
		seg(GUEST_SEL_DATA, 0, 0xffffffff,
		    SEG_DATA | VHM_SEG_DB | VHM_SEG_G);
	return guest_vcpu_enter(vcpu, &s, gpa, guest_stack_top(vcpu), 0);
}

int guest_vcpu_start_real(struct guest_vcpu *vcpu, uint64_t gpa,
			  const void *code, size_t len)
{
	uint16_t cs = (gpa >> 4) & 0xf000;
	struct vhm_sregs s = {
		.cs = seg(cs, (uint64_t)cs << 4, 0xffff, SEG_CODE),
		.tr = seg(0, 0, 0xffff, SEG_TSS_BUSY),
		.ldt = seg(0, 0, 0xffff, SEG_LDT),
		.gdt = { .base = 0, .limit = 0xffff },
		.idt = { .base = 0, .limit = 0x3ff },
		.cr0 = X86_CR0_ET,
	};
	int e;

	if (gpa >= 1ull << 20)
		return -EINVAL;
	e = guest_copy_code(vcpu->vm, gpa, code, len);
	if (e)
		return e;
	s.ds = s.es = s.fs = s.gs = s.ss = seg(0, 0, 0xffff, SEG_DATA);
	return guest_vcpu_enter(vcpu, &s, gpa & 0xffff, GUEST_LOW_STACK, 0);
}

void guest_vm_set_handler(struct guest_vm *vm, unsigned int vector,
			  guest_handler_t h)
{
	guest_var(vm, guest_handlers)[0][vector % GUEST_NR_VECTORS] = h;
}

uint64_t guest_ucall_of_exit(struct guest_vcpu *vcpu, struct ucall *uc)
{
	struct vhm_run *run = vcpu->run;
	const struct ucall *src;
	uint32_t gpa;

	memset(uc, 0, sizeof(*uc));
	if (vcpu->run_ret || run->exit_reason != VHM_EXIT_IO ||
	    run->io.port != UCALL_PORT || run->io.direction != VHM_IO_OUT ||
	    run->io.size != 4 || run->io.count != 1)
		return UCALL_NONE;
	memcpy(&gpa, vhm_io_data(&vcpu->raw), 4);
	src = guest_gpa_to_hva(vcpu->vm, gpa, sizeof(*src));
	if (!src)
		return UCALL_NONE;
	memcpy(uc, src, sizeof(*uc));
	uc->msg[UCALL_MSG_LEN - 1] = 0;
	if (uc->cmd == UCALL_NONE)	/* not a ucall the guest can make */
		uc->cmd = ~0ull;
	return uc->cmd;
}

int guest_run(struct guest_vcpu *vcpu)
{
	vcpu->run_ret = vhm_run(&vcpu->raw);
	return vcpu->run_ret;
}

uint64_t get_ucall(struct guest_vcpu *vcpu, struct ucall *uc)
{
	guest_run(vcpu);
	return guest_ucall_of_exit(vcpu, uc);
}

/* This program's symbol table, read from /proc/self/exe at first use. */
static Elf64_Sym *syms;
static size_t nr_syms;
static char *sym_names;
static size_t sym_names_len;

static void guest_load_symbols(void)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strsh;
	int fd, i;

	fd = open_self(&eh);
	if (fd < 0)
		return;
	for (i = 0; i < eh.e_shnum && !syms; i++) {
		if (pread_full(fd, &sh, sizeof(sh), eh.e_shoff + i * sizeof(sh)) ||
		    sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh.e_shnum ||
		    pread_full(fd, &strsh, sizeof(strsh),
			       eh.e_shoff + sh.sh_link * sizeof(sh)))
			continue;
		syms = malloc(sh.sh_size);
		sym_names = malloc(strsh.sh_size + 1);
		if (!syms || !sym_names ||
		    pread_full(fd, syms, sh.sh_size, sh.sh_offset) ||
		    pread_full(fd, sym_names, strsh.sh_size, strsh.sh_offset)) {
			free(syms);
			free(sym_names);
			syms = NULL;
			sym_names = NULL;
			continue;
		}
		sym_names[strsh.sh_size] = 0;
		sym_names_len = strsh.sh_size;
		nr_syms = sh.sh_size / sizeof(*syms);
	}
	close(fd);
}

const char *guest_symbol(uint64_t addr, char *buf, size_t len)
{
	const Elf64_Sym *best = NULL;
	size_t i;

	if (!syms)
		guest_load_symbols();
	for (i = 0; i < nr_syms; i++) {
		const Elf64_Sym *s = &syms[i];

		if ((ELF64_ST_TYPE(s->st_info) != STT_FUNC &&
		     ELF64_ST_TYPE(s->st_info) != STT_NOTYPE) ||
		    s->st_shndx == SHN_UNDEF || s->st_shndx >= SHN_LORESERVE ||
		    s->st_value > addr ||
		    s->st_name >= sym_names_len || !sym_names[s->st_name])
			continue;
		if (s->st_size && addr >= s->st_value + s->st_size)
			continue;
		/* The closest start wins; sized functions over labels. */
		if (!best || s->st_value > best->st_value ||
		    (s->st_value == best->st_value && s->st_size))
			best = s;
	}
	if (!best || addr - best->st_value > 0x10000)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s+%#llx", sym_names + best->st_name,
			 (unsigned long long)(addr - best->st_value));
	return buf;
}

const char *guest_string(struct guest_vm *vm, uint64_t gva, char *buf,
			 size_t len)
{
	const char *s = gva ? guest_gpa_to_hva(vm, gva, 1) : NULL;
	size_t n;

	if (!s || !len) {
		snprintf(buf, len, "?");
		return buf;
	}
	n = strnlen(s, vm->ram + vm->ram_size - (uint8_t *)s);
	snprintf(buf, len, "%.*s", (int)n, s);
	return buf;
}

static const char *const exception_names[GUEST_NR_EXCEPTIONS] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "9",
	"#TS", "#NP", "#SS", "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM",
	"#VE", "#CP", "22", "23", "24", "25", "26", "27", "#HV", "#VC", "#SX",
	"31",
};

static const char *const exit_names[] = {
	[VHM_EXIT_UNKNOWN] = "UNKNOWN", [VHM_EXIT_IO] = "IO",
	[VHM_EXIT_MMIO] = "MMIO", [VHM_EXIT_HYPERCALL] = "HYPERCALL",
	[VHM_EXIT_HLT] = "HLT", [VHM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[VHM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[VHM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[VHM_EXIT_INTR] = "INTR",
};

static char *describe_exit(struct guest_vcpu *vcpu, char *buf, size_t len)
{
	struct vhm_run *run = vcpu->run;
	struct vhm_regs r = { 0 };
	char sym[128];
	int n;

	if (vcpu->run_ret) {
		snprintf(buf, len, "VHM_RUN failed: %s", strerror(-vcpu->run_ret));
		return buf;
	}
	vhm_get_regs(&vcpu->raw, &r);
	n = snprintf(buf, len, "exit %s (%u) at rip %#llx (%s)",
		     run->exit_reason < sizeof(exit_names) / sizeof(exit_names[0]) &&
		     exit_names[run->exit_reason] ? exit_names[run->exit_reason] : "?",
		     run->exit_reason, (unsigned long long)r.rip,
		     guest_symbol(r.rip, sym, sizeof(sym)));
	if (n < 0 || (size_t)n >= len)
		return buf;
	buf += n;
	len -= n;
	switch (run->exit_reason) {
	case VHM_EXIT_IO:
		snprintf(buf, len, ": %s port %#x, size %u, count %u",
			 run->io.direction == VHM_IO_OUT ? "out" : "in",
			 run->io.port, run->io.size, run->io.count);
		break;
	case VHM_EXIT_MMIO:
		snprintf(buf, len, ": %s %#llx, len %u",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		break;
	case VHM_EXIT_HYPERCALL:
		snprintf(buf, len, ": nr %#llx",
			 (unsigned long long)run->hypercall.nr);
		break;
	case VHM_EXIT_FAIL_ENTRY:
		snprintf(buf, len, ": hardware reason %#llx",
			 (unsigned long long)run->fail_entry.hardware_reason);
		break;
	case VHM_EXIT_INTERNAL_ERROR:
		snprintf(buf, len, ": suberror %u, data %#llx %#llx %#llx %#llx",
			 run->internal.suberror,
			 (unsigned long long)run->internal.data[0],
			 (unsigned long long)run->internal.data[1],
			 (unsigned long long)run->internal.data[2],
			 (unsigned long long)run->internal.data[3]);
		break;
	}
	return buf - n;
}

char *guest_describe(struct guest_vcpu *vcpu, const struct ucall *uc,
		     char *buf, size_t len)
{
	unsigned long long v = uc->args[0], a1 = uc->args[1];
	char file[128], sym[128];

	guest_string(vcpu->vm, (uintptr_t)uc->file, file, sizeof(file));
	switch (uc->cmd) {
	case UCALL_NONE:
		return describe_exit(vcpu, buf, len);
	case UCALL_SYNC:
		snprintf(buf, len, "GUEST_SYNC(%#llx) at %s:%llu", v, file,
			 (unsigned long long)uc->line);
		break;
	case UCALL_DONE:
		snprintf(buf, len, "GUEST_DONE at %s:%llu%s%s", file,
			 (unsigned long long)uc->line, uc->msg[0] ? ": " : "",
			 uc->msg);
		break;
	case UCALL_ABORT:
		if (uc->nargs == 2)
			snprintf(buf, len,
				 "assertion failed at %s:%llu: %s (%#llx vs %#llx)",
				 file, (unsigned long long)uc->line, uc->msg, v, a1);
		else
			snprintf(buf, len, "assertion failed at %s:%llu: %s",
				 file, (unsigned long long)uc->line, uc->msg);
		break;
	case UCALL_EXCEPTION:
		snprintf(buf, len,
			 "exception %s (vector %llu) at rip %#llx (%s), error code %#llx, cr2 %#llx",
			 v < GUEST_NR_EXCEPTIONS ? exception_names[v] : "interrupt", v,
			 (unsigned long long)uc->args[2],
			 guest_symbol(uc->args[2], sym, sizeof(sym)), a1,
			 (unsigned long long)uc->args[3]);
		break;
	default:
		snprintf(buf, len, "unknown ucall %#llx at %s:%llu",
			 (unsigned long long)uc->cmd, file,
			 (unsigned long long)uc->line);
	}
	return buf;
}
