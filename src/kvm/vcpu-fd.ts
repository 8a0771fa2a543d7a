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

  setRegs(r: Regs): void {
    native().ioctl(this.fd, K.KVM_SET_REGS, encodeRegs(r));
  }

  getSregs(): Sregs {
    const buf = new Uint8Array(SREGS_SIZE);
    native().ioctl(this.fd, K.KVM_GET_SREGS, buf);
    return decodeSregs(buf);
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

  close(): void {
    native().close(this.fd);
  }
}
