/**
 * The lease as a small file on storage both hosts reach (by default next to the
 * share-rw image, i.e. the original Cuju's NFS). Every read-modify-write happens under
 * an exclusive OFD lock (fcntl F_OFD_SETLK, native addon: as src/block/image-lock.ts)
 * taken on a fresh open of the file and dropped by closing it, so two contenders, in
 * two processes, on two hosts over NFS, or even in one process, are serialised. The
 * lock is held only for the few milliseconds of one update; liveness comes from the
 * record's renewal counter, never from holding the lock.
 *
 * The file is never replaced (no rename): locks belong to the inode, and a new inode
 * would let two parties lock "the same" file at once.
 *
 * No process holds the lock longer than its hold deadline (the lease's ttl): a kernel
 * timer armed with the lock SIGKILLs a holder that outlives it (hold-deadline.ts), so a
 * VMM frozen inside a locked section (the shared-disk write fence holds it across the
 * image writes) cannot keep the other side out for good.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeImageLocker, type ImageLocker } from '../../block/image-lock.js';
import { LeaseFormatError, LeaseUnreachableError } from './errors.js';
import { DEFAULT_LEASE_TTL_MS } from './ft-lease.js';
import { nativeHoldDeadline, type HoldDeadline } from './hold-deadline.js';
import { decodeLeaseRecord, encodeLeaseRecord, LEASE_RECORD_BYTES, type LeaseRecord } from './lease-record.js';
import type { LeaseStore } from './lease-store.js';

export interface FileLeaseStoreOptions {
  /** How long one update may wait for another party's lock (default 2000 ms). */
  lockTimeoutMs?: number;
  /** OFD locker (default: the native addon's). */
  locker?: ImageLocker;
  /** The longest this process holds the lock before the kernel kills it (default: the default lease ttl). */
  holdDeadlineMs?: number;
  /** The kernel timer behind it (default: the native addon's). */
  deadline?: HoldDeadline;
  /** Where a lock held for half the deadline is reported (the kernel kill itself cannot log). */
  log?: (line: string) => void;
}

export class FileLeaseStore implements LeaseStore {
  readonly where: string;
  private readonly lockTimeoutMs: number;
  private readonly locker: ImageLocker;
  readonly holdDeadlineMs: number;
  private readonly deadline: HoldDeadline;
  private readonly log: (line: string) => void;

  constructor(readonly path: string, options: FileLeaseStoreOptions = {}) {
    this.where = `the lease file ${path}`;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 2000;
    const locker = options.locker ?? nativeImageLocker();
    if (!locker) throw new LeaseUnreachableError(`${this.where} needs file locks from the native addon, which is not built: run 'npm install' in the cuju folder`);
    this.locker = locker;
    this.holdDeadlineMs = options.holdDeadlineMs ?? DEFAULT_LEASE_TTL_MS;
    const deadline = options.deadline ?? nativeHoldDeadline();
    if (!deadline) throw new LeaseUnreachableError(`${this.where} needs kernel timers from the native addon, which is not built: run 'npm install' in the cuju folder`);
    this.deadline = deadline;
    this.log = options.log ?? (() => {});
  }

  async update(change: (current: LeaseRecord | undefined) => LeaseRecord | undefined): Promise<LeaseRecord | undefined> {
    return this.locked(async (fh, current) => {
      const next = change(current);
      if (!next) return current;
      const bytes = encodeLeaseRecord(next);
      await fh.write(bytes, 0, bytes.length, 0);
      await fh.datasync();
      return next;
    });
  }

  async whileLocked(check: (current: LeaseRecord | undefined) => boolean, fn: () => Promise<void>): Promise<{ ran: boolean; record: LeaseRecord | undefined }> {
    let failed: { error: unknown } | undefined;
    const result = await this.locked(async (_fh, current) => {
      if (!check(current)) return { ran: false, record: current };
      // fn's own errors (the image's) are not the lease's: passed through unchanged.
      try {
        await fn();
      } catch (error) {
        failed = { error };
      }
      return { ran: true, record: current };
    });
    if (failed) throw failed.error;
    return result;
  }

  /** Opens the file, takes the lock, reads the record and runs `body` on it; closing drops the lock. */
  private async locked<T>(body: (fh: FileHandle, current: LeaseRecord | undefined) => Promise<T>): Promise<T> {
    const fh = await this.openFile();
    let endDeadline: (() => void) | undefined;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new LeaseFormatError(`${this.where} is not a regular file: point -ft-lease at a file of its own (cuju creates it)`);
      this.checkSize(st.size);
      const endKill = await this.lock(fh);
      // A process that still runs can say why it may be about to die; a frozen one cannot.
      const warn = setTimeout(() => this.log(`warning: this VMM has held ${this.where}'s lock for ${Math.round(this.holdDeadlineMs / 2)} ms (slow storage?); at ${this.holdDeadlineMs} ms (the lease's ttl) its kernel kills it, so that the other side can take the lease`), this.holdDeadlineMs / 2);
      warn.unref();
      endDeadline = () => {
        clearTimeout(warn);
        endKill();
      };
      const buf = Buffer.alloc(LEASE_RECORD_BYTES + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      this.checkSize(bytesRead);
      return await body(fh, decodeLeaseRecord(buf.subarray(0, bytesRead), this.where));
    } catch (e) {
      if (e instanceof LeaseFormatError || e instanceof LeaseUnreachableError) throw e;
      throw new LeaseUnreachableError(`${this.where} could not be read or written: ${(e as Error).message}`);
    } finally {
      await fh.close().catch(() => {}); // drops the OFD lock
      endDeadline?.(); // after the close: the deadline covers every moment the lock is held
    }
  }

  private checkSize(size: number): void {
    // An image or any other file is refused before it is locked, and never written.
    if (size > LEASE_RECORD_BYTES) {
      throw new LeaseFormatError(`${this.where} is not a cuju lease file (it holds ${size} bytes, a lease is ${LEASE_RECORD_BYTES}): point -ft-lease at a file of its own (cuju creates it), not at an image or another file`);
    }
  }

  private async openFile(): Promise<FileHandle> {
    try {
      return await open(this.path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? `its folder ${dirname(this.path)} does not exist (or is not mounted)`
        : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
        : code === 'EISDIR' ? 'it is a folder'
        : code === 'EROFS' ? 'the file system is read-only'
        : code === 'ENOTDIR' ? 'a part of the path is not a folder'
        : (e as Error).message;
      throw new LeaseUnreachableError(`${this.where} cannot be opened for writing: ${why}. Give -ft-lease a path on storage both hosts can write (by default the share-rw image's folder)`);
    }
  }

  /**
   * Takes the lock; returns what ends its hold deadline. The deadline is armed before
   * each attempt, so there is no moment at which this process holds the lock unarmed.
   */
  private async lock(fh: FileHandle): Promise<() => void> {
    const start = performance.now();
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      const endKill = this.deadline.arm(this.holdDeadlineMs);
      let locked = false;
      try {
        locked = this.locker.lock(fh.fd, true);
      } finally {
        if (!locked) endKill(); // busy, or fcntl failed: nothing is held
      }
      if (locked) return endKill;
      if (performance.now() - start > this.lockTimeoutMs) {
        throw new LeaseUnreachableError(`${this.where} stayed locked by another process for ${this.lockTimeoutMs} ms`);
      }
      await sleep(wait);
    }
  }
}
