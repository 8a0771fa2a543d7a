/** A KVM vCPU file descriptor: register state ioctls and the shared kvm_run mapping. */
import * as K from './constants.js';
import { native } from './native.js';
import {
  decodeMsrs, decodeRegs, decodeSregs, encodeMsrs, encodeRegs, encodeSregs,
  REGS_SIZE, SREGS_SIZE, type Regs, type Sregs,
} from './structs.js';

export const FPU_SIZE = 416;
export const LAPIC_SIZE = 1024;
export const VCPU_EVENTS_SIZE = 64;
export const XSAVE_SIZE = 4096;
export const XCRS_SIZE = 392;
export const DEBUGREGS_SIZE = 128;
/** _IOR(KVMIO, 0xcf, struct kvm_xsave): the variable-size XSTATE read (KVM_CAP_XSAVE2). */
const KVM_GET_XSAVE2 = 0x9000aecf;

export class VcpuFd {
  /** The kvm_run struct, shared with the kernel and the vCPU thread. */
  readonly run: ArrayBuffer;
  readonly runView: DataView;

  constructor(readonly fd: number, readonly index: number, mmapSize: number) {
    this.run = native().mmapFd(fd, mmapSize, 0, true);
    this.runView = new DataView(this.run);
  }

  getRegs(): Regs {
    const buf = new Uint8Array(REGS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_REGS, buf);
    return decodeRegs(buf);
  }

  /** Raw struct kvm_regs: what a capture keeps, without decoding 18 registers into BigInts and back. */
  getRegsRaw(): Uint8Array {
    const buf = new Uint8Array(REGS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_REGS, buf);
    return buf;
  }

  setRegs(r: Regs): void {
    native().ioctl(this.fd, K.KVM_SET_REGS, encodeRegs(r));
  }

  getSregs(): Sregs {
    const buf = new Uint8Array(SREGS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_SREGS, buf);
    return decodeSregs(buf);
  }

  /** Raw struct kvm_sregs (decoding and re-encoding it cost ~35 µs of every FT pause). */
  getSregsRaw(): Uint8Array {
    const buf = new Uint8Array(SREGS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_SREGS, buf);
    return buf;
  }

  setSregs(s: Sregs): void {
    native().ioctl(this.fd, K.KVM_SET_SREGS, encodeSregs(s));
  }

  /** Raw struct kvm_fpu. */
  getFpu(): Uint8Array {
    const buf = new Uint8Array(FPU_SIZE);
    native().ioctl(this.fd, K.KVM_GET_FPU, buf);
    return buf;
  }

  setFpu(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_FPU, buf);
  }

  setCpuid2(raw: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_CPUID2, raw);
  }

  /** Reads the given MSRs; returns only those KVM reported (in order). */
  getMsrs(indices: number[]): { index: number; data: bigint }[] {
    const buf = encodeMsrs(indices.map((index) => ({ index, data: 0n })));
    const n = native().ioctl(this.fd, K.KVM_GET_MSRS, buf);
    return decodeMsrs(buf, n);
  }

  /** Sets MSRs; returns how many KVM accepted (it stops at the first it refuses). */
  setMsrs(entries: { index: number; data: bigint }[]): number {
    return native().ioctl(this.fd, K.KVM_SET_MSRS, encodeMsrs(entries));
  }

  getLapic(): Uint8Array {
    const buf = new Uint8Array(LAPIC_SIZE);
    native().ioctl(this.fd, K.KVM_GET_LAPIC, buf);
    return buf;
  }

  setLapic(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_LAPIC, buf);
  }

  getVcpuEvents(): Uint8Array {
    const buf = new Uint8Array(VCPU_EVENTS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_VCPU_EVENTS, buf);
    return buf;
  }

  setVcpuEvents(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_VCPU_EVENTS, buf);
  }

  getMpState(): number {
    const buf = new Uint8Array(4);
    native().ioctl(this.fd, K.KVM_GET_MP_STATE, buf);
    return new DataView(buf.buffer).getUint32(0, true);
  }

  setMpState(state: number): void {
    const buf = new Uint8Array(4);
    new DataView(buf.buffer).setUint32(0, state, true);
    native().ioctl(this.fd, K.KVM_SET_MP_STATE, buf);
  }

  /**
   * The vCPU's TSC frequency in kHz (KVM_GET_TSC_KHZ returns it as the ioctl result).
   * The guest would otherwise calibrate the TSC against the PIT, which under kvm_pvm
   * is emulated kernel code timing emulated port I/O.
   */
  getTscKhz(): number {
    return native().ioctl(this.fd, K.KVM_GET_TSC_KHZ);
  }

  /**
   * Raw struct kvm_cpuid2 as set on this vCPU (KVM_GET_CPUID2). KVM does not shrink
   * `nent` to the entries it filled, so callers trim trailing all-zero entries.
   */
  getCpuid2(maxEntries = 256): Uint8Array {
    const buf = new Uint8Array(8 + 40 * maxEntries);
    new DataView(buf.buffer).setUint32(0, maxEntries, true);
    native().ioctl(this.fd, K.KVM_GET_CPUID2, buf);
    return buf;
  }

  /**
   * Raw struct kvm_xsave. `size` > 4096 (KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2)) reads the
   * whole XSTATE with KVM_GET_XSAVE2; 4096 uses the classic KVM_GET_XSAVE.
   */
  getXsave(size = XSAVE_SIZE): Uint8Array {
    const buf = new Uint8Array(Math.max(size, XSAVE_SIZE));
    native().ioctl(this.fd, size > XSAVE_SIZE ? KVM_GET_XSAVE2 : K.KVM_GET_XSAVE, buf);
    return buf;
  }

  /** KVM_SET_XSAVE reads as many bytes as the XSTATE size of this host, whatever the buffer. */
  setXsave(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_XSAVE, buf);
  }

  /** Raw struct kvm_xcrs. */
  getXcrs(): Uint8Array {
    const buf = new Uint8Array(XCRS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_XCRS, buf);
    return buf;
  }

  setXcrs(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_XCRS, buf);
  }

  /** Raw struct kvm_debugregs. */
  getDebugRegs(): Uint8Array {
    const buf = new Uint8Array(DEBUGREGS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_DEBUGREGS, buf);
    return buf;
  }

  setDebugRegs(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_DEBUGREGS, buf);
  }

  /**
   * KVM_KVMCLOCK_CTRL: tells a guest using kvmclock that the vCPU was stopped by the
   * host, so its soft-lockup watchdog does not fire on resume. EINVAL when the guest
   * has not enabled kvmclock.
   */
  kvmclockCtrl(): void {
    native().ioctl(this.fd, K.KVM_KVMCLOCK_CTRL);
  }

  close(): void {
    native().close(this.fd);
  }
}
