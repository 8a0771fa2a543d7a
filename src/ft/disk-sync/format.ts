/**
 * The disk-copy phase of a fault-tolerance migration (docs/PROTOCOL.md, "Disk copy"):
 * records framed like snapshot sections (u32 type, u32 disk, u64 payload length,
 * payload, u32 CRC32 of header and payload), encoded and decoded here. Decoding checks
 * the type and the length limit before any payload byte is read, then the CRC, then the
 * payload's structure; what a record means for this host's disks is validation.ts's.
 */
import { crc32Continue, crc32Of } from '../../snapshot/crc.js';
import type { DiskMode } from './disks.js';
import { DiskCopyError } from './errors.js';

export enum DiskRecordType {
  Manifest = 1,
  Data = 2,
  Zero = 3,
  Digest = 4,
  End = 0xffffffff,
}

const TYPE_NAMES: Record<number, string> = {
  [DiskRecordType.Manifest]: 'manifest',
  [DiskRecordType.Data]: 'data',
  [DiskRecordType.Zero]: 'zero',
  [DiskRecordType.Digest]: 'digest',
  [DiskRecordType.End]: 'end',
};

export const FRAME_HEADER_SIZE = 16;
export const FRAME_CRC_SIZE = 4;
/** Data bytes per data record: bounds what the backup holds to check one CRC. */
export const MAX_DATA_BYTES = 1024 * 1024;
export const MAX_DISKS = 256;
const MAX_ID_BYTES = 255;
const DIGEST_SIZE = 32;

const MAX_PAYLOAD: Record<number, number> = {
  [DiskRecordType.Manifest]: 4 + MAX_DISKS * (8 + 4 + 2 + MAX_ID_BYTES),
  [DiskRecordType.Data]: 8 + MAX_DATA_BYTES,
  [DiskRecordType.Zero]: 16,
  [DiskRecordType.Digest]: DIGEST_SIZE,
  [DiskRecordType.End]: 0,
};

const MODE_CODES: Record<DiskMode, number> = { replicated: 1, readonly: 2, shared: 3 };
const MODES_BY_CODE: Record<number, DiskMode> = { 1: 'replicated', 2: 'readonly', 3: 'shared' };

export interface ManifestDisk {
  id: string;
  sizeBytes: number;
  mode: DiskMode;
}

export type DiskRecord =
  | { type: 'manifest'; disks: ManifestDisk[] }
  /** Bytes at `offset` of disk `disk`. */
  | { type: 'data'; disk: number; offset: number; data: Uint8Array }
  /** [offset, offset+length) of disk `disk` is all zeros. */
  | { type: 'zero'; disk: number; offset: number; length: number }
  /** SHA-256 of the whole of (read-only) disk `disk`. */
  | { type: 'digest'; disk: number; sha256: Uint8Array }
  | { type: 'end' };

/** A record as the pieces to write: the frame header, the payload pieces, the CRC. */
export function encodeRecord(r: DiskRecord): Uint8Array[] {
  let type: DiskRecordType;
  let disk = 0;
  let payload: Uint8Array[];
  switch (r.type) {
    case 'manifest': {
      type = DiskRecordType.Manifest;
      if (r.disks.length > MAX_DISKS) throw new DiskCopyError(`a VM has at most ${MAX_DISKS} disks`);
      const parts = [u32(r.disks.length)];
      for (const d of r.disks) {
        const id = Buffer.from(d.id, 'utf8');
        if (id.length < 1 || id.length > MAX_ID_BYTES) throw new DiskCopyError(`disk id '${d.id}' must be 1..${MAX_ID_BYTES} bytes`);
        const b = Buffer.alloc(14);
        b.writeBigUInt64LE(BigInt(d.sizeBytes), 0);
        b.writeUInt32LE(MODE_CODES[d.mode], 8);
        b.writeUInt16LE(id.length, 12);
        parts.push(b, id);
      }
      payload = parts;
      break;
    }
    case 'data':
      type = DiskRecordType.Data;
      disk = r.disk;
      payload = [u64(r.offset), r.data];
      break;
    case 'zero':
      type = DiskRecordType.Zero;
      disk = r.disk;
      payload = [u64(r.offset), u64(r.length)];
      break;
    case 'digest':
      type = DiskRecordType.Digest;
      disk = r.disk;
      payload = [r.sha256];
      break;
    case 'end':
      type = DiskRecordType.End;
      payload = [];
      break;
  }
  const length = payload.reduce((n, p) => n + p.length, 0);
  const header = Buffer.alloc(FRAME_HEADER_SIZE);
  header.writeUInt32LE(type >>> 0, 0);
  header.writeUInt32LE(disk >>> 0, 4);
  header.writeBigUInt64LE(BigInt(length), 8);
  const crc = Buffer.alloc(FRAME_CRC_SIZE);
  crc.writeUInt32LE(payload.reduce((c, p) => crc32Continue(p, c), crc32Of(header)), 0);
  return [header, ...payload, crc];
}

