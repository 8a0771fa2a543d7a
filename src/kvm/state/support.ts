/**
 * What this host's KVM can save and restore, found once at start-up: the optional
 * capabilities (XSAVE, XCRS, debug registers, vCPU events, kvmclock, TSC frequency)
 * and the MSRs KVM_GET_MSRS really reads. Capture and restore consult it instead of
 * discovering refusals half-way through.
 */
import * as K from '../constants.js';
import { isNativeError } from '../native.js';
import type { KvmSystem, KvmBackend } from '../system.js';
import { XSAVE_SIZE, type VcpuFd } from '../vcpu-fd.js';
import { bootMsrs } from '../../x86/msr.js';

/** KVM_CAP_XSAVE2 (asm-generic numbering in linux/kvm.h). */
const KVM_CAP_XSAVE2 = 208;

export interface KvmStateCapabilities {
  backend: KvmBackend;
  /** KVM_GET_XSAVE/KVM_SET_XSAVE; without it the FPU is carried with KVM_GET_FPU. */
  xsave: boolean;
  /** Bytes of struct kvm_xsave (4096 unless KVM_CAP_XSAVE2 says the XSTATE is larger). */
  xsaveSize: number;
  xcrs: boolean;
  debugRegs: boolean;
  vcpuEvents: boolean;
  /** KVM_GET_CLOCK/KVM_SET_CLOCK. */
  clock: boolean;
  tscKhz: boolean;
}

export function detectStateCapabilities(kvm: KvmSystem): KvmStateCapabilities {
  const has = (cap: number) => kvm.checkExtension(cap) > 0;
  const xsave = has(K.KVM_CAP_XSAVE);
  return {
    backend: kvm.backend,
    xsave,
    xsaveSize: xsave ? Math.max(XSAVE_SIZE, kvm.checkExtension(KVM_CAP_XSAVE2)) : 0,
    xcrs: has(K.KVM_CAP_XCRS),
    debugRegs: has(K.KVM_CAP_DEBUGREGS),
    vcpuEvents: has(K.KVM_CAP_VCPU_EVENTS),
    clock: has(K.KVM_CAP_ADJUST_CLOCK),
    tscKhz: has(K.KVM_CAP_GET_TSC_KHZ),
  };
}

export interface KvmStateSupport {
  readonly capabilities: KvmStateCapabilities;
  /** MSRs carried in a vCPU's state: readable one by one on this host, in KVM's order. */
  readonly msrIndices: readonly number[];
  /** MSRs KVM lists but refused to read (kept for the report, never carried). */
  readonly unreadableMsrs: readonly number[];
}

/**
 * Probes a vCPU (with its CPUID already set: which MSRs exist depends on it) for the
 * MSRs KVM_GET_MSRS can read. The candidates are KVM_GET_MSR_INDEX_LIST plus the MSRs
 * cuju itself sets at boot (the MTRR default type is not in every backend's list, but
 * the guest relies on the value we gave it).
 */
export function probeStateSupport(kvm: KvmSystem, probe: VcpuFd): KvmStateSupport {
  const candidates = [...new Set([...kvm.msrIndexList(), ...bootMsrs().map((m) => m.index)])];
  const msrIndices: number[] = [];
  const unreadableMsrs: number[] = [];
  for (const index of candidates) {
    let readable = false;
    try {
      readable = probe.getMsrs([index]).length === 1;
    } catch (e) {
      if (!isNativeError(e)) throw e;
    }
    (readable ? msrIndices : unreadableMsrs).push(index);
  }
  return { capabilities: detectStateCapabilities(kvm), msrIndices, unreadableMsrs };
}
