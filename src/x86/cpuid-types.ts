/** One CPUID leaf/subleaf as KVM describes it (struct kvm_cpuid_entry2 without padding). */
export interface CpuidEntry {
  /** Leaf (EAX input). */
  function: number;
  /** Subleaf (ECX input); meaningful when flags has KVM_CPUID_FLAG_SIGNIFICANT_INDEX. */
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}
