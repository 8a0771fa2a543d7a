/**
 * A vCPU's complete KVM state, captured from a parked vCPU and restored into a fresh
 * one. The components are KVM's own structs as raw bytes (their layout is KVM's ABI),
 * except the MP state, the MSRs and the TSC frequency, which are plain numbers.
 *
 * The order of the ioctls matters; it follows Firecracker's vcpu.rs (see comments in
 * captureVcpuState / restoreVcpuState for why).
 */
import { REGS_SIZE, SREGS_SIZE, decodeRegs, decodeSregs } from '../structs.js';
import { DEBUGREGS_SIZE, FPU_SIZE, LAPIC_SIZE, VCPU_EVENTS_SIZE, XCRS_SIZE, type VcpuFd } from '../vcpu-fd.js';
import { KvmStateError, kvmCall } from './errors.js';
import type { KvmStateCapabilities, KvmStateSupport } from './support.js';

export const MSR_IA32_TSC_DEADLINE = 0x6e0;
const KVM_CPUID2_HEADER = 8;
const KVM_CPUID_ENTRY = 40;
/** KVM refuses more than this many MSRs in one KVM_GET_MSRS/KVM_SET_MSRS (MAX_IO_MSRS). */
const MSR_CHUNK = 128;

export interface MsrValue {
  index: number;
  data: bigint;
}

export type FpuState =
  | { kind: 'xsave'; bytes: Uint8Array }
  /** struct kvm_fpu, used when the host lacks KVM_CAP_XSAVE. */
  | { kind: 'fpu'; bytes: Uint8Array };

export interface VcpuState {
  /** struct kvm_cpuid2 with `nent` = the entries present. */
  cpuid: Uint8Array;
  mpState: number;
  /** struct kvm_regs */
  regs: Uint8Array;
  /** struct kvm_sregs */
  sregs: Uint8Array;
  fpu: FpuState;
  /** struct kvm_xcrs; absent when the source host had no KVM_CAP_XCRS. */
  xcrs?: Uint8Array;
  /** struct kvm_debugregs; absent without KVM_CAP_DEBUGREGS. */
  debugRegs?: Uint8Array;
  /** struct kvm_lapic_state */
  lapic: Uint8Array;
  msrs: MsrValue[];
  /** struct kvm_vcpu_events; absent without KVM_CAP_VCPU_EVENTS. */
  events?: Uint8Array;
  /** The TSC frequency the guest calibrated against (informational: no TSC scaling here). */
  tscKhz?: number;
}

/** KVM_GET_CPUID2 leaves the unused tail of the buffer zero: keep only `nent` entries. */
function trimCpuid2(raw: Uint8Array): Uint8Array {
  const nent = new DataView(raw.buffer, raw.byteOffset).getUint32(0, true);
  return raw.slice(0, KVM_CPUID2_HEADER + nent * KVM_CPUID_ENTRY);
}

/**
 * Reads the state of a parked vCPU (never one inside KVM_RUN). All vCPUs of the VM
 * must be parked: KVM_GET_VCPU_EVENTS is not safe while others run.
 */
