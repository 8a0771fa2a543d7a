/**
 * Message frames: u32 type, u32 payload length, u64 sequence number, u32 CRC32 of
 * those 16 bytes, the payload, u32 CRC32 of the payload; with -ft-key, a 16-byte tag
 * after that (frame-auth.ts).
 */
import { crc32Continue, crc32Of } from '../../snapshot/crc.js';
import { frameTag, payloadDigest } from './frame-auth.js';
import { FRAME_CRC_SIZE, FRAME_HEADER_SIZE, MAX_FRAME_PAYLOAD, MESSAGE_NAMES, type MessageType } from './format.js';

export interface FrameHeader {
  type: number;
  length: number;
  seq: bigint;
}

export function encodeFrameHeader(type: MessageType, length: number, seq: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`${MESSAGE_NAMES[type]} payload is ${length} bytes, more than a frame holds (${MAX_FRAME_PAYLOAD}): end epochs earlier`);
  }
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`sequence number must be a non-negative safe integer, got ${seq}`);
  const h = Buffer.alloc(FRAME_HEADER_SIZE);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(length, 4);
  h.writeBigUInt64LE(BigInt(seq), 8);
  h.writeUInt32LE(crc32Of(h.subarray(0, 16)), 16);
  return h;
}

/** Header fields, or undefined when the header's CRC does not match. */
export function decodeFrameHeader(h: Uint8Array): FrameHeader | undefined {
  const b = Buffer.from(h.buffer, h.byteOffset, h.byteLength);
  if (crc32Of(b.subarray(0, 16)) !== b.readUInt32LE(16)) return undefined;
  return { type: b.readUInt32LE(0), length: b.readUInt32LE(4), seq: b.readBigUInt64LE(8) };
}

/**
 * The frame around `payload` (chunks are not joined when there are several); with
 * `tagKey` (this side's send key) it ends with the frame's authentication tag.
 */
export function frameChunks(type: MessageType, seq: number, payload: Uint8Array[], length: number, tagKey?: Uint8Array): Uint8Array[] {
  const header = encodeFrameHeader(type, length, seq);
  const crc = Buffer.alloc(FRAME_CRC_SIZE);
  crc.writeUInt32LE(payload.reduce((c, p) => crc32Continue(p, c), 0), 0);
  const trailer: Uint8Array[] = tagKey ? [crc, frameTag(tagKey, header, payloadDigest(type, payload))] : [crc];
  if (payload.length <= 1) return [Buffer.concat([header, ...payload, ...trailer])];
  return [header, ...payload, Buffer.concat(trailer)];
}
