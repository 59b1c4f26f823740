// SPDX-License-Identifier: GPL-2.0
/*
 * MSRs a guest may touch without checking CPUID first, answered the way
 * KVM answers them when it offers no virtual PMU and no machine-check
 * banks: the legacy performance counters read 0 and drop writes, a few
 * model-specific configuration MSRs read 0, HWCR, DE_CFG and the
 * microcode revision keep a value. Each entry belongs to one vendor (or
 * both): on a host of the other vendor the MSR stays unknown (#GP or
 * VHM_EXIT_MSR). vhm_get_msr()/vhm_set_msr() consult the table after
 * their own MSRs and the vendor's; VHM_GET_MSRS/VHM_SET_MSRS reach the
 * same entries, so a VMM saves and restores them like any other.
 */
#include <asm/cpufeature.h>
#include <asm/msr-index.h>
#include <asm/processor.h>

#include "msr_table.h"
#include "vm.h"

/* Numbers the kernel's msr-index.h names differently across versions. */
#define VHM_MSR_PLATFORM_ID	0x00000017
#define VHM_MSR_UCODE_REV	0x0000008b
#define VHM_MSR_P6_PERFCTR0	0x000000c1
#define VHM_MSR_P6_PERFCTR1	0x000000c2
#define VHM_MSR_P6_EVNTSEL0	0x00000186
#define VHM_MSR_P6_EVNTSEL1	0x00000187
#define VHM_MSR_K7_EVNTSEL0	0xc0010000
#define VHM_MSR_K7_PERFCTR3	0xc0010007
#define VHM_MSR_SYSCFG		0xc0010010
#define VHM_MSR_HWCR		0xc0010015
#define VHM_MSR_NB_CFG		0xc001001f
#define VHM_MSR_TSEG_BASE	0xc0010112
#define VHM_MSR_TSEG_MASK	0xc0010113
#define VHM_MSR_DE_CFG		0xc0011029

/* HWCR bits a write may carry (KVM): dropped, and McStatusWrEn kept. */
#define VHM_HWCR_IGNORED	(BIT_ULL(3) | BIT_ULL(6) | BIT_ULL(8))
#define VHM_HWCR_MCSTATUSWREN	BIT_ULL(18)
#define VHM_DE_CFG_LFENCE	BIT_ULL(1)	/* LFENCE is serializing */
/* The revision KVM reports until the VMM sets one. */
#define VHM_UCODE_REV_RESET	0x100000000ULL

enum vhm_msr_vendor {
	VHM_MSR_AMD = BIT(0),
	VHM_MSR_INTEL = BIT(1),
	VHM_MSR_BOTH = VHM_MSR_AMD | VHM_MSR_INTEL,
};

enum vhm_msr_kind {
	VHM_MSR_ZERO_IGNORED,	/* reads 0; every write dropped */
	VHM_MSR_ZERO_READONLY,	/* reads 0; the guest's writes #GP, VMM: 0 */
	VHM_MSR_HWCR_KIND,	/* stored: 0 or McStatusWrEn, else #GP */
	VHM_MSR_DE_CFG_KIND,	/* stored: the host's LFENCE bit */
	VHM_MSR_UCODE_KIND,	/* stored by the VMM; guest writes dropped */
};

struct vhm_msr_range {
	u32 first;
	u32 last;
	u8 vendors;
	u8 kind;
};

static const struct vhm_msr_range vhm_msr_table[] = {
	{ VHM_MSR_PLATFORM_ID, VHM_MSR_PLATFORM_ID, VHM_MSR_INTEL,
	  VHM_MSR_ZERO_READONLY },
	{ VHM_MSR_UCODE_REV, VHM_MSR_UCODE_REV, VHM_MSR_BOTH,
	  VHM_MSR_UCODE_KIND },
	{ VHM_MSR_P6_PERFCTR0, VHM_MSR_P6_PERFCTR1, VHM_MSR_INTEL,
	  VHM_MSR_ZERO_IGNORED },
	{ VHM_MSR_P6_EVNTSEL0, VHM_MSR_P6_EVNTSEL1, VHM_MSR_INTEL,
	  VHM_MSR_ZERO_IGNORED },
	{ VHM_MSR_K7_EVNTSEL0, VHM_MSR_K7_PERFCTR3, VHM_MSR_AMD,
	  VHM_MSR_ZERO_IGNORED },
	{ VHM_MSR_SYSCFG, VHM_MSR_SYSCFG, VHM_MSR_AMD, VHM_MSR_ZERO_READONLY },
	{ VHM_MSR_HWCR, VHM_MSR_HWCR, VHM_MSR_AMD, VHM_MSR_HWCR_KIND },
	{ VHM_MSR_NB_CFG, VHM_MSR_NB_CFG, VHM_MSR_AMD, VHM_MSR_ZERO_IGNORED },
	{ VHM_MSR_TSEG_BASE, VHM_MSR_TSEG_MASK, VHM_MSR_AMD,
	  VHM_MSR_ZERO_READONLY },
	{ VHM_MSR_DE_CFG, VHM_MSR_DE_CFG, VHM_MSR_AMD, VHM_MSR_DE_CFG_KIND },
};

