/**
 * Reads the messages of one direction of the FT channel and yields only validated
 * ones: the peer's HELLO first (checked against this side), then frames whose header
 * CRC, type, direction, sequence number (exactly the previous + 1), length limit,
 * payload CRC and contents are all right. An EPOCH is yielded only once it has arrived
 * completely and passed every check, so the backup never applies a partial epoch.
 * With a tag key (-ft-key) each frame's authentication tag is checked too, after the
 * CRCs and before the message is accepted (frame-auth.ts).
 * After an error the reader stays failed: the channel's state is unknown from there.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ExpectedMachine } from '../../snapshot/snapshot-parser.js';
import { StreamByteQueue } from '../../snapshot/stream-byte-queue.js';
import { checkEpoch, maxEpochPayload, readEpochPayload } from './epoch-decode.js';
import { FtAuthError, FtWireError } from './errors.js';
import { FRAME_TAG_SIZE, tagMatches } from './frame-auth.js';
import {
  ACK_PAYLOAD, FRAME_CRC_SIZE, FRAME_HEADER_SIZE, HEARTBEAT_PAYLOAD, MAX_CANCEL_PAYLOAD,
  MAX_HELLO_PAYLOAD, MESSAGE_NAMES, MessageType, SENT_BY, type FtRole,
} from './format.js';
import { decodeFrameHeader } from './frame.js';
import { checkPeerHello, decodeHelloPayload } from './hello.js';
import type { ChannelMessage } from './messages.js';
import { asWireError, PayloadReader, safeU64 } from './payload-reader.js';
import { decodeVerifyPayload, decodeVerifyResultPayload, MAX_VERIFY_RESULT_PAYLOAD, maxVerifyPayload, VERIFY_FIXED_SIZE, VERIFY_RESULT_FIXED_SIZE } from './verify-messages.js';

export interface ChannelReaderOptions {
  /** This side: a backup reads the primary's messages, a primary the backup's. */
  role: FtRole;
  /** This side's machine (the peer's HELLO must match it), KVM capabilities and device validators. */
  machine: ExpectedMachine;
  /** Backup: the epoch its consistent state holds now; the first EPOCH must be the next one. Default 0. */
  lastEpoch?: number;
  /**
   * Decode every epoch's page bytes into one buffer the reader keeps, instead of a fresh
   * one per epoch (a fresh buffer costs a page fault and the kernel's zeroing per page,
   * as much again as the copy). Then an epoch's pageData is valid only until the next
   * call to next(): for a backup that applies each epoch before reading the next.
   */
  reusePageBuffer?: boolean;
  /** The peer's send key (ChannelKeys.receive): every frame must carry a valid tag. */
  tagKey?: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class ChannelReader implements AsyncIterable<ChannelMessage> {
  private readonly input: StreamByteQueue;
  private readonly peer: FtRole;
  private nextSeq = 0n;
  private lastEpoch: number;
  private lastReleased = 0;
  private lastAck = 0;
  private lastVerifyResult = 0;
  private cancelled = false;
  private failure?: Error;
  private pageBuffer?: Buffer;

  constructor(input: StreamByteQueue | Readable, private readonly options: ChannelReaderOptions) {
    this.peer = options.role === 'primary' ? 'backup' : 'primary';
    this.input = input instanceof StreamByteQueue ? input : new StreamByteQueue(input[Symbol.asyncIterator](), `the FT channel from the ${this.peer}`);
    this.lastEpoch = options.lastEpoch ?? 0;
  }

  /** Bytes read from the channel so far. */
  get bytesRead(): number {
    return this.input.offset;
  }

  /** The newest epoch the reader has yielded (backup side). */
  get epoch(): number {
    return this.lastEpoch;
  }

  /** The next validated message; undefined when the peer closed the channel between messages. */
  async next(): Promise<ChannelMessage | undefined> {
    if (this.failure) throw this.failure;
    try {
      return await this.read();
    } catch (e) {
      this.failure = e as Error;
      throw e;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChannelMessage> {
    for (let m = await this.next(); m; m = await this.next()) yield m;
  }

  private async read(): Promise<ChannelMessage | undefined> {
    if (await asWireError(() => this.input.atEnd())) return undefined;
    const at = this.input.offset;
    // Copied: the tag check needs these bytes after the payload has been read.
    const headerBytes = Uint8Array.from(await asWireError(() => this.input.exact(FRAME_HEADER_SIZE, 'a message header')));
    const header = decodeFrameHeader(headerBytes);
    const from = `the ${this.peer}`;
    if (!header) throw new FtWireError(`FT message header at byte ${at} from ${from} fails its CRC check: the channel is damaged`);
    const name = MESSAGE_NAMES[header.type];
    if (!name) throw new FtWireError(`FT message #${header.seq} from ${from} has unknown type ${header.type}: the channel is damaged or the peer is not cuju`);
    const where = `FT ${name} #${header.seq} from ${from}`;
    if (header.seq !== this.nextSeq) {
      const why = header.seq < this.nextSeq ? 'a message was repeated or reordered' : 'a message was lost';
      throw new FtWireError(`${where} is out of sequence: expected #${this.nextSeq} (${why})`);
    }
    if ((this.nextSeq === 0n) !== (header.type === MessageType.Hello)) {
      throw new FtWireError(this.nextSeq === 0n ? `${where}: the channel must open with a HELLO` : `${where}: HELLO may only open the channel`);
    }
    if (!SENT_BY[header.type].includes(this.peer)) throw new FtWireError(`${where}: a ${this.peer} never sends ${name}`);
    if (this.cancelled) throw new FtWireError(`${where} arrived after CANCEL`);
    const limit = this.payloadLimit(header.type);
    if (header.length > limit.max || header.length < limit.min) {
      const allowed = limit.min === limit.max ? `${limit.max}` : `${limit.min}..${limit.max}`;
      throw new FtWireError(`${where} claims a ${header.length}-byte payload, a ${name} has ${allowed}: the channel is damaged`);
    }

    const r = new PayloadReader(this.input, header.length, where);
    let message: ChannelMessage;
    if (header.type === MessageType.Epoch) {
      // Parsed as it arrives (each inner length bounded by what the frame has left), then the CRC.
      const pageBuffer = this.options.reusePageBuffer ? (n: number) => this.reusedPageBuffer(n) : undefined;
      message = { type: 'epoch', content: await readEpochPayload(r, this.options.machine, pageBuffer) };
      await this.checkCrc(r);
      await this.checkTag(headerBytes, r.checkedSha256!, where);
    } else {
      // Small: the CRC first, so a damaged field is reported as damage, not as a mismatch.
      r.hashing = false;
      const payload = await r.bytes(header.length, 'the payload');
      await this.checkCrc(r);
      if (this.options.tagKey) await this.checkTag(headerBytes, createHash('sha256').update(payload).digest(), where);
      message = this.decodeSmall(header.type, payload, where);
    }
    this.accept(message, where);
    this.nextSeq++;
    return message;
  }

  private payloadLimit(type: MessageType): { min: number; max: number } {
    switch (type) {
      case MessageType.Hello: return { min: 0, max: MAX_HELLO_PAYLOAD };
      case MessageType.Ack: return { min: ACK_PAYLOAD, max: ACK_PAYLOAD };
      case MessageType.Heartbeat: return { min: HEARTBEAT_PAYLOAD, max: HEARTBEAT_PAYLOAD };
      case MessageType.Verify: return { min: VERIFY_FIXED_SIZE, max: maxVerifyPayload(this.options.machine.ramBytes) };
      case MessageType.VerifyResult: return { min: VERIFY_RESULT_FIXED_SIZE, max: MAX_VERIFY_RESULT_PAYLOAD };
      case MessageType.Cancel: return { min: 0, max: MAX_CANCEL_PAYLOAD };
      // Its structure bounds it further, field by field, as it is read.
      case MessageType.Epoch: return { min: 0, max: maxEpochPayload(this.options.machine) };
    }
  }

  private reusedPageBuffer(bytes: number): Uint8Array {
    if (!this.pageBuffer || this.pageBuffer.length < bytes) this.pageBuffer = Buffer.allocUnsafe(bytes);
    return this.pageBuffer.subarray(0, bytes);
  }

  private async checkCrc(r: PayloadReader): Promise<void> {
    const crc = await asWireError(() => this.input.exact(FRAME_CRC_SIZE, `the CRC of ${r.where}`));
    if (Buffer.from(crc.buffer, crc.byteOffset, 4).readUInt32LE(0) !== r.crc) throw new FtWireError(`${r.where} fails its CRC check: the channel is damaged`);
  }

  private async checkTag(header: Uint8Array, digest: Uint8Array, where: string): Promise<void> {
    const key = this.options.tagKey;
    if (!key) return;
    const tag = await asWireError(() => this.input.exact(FRAME_TAG_SIZE, `the authentication tag of ${where}`));
    if (!tagMatches(key, header, digest, tag)) {
      throw new FtAuthError(`${where} fails its authentication (HMAC-SHA256 with the -ft-key session key): it was forged, altered on the way or sent by a peer without the same -ft-key`);
    }
  }

  private decodeSmall(type: MessageType, payload: Uint8Array, where: string): ChannelMessage {
    const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    switch (type) {
      case MessageType.Hello: return { type: 'hello', ...decodeHelloPayload(b, this.options.role) };
      case MessageType.Ack: return { type: 'ack', epoch: safeU64(b, 0, `${where}: epoch`) };
      case MessageType.Heartbeat: return { type: 'heartbeat', sentAtNs: b.readBigUInt64LE(0) };
      case MessageType.Verify: return { type: 'verify', request: decodeVerifyPayload(b, this.options.machine.ramBytes, where) };
      case MessageType.VerifyResult: return { type: 'verify-result', result: decodeVerifyResultPayload(b, where) };
      case MessageType.Cancel:
        try {
          return { type: 'cancel', reason: utf8.decode(b) };
        } catch {
          throw new FtWireError(`${where}: the reason is not UTF-8: the channel is damaged`);
        }
      case MessageType.Epoch: throw new Error('unreachable: epochs are read by readEpoch');
    }
  }

  /** Checks that need the whole, CRC-checked message, then updates the channel state. */
  private accept(m: ChannelMessage, where: string): void {
    switch (m.type) {
      case 'hello':
        checkPeerHello(m, this.options.role, this.options.machine);
        break;
      case 'epoch':
        checkEpoch(m.content, this.lastEpoch, this.lastReleased, this.options.machine, where);
        this.lastEpoch = m.content.epoch;
        this.lastReleased = m.content.releasedEpoch;
        break;
      case 'ack':
        if (m.epoch <= this.lastAck) throw new FtWireError(`${where}: acknowledges epoch ${m.epoch} after epoch ${this.lastAck}: acknowledgements must ascend`);
        this.lastAck = m.epoch;
        break;
      case 'cancel':
        this.cancelled = true;
        break;
      case 'heartbeat':
        break;
      case 'verify':
        // It follows its EPOCH directly: the backup hashes that epoch's state, before the next applies.
        if (m.request.epoch !== this.lastEpoch) throw new FtWireError(`${where}: verifies epoch ${m.request.epoch}, but the last EPOCH was ${this.lastEpoch}: a VERIFY must follow its epoch`);
        break;
      case 'verify-result':
        if (m.result.epoch <= this.lastVerifyResult) throw new FtWireError(`${where}: reports epoch ${m.result.epoch} after epoch ${this.lastVerifyResult}: results must ascend`);
        this.lastVerifyResult = m.result.epoch;
        break;
    }
  }
}
