/**
 * struct kvm_cpuid2 (asm/kvm.h), the buffer of KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2:
 *   u32 nent; u32 padding; struct kvm_cpuid_entry2 entries[nent];
 *   kvm_cpuid_entry2 = { u32 function, index, flags, eax, ebx, ecx, edx, padding[3] } (40 bytes)
 */
import type { CpuidEntry } from './cpuid-types.js';

export const KVM_CPUID2_HEADER_SIZE = 8;
export const KVM_CPUID_ENTRY2_SIZE = 40;
/** flags: the entry applies only to this subleaf (index). */
export const KVM_CPUID_FLAG_SIGNIFICANT_INDEX = 1 << 0;

export class CpuidDecodeError extends Error {
  override readonly name = 'CpuidDecodeError';
}

export function encodeCpuid2(entries: readonly CpuidEntry[]): Buffer {
  const buf = Buffer.alloc(KVM_CPUID2_HEADER_SIZE + entries.length * KVM_CPUID_ENTRY2_SIZE);
  buf.writeUInt32LE(entries.length, 0);
  entries.forEach((e, i) => {
    const o = KVM_CPUID2_HEADER_SIZE + i * KVM_CPUID_ENTRY2_SIZE;
    buf.writeUInt32LE(e.function >>> 0, o);
    buf.writeUInt32LE(e.index >>> 0, o + 4);
    buf.writeUInt32LE(e.flags >>> 0, o + 8);
    buf.writeUInt32LE(e.eax >>> 0, o + 12);
    buf.writeUInt32LE(e.ebx >>> 0, o + 16);
    buf.writeUInt32LE(e.ecx >>> 0, o + 20);
    buf.writeUInt32LE(e.edx >>> 0, o + 24);
  });
  return buf;
}

/** Decodes `nent` entries (as KVM filled them in); the buffer may be larger than needed. */
export function decodeCpuid2(raw: Uint8Array): CpuidEntry[] {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (buf.length < KVM_CPUID2_HEADER_SIZE) throw new CpuidDecodeError(`kvm_cpuid2 buffer of ${buf.length} bytes has no header`);
  const nent = buf.readUInt32LE(0);
  if (KVM_CPUID2_HEADER_SIZE + nent * KVM_CPUID_ENTRY2_SIZE > buf.length) {
    throw new CpuidDecodeError(`kvm_cpuid2 claims ${nent} entries but the buffer holds ${Math.floor((buf.length - KVM_CPUID2_HEADER_SIZE) / KVM_CPUID_ENTRY2_SIZE)}`);
  }
  const out: CpuidEntry[] = [];
  for (let i = 0; i < nent; i++) {
    const o = KVM_CPUID2_HEADER_SIZE + i * KVM_CPUID_ENTRY2_SIZE;
    out.push({
      function: buf.readUInt32LE(o),
      index: buf.readUInt32LE(o + 4),
      flags: buf.readUInt32LE(o + 8),
      eax: buf.readUInt32LE(o + 12),
      ebx: buf.readUInt32LE(o + 16),
      ecx: buf.readUInt32LE(o + 20),
      edx: buf.readUInt32LE(o + 24),
    });
  }
  return out;
}
