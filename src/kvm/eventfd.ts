/**
 * An eventfd: a counter the kernel (KVM ioeventfd, irqfd) and we signal each other
 * through without a vCPU exit to JavaScript. `watch()` runs a callback on the main
 * thread when it has been signalled (the count is consumed before the callback).
 */
import { readSync, writeSync } from 'node:fs';
import { native, type FdWatchHandle } from './native.js';

const EFD_NONBLOCK = 0o4000;

export class EventFd {
  readonly fd: number;
  private watchHandle?: FdWatchHandle;
  private closed = false;

  constructor() {
    this.fd = native().eventfd(0, EFD_NONBLOCK);
  }

  signal(): void {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    writeSync(this.fd, one);
  }

  /** Reads and resets the counter; 0 when it was not signalled. */
  consume(): bigint {
    const buf = Buffer.alloc(8);
    try {
      readSync(this.fd, buf, 0, 8, null);
      return buf.readBigUInt64LE();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return 0n;
      throw e;
    }
  }

  watch(onSignal: (count: bigint) => void): void {
    if (this.watchHandle) throw new Error('eventfd already watched');
    this.watchHandle = native().watchFd(this.fd, () => {
      const n = this.consume();
      if (n > 0n) onSignal(n);
    });
  }

  unwatch(): void {
    if (this.watchHandle) native().unwatchFd(this.watchHandle);
    this.watchHandle = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    native().close(this.fd);
  }
}
