// SPDX-License-Identifier: GPL-2.0
/*
 * VHM_GET_VCPU_EVENTS and VHM_SET_VCPU_EVENTS: events not yet delivered to
 * the guest and what blocks them. The architectural rules live here; the
 * vendor keeps and injects the state (vendor.h).
 */
#include <linux/bits.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/trapnr.h>

#include "vhm.h"
#include "vm.h"

#define VHM_NMI_VECTOR		2
#define VHM_NR_EXCEPTIONS	32
/* #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX push an error code. */
#define VHM_ERROR_CODE_VECTORS	(BIT(8) | BIT(10) | BIT(11) | BIT(12) | \
				 BIT(13) | BIT(14) | BIT(17) | BIT(21) | \
				 BIT(29) | BIT(30))

static bool vhm_events_reserved_clear(const struct vhm_vcpu_events *ev)
{
	return !memchr_inv(ev->padding, 0, sizeof(ev->padding)) &&
	       !memchr_inv(ev->reserved, 0, sizeof(ev->reserved));
}

static int vhm_check_exception(const struct vhm_vcpu_events *ev)
{
	u8 v = ev->exception_vector;

	if (!(ev->flags & VHM_EVENT_EXCEPTION))
		return v || (ev->flags & VHM_EVENT_ERROR_CODE) ? -EINVAL : 0;
	if (v >= VHM_NR_EXCEPTIONS || v == VHM_NMI_VECTOR)
		return -EINVAL;
	if ((ev->flags & VHM_EVENT_ERROR_CODE) &&
	    !(VHM_ERROR_CODE_VECTORS & BIT(v)))
		return -EINVAL;
	return 0;
}

/* What VHM_SET_VCPU_EVENTS accepts (docs/API.md). */
static int vhm_check_vcpu_events(const struct vhm_vcpu_events *ev)
{
	if (ev->flags & ~VHM_EVENT_FLAGS_VALID)
		return -EINVAL;
	if (!vhm_events_reserved_clear(ev))
		return -EINVAL;
	if (!(ev->flags & VHM_EVENT_ERROR_CODE) && ev->exception_error_code)
		return -EINVAL;
	if (!(ev->flags & VHM_EVENT_INTERRUPT) && ev->interrupt_vector)
		return -EINVAL;
	return vhm_check_exception(ev);
}

long vhm_vcpu_get_events(struct vhm_vcpu *vcpu, void __user *argp)
{
	struct vhm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	vhm_ops->get_events(vcpu, &ev);
	return copy_to_user(argp, &ev, sizeof(ev)) ? -EFAULT : 0;
}

long vhm_vcpu_set_events(struct vhm_vcpu *vcpu, const void __user *argp)
{
	struct vhm_vcpu_events ev;
	int r;

	if (copy_from_user(&ev, argp, sizeof(ev)))
		return -EFAULT;
	r = vhm_check_vcpu_events(&ev);
	if (r)
		return r;
	vhm_ops->set_events(vcpu, &ev);
	return 0;
}

/*
 * A #PF for an access vhm emulated (guest_mem.c): CR2 and the pending
 * exception, delivered at the next entry. An exception already pending
 * (which no emulated instruction leaves) is kept instead.
 */
void vhm_inject_page_fault(struct vhm_vcpu *vcpu, u64 gva, u32 error)
{
	struct vhm_vcpu_events ev;
	struct vhm_sregs s;

	memset(&ev, 0, sizeof(ev));
	vhm_ops->get_events(vcpu, &ev);
	if (ev.flags & VHM_EVENT_EXCEPTION)
		return;
	vhm_ops->get_sregs(vcpu, &s);
	s.cr2 = gva;
	if (vhm_ops->set_sregs(vcpu, &s))
		return;
	ev.flags |= VHM_EVENT_EXCEPTION | VHM_EVENT_ERROR_CODE;
	ev.exception_vector = X86_TRAP_PF;
	ev.exception_error_code = error;
	vhm_ops->set_events(vcpu, &ev);
}
