/**
 * VERIFY (primary → backup) and VERIFY_RESULT (backup → primary): FT verify mode's two
 * messages (docs/PROTOCOL.md, "VERIFY and VERIFY_RESULT"). VERIFY carries the digests
 * of the primary's state at the boundary of one epoch and follows that EPOCH directly
 * on the channel, so the backup hashes its own state after applying the epoch and
 * before the next one. VERIFY_RESULT says what differed.
 *
 * VERIFY payload: u64 epoch, u32 chunk bytes, u32 chunk count, 32 bytes SHA-256 of the
 * device states, then one SHA-256 per RAM chunk (chunk i = RAM bytes
 * [i*chunk, min(RAM, (i+1)*chunk))).
 * VERIFY_RESULT payload: u64 epoch, u32 flags (bit 0: device state differs, bit 1: more
 * RAM ranges differ than listed), u32 range count, then per range u32 first page, u32 pages.
 */
import { FtWireError } from './errors.js';
import { PAGE_SIZE, SHA256_SIZE } from './format.js';
import { safeU64 } from './payload-reader.js';

export const VERIFY_FIXED_SIZE = 16 + SHA256_SIZE;
export const VERIFY_RESULT_FIXED_SIZE = 16;
export const VERIFY_RANGE_SIZE = 8;
/** Ranges a VERIFY_RESULT lists at most (more set the truncated flag). */
export const MAX_VERIFY_RANGES = 1024;
export const MAX_VERIFY_RESULT_PAYLOAD = VERIFY_RESULT_FIXED_SIZE + MAX_VERIFY_RANGES * VERIFY_RANGE_SIZE;
/** Chunk sizes a VERIFY may use: a power of two from one page to 1 GiB. */
export const MIN_VERIFY_CHUNK = PAGE_SIZE;
export const MAX_VERIFY_CHUNK = 1 << 30;

const FLAG_DEVICES_DIFFER = 1;
const FLAG_TRUNCATED = 2;

export interface VerifyRequest {
  epoch: number;
  chunkBytes: number;
  /** SHA-256 of the device states (as JSON, in description order). */
  deviceDigest: Uint8Array;
  /** SHA-256 per RAM chunk. */
  ramDigests: Uint8Array[];
}

export interface PageRange {
  firstPage: number;
  pages: number;
}

export interface VerifyResult {
  epoch: number;
  devicesDiffer: boolean;
  /** RAM ranges whose chunks differ (coalesced, ascending); at most MAX_VERIFY_RANGES. */
  ramRanges: PageRange[];
  /** More ranges differed than ramRanges lists. */
  truncated: boolean;
}

/** Chunks a RAM of `ramBytes` splits into. */
export function verifyChunkCount(ramBytes: number, chunkBytes: number): number {
  return Math.ceil(ramBytes / chunkBytes);
}

/** The largest VERIFY payload for this RAM size (smallest chunks). */
export function maxVerifyPayload(ramBytes: number): number {
  return VERIFY_FIXED_SIZE + verifyChunkCount(ramBytes, MIN_VERIFY_CHUNK) * SHA256_SIZE;
}

function checkChunkBytes(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_VERIFY_CHUNK && n <= MAX_VERIFY_CHUNK && (n & (n - 1)) === 0;
}

export function encodeVerifyPayload(v: VerifyRequest): Buffer {
  if (!Number.isSafeInteger(v.epoch) || v.epoch < 1) throw new RangeError(`VERIFY needs a positive epoch number, got ${v.epoch}`);
  if (!checkChunkBytes(v.chunkBytes)) throw new RangeError(`VERIFY chunk size must be a power of two from ${MIN_VERIFY_CHUNK} to ${MAX_VERIFY_CHUNK}, got ${v.chunkBytes}`);
  if (v.deviceDigest.length !== SHA256_SIZE || v.ramDigests.some((d) => d.length !== SHA256_SIZE)) throw new RangeError('VERIFY digests must be SHA-256 (32 bytes)');
  const b = Buffer.alloc(VERIFY_FIXED_SIZE + v.ramDigests.length * SHA256_SIZE);
  b.writeBigUInt64LE(BigInt(v.epoch), 0);
  b.writeUInt32LE(v.chunkBytes, 8);
  b.writeUInt32LE(v.ramDigests.length, 12);
  b.set(v.deviceDigest, 16);
  v.ramDigests.forEach((d, i) => b.set(d, VERIFY_FIXED_SIZE + i * SHA256_SIZE));
  return b;
}

