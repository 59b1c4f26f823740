// SPDX-License-Identifier: GPL-2.0
/*
 * PCI configuration mechanism #1 with no device behind it: the address
 * register at 0xcf8 (32-bit accesses) keeps what the guest writes, the
 * data window 0xcfc-0xcff reads all ones (no function answers) and ignores
 * writes. Enough for a guest probing the bus to find it empty.
 *
 * A byte access to 0xcf9 is the PIIX/ICH reset control register instead
 * (the FADT's RESET_REG): a write with bit 2 (reset CPU) set, like 0x06
 * or 0x0e, resets the machine: vhmctl ends with VMM_END_RESET. It reads 0.
 */
#include <string.h>

#include "boot/acpi.h"

#define PCI_CONFIG_ADDRESS	0xcf8
#define PCI_CONFIG_DATA		0xcfc
#define RESET_CONTROL_CPU	(1u << 2)

static uint32_t pci_address;

static void pci_io(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		   bool is_write, void *opaque)
{
	uint32_t *address = opaque;

	if (port == ACPI_RESET_PORT && len == 1) {
		if (!is_write)
			*(uint8_t *)data = 0;
		else if (*(uint8_t *)data & RESET_CONTROL_CPU)
			vmm_stop(vmm, VMM_END_RESET);
		return;
	}
	if (port == PCI_CONFIG_ADDRESS && len == 4) {
		if (is_write)
			memcpy(address, data, 4);
		else
			memcpy(data, address, 4);
		return;
	}
	/* The data window, or a narrow access to 0xcf8-0xcfb. */
	if (!is_write)
		memset(data, 0xff, len);
}

static int pci_init(struct vmm *vmm)
{
	(void)vmm;
	pci_address = 0;
	return vmm_register_io(VMM_PIO, PCI_CONFIG_ADDRESS, 8, pci_io,
			       &pci_address);
}

static struct vmm_device pci_device = { .name = "pci", .init = pci_init };
VMM_DEVICE(pci_device)
