/**
 * CPUID feature bits hidden from a guest whose kernel runs in KVM's instruction emulator
 * (the kvm_pvm backend: guest CPL0 code is emulated, guest user space runs natively).
 * Linux picks instructions by CPUID (alternatives, crypto/SIMD drivers, string helpers),
 * so hiding a feature keeps the emulated kernel off instructions the emulator lacks; an
 * unemulatable instruction ends the guest with KVM_EXIT_INTERNAL_ERROR. Guest user space
 * then sees the same reduced CPU and takes its baseline x86-64 code paths, which is slower
 * for some programs but always correct.
 * Sources: shared/notes/kvm-on-these-machines.md (instructions seen failing) and the list
 * of opcodes in arch/x86/kvm/emulate.c.
 */

export type CpuidRegister = 'eax' | 'ebx' | 'ecx' | 'edx';

export interface HiddenFeature {
  leaf: number;
  subleaf: number;
  reg: CpuidRegister;
  bit: number;
  name: string;
  why: string;
}

const NO_VEX = 'VEX/EVEX-encoded instructions: the emulator decodes none of them';
const KERNEL_SIMD = 'used by kernel-mode SIMD code (crypto drivers and their self-tests at registration), which needs ldmxcsr/SSE moves the emulator lacks';

export const KVM_PVM_HIDDEN_FEATURES: readonly HiddenFeature[] = [
  // Leaf 1 ECX
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 1, name: 'PCLMULQDQ', why: KERNEL_SIMD },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 5, name: 'VMX', why: 'no nested virtualization under kvm_pvm' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 9, name: 'SSSE3', why: KERNEL_SIMD },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 12, name: 'FMA', why: NO_VEX },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 13, name: 'CX16', why: 'lock cmpxchg16b (this_cpu_cmpxchg_double, SLUB) fails in the emulator; clearing it is honoured by KVM' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 17, name: 'PCID', why: 'the known-good boots used nopcid: PCID makes the kernel use INVPCID/CR3 no-flush paths not validated under the emulator' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 19, name: 'SSE4.1', why: 'SSE4 instructions in kernel SIMD paths are not emulated; hiding SSE4 kept the stock kernel off them' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 20, name: 'SSE4.2', why: 'crc32 instruction (crc32c-intel) and SSE4.2 string ops are not emulated' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 22, name: 'MOVBE', why: 'movbe is not emulated (the known-good boots used clearcpuid=movbe)' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 23, name: 'POPCNT', why: 'popcnt (patched into hweight*() by alternatives) fails in the emulator' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 25, name: 'AES', why: KERNEL_SIMD },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 26, name: 'XSAVE', why: 'xsave/xrstor (FPU context switch) fail in the emulator; without XSAVE the kernel uses fxsave' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 27, name: 'OSXSAVE', why: 'mirrors CR4.OSXSAVE, which cannot be set once XSAVE is hidden' },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 28, name: 'AVX', why: NO_VEX },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 29, name: 'F16C', why: NO_VEX },
  { leaf: 1, subleaf: 0, reg: 'ecx', bit: 30, name: 'RDRAND', why: 'rdrand (kernel RNG seeding) is not emulated' },
  // Leaf 7.0 EBX
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 0, name: 'FSGSBASE', why: 'rd/wrfsbase and rd/wrgsbase in the context switch are not emulated (known-good boots used nofsgsbase)' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 2, name: 'SGX', why: 'enclaves need hardware virtualization support that kvm_pvm lacks' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 3, name: 'BMI1', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 4, name: 'HLE', why: 'TSX xacquire/xrelease prefixes: transactional execution cannot be emulated' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 5, name: 'AVX2', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 8, name: 'BMI2', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 10, name: 'INVPCID', why: 'invpcid is not emulated (known-good boots used noinvpcid)' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 11, name: 'RTM', why: 'xbegin/xend: transactional execution cannot be emulated' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 14, name: 'MPX', why: 'bnd* instructions and their XSAVE state are not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 16, name: 'AVX512F', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 17, name: 'AVX512DQ', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 18, name: 'RDSEED', why: 'rdseed is not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 19, name: 'ADX', why: 'adcx/adox are not emulated (used by kernel crypto)' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 20, name: 'SMAP', why: 'stac/clac around every user access fail in the emulator' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 21, name: 'AVX512IFMA', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 25, name: 'INTEL_PT', why: 'processor trace needs XSAVES-managed state and MSRs kvm_pvm does not virtualize' },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 26, name: 'AVX512PF', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 27, name: 'AVX512ER', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 28, name: 'AVX512CD', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 29, name: 'SHA', why: KERNEL_SIMD },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 30, name: 'AVX512BW', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ebx', bit: 31, name: 'AVX512VL', why: NO_VEX },
  // Leaf 7.0 ECX
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 1, name: 'AVX512VBMI', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 2, name: 'UMIP', why: 'only restricts user-mode sgdt/sidt/smsw; guest user space runs at hardware CPL3 under kvm_pvm, where enforcement of the guest CR4.UMIP is unverified, so hiding it is the safe choice' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 3, name: 'PKU', why: 'rdpkru/wrpkru and PKRU XSAVE state are not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 4, name: 'OSPKE', why: 'mirrors CR4.PKE, which cannot be set once PKU is hidden' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 5, name: 'WAITPKG', why: 'umonitor/umwait/tpause are not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 6, name: 'AVX512VBMI2', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 7, name: 'CET_SS', why: 'shadow stacks need XSAVES-managed CET state' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 8, name: 'GFNI', why: KERNEL_SIMD },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 9, name: 'VAES', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 10, name: 'VPCLMULQDQ', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 11, name: 'AVX512VNNI', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 12, name: 'AVX512BITALG', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 14, name: 'AVX512VPOPCNTDQ', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 22, name: 'RDPID', why: 'rdpid (per-CPU number in vDSO/paranoid entry) is not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 23, name: 'KL', why: 'Key Locker instructions are not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 27, name: 'MOVDIRI', why: 'movdiri is not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 28, name: 'MOVDIR64B', why: 'movdir64b is not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 29, name: 'ENQCMD', why: 'enqcmd is not emulated' },
  { leaf: 7, subleaf: 0, reg: 'ecx', bit: 30, name: 'SGX_LC', why: 'SGX is hidden' },
  // Leaf 7.0 EDX
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 2, name: 'AVX512_4VNNIW', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 3, name: 'AVX512_4FMAPS', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 8, name: 'AVX512_VP2INTERSECT', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 14, name: 'SERIALIZE', why: 'serialize (sync_core) is not emulated' },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 16, name: 'TSXLDTRK', why: 'xsusldtrk/xresldtrk are not emulated' },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 22, name: 'AMX_BF16', why: 'AMX tiles need XSAVE state' },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 23, name: 'AVX512_FP16', why: NO_VEX },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 24, name: 'AMX_TILE', why: 'AMX tiles need XSAVE state' },
  { leaf: 7, subleaf: 0, reg: 'edx', bit: 25, name: 'AMX_INT8', why: 'AMX tiles need XSAVE state' },
  // Leaf 7.1 EAX
  { leaf: 7, subleaf: 1, reg: 'eax', bit: 4, name: 'AVX_VNNI', why: NO_VEX },
  { leaf: 7, subleaf: 1, reg: 'eax', bit: 5, name: 'AVX512_BF16', why: NO_VEX },
  { leaf: 7, subleaf: 1, reg: 'eax', bit: 7, name: 'CMPCCXADD', why: NO_VEX },
  { leaf: 7, subleaf: 1, reg: 'eax', bit: 21, name: 'AMX_FP16', why: 'AMX tiles need XSAVE state' },
  { leaf: 7, subleaf: 1, reg: 'eax', bit: 23, name: 'AVX_IFMA', why: NO_VEX },
  { leaf: 7, subleaf: 1, reg: 'eax', bit: 26, name: 'LAM', why: 'linear address masking changes address translation the shadow MMU of kvm_pvm does not implement' },
  // Leaf 0x80000001
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', bit: 2, name: 'SVM', why: 'no nested virtualization under kvm_pvm' },
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', bit: 5, name: 'ABM/LZCNT', why: 'lzcnt is not emulated' },
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', bit: 6, name: 'SSE4A', why: 'extrq/insertq are not emulated' },
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', bit: 11, name: 'XOP', why: 'XOP-encoded instructions are not emulated' },
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', bit: 16, name: 'FMA4', why: NO_VEX },
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', bit: 21, name: 'TBM', why: 'XOP-encoded bit-manipulation instructions are not emulated' },
  { leaf: 0x80000001, subleaf: 0, reg: 'ecx', bit: 29, name: 'MWAITX', why: 'monitorx/mwaitx (AMD delay loop) are not emulated' },
  { leaf: 0x80000001, subleaf: 0, reg: 'edx', bit: 27, name: 'RDTSCP', why: 'rdtscp (vgetcpu, sched_clock paths) is not emulated' },
  // KVM paravirtual features (leaf 0x40000001 EAX) that make the guest kernel issue hypercalls:
  // a kernel stalled for minutes in kvm_hypercall2 under kvm_pvm.
  { leaf: 0x40000001, subleaf: 0, reg: 'eax', bit: 7, name: 'KVM_PV_UNHALT', why: 'pv spinlock kick is a hypercall' },
  { leaf: 0x40000001, subleaf: 0, reg: 'eax', bit: 11, name: 'KVM_PV_SEND_IPI', why: 'pv IPIs are hypercalls' },
  { leaf: 0x40000001, subleaf: 0, reg: 'eax', bit: 13, name: 'KVM_PV_SCHED_YIELD', why: 'pv yield is a hypercall' },
  { leaf: 0x40000001, subleaf: 0, reg: 'eax', bit: 16, name: 'KVM_HC_MAP_GPA_RANGE', why: 'a hypercall, only meaningful for confidential guests' },
];
