// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's fw_cfg, traditional I/O interface: the guest writes a 16-bit key
 * to the selector at 0x510, then reads the item byte by byte from the data
 * port 0x511 (each selector write starts again at offset 0; reads past the
 * item's end return 0). Items: signature "QEMU", ID 1 (traditional
 * interface, no DMA), RAM size (u64), CPU count (u16), and an empty file
 * directory. Unknown keys read as 0. All values are fixed when the VM is
 * created.
 */
#include <string.h>

#include "vmm.h"

#define FW_CFG_PORT_SEL		0x510
#define FW_CFG_PORT_DATA	0x511

#define FW_CFG_SIGNATURE	0x00
#define FW_CFG_ID		0x01
#define FW_CFG_RAM_SIZE		0x03
#define FW_CFG_NB_CPUS		0x05
#define FW_CFG_FILE_DIR		0x19

#define FW_CFG_ITEM_MAX		8

struct fw_cfg {
	uint16_t key;
	uint32_t offset;
	uint8_t item[FW_CFG_ITEM_MAX];	/* the selected item's bytes */
	uint32_t item_len;
	uint64_t ram_size;
	uint16_t nr_cpus;
};

static struct fw_cfg fw_cfg;

static void put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++)
		p[i] = v >> (8 * i);
}

static void fw_cfg_select(struct fw_cfg *f, uint16_t key)
{
	f->key = key;
	f->offset = 0;
	memset(f->item, 0, sizeof(f->item));
	switch (key) {
	case FW_CFG_SIGNATURE:
		memcpy(f->item, "QEMU", 4);
		f->item_len = 4;
		break;
	case FW_CFG_ID:
		put_le(f->item, 1, 4);
		f->item_len = 4;
		break;
	case FW_CFG_RAM_SIZE:
		put_le(f->item, f->ram_size, 8);
		f->item_len = 8;
		break;
	case FW_CFG_NB_CPUS:
		put_le(f->item, f->nr_cpus, 2);
		f->item_len = 2;
		break;
	case FW_CFG_FILE_DIR:
		f->item_len = 4;	/* count 0 (big endian) */
		break;
	default:
		f->item_len = 0;
	}
}

static void fw_cfg_io(struct vmm *vmm, uint64_t port, void *data,
		      uint32_t len, bool is_write, void *opaque)
{
	struct fw_cfg *f = opaque;
	uint8_t *p = data;
	uint16_t key = 0;
	uint32_t i;

	(void)vmm;
	if (port == FW_CFG_PORT_SEL) {
		if (is_write) {
			memcpy(&key, data, len < 2 ? len : 2);
			fw_cfg_select(f, key);
		} else {
			memset(data, 0xff, len);
		}
		return;
	}
	if (is_write)		/* writing items: not supported */
		return;
	for (i = 0; i < len; i++, f->offset++)
		p[i] = f->offset < f->item_len ? f->item[f->offset] : 0;
}

static int fw_cfg_init(struct vmm *vmm)
{
	memset(&fw_cfg, 0, sizeof(fw_cfg));
	fw_cfg.ram_size = vmm->ram_size;
	fw_cfg.nr_cpus = vmm->nr_cpus;
	fw_cfg_select(&fw_cfg, FW_CFG_SIGNATURE);
	return vmm_register_io(VMM_PIO, FW_CFG_PORT_SEL, 2, fw_cfg_io,
			       &fw_cfg);
}

static struct vmm_device fw_cfg_device = {
	.name = "fw_cfg",
	.init = fw_cfg_init,
};
VMM_DEVICE(fw_cfg_device)
