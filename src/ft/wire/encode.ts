/** encodeMessage: any channel message as framed chunks, ready for one writev. */
import { encodeEpochPayload } from './epoch-encode.js';
import { ACK_PAYLOAD, HEARTBEAT_PAYLOAD, MAX_CANCEL_PAYLOAD, MessageType } from './format.js';
import { frameChunks } from './frame.js';
import { encodeHelloPayload } from './hello.js';
import type { ChannelMessage } from './messages.js';
import { encodeVerifyPayload, encodeVerifyResultPayload } from './verify-messages.js';

function u64Payload(v: number | bigint, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeBigUInt64LE(BigInt(v), 0);
  return b;
}

/** Truncates to at most `max` bytes of UTF-8 without splitting a character. */
function utf8Prefix(s: string, max: number): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/**
 * The message's frame as chunks. An EPOCH's page and disk bytes are views of the
 * content's buffers: they must not change until the chunks are written. `tagKey`: this
 * side's send key when the channel is authenticated (-ft-key).
 */
export function encodeMessage(msg: ChannelMessage, seq: number, tagKey?: Uint8Array): Uint8Array[] {
  const one = (type: MessageType, payload: Buffer) => frameChunks(type, seq, [payload], payload.length, tagKey);
  switch (msg.type) {
    case 'hello':
      return one(MessageType.Hello, encodeHelloPayload(msg));
    case 'epoch': {
      const payload = encodeEpochPayload(msg.content);
      return frameChunks(MessageType.Epoch, seq, payload.finish(), payload.length, tagKey);
    }
    case 'ack':
      if (!Number.isSafeInteger(msg.epoch) || msg.epoch < 1) throw new RangeError(`ACK needs a positive epoch number, got ${msg.epoch}`);
      return one(MessageType.Ack, u64Payload(msg.epoch, ACK_PAYLOAD));
    case 'cancel':
      // A long reason is cut rather than refused: cancelling must always work.
      return one(MessageType.Cancel, utf8Prefix(msg.reason, MAX_CANCEL_PAYLOAD));
    case 'heartbeat':
      return one(MessageType.Heartbeat, u64Payload(BigInt.asUintN(64, msg.sentAtNs), HEARTBEAT_PAYLOAD));
    case 'verify':
      return one(MessageType.Verify, encodeVerifyPayload(msg.request));
    case 'verify-result':
      return one(MessageType.VerifyResult, encodeVerifyResultPayload(msg.result));
  }
}
