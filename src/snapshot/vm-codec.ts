/** The VM's KVM state (irqchips, PIT, kvmclock) as the payload of the vm section. */
import type { VmState } from '../kvm/state/vm-state.js';
import { decodeRecords, encodeRecords, optionalRecord, requireRecord } from './records.js';

export enum VmRecord {
  PicMaster = 1,
  PicSlave = 2,
  Ioapic = 3,
  Pit2 = 4,
  Clock = 5,
}

const NAMES: Record<number, string> = { 1: 'pic-master', 2: 'pic-slave', 3: 'ioapic', 4: 'pit2', 5: 'clock' };
const CHIP_RECORDS = [VmRecord.PicMaster, VmRecord.PicSlave, VmRecord.Ioapic];

export function encodeVmState(s: VmState): Buffer {
  const r: [number, Uint8Array][] = s.irqchips.map((chip, i) => [CHIP_RECORDS[i], chip]);
  r.push([VmRecord.Pit2, s.pit]);
  if (s.clock) r.push([VmRecord.Clock, s.clock]);
  return encodeRecords(r);
}

/** Structure only; sizes and chip ids are checked by validateVmState. */
export function decodeVmState(payload: Uint8Array, where: string): VmState {
  const rec = decodeRecords(payload, NAMES, where);
  return {
    irqchips: CHIP_RECORDS.map((t) => requireRecord(rec, t, NAMES, where)),
    pit: requireRecord(rec, VmRecord.Pit2, NAMES, where),
    clock: optionalRecord(rec, VmRecord.Clock),
  };
}
