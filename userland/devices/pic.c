// SPDX-License-Identifier: GPL-2.0
/*
 * A pair of i8259 PICs that are present but never interrupt: ports
 * 0x20-0x21 and 0xa0-0xa1 (the initialization words are taken in order,
 * the mask register reads back, IRR and ISR read 0) and the ELCR at
 * 0x4d0-0x4d1 (reads back). Only with vhm's irqchip, which has no PIC of
 * its own (KVM's handles these ports in the kernel): a Linux guest that
 * finds no PIC ("Using NULL legacy PIC") sets up no ISA IRQs at all, so
 * the UART's IRQ 4 and the PIT's IRQ 0 could not be requested. With this,
 * Linux finds a PIC, maps ISA IRQs 0-15 to the IOAPIC's pins through the
 * MADT, and masks the PIC, as on a PC.
 */
#include <string.h>

#include "vmm.h"

#define PIC_MASTER	0x20
#define PIC_SLAVE	0xa0
#define PIC_ELCR	0x4d0
#define PIC_ICW1	0x10	/* command port: start initialization */

struct pic {
	uint8_t imr;
	uint8_t icw_next;	/* ICW 2, 3 or 4 expected on the data port */
	bool icw4;		/* ICW1 said an ICW4 follows */
};

static struct pic pics[2];
static uint8_t elcr[2];

static void pic_write(struct pic *p, unsigned int reg, uint8_t v)
{
	if (reg == 0) {
		if (v & PIC_ICW1) {
			p->imr = 0;
			p->icw_next = 2;
			p->icw4 = v & 1;
		}
		return;		/* OCW2, OCW3: no interrupts to end or poll */
	}
	switch (p->icw_next) {
	case 2:
		p->icw_next = 3;
		break;
	case 3:
		p->icw_next = p->icw4 ? 4 : 0;
		break;
	case 4:
		p->icw_next = 0;
		break;
	default:
		p->imr = v;	/* OCW1 */
	}
}

static void pic_io(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		   bool is_write, void *opaque)
{
	struct pic *p = opaque;
	uint8_t *v = data;

	(void)vmm;
	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		pic_write(p, port & 1, *v);
	else
		*v = port & 1 ? p->imr : 0;	/* IRR / ISR: nothing */
}

static void elcr_io(struct vmm *vmm, uint64_t port, void *data, uint32_t len,
		    bool is_write, void *opaque)
{
	uint8_t *v = data;

	(void)vmm;
	(void)opaque;
	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write)
		elcr[port - PIC_ELCR] = *v;
	else
		*v = elcr[port - PIC_ELCR];
}

static int pic_init(struct vmm *vmm)
{
	memset(pics, 0, sizeof(pics));
	memset(elcr, 0, sizeof(elcr));
	if (!vmm->accel.irqchip || vmm->accel.ops != &accel_vhm_ops)
		return 0;
	pics[0].imr = pics[1].imr = 0xff;
	if (vmm_register_io(VMM_PIO, PIC_MASTER, 2, pic_io, &pics[0]) ||
	    vmm_register_io(VMM_PIO, PIC_SLAVE, 2, pic_io, &pics[1]))
		return -1;
	return vmm_register_io(VMM_PIO, PIC_ELCR, 2, elcr_io, NULL);
}

static struct vmm_device pic_device = { .name = "pic", .init = pic_init };
VMM_DEVICE(pic_device)
