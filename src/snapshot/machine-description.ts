/**
 * What a snapshot was taken of: RAM size, vCPU count and the device list (kinds and
 * ids, in order). A snapshot restores only into a machine with the same description;
 * the mismatch message says which option to change.
 */
import { SnapshotError } from './errors.js';

export interface DeviceDescription {
  /** Device model, e.g. 'serial', 'virtio-blk'. */
  kind: string;
  /** Instance id, unique in the machine, e.g. 'serial0', 'virtio-mmio.0'. */
  id: string;
}

export interface MachineDescription {
  ramBytes: number;
  vcpuCount: number;
  devices: DeviceDescription[];
}

function mib(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

function deviceList(d: DeviceDescription[]): string {
  return d.length === 0 ? '(none)' : d.map((x) => `${x.kind} '${x.id}'`).join(', ');
}

/** Throws SnapshotError naming the first difference between the snapshot's machine and this one. */
export function checkMachineMatch(snapshot: MachineDescription, here: MachineDescription): void {
  if (snapshot.ramBytes !== here.ramBytes) {
    const MiB = 1024 * 1024;
    const fix = snapshot.ramBytes % MiB === 0 ? `start cuju with -m ${snapshot.ramBytes / MiB}M` : 'cuju machines have whole MiB of RAM, so no cuju machine matches it';
    throw new SnapshotError(`snapshot RAM size mismatch: the snapshot has ${mib(snapshot.ramBytes)} of RAM, this machine ${mib(here.ramBytes)} (${fix})`);
  }
  if (snapshot.vcpuCount !== here.vcpuCount) {
    throw new SnapshotError(`snapshot vCPU count mismatch: the snapshot has ${snapshot.vcpuCount} vCPUs, this machine ${here.vcpuCount} (start cuju with -smp ${snapshot.vcpuCount})`);
  }
  const same = snapshot.devices.length === here.devices.length
    && snapshot.devices.every((d, i) => d.kind === here.devices[i].kind && d.id === here.devices[i].id);
  if (!same) {
    throw new SnapshotError(`snapshot device mismatch: the snapshot has ${deviceList(snapshot.devices)}; this machine has ${deviceList(here.devices)} (start cuju with the same devices, in the same order)`);
  }
}
