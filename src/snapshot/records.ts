/**
 * Tagged records inside a vcpu or vm section: u32 tag, u32 length, bytes. Each tag at
 * most once; an unknown tag is an error (a newer writer would have bumped the version).
 */
import { SnapshotError } from './errors.js';

export function encodeRecords(records: [tag: number, bytes: Uint8Array][]): Buffer {
  const size = records.reduce((n, [, b]) => n + 8 + b.length, 0);
  const out = Buffer.alloc(size);
  let off = 0;
  for (const [tag, bytes] of records) {
    out.writeUInt32LE(tag, off);
    out.writeUInt32LE(bytes.length, off + 4);
    out.set(bytes, off + 8);
    off += 8 + bytes.length;
  }
  return out;
}

/** Splits a payload into records; `names` lists the known tags (for messages). */
export function decodeRecords(payload: Uint8Array, names: Record<number, string>, where: string): Map<number, Uint8Array> {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const out = new Map<number, Uint8Array>();
  let off = 0;
  while (off < b.length) {
    if (off + 8 > b.length) throw new SnapshotError(`${where}: record header cut short`);
    const tag = b.readUInt32LE(off);
    const len = b.readUInt32LE(off + 4);
    if (off + 8 + len > b.length) throw new SnapshotError(`${where}: record ${names[tag] ?? tag} runs past the section end`);
    if (!(tag in names)) throw new SnapshotError(`${where}: unknown record tag ${tag}`);
    if (out.has(tag)) throw new SnapshotError(`${where}: record ${names[tag]} appears twice`);
    out.set(tag, b.subarray(off + 8, off + 8 + len));
    off += 8 + len;
  }
  return out;
}

/** A required record, copied out of the section buffer as a plain Uint8Array. */
export function requireRecord(records: Map<number, Uint8Array>, tag: number, names: Record<number, string>, where: string): Uint8Array {
  const r = records.get(tag);
  if (!r) throw new SnapshotError(`${where}: record ${names[tag]} is missing`);
  return new Uint8Array(r);
}

/** An optional record, copied like requireRecord. */
export function optionalRecord(records: Map<number, Uint8Array>, tag: number): Uint8Array | undefined {
  const r = records.get(tag);
  return r && new Uint8Array(r);
}

export function u32Bytes(v: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

export function readU32Record(bytes: Uint8Array, name: string, where: string): number {
  if (bytes.length !== 4) throw new SnapshotError(`${where}: record ${name} is ${bytes.length} bytes, expected 4`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32LE(0);
}
