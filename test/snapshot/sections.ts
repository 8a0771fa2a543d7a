/** Splits a snapshot into header, section frames and trailer (and joins them back with a fresh SHA-256), for tests that rearrange sections. */
import { createHash } from 'node:crypto';

export interface SnapshotParts {
  header: Buffer;
  sections: Buffer[];
}

export function splitSections(bytes: Buffer): SnapshotParts {
  const headerSize = bytes.readUInt32LE(16);
  const sections: Buffer[] = [];
  let off = headerSize;
  while (off < bytes.length - 32) {
    const len = Number(bytes.readBigUInt64LE(off + 8));
    sections.push(bytes.subarray(off, off + 16 + len + 4));
    off += 16 + len + 4;
  }
  return { header: bytes.subarray(0, headerSize), sections };
}

export function joinSections(p: SnapshotParts): Buffer {
  const body = Buffer.concat([p.header, ...p.sections]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}
