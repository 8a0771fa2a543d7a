/**
 * Sends messages on one direction of the FT channel: numbers them (HELLO is #0), writes
 * each message's chunks in one corked batch and resolves once they have been handed to
 * the socket, so the caller may then reuse the staged page buffer. Calls may overlap:
 * numbers are taken and bytes queued synchronously, so messages go out in call order.
 */
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { encodeMessage } from './encode.js';
import { FtWireError } from './errors.js';
import type { ChannelMessage } from './messages.js';

export class ChannelWriter {
  private seq = 0;
  private failure?: Error;

  constructor(private readonly out: Writable) {
    out.on('error', (e) => { this.failure ??= e; });
    // Each message is written whole (corked); Nagle would only hold back a small ACK
    // behind an unacknowledged segment, and ACK latency is the guest's output latency.
    if (out instanceof Socket) out.setNoDelay(true);
  }

  /** Messages sent so far (the next sequence number). */
  get sent(): number {
    return this.seq;
  }

  async send(msg: ChannelMessage): Promise<void> {
    this.throwIfFailed();
    const chunks = encodeMessage(msg, this.seq);
    this.seq++;
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