/** Exactly `n` bytes from wherever the records come from, or an error naming the cut. */
export type ExactRead = (n: number, what: string) => Promise<Uint8Array>;

/** Reads and decodes one record: header checks, then payload, then CRC, then structure. */
export async function readRecord(read: ExactRead, at: number): Promise<DiskRecord> {
  const header = asBuffer(await read(FRAME_HEADER_SIZE, `the header of disk-copy record ${at}`));
  const type = header.readUInt32LE(0);
  const disk = header.readUInt32LE(4);
  const length = header.readBigUInt64LE(8);
  const name = TYPE_NAMES[type];
  if (name === undefined) throw new DiskCopyError(`disk-copy record ${at} has unknown type ${type}: the stream is damaged`);
  const where = `disk-copy ${name} record ${at}`;
  if (length > BigInt(MAX_PAYLOAD[type])) throw new DiskCopyError(`${where} claims ${length} bytes, more than a ${name} record holds (${MAX_PAYLOAD[type]}): the stream is damaged`);
  const payload = asBuffer(length === 0n ? new Uint8Array(0) : await read(Number(length), where));
  const crc = asBuffer(await read(FRAME_CRC_SIZE, `the CRC of ${where}`)).readUInt32LE(0);
  if (crc32Continue(payload, crc32Of(header)) !== crc) throw new DiskCopyError(`${where} fails its CRC check: the stream is damaged`);
  return decodePayload(type, disk, payload, where);
}

function decodePayload(type: DiskRecordType, disk: number, p: Buffer, where: string): DiskRecord {
  const bad = (what: string) => new DiskCopyError(`${where} ${what}: the stream is damaged`);
  if (type !== DiskRecordType.Manifest && type !== DiskRecordType.End) {
    if (disk >= MAX_DISKS) throw bad(`names disk ${disk} (at most ${MAX_DISKS} disks)`);
  } else if (disk !== 0) {
    throw bad(`has disk field ${disk}, must be 0`);
  }
  switch (type) {
    case DiskRecordType.Manifest: {
      if (p.length < 4) throw bad('is shorter than its disk count');
      const count = p.readUInt32LE(0);
      if (count > MAX_DISKS) throw bad(`lists ${count} disks (at most ${MAX_DISKS})`);
      const disks: ManifestDisk[] = [];
      let off = 4;
      for (let i = 0; i < count; i++) {
        if (off + 14 > p.length) throw bad(`ends inside disk ${i}`);
        const size = p.readBigUInt64LE(off);
        const mode = MODES_BY_CODE[p.readUInt32LE(off + 8)];
        const idLength = p.readUInt16LE(off + 12);
        off += 14;
        if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`gives disk ${i} a size of ${size} bytes`);
        if (mode === undefined) throw bad(`gives disk ${i} an unknown mode`);
        if (idLength < 1 || idLength > MAX_ID_BYTES || off + idLength > p.length) throw bad(`has a bad id length for disk ${i}`);
        let id: string;
        try {
          id = new TextDecoder('utf-8', { fatal: true }).decode(p.subarray(off, off + idLength));
        } catch {
          throw bad(`has an id for disk ${i} that is not UTF-8`);
        }
        off += idLength;
        disks.push({ id, sizeBytes: Number(size), mode });
      }
      if (off !== p.length) throw bad(`has ${p.length - off} bytes after its last disk`);
      return { type: 'manifest', disks };
    }
    case DiskRecordType.Data: {
      if (p.length < 8 + 1) throw bad('carries no data');
      return { type: 'data', disk, offset: safeOffset(p.readBigUInt64LE(0), bad), data: p.subarray(8) };
    }
    case DiskRecordType.Zero: {
      if (p.length !== 16) throw bad(`is ${p.length} bytes, must be 16`);
      const offset = safeOffset(p.readBigUInt64LE(0), bad);
      const length = safeOffset(p.readBigUInt64LE(8), bad);
      if (length < 1) throw bad('covers no bytes');
      return { type: 'zero', disk, offset, length };
    }
    case DiskRecordType.Digest:
      if (p.length !== DIGEST_SIZE) throw bad(`is ${p.length} bytes, must be ${DIGEST_SIZE}`);
      return { type: 'digest', disk, sha256: new Uint8Array(p) };
    case DiskRecordType.End:
      return { type: 'end' };
  }
}

function safeOffset(v: bigint, bad: (what: string) => Error): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`has offset or length ${v}, beyond any disk`);
  return Number(v);
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v), 0);
  return b;
}
