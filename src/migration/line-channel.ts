/**
 * One-line JSON messages on a socket (after the hello and snapshot stream). Lines are
 * bounded (MAX_LINE); a peer that sends more, or closes, rejects the waiting reader.
 */
import type { Socket } from 'node:net';
import { MigrationProtocolError } from './errors.js';
import { MAX_LINE } from './wire.js';

export class LineChannel {
  private buffered = '';
  private lines: string[] = [];
  private waiter?: { resolve: (l: string) => void; reject: (e: Error) => void };
  private failure?: Error;

  constructor(private readonly socket: Socket, initial?: Uint8Array) {
    socket.setEncoding('utf8');
    if (initial && initial.length > 0) this.onData(Buffer.from(initial).toString('utf8'));
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', (e) => this.fail(new MigrationProtocolError(`connection failed: ${e.message}`)));
    socket.on('close', () => this.fail(new MigrationProtocolError('the peer closed the connection')));
  }

  private onData(text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      this.lines.push(this.buffered.slice(0, nl));
      this.buffered = this.buffered.slice(nl + 1);
    }
    if (this.buffered.length > MAX_LINE) this.fail(new MigrationProtocolError('the peer sent an over-long message'));
    this.deliver();
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
}
