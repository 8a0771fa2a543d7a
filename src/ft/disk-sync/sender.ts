/**
 * The primary's side of the initial disk copy: copies every replicated disk to the
 * backup's own image while the guest runs, ahead of the RAM in the same connection.
 *
 * Why the backup's image ends up exactly the primary's at every committed epoch:
 * 1. Recording starts first. FtController.prepareSync() turns on write recording in
 *    every ReplicatingBlockBackend before the migration connects; send() refuses to
 *    start otherwise. From then on every write and discard the guest submits is recorded
 *    and travels in epoch 1 (or later), which the backup applies after this copy (the
 *    copy precedes the RAM in the stream, epoch 1 follows the whole initial sync).
 * 2. The unrecorded writes have landed before anything is read. A write submitted
 *    before recording started is not in any epoch, so the copy must see its result: it
 *    first waits for every request in flight at that moment (ReplicatingBlockBackend
 *    keeps their done promises). Requests submitted later are recorded, so waiting for
 *    them too is harmless.
 * 3. What the copy reads while recorded writes are landing may be old, new or torn:
 *    it does not matter, because each such write is replayed on the backup after the
 *    copy, in submission order, leaving the range as the guest's last write made it.
 * So after the copy, the backup's image is the primary's with some prefix of the
 * recorded writes applied, and applying all recorded writes of epochs 1..N yields the
 * primary's image as of epoch N's boundary, which is what commit N promises.
 *
 * Not copied: shared disks (one image), read-only disks (nobody writes them; a SHA-256
 * of the whole image goes instead and the backup refuses if its image differs). Runs of
 * zeros travel as zero records (the backup punches holes there), so the backup's stale
 * data cannot survive in the primary's holes.
 */
import type { Writable } from 'node:stream';
import type { DiskCopyStats } from '../../migration/status.js';
import { replicatingGate, type FtDisk } from './disks.js';
import { encodeRecord, MAX_DATA_BYTES, type DiskRecord } from './format.js';
import { imageSha256 } from './image-digest.js';
import { sparseExtents, type SparseReadOptions } from './sparse-reader.js';

/** What OutgoingMigration runs between its hello and the RAM (opts.diskCopy). */
export interface DiskCopySource {
  /** Writes the whole disk-copy phase to `out`, counting into `stats`; rejects on failure or abort. */
  send(out: Writable, stats: DiskCopyStats, signal?: AbortSignal): Promise<void>;
}

export class DiskCopyAbortedError extends Error {
  override readonly name = 'DiskCopyAbortedError';
}

export class DiskCopySender implements DiskCopySource {
  constructor(private readonly disks: readonly FtDisk[], private readonly readOptions: Omit<SparseReadOptions, 'onScanned'> = {}) {
    if ((readOptions.blockBytes ?? 0) > MAX_DATA_BYTES) throw new Error(`disk copy blocks are at most ${MAX_DATA_BYTES} bytes`);
  }

  async send(out: Writable, stats: DiskCopyStats, signal?: AbortSignal): Promise<void> {
    const replicated = this.disks.filter((d) => d.mode === 'replicated');
    stats.totalBytes = replicated.reduce((n, d) => n + d.gate.sizeBytes, 0);
    const gates = replicated.map(replicatingGate);
    const notRecording = replicated.find((_, i) => !gates[i].recording);
    if (notRecording) throw new Error(`disk '${notRecording.id}': writes are not being recorded, so the copy would miss them (prepareSync must run before the disk copy)`);
    // (2) above: the writes nobody recorded must be on the image before we read it.
    await Promise.all(gates.map((g) => g.inFlightSettled()));

    const put = (r: DiskRecord) => writePieces(out, encodeRecord(r));
    await put({ type: 'manifest', disks: this.disks.map((d) => ({ id: d.id, sizeBytes: d.gate.sizeBytes, mode: d.mode })) });
    let scannedBefore = 0;
    for (const [disk, d] of this.disks.entries()) {
      if (signal?.aborted) throw new DiskCopyAbortedError('disk copy cancelled');
      if (d.mode === 'readonly') await put({ type: 'digest', disk, sha256: await imageSha256(d.gate) });
      if (d.mode !== 'replicated') continue;
      const extents = sparseExtents(d.gate, { ...this.readOptions, onScanned: (b) => { stats.scannedBytes = scannedBefore + b; } });
      for await (const e of extents) {
        if (signal?.aborted) throw new DiskCopyAbortedError('disk copy cancelled');
        if (e.kind === 'data') {
          await put({ type: 'data', disk, offset: e.offset, data: e.data });
          stats.transferredBytes += e.data.byteLength;
        } else {
          await put({ type: 'zero', disk, offset: e.offset, length: e.length });
          stats.zeroBytes += e.length;
        }
      }
      scannedBefore += d.gate.sizeBytes;
    }
    await put({ type: 'end' });
  }
}

/** Writes the pieces, waiting for `out` to drain when it asks to; rejects once `out` failed or closed. */
async function writePieces(out: Writable, pieces: Uint8Array[]): Promise<void> {
  let failure: Error | undefined;
  const closed = () => failure ?? (out.destroyed || out.writableEnded ? new Error('the connection closed during the disk copy') : undefined);
  const early = closed();
  if (early) throw early;
  let more = true;
  for (const p of pieces) more = out.write(p, (e) => { if (e) failure ??= e; });
  if (!more) {
    await new Promise<void>((resolve) => {
      const done = (e?: Error) => {
        if (e instanceof Error) failure ??= e;
        out.off('drain', done).off('error', done).off('close', done);
        resolve();
      };
      out.on('drain', done).on('error', done).on('close', done);
    });
  }
  const late = failure ?? (out.destroyed ? new Error('the connection closed during the disk copy') : undefined);
  if (late) throw late;
}
