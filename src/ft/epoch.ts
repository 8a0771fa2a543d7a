/**
 * The interfaces between the FT engines and the rest of the VMM; what an epoch carries
 * is wire/messages.ts's EpochContent.
 */
import type { DiskDiscard, DiskWrite } from './wire/messages.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import type { DirtyPageTracker } from '../migration/migratable.js';
import type { SnapshotSource } from '../snapshot/machine-snapshot.js';
import type { MachineDescription } from '../snapshot/machine-description.js';
import type { VmControl } from '../vm/control.js';

export type { DiskDiscard, DiskOp, DiskWrite, EpochContent } from './wire/messages.js';

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
  /** The initial copy starts: record disk writes from here (they travel in epoch 1). */
  recordDiskWrites(): void;
  /** The initial copy failed: stop recording. */
  stopRecordingDiskWrites(): void;
  /** Output produced from now on belongs to epoch `n`. */
  beginEpoch(n: number): void;
  /** Epochs up to `n` are acknowledged: their output may go out. */
  release(n: number): Promise<void> | void;
  /** Protection ended: let everything out and stop holding. */
  releaseAll(): Promise<void> | void;
  /** Disk writes and discards since the last call (taken during the pause). */
  takeDiskWrites(): { writes: DiskWrite[]; discards: DiskDiscard[] };
  held(): { packets: number; bytes: number; writes: number };
  /** How long (ms) each packet released since the last call was held. */
  takeHoldTimes?(): number[];
}
