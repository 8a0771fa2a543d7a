/**
 * The disk changes of one epoch as they travel to the backup, and how the backup applies
 * them. Writes and discards are kept in two lists (the shape the epoch stream carries);
 * `seq` numbers them in the one order the guest submitted them, which matters when a
 * discard and a write touch the same range in one epoch.
 */
import type { BlockBackend } from '../../block/backend.js';
import { ByteRangeOverlay } from './byte-range-overlay.js';
import { DiskReplayError } from './errors.js';

export interface DiskWrite {
  /** Position in the epoch's submission order (shared numbering with discards, from 0). */
  readonly seq: number;
  readonly offset: number;
  /** A private copy: nobody writes into it after it was recorded. */
  readonly data: Uint8Array;
}

export interface DiskDiscard {
  readonly seq: number;
  readonly offset: number;
  readonly length: number;
}

export interface EpochDiskWrites {
  writes: DiskWrite[];
  discards: DiskDiscard[];
}

export type DiskOp = { kind: 'write'; offset: number; data: Uint8Array } | { kind: 'discard'; offset: number; length: number };

/** Collects ops in submission order and hands them out as one epoch's EpochDiskWrites. */
export class DiskWriteLog {
  private writes: DiskWrite[] = [];
  private discards: DiskDiscard[] = [];
  private nextSeq = 0;
  private bytes = 0;

  record(op: DiskOp): void {
    const seq = this.nextSeq++;
    if (op.kind === 'write') {
      this.writes.push({ seq, offset: op.offset, data: op.data });
      this.bytes += op.data.byteLength;
    } else {
      this.discards.push({ seq, offset: op.offset, length: op.length });
    }
  }

  /** Data bytes recorded since the last take. */
  get recordedBytes(): number {
    return this.bytes;
  }

  get recordedOps(): number {
    return this.nextSeq;
  }

  take(): EpochDiskWrites {
    const out = { writes: this.writes, discards: this.discards };
    this.writes = [];
    this.discards = [];
    this.nextSeq = 0;
    this.bytes = 0;
    return out;
  }

  clear(): void {
    this.take();
  }
}

/**
 * The backup's side: applies one epoch's writes and discards to its image, in the
 * guest's order, at commit time. The batch came over the network, so it is validated
 * whole before anything is applied (a bad batch leaves the image untouched). No flush
 * here: a backup's image only has to survive the primary's death, not its own.
 */
export async function applyDiskWrites(backend: BlockBackend, writes: readonly DiskWrite[], discards: readonly DiskDiscard[]): Promise<void> {
  await applyOps(backend, orderedOps(backend, writes, discards));
}

/** Applies validated ops one after the other. */
export async function applyOps(backend: BlockBackend, ops: readonly DiskOp[]): Promise<void> {
  for (const op of ops) {
    if (op.kind === 'write') await backend.write(op.offset, op.data);
    else await backend.discard(op.offset, op.length);
  }
}

/**
 * The same epoch as non-overlapping ranges: the final contents each touched byte has
 * after the epoch's ops in order (data, or zeros for a discard). Because no two ranges
 * overlap, the result can be applied in any order, so a wire format without `seq`
 * carries it safely; and a sector the guest rewrote several times in one epoch travels
 * once. Ranges are ascending; `seq` is renumbered in that order.
 */
export function coalesceDiskWrites(epoch: EpochDiskWrites): EpochDiskWrites {
  const overlay = new ByteRangeOverlay();
  const ops = [...epoch.writes.map((w) => ({ seq: w.seq, offset: w.offset, length: w.data.byteLength, data: w.data as Uint8Array | null })),
    ...epoch.discards.map((d) => ({ seq: d.seq, offset: d.offset, length: d.length, data: null }))].sort((a, b) => a.seq - b.seq);
  for (const op of ops) overlay.put(op.offset, op.length, op.data, 0);
  const out: EpochDiskWrites = { writes: [], discards: [] };
  let seq = 0;
  for (const e of overlay.overlapping(0, Number.MAX_SAFE_INTEGER)) {
    if (e.data) out.writes.push({ seq: seq++, offset: e.start, data: e.data });
    else out.discards.push({ seq: seq++, offset: e.start, length: e.end - e.start });
  }
  return out;
}

/** Merges the two lists by seq, checking seqs form 0..n-1 and every range lies inside the image. */
export function orderedOps(backend: BlockBackend, writes: readonly DiskWrite[], discards: readonly DiskDiscard[]): DiskOp[] {
  const n = writes.length + discards.length;
  const ops: (DiskOp | undefined)[] = new Array(n);
  const place = (seq: number, op: DiskOp): void => {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= n) throw new DiskReplayError(`disk write batch: seq ${seq} is outside 0..${n - 1}: the batch is corrupt`);
    if (ops[seq]) throw new DiskReplayError(`disk write batch: seq ${seq} appears twice: the batch is corrupt`);
    ops[seq] = op;
  };
  for (const w of writes) {
    if (!(w.data instanceof Uint8Array)) throw new DiskReplayError(`disk write batch: write ${w.seq} has no data: the batch is corrupt`);
    checkRange(backend, w.offset, w.data.byteLength, `write ${w.seq}`);
    place(w.seq, { kind: 'write', offset: w.offset, data: w.data });
  }
  for (const d of discards) {
    checkRange(backend, d.offset, d.length, `discard ${d.seq}`);
    if (!backend.canDiscard) throw new DiskReplayError(`disk write batch: discard ${d.seq} for an image that cannot discard: the peers' drive options differ`);
    place(d.seq, { kind: 'discard', offset: d.offset, length: d.length });
  }
  return ops as DiskOp[];
}

function checkRange(backend: BlockBackend, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > backend.sizeBytes) {
    throw new DiskReplayError(`disk write batch: ${what} covers ${offset}+${length}, outside the ${backend.sizeBytes}-byte image: the peers' images differ in size or the batch is corrupt`);
  }
}
