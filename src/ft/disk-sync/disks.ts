/**
 * The disks of one VM as the initial disk copy sees them, in block-device order (the
 * ordinal the FT epochs' disk writes use too):
 * - 'replicated': a writable image of this host's own (the default disk mode); copied;
 * - 'readonly':   readonly=on; never written by either side, so not copied: both sides
 *                 only prove they hold the same bytes (a SHA-256 travels instead);
 * - 'shared':     share-rw=on, one image both hosts open: never copied.
 */
import type { BlockBackend } from '../../block/backend.js';
import type { FtDiskGate } from '../output/ft-output-commit.js';
import { HoldingBlockBackend } from '../output/holding-block-backend.js';
import { ReplicatingBlockBackend } from '../output/replicating-block-backend.js';

export type DiskMode = 'replicated' | 'readonly' | 'shared';

export interface FtDisk {
  /** The drive's id (-drive id=...), for messages and to check both sides agree. */
  readonly id: string;
  readonly mode: DiskMode;
  /** The FT gate the guest's requests pass through (the primary reads through it). */
  readonly gate: FtDiskGate;
  /** The image itself (the backup writes the copy straight into it). */
  readonly image: BlockBackend;
}

export function diskMode(gate: FtDiskGate): DiskMode {
  if (gate instanceof HoldingBlockBackend) return 'shared';
  return gate.readonly ? 'readonly' : 'replicated';
}

/** FtDisks from open-devices' parallel lists (ids, gates, images), checked to line up. */
export function ftDisks(ids: readonly string[], gates: readonly FtDiskGate[], images: readonly BlockBackend[]): FtDisk[] {
  if (ids.length !== gates.length || gates.length !== images.length) {
    throw new Error(`ftDisks: ${ids.length} ids, ${gates.length} gates, ${images.length} images`);
  }
  return gates.map((gate, i) => ({ id: ids[i], mode: diskMode(gate), gate, image: images[i] }));
}

/** The gate of a replicated disk (the one kind the copy reads and must synchronise with). */
export function replicatingGate(disk: FtDisk): ReplicatingBlockBackend {
  if (!(disk.gate instanceof ReplicatingBlockBackend)) throw new Error(`disk '${disk.id}' is not replicated`);
  return disk.gate;
}