export function captureVcpuState(fd: VcpuFd, support: KvmStateSupport): VcpuState {
  const caps = support.capabilities;
  const what = `vCPU ${fd.index}`;
  const get = <T>(ioctl: string, call: () => T) => kvmCall(ioctl, 'capture', what, call);
  // KVM_GET_MP_STATE runs kvm_apic_accept_events(), which may change vCPU and LAPIC
  // state: read it first so everything after reflects the same moment.
  const mpState = get('KVM_GET_MP_STATE', () => fd.getMpState());
  // Kept as KVM's raw structs: decoding into objects only to encode them again costs ~40 µs a pause.
  const regs = get('KVM_GET_REGS', () => fd.getRegsRaw());
  const sregs = get('KVM_GET_SREGS', () => fd.getSregsRaw());
  const fpu: FpuState = caps.xsave
    ? { kind: 'xsave', bytes: get('KVM_GET_XSAVE', () => fd.getXsave(caps.xsaveSize)) }
    : { kind: 'fpu', bytes: get('KVM_GET_FPU', () => fd.getFpu()) };
  const xcrs = caps.xcrs ? get('KVM_GET_XCRS', () => fd.getXcrs()) : undefined;
  const debugRegs = caps.debugRegs ? get('KVM_GET_DEBUGREGS', () => fd.getDebugRegs()) : undefined;
  // KVM_GET_LAPIC may update the LAPIC before returning it; MSRs (TSC deadline) after it.
  const lapic = get('KVM_GET_LAPIC', () => fd.getLapic());
  const tscKhz = caps.tscKhz ? get('KVM_GET_TSC_KHZ', () => fd.getTscKhz()) : undefined;
  const cpuid = trimCpuid2(get('KVM_GET_CPUID2', () => fd.getCpuid2()));
  const msrs = get('KVM_GET_MSRS', () => readMsrs(fd, support.msrIndices));
  // Events last: the GET ioctls above may change what is pending.
  const events = caps.vcpuEvents ? get('KVM_GET_VCPU_EVENTS', () => fd.getVcpuEvents()) : undefined;
  return { cpuid, mpState, regs, sregs, fpu, xcrs, debugRegs, lapic, msrs, events, tscKhz };
}

function readMsrs(fd: VcpuFd, indices: readonly number[]): MsrValue[] {
  const out: MsrValue[] = [];
  for (let i = 0; i < indices.length; i += MSR_CHUNK) {
    const chunk = indices.slice(i, i + MSR_CHUNK);
    const got = fd.getMsrs(chunk);
    if (got.length < chunk.length) {
      const index = chunk[got.length];
      throw new KvmStateError(
        `KVM_GET_MSRS stopped at MSR 0x${index.toString(16)} on vCPU ${fd.index}, which it could read at start-up`,
        'KVM_GET_MSRS',
      );
    }
    out.push(...got);
  }
  return out;
}

/** Checks every component's size before anything is written to the vCPU. */
export function validateVcpuState(s: VcpuState, caps: KvmStateCapabilities, where: string): void {
  const size = (name: string, bytes: Uint8Array | undefined, expected: number) => {
    if (bytes !== undefined && bytes.length !== expected) {
      throw new KvmStateError(`${where}: ${name} is ${bytes.length} bytes, KVM's struct is ${expected}`, name);
    }
  };
  size('kvm_regs', s.regs, REGS_SIZE);
  size('kvm_sregs', s.sregs, SREGS_SIZE);
  size('kvm_lapic_state', s.lapic, LAPIC_SIZE);
  size('kvm_xcrs', s.xcrs, XCRS_SIZE);
  size('kvm_debugregs', s.debugRegs, DEBUGREGS_SIZE);
  size('kvm_vcpu_events', s.events, VCPU_EVENTS_SIZE);
  if (s.cpuid.length < KVM_CPUID2_HEADER) throw new KvmStateError(`${where}: kvm_cpuid2 has no header`, 'KVM_SET_CPUID2');
  const nent = new DataView(s.cpuid.buffer, s.cpuid.byteOffset).getUint32(0, true);
  size('kvm_cpuid2', s.cpuid, KVM_CPUID2_HEADER + nent * KVM_CPUID_ENTRY);
  if (s.fpu.kind === 'fpu') size('kvm_fpu', s.fpu.bytes, FPU_SIZE);
  const missing = (ioctl: string, cap: string) => {
    throw new KvmStateError(`${where}: the state carries ${ioctl.replace('KVM_SET_', '')} but this host's KVM (${caps.backend}) lacks ${cap}`, ioctl);
  };
  if (s.fpu.kind === 'xsave') {
    if (!caps.xsave) missing('KVM_SET_XSAVE', 'KVM_CAP_XSAVE');
    if (s.fpu.bytes.length !== caps.xsaveSize) {
      throw new KvmStateError(`${where}: kvm_xsave is ${s.fpu.bytes.length} bytes, this host's XSTATE is ${caps.xsaveSize}`, 'KVM_SET_XSAVE');
    }
  }
  if (s.xcrs && !caps.xcrs) missing('KVM_SET_XCRS', 'KVM_CAP_XCRS');
  if (s.debugRegs && !caps.debugRegs) missing('KVM_SET_DEBUGREGS', 'KVM_CAP_DEBUGREGS');
  if (s.events && !caps.vcpuEvents) missing('KVM_SET_VCPU_EVENTS', 'KVM_CAP_VCPU_EVENTS');
}

