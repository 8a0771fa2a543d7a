/**
 * The CPUID a guest vCPU sees: KVM_GET_SUPPORTED_CPUID's answer with this vCPU's
 * topology filled in and, on the kvm_pvm backend, every feature hidden that would lead
 * the emulated guest kernel to instructions KVM's emulator cannot execute.
 */
import { KVM_PVM_HIDDEN_FEATURES, type HiddenFeature } from './cpuid-hidden-features.js';
import { applyTopology } from './cpuid-topology.js';
import type { CpuidEntry } from './cpuid-types.js';

export type { CpuidEntry } from './cpuid-types.js';
export { KVM_PVM_HIDDEN_FEATURES, type HiddenFeature, type CpuidRegister } from './cpuid-hidden-features.js';
export { encodeCpuid2, decodeCpuid2, CpuidDecodeError, KVM_CPUID_FLAG_SIGNIFICANT_INDEX } from './kvm-cpuid2.js';

/** 'kvm_pvm': guest kernel runs in KVM's instruction emulator (see the notes); 'hardware': VT-x/AMD-V. */
export type CpuidBackend = 'kvm_pvm' | 'hardware';

export interface GuestCpuidOptions {
  vcpuIndex: number;
  vcpuCount: number;
  backend: CpuidBackend;
}

export class CpuidConfigError extends Error {
  override readonly name = 'CpuidConfigError';
}

const LEAF_XSAVE = 0xd;
/** XCR0 bits for x87 and SSE state: the legacy FXSAVE area. */
const XCR0_X87_SSE = 0x3;
/** Size of the legacy FXSAVE area plus the XSAVE header. */
const LEGACY_XSAVE_AREA = 512 + 64;

function hide(entries: CpuidEntry[], features: readonly HiddenFeature[]): CpuidEntry[] {
  return entries.map((e) => {
    let out = e;
    for (const f of features) {
      if (f.leaf !== e.function || f.subleaf !== e.index) continue;
      out = { ...out, [f.reg]: (out[f.reg] & ~(1 << f.bit)) >>> 0 };
    }
    return out;
  });
}

/**
 * Leaf 0xD described as a CPU whose only state is x87/SSE, consistent with XSAVE being
 * hidden: subleaf 0 keeps the legacy area, subleaf 1 has no XSAVEOPT/XSAVEC/XSAVES, and
 * the per-component subleaves (AVX, AVX-512, PKRU, AMX...) are dropped. KVM derives the
 * XCR0 bits it allows the guest from subleaf 0.
 */
function xsaveLeafWithoutXsave(entries: CpuidEntry[]): CpuidEntry[] {
  const out: CpuidEntry[] = [];
  for (const e of entries) {
    if (e.function !== LEAF_XSAVE) out.push(e);
    else if (e.index === 0) out.push({ ...e, eax: XCR0_X87_SSE, ebx: LEGACY_XSAVE_AREA, ecx: LEGACY_XSAVE_AREA, edx: 0 });
    else if (e.index === 1) out.push({ ...e, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  }
  return out;
}

export function buildGuestCpuid(supported: readonly CpuidEntry[], opts: GuestCpuidOptions): CpuidEntry[] {
  const { vcpuIndex, vcpuCount, backend } = opts;
  if (!Number.isInteger(vcpuCount) || vcpuCount < 1 || vcpuCount > 254) throw new CpuidConfigError(`vCPU count must be 1..254, got ${vcpuCount}`);
  if (!Number.isInteger(vcpuIndex) || vcpuIndex < 0 || vcpuIndex >= vcpuCount) throw new CpuidConfigError(`vCPU index ${vcpuIndex} is outside 0..${vcpuCount - 1}`);
  let entries = applyTopology(supported, { apicId: vcpuIndex, vcpuCount });
  if (backend === 'kvm_pvm') {
    entries = hide(entries, KVM_PVM_HIDDEN_FEATURES);
    entries = xsaveLeafWithoutXsave(entries);
  }
  return entries;
}
