/**
 * Frame authentication on the FT channel when both sides run with -ft-key (docs/PROTOCOL.md,
 * "Frame MAC"). The migration handshake that precedes the channel (src/migration/auth.ts)
 * leaves both sides with a session key from the shared key and two fresh nonces; each
 * direction gets its own key from it, so a frame can't be reflected back to its sender.
 * Every frame then ends with a 16-byte tag:
 *
 *   tag = HMAC-SHA256(direction key, frame header (20 bytes) || D)[0..16]
 *   D   = EPOCH: the SHA-256 the payload ends with (the reader checks it against every
 *         other payload byte); any other type: SHA-256 of the payload.
 *
 * The header holds the sequence number, so a replayed frame (same session) fails the
 * sequence check and a renumbered one fails the tag; a frame from another session fails
 * the tag. MACing an epoch's existing digest instead of its bytes costs one HMAC of 52
 * bytes instead of a second hash over megabytes (bench/ft-wire.ts), with the same
 * strength: a forgery needs an HMAC forgery or a SHA-256 second preimage. 128 bits of tag:
 * the reader gives up the connection at the first bad tag, so an attacker gets one guess
 * per connection, against 2^128.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { MessageType, SHA256_SIZE, type FtRole } from './format.js';

export const FRAME_TAG_SIZE = 16;

/** This side's keys: it tags what it sends with `send` and checks the peer's frames with `receive`. */
export interface ChannelKeys {
  send: Buffer;
  receive: Buffer;
}

function directionKey(sessionKey: Uint8Array, from: FtRole): Buffer {
  const to = from === 'primary' ? 'backup' : 'primary';
  return createHmac('sha256', sessionKey).update(`cuju-ft-frame ${from}->${to}`).digest();
}

export function channelKeys(sessionKey: Uint8Array, role: FtRole): ChannelKeys {
  return { send: directionKey(sessionKey, role), receive: directionKey(sessionKey, role === 'primary' ? 'backup' : 'primary') };
}

/** The last `n` bytes of a list of chunks. */
function tail(chunks: readonly Uint8Array[], n: number): Buffer {
  const out = Buffer.alloc(n);
  let need = n;
  for (let i = chunks.length - 1; i >= 0 && need > 0; i--) {
    const c = chunks[i];
    const take = Math.min(need, c.length);
    out.set(c.subarray(c.length - take), need - take);
    need -= take;
  }
  if (need > 0) throw new RangeError(`a payload shorter than its ${n}-byte digest`);
  return out;
}

/** D of the table above, on the sending side. */
export function payloadDigest(type: MessageType, payload: readonly Uint8Array[]): Buffer {
  if (type === MessageType.Epoch) return tail(payload, SHA256_SIZE);
  const h = createHash('sha256');
  for (const p of payload) h.update(p);
  return h.digest();
}

export function frameTag(key: Uint8Array, header: Uint8Array, digest: Uint8Array): Buffer {
  return createHmac('sha256', key).update(header).update(digest).digest().subarray(0, FRAME_TAG_SIZE);
}

export function tagMatches(key: Uint8Array, header: Uint8Array, digest: Uint8Array, tag: Uint8Array): boolean {
  return tag.length === FRAME_TAG_SIZE && timingSafeEqual(frameTag(key, header, digest), tag);
}
