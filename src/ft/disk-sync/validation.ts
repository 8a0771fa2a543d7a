/**
 * What a received disk-copy record means for this host's disks, checked before anything
 * is written: the manifest first (same disks, ids, modes and sizes as here, all of them
 * checked before the first write), then, disk by disk in ordinal order, records that
 * cover every byte of each replicated disk exactly once and in ascending order (data or
 * zero), one digest for each read-only disk, nothing for shared ones, then the end. So
 * a record that is out of range, repeated, skipped or for the wrong kind of disk is a
 * protocol error before it touches the image, and a completed copy has defined every
 * byte of the backup's replicated images.
 */
import type { FtDisk } from './disks.js';
import { DiskCopyError, DiskMismatchError } from './errors.js';
import type { DiskRecord, ManifestDisk } from './format.js';

/** What to do with an accepted record. */
export type DiskCopyStep =
  | { kind: 'start' }
  | { kind: 'data'; disk: FtDisk; offset: number; data: Uint8Array }
  | { kind: 'zero'; disk: FtDisk; offset: number; length: number }
  | { kind: 'digest'; disk: FtDisk; sha256: Uint8Array }
  | { kind: 'end' };

export class DiskCopyValidator {
  private manifest?: ManifestDisk[];
  /** The disk records are expected for, and how far it is covered. */
  private disk = 0;
  private covered = 0;
  private ended = false;

  constructor(private readonly local: readonly FtDisk[]) {}

  get finished(): boolean {
    return this.ended;
  }

  accept(r: DiskRecord): DiskCopyStep {
    if (this.ended) throw new DiskCopyError(`disk-copy ${r.type} record after the end record: the stream is damaged`);
    if (!this.manifest) {
      if (r.type !== 'manifest') throw new DiskCopyError(`disk copy starts with a ${r.type} record instead of the manifest: the stream is damaged`);
      checkManifest(r.disks, this.local);
      this.manifest = r.disks;
      this.skipDone();
      return { kind: 'start' };
    }
    switch (r.type) {
      case 'manifest':
        throw new DiskCopyError('disk-copy manifest sent twice: the stream is damaged');
      case 'end':
        if (this.disk < this.local.length) throw new DiskCopyError(`disk copy ended before disk '${this.local[this.disk].id}' was complete (${this.covered} of ${this.local[this.disk].image.sizeBytes} bytes): the stream is damaged`);
        this.ended = true;
        return { kind: 'end' };
      case 'digest': {
        const disk = this.current(r.disk, 'digest', 'readonly');
        this.disk++;
        this.skipDone();
        return { kind: 'digest', disk, sha256: r.sha256 };
      }
      case 'data':
      case 'zero': {
        const disk = this.current(r.disk, r.type, 'replicated');
        const length = r.type === 'data' ? r.data.byteLength : r.length;
        const size = disk.image.sizeBytes;
        if (r.offset + length > size) throw new DiskCopyError(`disk-copy ${r.type} record ${r.offset}+${length} runs past the end of disk '${disk.id}' (${size} bytes): the stream is damaged`);
        if (r.offset !== this.covered) throw new DiskCopyError(`disk-copy ${r.type} record for disk '${disk.id}' starts at ${r.offset}, where ${this.covered} was expected: the stream is damaged`);
        this.covered += length;
        if (this.covered === size) {
          this.disk++;
          this.skipDone();
        }
        return r.type === 'data' ? { kind: 'data', disk, offset: r.offset, data: r.data } : { kind: 'zero', disk, offset: r.offset, length };
      }
    }
  }

  /** The disk a record for `ordinal` must be for now, of mode `mode`. */
  private current(ordinal: number, what: string, mode: FtDisk['mode']): FtDisk {
    if (ordinal >= this.local.length) throw new DiskCopyError(`disk-copy ${what} record for disk ${ordinal}, but there are ${this.local.length} disks: the stream is damaged`);
    const disk = this.local[ordinal];
    if (ordinal !== this.disk) {
      const expected = this.disk < this.local.length ? `disk '${this.local[this.disk].id}'` : 'the end record';
      throw new DiskCopyError(`disk-copy ${what} record for disk '${disk.id}' where ${expected} was expected: the stream is damaged`);
    }
    if (disk.mode !== mode) throw new DiskCopyError(`disk-copy ${what} record for disk '${disk.id}', which is ${disk.mode}: the stream is damaged`);
    return disk;
  }

  /** Moves past disks that need no (more) records: shared ones, and empty replicated ones. */
  private skipDone(): void {
    this.covered = 0;
    while (this.disk < this.local.length) {
      const d = this.local[this.disk];
      if (d.mode === 'shared' || (d.mode === 'replicated' && d.image.sizeBytes === 0)) this.disk++;
      else break;
    }
  }
}

/** Both sides' disks must be the same list: one line on the first difference. */
export function checkManifest(theirs: readonly ManifestDisk[], ours: readonly FtDisk[]): void {
  if (theirs.length !== ours.length) {
    throw new DiskMismatchError(`the primary has ${theirs.length} disk${theirs.length === 1 ? '' : 's'}, this backup has ${ours.length}: start both with the same -drive options`);
  }
  theirs.forEach((t, i) => {
    const o = ours[i];
    if (t.id !== o.id) throw new DiskMismatchError(`disk ${i} is '${o.id}' here and '${t.id}' on the primary: start both with the same -drive options`);
    if (t.mode !== o.mode) throw new DiskMismatchError(`disk '${o.id}' is ${describeMode(o.mode)} here and ${describeMode(t.mode)} on the primary: give it the same readonly= and share-rw= options on both hosts`);
    if (t.sizeBytes !== o.image.sizeBytes) {
      throw new DiskMismatchError(`disk '${o.id}' is ${formatSize(o.image.sizeBytes)} here and ${formatSize(t.sizeBytes)} on the primary: give the backup an image of the same size`);
    }
  });
}

function describeMode(m: FtDisk['mode']): string {
  return m === 'replicated' ? 'writable (own copy)' : m === 'readonly' ? 'read-only' : 'shared (share-rw=on)';
}

/** "64 MiB" when exact, else bytes: a size difference must never round away. */
export function formatSize(bytes: number): string {
  return bytes % 1048576 === 0 ? `${bytes / 1048576} MiB` : `${bytes} bytes`;
}
