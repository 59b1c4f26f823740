/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mandatory operations of struct vhm_vendor_ops (vendor.h), once: an
 * includer defines VHM_VENDOR_OP(op) and gets one line per operation, in
 * the table's order. The backends build their tables and declare their
 * functions (svm_<op>, vmx_<op>) from it, main.c checks it at load; a new
 * operation is added here and both backends then have to define it.
 * (vcpu_load is optional and not listed; the data members are checked
 * by main.c.) No include guard: included once
 * per use.
 */
VHM_VENDOR_OP(probe)
VHM_VENDOR_OP(spec_init)
VHM_VENDOR_OP(setup)
VHM_VENDOR_OP(teardown)
VHM_VENDOR_OP(cpu_in_use)
VHM_VENDOR_OP(cpu_enable)
VHM_VENDOR_OP(cpu_disable)
VHM_VENDOR_OP(cpu_emergency_disable)
VHM_VENDOR_OP(nr_tlb_tags)
VHM_VENDOR_OP(npt_pte)
VHM_VENDOR_OP(npt_has_2m)
VHM_VENDOR_OP(vcpu_create)
VHM_VENDOR_OP(vcpu_free)
VHM_VENDOR_OP(read_reg)
VHM_VENDOR_OP(write_reg)
VHM_VENDOR_OP(get_sregs)
VHM_VENDOR_OP(set_sregs)
VHM_VENDOR_OP(get_msr)
VHM_VENDOR_OP(set_msr)
VHM_VENDOR_OP(get_event_blocking)
VHM_VENDOR_OP(set_event_blocking)
VHM_VENDOR_OP(get_dr67)
VHM_VENDOR_OP(set_dr67)
VHM_VENDOR_OP(skip_insn)
VHM_VENDOR_OP(cpl)
VHM_VENDOR_OP(cr4)
VHM_VENDOR_OP(prepare_tlb)
VHM_VENDOR_OP(inject_events)
VHM_VENDOR_OP(enter)
VHM_VENDOR_OP(exit_code)
VHM_VENDOR_OP(unhandled_exit)
