/**
 * Whole-machine snapshots over KVM objects: what `migrate file:PATH` and
 * `-incoming file:PATH` call. The caller pauses the machine (every vCPU parked) before
 * saving, and restores only into a machine whose vCPUs have never run.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { GuestMemory } from '../memory/guest-memory.js';
import type { VcpuFd } from '../kvm/vcpu-fd.js';
import type { VmFd } from '../kvm/vm-fd.js';
import type { KvmStateSupport } from '../kvm/state/support.js';
import { captureVcpuState, restoreVcpuState } from '../kvm/state/vcpu-state.js';
import { captureVmState, restoreVmState } from '../kvm/state/vm-state.js';
import { FileSource, type ByteSource } from './byte-source.js';
import { SnapshotError } from './errors.js';
import type { DeviceDescription, MachineDescription } from './machine-description.js';
import { validateSnapshot, type ExpectedMachine, type ValidatedSnapshot } from './reader.js';
import { applySnapshot, type RestoreTarget } from './restore.js';
import { SnapshotWriter } from './writer.js';

/** The KVM side of a machine (Board has these fields). */
export interface KvmMachineParts {
  readonly mem: GuestMemory;
  readonly vm: VmFd;
  readonly vcpuFds: readonly VcpuFd[];
}

export interface SnapshotSource extends KvmMachineParts {
  readonly machine: MachineDescription;
  readonly support: KvmStateSupport;
  /** JSON-able state of device `ordinal` of machine.devices. */
  deviceState(ordinal: number, device: DeviceDescription): unknown;
}

/**
 * Writes a snapshot of a paused machine to `out`. All KVM state is read before the
 * first byte goes out, so a refused ioctl (KvmStateError) leaves nothing half-written.
 */
export async function saveSnapshot(out: Writable, src: SnapshotSource): Promise<SnapshotWriter> {
  if (src.vcpuFds.length !== src.machine.vcpuCount) throw new SnapshotError(`machine description says ${src.machine.vcpuCount} vCPUs, the board has ${src.vcpuFds.length}`);
  const vcpus = src.vcpuFds.map((fd) => captureVcpuState(fd, src.support));
  const vm = captureVmState(src.vm, src.support.capabilities);
  const devices = src.machine.devices.map((d, i) => src.deviceState(i, d));
  const w = new SnapshotWriter(out, src.machine);
  await w.writeRam(src.mem);
  for (const [i, s] of vcpus.entries()) await w.writeVcpu(i, s);
  await w.writeVm(vm);
  for (const [i, s] of devices.entries()) await w.writeDevice(i, s);
  await w.finish();
  return w;
}

/** saveSnapshot into a file (created or truncated); resolves once the file is closed. */
export async function saveSnapshotFile(path: string, src: SnapshotSource): Promise<number> {
  const out = createWriteStream(path);
  const closed = new Promise<void>((resolve, reject) => { out.once('close', resolve); out.once('error', reject); });
  try {
    const w = await saveSnapshot(out, src);
    out.end();
    await closed.catch((e: Error) => { throw new SnapshotError(`writing snapshot ${path} failed: ${e.message}`); });
    return w.bytesWritten;
  } catch (e) {
    out.destroy();
    await closed.catch(() => {});
    throw e;
  }
}

/** A RestoreTarget over KVM objects; device states go to `restoreDevice`. */
export function kvmRestoreTarget(
  parts: KvmMachineParts,
  support: KvmStateSupport,
  restoreDevice: RestoreTarget['restoreDevice'],
): RestoreTarget {
  return {
    memory: parts.mem,
    restoreVm: (s) => restoreVmState(parts.vm, s, support.capabilities),
    restoreVcpu: (i, s) => {
      const fd = parts.vcpuFds[i];
      if (!fd) throw new SnapshotError(`snapshot has vCPU ${i}, this machine has ${parts.vcpuFds.length}`);
      restoreVcpuState(fd, s, support);
    },
    restoreDevice,
  };
}

/**
 * Validates the whole snapshot in `source` against the target first (nothing touched if
 * anything is wrong: SnapshotError), then applies it. Returns what was restored.
 */
export async function restoreSnapshot(source: ByteSource, expected: ExpectedMachine, target: RestoreTarget): Promise<ValidatedSnapshot> {
  const snap = await validateSnapshot(source, expected);
  await applySnapshot(snap, source, target);
  return snap;
}

export async function restoreSnapshotFile(path: string, expected: ExpectedMachine, target: RestoreTarget): Promise<ValidatedSnapshot> {
  const source = await FileSource.open(path);
  try {
    return await restoreSnapshot(source, expected, target);
  } finally {
    await source.close();
  }
}
