/**
 * CRC32 (zlib's) over several pieces. Node 20's zlib.crc32(data, value) returns 0 instead
 * of `value` when `data` is empty and backed by an empty ArrayBuffer (as a 0-byte file
 * read is), so empty pieces are skipped here rather than fed to it.
 */
import { crc32 } from 'node:zlib';

export function crc32Continue(data: Uint8Array, crc: number): number {
  return data.length === 0 ? crc : crc32(data, crc);
}

export function crc32Of(...pieces: Uint8Array[]): number {
  return pieces.reduce((crc, p) => crc32Continue(p, crc), 0);
}
