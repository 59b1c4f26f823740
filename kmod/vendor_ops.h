/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mandatory operations of struct vhm_vendor_ops (vendor.h), once:
 * VHM_VENDOR_OPS(X, p) expands X(p, op) for each, in the table's order.
 * The backends declare their functions (svm_<op>, vmx_<op>) and build
 * their tables from it (VHM_VENDOR_TABLE): a new operation is added here
 * and both backends then have to define it, or vhm.ko does not build.
 * (vcpu_release, vcpu_load, vcpu_get, vcpu_put and cpu_before_kvm_off are
 * optional and not listed; main.c checks the data members at load.)
 * Checkpatch cannot parse these list macros (tools/checkpatch).
 */
#ifndef VHM_VENDOR_OPS_H
#define VHM_VENDOR_OPS_H

#define VHM_VENDOR_OPS(X, p)						\
	X(p, probe) X(p, spec_init) X(p, setup) X(p, teardown)		\
	X(p, cpu_in_use) X(p, cpu_enable) X(p, cpu_disable)		\
	X(p, cpu_emergency_disable) X(p, cpu_leave)			\
	X(p, nr_tlb_tags) X(p, npt_pte)					\
	X(p, npt_has_2m) X(p, vcpu_create) X(p, vcpu_free)		\
	X(p, read_reg) X(p, write_reg) X(p, get_sregs) X(p, set_sregs)	\
	X(p, get_msr) X(p, set_msr) X(p, get_event_blocking)		\
	X(p, set_event_blocking) X(p, get_dr67) X(p, set_dr67)		\
	X(p, skip_insn) X(p, end_shadow) X(p, cpl) X(p, cr4)		\
	X(p, prepare_tlb)						\
	X(p, inject_events) X(p, enter) X(p, exit_code)			\
	X(p, unhandled_exit)

/* A backend's function for op, typed as its member of the table. */
#define VHM_VENDOR_OP_DECLARE(p, op)					\
	__typeof__(*vhm_##p##_ops.op) p##_##op;
#define VHM_VENDOR_OP_INIT(p, op)	.op = p##_##op,

/*
 * The members of a backend's struct vhm_vendor_ops: its description, its
 * exit-code tables p_exit_handlers and p_fast_exit_handlers and every
 * operation p_<op>.
 */
#define VHM_VENDOR_TABLE(p, name_, hw_vendor_, kvm_module_, hw_regs_)	\
	.name = name_, .hw_vendor = hw_vendor_, .kvm_module = kvm_module_, \
	.hw_regs = hw_regs_, .exit_handlers = p##_exit_handlers,	\
	.nr_exit_handlers = ARRAY_SIZE(p##_exit_handlers),		\
	.fast_exit_handlers = p##_fast_exit_handlers,			\
	.nr_fast_exit_handlers = ARRAY_SIZE(p##_fast_exit_handlers),	\
	VHM_VENDOR_OPS(VHM_VENDOR_OP_INIT, p)

#endif /* VHM_VENDOR_OPS_H */
