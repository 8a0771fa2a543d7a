/** The messages of the fault-tolerance channel, as the encoder takes and the reader yields them. */
import type { VcpuState } from '../../kvm/state/vcpu-state.js';
import type { VmState } from '../../kvm/state/vm-state.js';
import type { DeviceDescription } from '../../snapshot/machine-description.js';
import type { FtRole } from './format.js';
import type { VerifyRequest, VerifyResult } from './verify-messages.js';

/** Pages copied out of guest RAM during the pause: page i's bytes are pageData[i*4096 .. +4096]. */
export interface StagedPages {
  /** Guest page frame numbers, strictly ascending. */
  pageNumbers: Uint32Array;
  pageData: Uint8Array;
}

/**
 * The pages of an epoch. A decoded epoch lists pages that were all zero separately
 * (they travel without bytes); a staged one has none (the encoder finds them itself).
 */
export interface EpochPages extends StagedPages {
  /** Pages to clear, strictly ascending, disjoint from pageNumbers. */
  zeroPages?: Uint32Array;
}

export interface DiskWrite {
  /** The disk: the VMM's number for it (its ordinal among the block devices); below the device count. */
  device: number;
  /** Byte offset in the disk image. */
  offset: number;
  data: Uint8Array;
}

export interface DiskDiscard {
  device: number;
  offset: number;
  length: number;
}

/**
 * One list in request order rather than separate write and discard lists: a discard
 * and a later write of the same range (or the reverse) must be replayed in that order.
 */
export type DiskOp = ({ kind: 'write' } & DiskWrite) | ({ kind: 'discard' } & DiskDiscard);

export interface EpochContent extends EpochPages {
  /** Must be the previous epoch + 1 (the first: the backup's state + 1). */
  epoch: number;
  /** The newest epoch whose held output the primary has released; the backup forgets older disk writes. */
  releasedEpoch: number;
  vcpus: VcpuState[];
  vm: VmState;
  /** One state per device of the HELLO's list, in order (each becomes JSON). */
  devices: unknown[];
  diskOps: DiskOp[];
}

export interface Hello {
  version: number;
  role: FtRole;
  /** The sender's epoch length (informational: only the primary's matters). */
  epochUs: number;
  pageSize: number;
  ramBytes: number;
  vcpuCount: number;
  devices: DeviceDescription[];
  /** The split-brain lease's id (src/ft/lease): both sides must name the same lease, or none. */
  leaseId?: string;
}

export type ChannelMessage =
  | ({ type: 'hello' } & Hello)
  | { type: 'epoch'; content: EpochContent }
  | { type: 'ack'; epoch: number }
  | { type: 'cancel'; reason: string }
  | { type: 'heartbeat'; sentAtNs: bigint }
  | { type: 'verify'; request: VerifyRequest }
  | { type: 'verify-result'; result: VerifyResult };
