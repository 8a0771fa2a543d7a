/**
 * One-line JSON messages on a socket (after the hello and snapshot stream). Lines are
 * bounded (MAX_LINE); a peer that sends more, or closes, rejects the waiting reader.
 * Bytes stay bytes until a whole line is there (no socket encoding is set), so the
 * socket can be handed to a binary protocol afterwards: detach() returns what arrived
 * past the last line and leaves the socket paused and listener-free.
 */
import type { Socket } from 'node:net';
import { MigrationProtocolError } from './errors.js';
import { MAX_LINE } from './wire.js';

const NEWLINE = 0x0a;

export class LineChannel {
  private buffered: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private waiter?: { resolve: (l: string) => void; reject: (e: Error) => void };
  private failure?: Error;
  private readonly onData = (d: Buffer) => this.take(d);
  private readonly onError = (e: Error) => this.fail(new MigrationProtocolError(`connection failed: ${e.message}`));
  private readonly onClose = () => this.fail(new MigrationProtocolError('the peer closed the connection'));

  constructor(private readonly socket: Socket, initial?: Uint8Array) {
    if (initial && initial.length > 0) this.take(Buffer.from(initial));
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private take(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    let nl: number;
    // One line at a time: a binary protocol may follow the line that hands the socket over.
    while (!this.detached && (nl = this.buffered.indexOf(NEWLINE)) >= 0) {
      this.lines.push(this.buffered.toString('utf8', 0, nl));
      this.buffered = this.buffered.subarray(nl + 1);
      if (this.handOverAfterLine) break;
    }
    if (this.buffered.indexOf(NEWLINE) < 0 && this.buffered.length > MAX_LINE && !this.handOverAfterLine) {
      this.fail(new MigrationProtocolError('the peer sent an over-long message'));
    }
    this.deliver();
  }

  private detached = false;
  /** Set by expectHandOver(): stop splitting lines after the next one. */
  private handOverAfterLine = false;

  /**
   * The next line is the last this channel reads: what follows it belongs to another
   * protocol, so it is kept as bytes for detach().
   */
  expectHandOver(): void {
    this.handOverAfterLine = true;
  }

  private deliver(): void {
    if (!this.waiter) return;
    const line = this.lines.shift();
    if (line !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(line);
    } else if (this.failure) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.failure);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.deliver();
  }

  /** The next line; rejects once the connection is gone and no line is left. */
  next(): Promise<string> {
    if (this.waiter) throw new Error('LineChannel.next called twice');
    return new Promise<string>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
  }

  send(line: string): void {
    if (!this.socket.destroyed) this.socket.write(line);
  }

  /** Stops reading lines: the socket is paused, our listeners removed; returns the unread bytes. */
  detach(): Buffer {
    this.detached = true;
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }
}
