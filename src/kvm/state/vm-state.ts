/**
 * The VM-wide KVM state outside guest RAM: the in-kernel interrupt controllers (PIC
 * master, PIC slave, IOAPIC), the i8254 PIT and kvmclock. Raw KVM structs, sizes
 * checked before anything is written.
 */
import { CLOCK_DATA_SIZE, IRQCHIP_SIZE, PIT_STATE2_SIZE, type VmFd } from '../vm-fd.js';
import { KvmStateError, kvmCall } from './errors.js';
import type { KvmStateCapabilities } from './support.js';

export const IRQCHIP_PIC_MASTER = 0;
export const IRQCHIP_PIC_SLAVE = 1;
export const IRQCHIP_IOAPIC = 2;
const CHIPS = [IRQCHIP_PIC_MASTER, IRQCHIP_PIC_SLAVE, IRQCHIP_IOAPIC] as const;
const CHIP_NAMES = ['PIC master', 'PIC slave', 'IOAPIC'];

export interface VmState {
  /** struct kvm_irqchip for chip 0, 1, 2 (in that order). */
  irqchips: Uint8Array[];
  /** struct kvm_pit_state2 */
  pit: Uint8Array;
  /** struct kvm_clock_data; absent without KVM_CAP_ADJUST_CLOCK. */
  clock?: Uint8Array;
}

/** With every vCPU parked: reads the irqchips, PIT and kvmclock. */
export function captureVmState(vm: VmFd, caps: KvmStateCapabilities): VmState {
  const get = <T>(ioctl: string, call: () => T) => kvmCall(ioctl, 'capture', 'the VM', call);
  const irqchips = CHIPS.map((chip) => get('KVM_GET_IRQCHIP', () => vm.getIrqchip(chip)));
  const pit = get('KVM_GET_PIT2', () => vm.getPit2());
  const clock = caps.clock ? get('KVM_GET_CLOCK', () => vm.getClock()) : undefined;
  return { irqchips, pit, clock };
}

export function validateVmState(s: VmState, caps: KvmStateCapabilities): void {
  if (s.irqchips.length !== CHIPS.length) {
    throw new KvmStateError(`VM state has ${s.irqchips.length} irqchips, expected ${CHIPS.length} (PIC master, PIC slave, IOAPIC)`, 'KVM_SET_IRQCHIP');
  }
  s.irqchips.forEach((chip, i) => {
    if (chip.length !== IRQCHIP_SIZE) throw new KvmStateError(`VM state: ${CHIP_NAMES[i]} kvm_irqchip is ${chip.length} bytes, expected ${IRQCHIP_SIZE}`, 'KVM_SET_IRQCHIP');
    const id = new DataView(chip.buffer, chip.byteOffset).getUint32(0, true);
    if (id !== CHIPS[i]) throw new KvmStateError(`VM state: irqchip ${i} carries chip_id ${id}, expected ${CHIPS[i]} (${CHIP_NAMES[i]})`, 'KVM_SET_IRQCHIP');
  });
  if (s.pit.length !== PIT_STATE2_SIZE) throw new KvmStateError(`VM state: kvm_pit_state2 is ${s.pit.length} bytes, expected ${PIT_STATE2_SIZE}`, 'KVM_SET_PIT2');
  if (s.clock) {
    if (s.clock.length !== CLOCK_DATA_SIZE) throw new KvmStateError(`VM state: kvm_clock_data is ${s.clock.length} bytes, expected ${CLOCK_DATA_SIZE}`, 'KVM_SET_CLOCK');
    if (!caps.clock) throw new KvmStateError(`VM state carries kvmclock but this host's KVM (${caps.backend}) lacks KVM_CAP_ADJUST_CLOCK`, 'KVM_SET_CLOCK');
  }
}

/**
 * Writes the state into a VM whose vCPUs have not run. kvmclock is set to the saved
 * value with the flags cleared: the guest's clock continues from where it stopped
 * (the time spent saved is invisible to it, as with QEMU's migration), instead of
 * jumping by the wall time elapsed.
 */
export function restoreVmState(vm: VmFd, s: VmState, caps: KvmStateCapabilities): void {
  validateVmState(s, caps);
  const set = (ioctl: string, call: () => void) => kvmCall(ioctl, 'restore', 'the VM', call);
  for (const chip of s.irqchips) set('KVM_SET_IRQCHIP', () => vm.setIrqchip(chip));
  set('KVM_SET_PIT2', () => vm.setPit2(s.pit));
  if (s.clock) {
    const clock = s.clock.slice();
    // flags = 0: without KVM_CLOCK_REALTIME, KVM does not add the wall time elapsed
    // since the capture (the other flags GET_CLOCK reports are ignored by SET_CLOCK).
    new DataView(clock.buffer).setUint32(8, 0, true);
    set('KVM_SET_CLOCK', () => vm.setClock(clock));
  }
}