static u8 vhm_msr_host_vendor(void)
{
	switch (boot_cpu_data.x86_vendor) {
	case X86_VENDOR_AMD:
	case X86_VENDOR_HYGON:
		return VHM_MSR_AMD;
	case X86_VENDOR_INTEL:
		return VHM_MSR_INTEL;
	default:
		return 0;
	}
}

/* The entry for index on this host's vendor, or NULL. */
static const struct vhm_msr_range *vhm_msr_lookup(u32 index)
{
	u8 vendor = vhm_msr_host_vendor();
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vhm_msr_table); i++) {
		const struct vhm_msr_range *r = &vhm_msr_table[i];

		if (index >= r->first && index <= r->last &&
		    (r->vendors & vendor))
			return r;
	}
	return NULL;
}

/* DE_CFG bits this host can promise (KVM's feature MSR). */
static u64 vhm_de_cfg_supported(void)
{
	return boot_cpu_has(X86_FEATURE_LFENCE_RDTSC) ? VHM_DE_CFG_LFENCE : 0;
}

void vhm_msr_table_reset(struct vhm_vcpu *vcpu)
{
	vcpu->msr_hwcr = 0;
	vcpu->msr_de_cfg = 0;
	vcpu->ucode_rev = VHM_UCODE_REV_RESET;
}

int vhm_msr_table_get(struct vhm_vcpu *vcpu, u32 index, u64 *data)
{
	const struct vhm_msr_range *r = vhm_msr_lookup(index);

	if (!r)
		return -ENOENT;
	switch (r->kind) {
	case VHM_MSR_HWCR_KIND:
		*data = vcpu->msr_hwcr;
		break;
	case VHM_MSR_DE_CFG_KIND:
		*data = vcpu->msr_de_cfg;
		break;
	case VHM_MSR_UCODE_KIND:
		*data = vcpu->ucode_rev;
		break;
	default:
		*data = 0;
	}
	return 0;
}

/* HWCR: the bits KVM drops, McStatusWrEn kept, anything else #GP. */
static int vhm_set_hwcr(struct vhm_vcpu *vcpu, u64 data)
{
	data &= ~VHM_HWCR_IGNORED;
	if (data & ~VHM_HWCR_MCSTATUSWREN)
		return -EINVAL;
	vcpu->msr_hwcr = data;
	return 0;
}

/*
 * DE_CFG: only bits the host has; the guest may only write the host's
 * value (it cannot turn LFENCE serialization off), the VMM any subset.
 */
static int vhm_set_de_cfg(struct vhm_vcpu *vcpu, u64 data, bool host)
{
	u64 supported = vhm_de_cfg_supported();

	if (data & ~supported)
		return -EINVAL;
	if (!host && data != supported)
		return -EINVAL;
	vcpu->msr_de_cfg = data;
	return 0;
}

int vhm_msr_table_set(struct vhm_vcpu *vcpu, u32 index, u64 data, bool host)
{
	const struct vhm_msr_range *r = vhm_msr_lookup(index);

	if (!r)
		return -ENOENT;
	switch (r->kind) {
	case VHM_MSR_ZERO_READONLY:
		return host && !data ? 0 : -EINVAL;
	case VHM_MSR_HWCR_KIND:
		return vhm_set_hwcr(vcpu, data);
	case VHM_MSR_DE_CFG_KIND:
		return vhm_set_de_cfg(vcpu, data, host);
	case VHM_MSR_UCODE_KIND:
		if (host)
			vcpu->ucode_rev = data;
		return 0;
	default:
		return 0;
	}
}

/* What VHM_GET_MSR_LIST says of each kind. */
static const u32 vhm_msr_kind_handling[] = {
	[VHM_MSR_ZERO_IGNORED] = VHM_MSR_READ_ZERO,
	[VHM_MSR_ZERO_READONLY] = VHM_MSR_READ_ZERO_GP,
	[VHM_MSR_HWCR_KIND] = VHM_MSR_VIRTUALIZED,
	[VHM_MSR_DE_CFG_KIND] = VHM_MSR_VIRTUALIZED,
	[VHM_MSR_UCODE_KIND] = VHM_MSR_WRITE_IGNORED,
};

/*
 * The table's ranges for this host's vendor, for VHM_GET_MSR_LIST (at
 * most room of them into out); returns how many there are.
 */
unsigned int vhm_msr_table_info(struct vhm_msr_info *out, unsigned int room)
{
	u8 vendor = vhm_msr_host_vendor();
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(vhm_msr_table); i++) {
		const struct vhm_msr_range *r = &vhm_msr_table[i];

		if (!(r->vendors & vendor))
			continue;
		if (n < room) {
			out[n].first = r->first;
			out[n].last = r->last;
			out[n].handling = vhm_msr_kind_handling[r->kind];
			out[n].flags = 0;
		}
		n++;
	}
	return n;
}
