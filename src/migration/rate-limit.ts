/**
 * A Writable in front of a socket that keeps the average rate at or below
 * `bytesPerSecond` (QEMU's max-bandwidth) and passes the socket's backpressure on.
 */
import { Writable } from 'node:stream';

export class RateLimitedWritable extends Writable {
  private readonly startedAt = performance.now();
  private sent = 0;

  constructor(private readonly sink: Writable, private bytesPerSecond: number) {
    super({ highWaterMark: 1 << 20 });
    sink.on('error', (e) => this.destroy(e));
    sink.on('close', () => { if (!this.destroyed) this.destroy(new Error('connection closed')); });
  }

  setRate(bytesPerSecond: number): void {
    this.bytesPerSecond = bytesPerSecond;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.sent += chunk.length;
    const ok = this.sink.write(chunk);
    const dueMs = (this.sent / this.bytesPerSecond) * 1000 - (performance.now() - this.startedAt);
    const next = () => (dueMs > 1 ? setTimeout(() => done(), dueMs) : done());
    if (ok) next();
    else this.sink.once('drain', next);
  }

  override _final(done: (e?: Error | null) => void): void {
    done();
  }
}
