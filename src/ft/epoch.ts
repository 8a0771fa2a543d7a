/**
 * What one epoch carries from primary to backup (the wire format is in wire/), and the
 * interfaces between the FT engines and the rest of the VMM.
 */
import type { VcpuState } from '../kvm/state/vcpu-state.js';
import type { VmState } from '../kvm/state/vm-state.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import type { DirtyPageTracker } from '../migration/migratable.js';
import type { SnapshotSource } from '../snapshot/machine-snapshot.js';
import type { MachineDescription } from '../snapshot/machine-description.js';
import type { VmControl } from '../vm/control.js';

export interface DiskWrite {
  /** Ordinal of the disk among the machine's block devices. */
  device: number;
  offset: number;
  data: Uint8Array;
}

export interface DiskDiscard {
  device: number;
  offset: number;
  length: number;
}

export interface EpochContent {
  epoch: number;
  /** Dirty guest page frame numbers, ascending, and their contents copied during the pause. */
  pageNumbers: Uint32Array;
  pageData: Uint8Array;
  vcpus: VcpuState[];
  vm: VmState;
  /** Device states in the machine description's order. */
  devices: unknown[];
  diskWrites: DiskWrite[];
  diskDiscards: DiskDiscard[];
  /** Newest epoch whose held output the primary has released (the backup forgets older disk writes). */
  releasedEpoch: number;
}

/** The machine as the primary's epoch loop needs it (Machine implements it). */
export interface FtPrimaryMachine extends VmControl {
  readonly memory: GuestMemory;
  description(): MachineDescription;
  parkForEpoch(): Promise<SnapshotSource | undefined>;
  resumeAfterEpoch(): void;
  trackDirtyPages(): DirtyPageTracker;
}

/** Held output (network packets, shared-disk writes) and the disk writes an epoch carries. */
export interface OutputCommit {
  /** Output produced from now on belongs to epoch `n`. */
  beginEpoch(n: number): void;
  /** Epochs up to `n` are acknowledged: their output may go out. */
  release(n: number): Promise<void> | void;
  /** Protection ended: let everything out and stop holding. */
  releaseAll(): Promise<void> | void;
  /** Disk writes and discards since the last call (taken during the pause). */
  takeDiskWrites(): { writes: DiskWrite[]; discards: DiskDiscard[] };
  held(): { packets: number; bytes: number; writes: number };
}
