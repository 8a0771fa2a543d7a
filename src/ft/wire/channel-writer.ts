/**
 * Sends messages on one direction of the FT channel: numbers them (HELLO is #0), writes
 * each message's chunks in one corked batch and resolves once they have been handed to
 * the socket, so the caller may then reuse the staged page buffer. Calls may overlap:
 * numbers are taken and bytes queued synchronously, so messages go out in call order.
 * With a tag key (-ft-key) every frame carries its authentication tag (frame-auth.ts).
 */
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { encodeMessage } from './encode.js';
import { FtWireError } from './errors.js';
import type { ChannelMessage } from './messages.js';

export class ChannelWriter {
  private seq = 0;
  private failure?: Error;
  /** performance.now() of the last send (the heartbeat sends only when idle). */
  lastSentAt = performance.now();

  constructor(private readonly out: Writable, private readonly tagKey?: Uint8Array) {
    out.on('error', (e) => { this.failure ??= e; });
    // Each message is written whole (corked); Nagle would only hold back a small ACK
    // behind an unacknowledged segment, and ACK latency is the guest's output latency.
    if (out instanceof Socket) out.setNoDelay(true);
  }

  /** Messages sent so far (the next sequence number). */
  get sent(): number {
    return this.seq;
  }

  /** Bytes handed to send() that the socket has not passed to the kernel yet. */
  get queuedBytes(): number {
    return this.out.writableLength;
  }

  /** No more sends will work (a failed socket, or one this side ended). */
  get closed(): boolean {
    return this.failure !== undefined || this.out.writableEnded || this.out.destroyed;
  }

  async send(msg: ChannelMessage): Promise<void> {
    this.throwIfFailed();
    const chunks = encodeMessage(msg, this.seq, this.tagKey);
    this.seq++;
    this.lastSentAt = performance.now();
    const written = new Promise<void>((resolve, reject) => {
      this.out.cork();
      chunks.forEach((c, i) => {
        const last = i === chunks.length - 1;
        this.out.write(c, last ? (e) => (e ? reject(e) : resolve()) : undefined);
      });
      this.out.uncork();
    });
    try {
      await written;
    } catch (e) {
      this.failure ??= e as Error;
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw new FtWireError(`sending on the FT channel failed: ${this.failure.message}`);
  }
}
