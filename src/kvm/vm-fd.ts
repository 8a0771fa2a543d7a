/** A KVM VM file descriptor: memory slots, in-kernel irqchip and PIT, interrupt lines, eventfd wiring. */
import * as K from './constants.js';
import { native } from './native.js';
import { encodeIrqLevel, encodeMemoryRegion } from './structs.js';

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

  close(): void {
    native().close(this.fd);
  }
}
