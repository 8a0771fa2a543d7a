/** A KVM VM file descriptor: memory slots, in-kernel irqchip and PIT, interrupt lines, eventfd wiring. */
import * as K from './constants.js';
import { encodeClearDirtyLog, encodeDirtyLog, type KvmDirtyBitmap } from './dirty-log.js';
import { native } from './native.js';
import { encodeIrqLevel, encodeMemoryRegion } from './structs.js';

export const IRQCHIP_SIZE = 520;
export const PIT_STATE2_SIZE = 112;
export const CLOCK_DATA_SIZE = 48;

export class VmFd {
  constructor(readonly fd: number) {}

  setTssAddr(addr: number): void {
    native().ioctl(this.fd, K.KVM_SET_TSS_ADDR, addr);
  }

  setIdentityMapAddr(addr: number): void {
    const buf = new Uint8Array(8);
    new DataView(buf.buffer).setBigUint64(0, BigInt(addr), true);
    native().ioctl(this.fd, K.KVM_SET_IDENTITY_MAP_ADDR, buf);
  }

  createIrqchip(): void {
    native().ioctl(this.fd, K.KVM_CREATE_IRQCHIP);
  }

  /** In-kernel i8254 PIT; the dummy speaker flag makes KVM answer port 0x61 too. */
  createPit2(): void {
    const cfg = new Uint8Array(64);
    new DataView(cfg.buffer).setUint32(0, K.KVM_PIT_SPEAKER_DUMMY, true);
    native().ioctl(this.fd, K.KVM_CREATE_PIT2, cfg);
  }

  setUserMemoryRegion(slot: number, gpa: number, size: number, hostAddr: bigint, flags = 0): void {
    native().ioctl(this.fd, K.KVM_SET_USER_MEMORY_REGION, encodeMemoryRegion(slot, flags, gpa, size, hostAddr));
  }

  /** Drive a GSI (ISA IRQ line on the PIC/IOAPIC) to a level. */
  irqLine(irq: number, level: boolean): void {
    native().ioctl(this.fd, K.KVM_IRQ_LINE, encodeIrqLevel(irq, level ? 1 : 0));
  }

  createVcpu(index: number): number {
    return native().ioctl(this.fd, K.KVM_CREATE_VCPU, index);
  }

  enableCap(cap: number, args: bigint[] = []): void {
    const buf = new Uint8Array(104);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, cap, true);
    args.forEach((a, i) => dv.setBigUint64(8 + 8 * i, a, true));
    native().ioctl(this.fd, K.KVM_ENABLE_CAP, buf);
  }

  /** KVM_CHECK_EXTENSION asked of this VM: 0 when absent, else a capability-specific value. */
  checkExtension(cap: number): number {
    return native().ioctl(this.fd, K.KVM_CHECK_EXTENSION, cap);
  }

  /**
   * KVM_GET_DIRTY_LOG: copies the slot's dirty bitmap into `bitmap`. In legacy mode
   * KVM also clears its log and write-protects the returned pages; in manual-protect
   * mode it only reads (see clearDirtyLog).
   */
  getDirtyLog(slot: number, bitmap: KvmDirtyBitmap): void {
    native().ioctl(this.fd, K.KVM_GET_DIRTY_LOG, encodeDirtyLog(slot, bitmap.address));
  }

  /**
   * KVM_CLEAR_DIRTY_LOG: for each set bit of `bitmap` (bit 0 = `firstPage`), marks the
   * page clean and write-protects it again. `firstPage` must be a multiple of 64, and
   * `numPages` too unless the range ends at the slot's end.
   */
  clearDirtyLog(slot: number, firstPage: number, numPages: number, bitmap: KvmDirtyBitmap): void {
    native().ioctl(this.fd, K.KVM_CLEAR_DIRTY_LOG, encodeClearDirtyLog(slot, firstPage, numPages, bitmap.address));
  }

  /**
   * KVM_IOEVENTFD: a guest write of `len` bytes to `addr` (MMIO, or a port with
   * `pio`) signals `fd` inside KVM, with no exit to the VMM. With `datamatch`, only
   * writes of that value do (virtio-mmio's QueueNotify carries the queue index).
   */
  ioeventfd(addr: number, len: number, fd: number, opts: { datamatch?: bigint; pio?: boolean; deassign?: boolean } = {}): void {
    const buf = new Uint8Array(64);
    const dv = new DataView(buf.buffer);
    dv.setBigUint64(0, opts.datamatch ?? 0n, true);
    dv.setBigUint64(8, BigInt(addr), true);
    dv.setUint32(16, len, true);
    dv.setInt32(20, fd, true);
    const flags = (opts.datamatch !== undefined ? 1 : 0) | (opts.pio ? 2 : 0) | (opts.deassign ? 4 : 0);
    dv.setUint32(24, flags, true);
    native().ioctl(this.fd, K.KVM_IOEVENTFD, buf);
  }

  /**
   * KVM_IRQFD: signalling `fd` raises `gsi` inside KVM. With `resampleFd` the GSI is
   * level-triggered: KVM lowers it at the guest's EOI and signals resampleFd, so the
   * device can raise it again while its interrupt condition persists.
   */
  irqfd(gsi: number, fd: number, opts: { resampleFd?: number; deassign?: boolean } = {}): void {
    const buf = new Uint8Array(32);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, fd, true);
    dv.setUint32(4, gsi, true);
    dv.setUint32(8, (opts.deassign ? 1 : 0) | (opts.resampleFd !== undefined ? 2 : 0), true);
    dv.setUint32(12, opts.resampleFd ?? 0, true);
    native().ioctl(this.fd, K.KVM_IRQFD, buf);
  }

  /** Raw struct kvm_irqchip for chip 0 (PIC master), 1 (PIC slave) or 2 (IOAPIC). */
  getIrqchip(chipId: number): Uint8Array {
    const buf = new Uint8Array(IRQCHIP_SIZE);
    new DataView(buf.buffer).setUint32(0, chipId, true);
    native().ioctl(this.fd, K.KVM_GET_IRQCHIP, buf);
    return buf;
  }

  /** The chip is named by the buffer's own chip_id field. */
  setIrqchip(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_IRQCHIP, buf);
  }

  /** Raw struct kvm_pit_state2. */
  getPit2(): Uint8Array {
    const buf = new Uint8Array(PIT_STATE2_SIZE);
    native().ioctl(this.fd, K.KVM_GET_PIT2, buf);
    return buf;
  }

  setPit2(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_PIT2, buf);
  }

  /** Raw struct kvm_clock_data (kvmclock as the guest sees it now). */
  getClock(): Uint8Array {
    const buf = new Uint8Array(CLOCK_DATA_SIZE);
    native().ioctl(this.fd, K.KVM_GET_CLOCK, buf);
    return buf;
  }

  setClock(buf: Uint8Array): void {
    native().ioctl(this.fd, K.KVM_SET_CLOCK, buf);
  }

  close(): void {
    native().close(this.fd);
  }
}
