/**
 * Where virtio-mmio devices go in the guest, and how the guest kernel learns about them.
 *
 * Without ACPI or a device tree, Linux finds virtio-mmio devices from its command line
 * (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES): `virtio_mmio.device=<size>@<base>:<irq>`.
 * Windows start at 0xd0001000 in 0x1000 steps (0xd0000000 is the boot timer). Interrupts
 * use IOAPIC pins 16..23: the MP table (src/x86/mptable.ts) declares them level-triggered,
 * active high, which is what virtio-mmio's "asserted while InterruptStatus != 0" needs, and
 * they are free of ISA devices (IRQ 4 serial, IRQ 5 power button). KVM's in-kernel IOAPIC
 * has 24 pins, so at most 8 virtio-mmio devices.
 */
import { VIRTIO_MMIO_WINDOW_SIZE, REG_QUEUE_NOTIFY } from './constants.js';

export const VIRTIO_MMIO_FIRST_BASE = 0xd0001000;
export const VIRTIO_MMIO_STRIDE = 0x1000;
export const VIRTIO_MMIO_FIRST_GSI = 16;
export const VIRTIO_MMIO_LAST_GSI = 23;
export const VIRTIO_MMIO_MAX_DEVICES = VIRTIO_MMIO_LAST_GSI - VIRTIO_MMIO_FIRST_GSI + 1;

export class VirtioLayoutError extends Error {
  override readonly name = 'VirtioLayoutError';
}

export interface VirtioMmioSlot {
  /** Guest-physical base of the MMIO window. */
  base: number;
  /** Bytes of the window to register on the MMIO bus. */
  size: number;
  /** GSI / IOAPIC pin of the device's interrupt (KVM_IRQ_LINE irq number). */
  gsi: number;
  /** Guest-physical address of QueueNotify, where an ioeventfd per queue goes (4 bytes, datamatch = queue index). */
  notifyAddress: number;
}

/** The `slot`-th virtio-mmio device's window and interrupt (slot 0 is the first device). */
export function virtioMmioSlot(slot: number): VirtioMmioSlot {
  if (!Number.isInteger(slot) || slot < 0 || slot >= VIRTIO_MMIO_MAX_DEVICES) {
    throw new VirtioLayoutError(`too many virtio devices: at most ${VIRTIO_MMIO_MAX_DEVICES} fit on IOAPIC pins ${VIRTIO_MMIO_FIRST_GSI}..${VIRTIO_MMIO_LAST_GSI}; remove a -drive or -device`);
  }
  const base = VIRTIO_MMIO_FIRST_BASE + slot * VIRTIO_MMIO_STRIDE;
  return { base, size: VIRTIO_MMIO_WINDOW_SIZE, gsi: VIRTIO_MMIO_FIRST_GSI + slot, notifyAddress: base + REG_QUEUE_NOTIFY };
}

/** The kernel command-line word that declares one device, e.g. `virtio_mmio.device=0x200@0xd0001000:16`. */
export function virtioMmioCmdline(slot: VirtioMmioSlot): string {
  return `virtio_mmio.device=0x${slot.size.toString(16)}@0x${slot.base.toString(16)}:${slot.gsi}`;
}
