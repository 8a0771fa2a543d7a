/**
 * The applying pass: writes a validated snapshot into a target machine that has not
 * run yet. RAM first (re-read from the source, each run's CRC checked again before its
 * bytes reach guest RAM), then the VM's KVM state, the vCPUs, the devices.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import type { VcpuState } from '../kvm/state/vcpu-state.js';
import type { VmState } from '../kvm/state/vm-state.js';
import type { ByteSource } from './byte-source.js';
import { crc32Of } from './crc.js';
import { SnapshotError } from './errors.js';
import { FRAME_HEADER_SIZE, MEMORY_RUN_HEADER_SIZE, PAGE_SIZE, PageEncoding } from './format.js';
import type { DeviceDescription } from './machine-description.js';
import type { MemoryRun } from './memory-runs.js';
import type { ValidatedSnapshot } from './reader.js';
import type { SnapshotContents } from './snapshot-parser.js';

/** What a snapshot is restored into; kvmRestoreTarget() builds one over KVM objects. */
export interface RestoreTarget {
  readonly memory: GuestMemory;
  restoreVm(state: VmState): void;
  restoreVcpu(index: number, state: VcpuState): void;
  /** `state` was parsed and passed ExpectedMachine.validateDevice. */
  restoreDevice(ordinal: number, device: DeviceDescription, state: unknown): void;
}

export async function applySnapshot(snap: ValidatedSnapshot, source: ByteSource, target: RestoreTarget): Promise<void> {
  // Every run fits the target's RAM (checked before the first byte is written).
  for (const run of snap.memory) checkRunFits(target.memory, run);
  for (const run of snap.memory) {
    if (run.encoding === PageEncoding.Zero) {
      writeMemoryRun(target.memory, run, []);
      continue;
    }
    const frame = await source.readAt(run.frameOffset, run.frameLength);
    if (frame.length !== run.frameLength || crc32Of(frame) !== run.crc) {
      throw new SnapshotError(`snapshot ${source.name} changed while it was being restored (memory at 0x${run.gpa.toString(16)}): the restored machine is incomplete`);
    }
    writeMemoryRun(target.memory, run, [frame.subarray(FRAME_HEADER_SIZE + MEMORY_RUN_HEADER_SIZE)]);
  }
  applyMachineState(snap, target);
}

/** A run must fit the target's RAM (the header's RAM size matched, but RAM may have holes). */
export function checkRunFits(memory: GuestMemory, run: MemoryRun): void {
  if (!memory.contains(run.gpa, run.pages * PAGE_SIZE)) {
    throw new SnapshotError(`snapshot memory at 0x${run.gpa.toString(16)}+${run.pages} pages is outside this machine's RAM`);
  }
}

/**
 * Writes one checked run into guest RAM: its bytes (`data`, pieces that add up to the
 * run, as a stream delivered them), or zeros for a zero run. One onWrite per run.
 */
export function writeMemoryRun(memory: GuestMemory, run: MemoryRun, data: readonly Uint8Array[]): void {
  const length = run.pages * PAGE_SIZE;
  if (run.encoding === PageEncoding.Zero) {
    memory.fill(run.gpa, length, 0);
    return;
  }
  const bytes = data.reduce((n, piece) => n + piece.length, 0);
  if (bytes !== length) throw new SnapshotError(`snapshot memory at 0x${run.gpa.toString(16)} has ${bytes} bytes for ${run.pages} pages: the restored machine is incomplete`);
  const dest = memory.view(run.gpa, length);
  let at = 0;
  for (const piece of data) {
    dest.set(piece, at);
    at += piece.length;
  }
  memory.markWritten(run.gpa, length);
}

/** Everything after RAM, in KVM's restore order: the VM, each vCPU, then the devices. */
export function applyMachineState(snap: SnapshotContents, target: RestoreTarget): void {
  target.restoreVm(snap.vm);
  snap.vcpus.forEach((s, i) => target.restoreVcpu(i, s));
  snap.devices.forEach((s, i) => target.restoreDevice(i, snap.machine.devices[i], s));
}