/** Decodes a CRC-checked VERIFY payload for a RAM of `ramBytes`; `where` names the message. */
export function decodeVerifyPayload(b: Buffer, ramBytes: number, where: string): VerifyRequest {
  if (b.length < VERIFY_FIXED_SIZE) throw new FtWireError(`${where}: ${b.length} bytes, a VERIFY has at least ${VERIFY_FIXED_SIZE}`);
  const epoch = safeU64(b, 0, `${where}: epoch`);
  const chunkBytes = b.readUInt32LE(8);
  const count = b.readUInt32LE(12);
  if (epoch < 1) throw new FtWireError(`${where}: epoch 0 cannot be verified (it is the initial copy)`);
  if (!checkChunkBytes(chunkBytes)) throw new FtWireError(`${where}: chunk size ${chunkBytes} is not a power of two from ${MIN_VERIFY_CHUNK} to ${MAX_VERIFY_CHUNK}`);
  const expected = verifyChunkCount(ramBytes, chunkBytes);
  if (count !== expected) throw new FtWireError(`${where}: ${count} RAM chunks of ${chunkBytes} bytes, this VM's ${ramBytes}-byte RAM has ${expected}`);
  if (b.length !== VERIFY_FIXED_SIZE + count * SHA256_SIZE) throw new FtWireError(`${where}: ${b.length} bytes, ${count} chunk digests need ${VERIFY_FIXED_SIZE + count * SHA256_SIZE}`);
  const ramDigests: Uint8Array[] = [];
  for (let i = 0; i < count; i++) ramDigests.push(Uint8Array.from(b.subarray(VERIFY_FIXED_SIZE + i * SHA256_SIZE, VERIFY_FIXED_SIZE + (i + 1) * SHA256_SIZE)));
  return { epoch, chunkBytes, deviceDigest: Uint8Array.from(b.subarray(16, 16 + SHA256_SIZE)), ramDigests };
}

export function encodeVerifyResultPayload(r: VerifyResult): Buffer {
  if (!Number.isSafeInteger(r.epoch) || r.epoch < 1) throw new RangeError(`VERIFY_RESULT needs a positive epoch number, got ${r.epoch}`);
  const ranges = r.ramRanges.slice(0, MAX_VERIFY_RANGES);
  const truncated = r.truncated || r.ramRanges.length > MAX_VERIFY_RANGES;
  const b = Buffer.alloc(VERIFY_RESULT_FIXED_SIZE + ranges.length * VERIFY_RANGE_SIZE);
  b.writeBigUInt64LE(BigInt(r.epoch), 0);
  b.writeUInt32LE((r.devicesDiffer ? FLAG_DEVICES_DIFFER : 0) | (truncated ? FLAG_TRUNCATED : 0), 8);
  b.writeUInt32LE(ranges.length, 12);
  ranges.forEach((g, i) => {
    b.writeUInt32LE(g.firstPage, VERIFY_RESULT_FIXED_SIZE + i * VERIFY_RANGE_SIZE);
    b.writeUInt32LE(g.pages, VERIFY_RESULT_FIXED_SIZE + i * VERIFY_RANGE_SIZE + 4);
  });
  return b;
}

/** Decodes a CRC-checked VERIFY_RESULT payload; ranges must be non-empty and ascend without overlap. */
export function decodeVerifyResultPayload(b: Buffer, where: string): VerifyResult {
  if (b.length < VERIFY_RESULT_FIXED_SIZE) throw new FtWireError(`${where}: ${b.length} bytes, a VERIFY_RESULT has at least ${VERIFY_RESULT_FIXED_SIZE}`);
  const epoch = safeU64(b, 0, `${where}: epoch`);
  const flags = b.readUInt32LE(8);
  const count = b.readUInt32LE(12);
  if (epoch < 1) throw new FtWireError(`${where}: epoch 0 is never verified`);
  if ((flags & ~(FLAG_DEVICES_DIFFER | FLAG_TRUNCATED)) !== 0) throw new FtWireError(`${where}: unknown flags 0x${flags.toString(16)}`);
  if (count > MAX_VERIFY_RANGES || b.length !== VERIFY_RESULT_FIXED_SIZE + count * VERIFY_RANGE_SIZE) {
    throw new FtWireError(`${where}: ${b.length} bytes do not hold ${count} ranges (at most ${MAX_VERIFY_RANGES})`);
  }
  const ramRanges: PageRange[] = [];
  let next = 0;
  for (let i = 0; i < count; i++) {
    const firstPage = b.readUInt32LE(VERIFY_RESULT_FIXED_SIZE + i * VERIFY_RANGE_SIZE);
    const pages = b.readUInt32LE(VERIFY_RESULT_FIXED_SIZE + i * VERIFY_RANGE_SIZE + 4);
    if (pages === 0 || firstPage < next) throw new FtWireError(`${where}: range ${i} (page ${firstPage}, ${pages} pages) is empty or not after the previous one`);
    next = firstPage + pages;
    ramRanges.push({ firstPage, pages });
  }
  return { epoch, devicesDiffer: (flags & FLAG_DEVICES_DIFFER) !== 0, truncated: (flags & FLAG_TRUNCATED) !== 0, ramRanges };
}
