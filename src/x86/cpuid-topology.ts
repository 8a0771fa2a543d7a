/**
 * Per-vCPU topology in CPUID: one package with `vcpuCount` single-threaded cores,
 * vCPU i having (x2)APIC id i, the ids the MP table announces. KVM copies whatever
 * KVM_GET_SUPPORTED_CPUID says, which describes the host, so every vCPU must get its
 * own ids and the VM's core count here or Linux would see duplicate APIC ids.
 */
import type { CpuidEntry } from './cpuid-types.js';
import { KVM_CPUID_FLAG_SIGNIFICANT_INDEX } from './kvm-cpuid2.js';

const LEAF_BASIC = 0x1;
const LEAF_CACHE_PARAMS = 0x4;
const LEAF_EXT_TOPOLOGY = 0xb;
const LEAF_V2_EXT_TOPOLOGY = 0x1f;
const LEAF_EXT_FEATURES = 0x80000001;
const LEAF_ADDRESS_SIZES = 0x80000008;
const LEAF_AMD_CACHE_TOPOLOGY = 0x8000001d;
const LEAF_AMD_EXT_APIC_ID = 0x8000001e;

const LEAF1_EDX_HTT = 1 << 28;
const EXT1_ECX_CMP_LEGACY = 1 << 1;
/** Topology level types of leaves 0xB/0x1F, ECX[15:8]. */
const LEVEL_SMT = 1;
const LEVEL_CORE = 2;

export interface Topology {
  apicId: number;
  vcpuCount: number;
}

/** Bits of an APIC id needed to number `n` cores. */
export function coreIdBits(n: number): number {
  return n <= 1 ? 0 : Math.ceil(Math.log2(n));
}

function isAmdLike(entries: readonly CpuidEntry[]): boolean {
  const leaf0 = entries.find((e) => e.function === 0);
  if (!leaf0) return false;
  const vendor = [leaf0.ebx, leaf0.edx, leaf0.ecx].map((r) => String.fromCharCode(r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24)).join('');
  return vendor === 'AuthenticAMD' || vendor === 'HygonGenuine';
}

/** Cache leaves (4, 0x8000001D): EAX[25:14] = sharing logical CPUs - 1, leaf 4 EAX[31:26] = cores - 1. */
function cacheEntry(e: CpuidEntry, t: Topology, withCoreCount: boolean): CpuidEntry {
  if ((e.eax & 0x1f) === 0) return e; // no cache at this subleaf
  const level = (e.eax >>> 5) & 0x7;
  const sharing = level >= 3 ? t.vcpuCount : 1; // L1/L2 private per core, L3 shared by the package
  let eax = (e.eax & 0x3fff) | ((sharing - 1) << 14);
  eax = withCoreCount ? eax | ((t.vcpuCount - 1) << 26) : eax | (e.eax & 0xfc000000);
  return { ...e, eax: eax >>> 0 };
}

/**
 * The whole level list of leaf 0xB or 0x1F: SMT (one thread), core (vcpuCount cores), then
 * a terminating level of type 0, each with this vCPU's x2APIC id in EDX. Generated rather
 * than patched because KVM may list fewer subleaves than that (kvm_pvm lists only 0xB.0),
 * and a missing core level would make Linux put every vCPU in its own package.
 */
function extTopologyLevels(leaf: number, flags: number, t: Topology): CpuidEntry[] {
  const f = flags | KVM_CPUID_FLAG_SIGNIFICANT_INDEX;
  return [
    { function: leaf, index: 0, flags: f, eax: 0, ebx: 1, ecx: (LEVEL_SMT << 8) | 0, edx: t.apicId },
    { function: leaf, index: 1, flags: f, eax: coreIdBits(t.vcpuCount), ebx: t.vcpuCount, ecx: (LEVEL_CORE << 8) | 1, edx: t.apicId },
    { function: leaf, index: 2, flags: f, eax: 0, ebx: 0, ecx: 2, edx: t.apicId },
  ];
}

export function applyTopology(entries: readonly CpuidEntry[], t: Topology): CpuidEntry[] {
  const amd = isAmdLike(entries);
  const multi = t.vcpuCount > 1;
  const generated = new Set<number>();
  return entries.flatMap((e): CpuidEntry | CpuidEntry[] => {
    switch (e.function) {
      case LEAF_BASIC: {
        const ebx = (e.ebx & 0xffff) | ((t.vcpuCount & 0xff) << 16) | ((t.apicId & 0xff) << 24);
        const edx = multi ? e.edx | LEAF1_EDX_HTT : e.edx & ~LEAF1_EDX_HTT;
        return { ...e, ebx: ebx >>> 0, edx: edx >>> 0 };
      }
      case LEAF_CACHE_PARAMS:
        return cacheEntry(e, t, true);
      case LEAF_EXT_TOPOLOGY:
      case LEAF_V2_EXT_TOPOLOGY:
        if (generated.has(e.function)) return [];
        generated.add(e.function);
        return extTopologyLevels(e.function, e.flags, t);
      case LEAF_EXT_FEATURES:
        if (!amd) return e;
        return { ...e, ecx: (multi ? e.ecx | EXT1_ECX_CMP_LEGACY : e.ecx & ~EXT1_ECX_CMP_LEGACY) >>> 0 };
      case LEAF_ADDRESS_SIZES:
        // AMD: ECX[7:0] = cores - 1, ECX[15:12] = APIC id bits for the core number.
        if (!amd) return e;
        return { ...e, ecx: ((e.ecx & ~0xf0ff) | ((t.vcpuCount - 1) & 0xff) | (coreIdBits(t.vcpuCount) << 12)) >>> 0 };
      case LEAF_AMD_CACHE_TOPOLOGY:
        return amd ? cacheEntry(e, t, false) : e;
      case LEAF_AMD_EXT_APIC_ID:
        // EAX extended APIC id, EBX[7:0] core id with one thread per core, ECX node 0 of 1.
        return amd ? { ...e, eax: t.apicId, ebx: t.apicId & 0xff, ecx: 0, edx: 0 } : e;
      default:
        return e;
    }
  });
}