/**
 * Writes a captured state into a vCPU that has not run yet (a fresh VM), in the
 * order KVM needs:
 *  - CPUID first: it decides which MSRs and XSAVE features exist and is what
 *    kvm_vcpu_is_bsp()-dependent SET ioctls look at.
 *  - REGS before VCPU_EVENTS: KVM_SET_REGS clears pending exceptions, which the
 *    events then restore.
 *  - SREGS before LAPIC: SREGS carries the APIC base MSR the LAPIC is placed by.
 *  - LAPIC before MSRs: the TSC deadline MSR only takes when the LAPIC is set up;
 *    within the MSRs, TSC before TSC deadline (deferred to the end).
 *  - VCPU_EVENTS last, with the captured valid-flags (NMI, SIPI, shadow, SMM) set,
 *    so every pending event comes back.
 */
export function restoreVcpuState(fd: VcpuFd, s: VcpuState, support: KvmStateSupport): void {
  const caps = support.capabilities;
  const what = `vCPU ${fd.index}`;
  validateVcpuState(s, caps, what);
  const set = (ioctl: string, call: () => void) => kvmCall(ioctl, 'restore', what, call);
  set('KVM_SET_CPUID2', () => fd.setCpuid2(s.cpuid));
  set('KVM_SET_MP_STATE', () => fd.setMpState(s.mpState));
  set('KVM_SET_REGS', () => fd.setRegs(decodeRegs(s.regs)));
  set('KVM_SET_SREGS', () => fd.setSregs(decodeSregs(s.sregs)));
  if (s.fpu.kind === 'xsave') {
    const bytes = s.fpu.bytes;
    set('KVM_SET_XSAVE', () => fd.setXsave(bytes));
  } else {
    const bytes = s.fpu.bytes;
    set('KVM_SET_FPU', () => fd.setFpu(bytes));
  }
  if (s.xcrs) { const b = s.xcrs; set('KVM_SET_XCRS', () => fd.setXcrs(b)); }
  if (s.debugRegs) { const b = s.debugRegs; set('KVM_SET_DEBUGREGS', () => fd.setDebugRegs(b)); }
  set('KVM_SET_LAPIC', () => fd.setLapic(s.lapic));
  const early = s.msrs.filter((m) => m.index !== MSR_IA32_TSC_DEADLINE);
  const deferred = s.msrs.filter((m) => m.index === MSR_IA32_TSC_DEADLINE);
  set('KVM_SET_MSRS', () => writeMsrs(fd, [...early, ...deferred]));
  if (s.events) { const b = s.events; set('KVM_SET_VCPU_EVENTS', () => fd.setVcpuEvents(b)); }
}

function writeMsrs(fd: VcpuFd, msrs: MsrValue[]): void {
  for (let i = 0; i < msrs.length; i += MSR_CHUNK) {
    const chunk = msrs.slice(i, i + MSR_CHUNK);
    const accepted = fd.setMsrs(chunk);
    if (accepted < chunk.length) {
      const m = chunk[accepted];
      throw new KvmStateError(
        `KVM_SET_MSRS refused MSR 0x${m.index.toString(16)} = 0x${m.data.toString(16)} on vCPU ${fd.index}: this host's KVM cannot take the saved value`,
        'KVM_SET_MSRS',
      );
    }
  }
}
