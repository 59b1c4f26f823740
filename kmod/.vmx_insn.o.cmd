savedcmd_/work/main/kmod/vmx_insn.o :=  x86_64-linux-gnu-gcc-12 -Wp,-MMD,/work/main/kmod/.vmx_insn.o.d -nostdinc -I/root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/arch/x86/include -I./arch/x86/include/generated -I/root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include -I./include -I/root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/arch/x86/include/uapi -I./arch/x86/include/generated/uapi -I/root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi -I./include/generated/uapi -include /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/compiler-version.h -include /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/kconfig.h -D__KERNEL__ -fmacro-prefix-map=/root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/= -D__ASSEMBLY__ -fno-PIE -m64 -DCC_USING_FENTRY -g  -DMODULE  -DKBUILD_MODNAME='"vhm"' -D__KBUILD_MODNAME=kmod_vhm -c -o /work/main/kmod/vmx_insn.o /work/main/kmod/vmx_insn.S 

source_/work/main/kmod/vmx_insn.o := /work/main/kmod/vmx_insn.S

deps_/work/main/kmod/vmx_insn.o := \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/compiler-version.h \
    $(wildcard include/config/CC_VERSION_TEXT) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/kconfig.h \
    $(wildcard include/config/CPU_BIG_ENDIAN) \
    $(wildcard include/config/BOOGER) \
    $(wildcard include/config/FOO) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/linkage.h \
    $(wildcard include/config/FUNCTION_ALIGNMENT) \
    $(wildcard include/config/ARCH_USE_SYM_ANNOTATIONS) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/compiler_types.h \
    $(wildcard include/config/DEBUG_INFO_BTF) \
    $(wildcard include/config/PAHOLE_HAS_BTF_TAG) \
    $(wildcard include/config/CC_HAS_SANE_FUNCTION_ALIGNMENT) \
    $(wildcard include/config/X86_64) \
    $(wildcard include/config/ARM64) \
    $(wildcard include/config/LD_DEAD_CODE_DATA_ELIMINATION) \
    $(wildcard include/config/LTO_CLANG) \
    $(wildcard include/config/HAVE_ARCH_COMPILER_H) \
    $(wildcard include/config/KCSAN) \
    $(wildcard include/config/CC_HAS_COUNTED_BY) \
    $(wildcard include/config/UBSAN_SIGNED_WRAP) \
    $(wildcard include/config/CC_HAS_ASM_INLINE) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/stringify.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/export.h \
    $(wildcard include/config/MODVERSIONS) \
    $(wildcard include/config/64BIT) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/compiler.h \
    $(wildcard include/config/TRACE_BRANCH_PROFILING) \
    $(wildcard include/config/PROFILE_ALL_BRANCHES) \
    $(wildcard include/config/OBJTOOL) \
  arch/x86/include/generated/asm/rwonce.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/asm-generic/rwonce.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/arch/x86/include/asm/linkage.h \
    $(wildcard include/config/X86_32) \
    $(wildcard include/config/CALL_PADDING) \
    $(wildcard include/config/MITIGATION_RETHUNK) \
    $(wildcard include/config/MITIGATION_RETPOLINE) \
    $(wildcard include/config/MITIGATION_SLS) \
    $(wildcard include/config/FUNCTION_PADDING_BYTES) \
    $(wildcard include/config/UML) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/arch/x86/include/asm/ibt.h \
    $(wildcard include/config/X86_KERNEL_IBT) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/types.h \
    $(wildcard include/config/HAVE_UID16) \
    $(wildcard include/config/UID16) \
    $(wildcard include/config/ARCH_DMA_ADDR_T_64BIT) \
    $(wildcard include/config/PHYS_ADDR_T_64BIT) \
    $(wildcard include/config/ARCH_32BIT_USTAT_F_TINODE) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi/linux/types.h \
  arch/x86/include/generated/uapi/asm/types.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi/asm-generic/types.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/asm-generic/int-ll64.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi/asm-generic/int-ll64.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/arch/x86/include/uapi/asm/bitsperlong.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/asm-generic/bitsperlong.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi/asm-generic/bitsperlong.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/linux/errno.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi/linux/errno.h \
  arch/x86/include/generated/uapi/asm/errno.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi/asm-generic/errno.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/include/uapi/asm-generic/errno-base.h \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/arch/x86/include/asm/asm.h \
    $(wildcard include/config/KPROBES) \
  /root/.cache/vhm/kernels/6.12.95+deb12-amd64/root/usr/src/linux-headers-6.12.95+deb12-common/arch/x86/include/asm/extable_fixup_types.h \

/work/main/kmod/vmx_insn.o: $(deps_/work/main/kmod/vmx_insn.o)

$(deps_/work/main/kmod/vmx_insn.o):
