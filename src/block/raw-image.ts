/**
 * A raw disk image file as a BlockBackend. I/O uses Node's asynchronous fs calls, which
 * run on libuv's thread pool, so nothing blocks the event loop (and the vCPU exits it
 * serves).
 *
 * cache=writeback: ordinary fds; FLUSH is fdatasync.
 * cache=none: the image is opened with O_DIRECT (no host page cache). O_DIRECT needs
 *   block-aligned buffers, offsets and lengths: buffers come from a page-aligned pool;
 *   requests whose offset or length is not a multiple of 4096 go through a second,
 *   buffered fd on the same file (the kernel keeps the two coherent: direct I/O writes
 *   back and invalidates cached pages in its range), and FLUSH syncs both.
 * readonly=on: opened O_RDONLY, writes refused.
 * Locking: see image-lock.ts; share-rw=on takes a shared lock even when writing.
 */
import { constants as FS } from 'node:fs';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { AlignedBufferPool } from './aligned-buffers.js';
import type { BlockBackend } from './backend.js';
import { BlockIoError, ImageFormatError, ImageLockedError, ImageOpenError, ImageOptionError } from './errors.js';
import type { ImageLocker } from './image-lock.js';
import { native } from '../kvm/native.js';

export type CacheMode = 'writeback' | 'none';

export interface RawImageOptions {
  path: string;
  /** `format=`; only 'raw'. When undefined the file is probed and a qcow2 file is refused. */
  format?: string;
  readonly?: boolean;
  cache?: string;
  /** share-rw=on: allow other writers (shared lock instead of exclusive). */
  shareRw?: boolean;
  /** The lock provider; null runs without locking (then `locked` is false: tell the user). */
  locker: ImageLocker | null;
  /** Page-aligned buffers for cache=none (defaults to the addon's mmapAnonymous). */
  alignedPool?: AlignedBufferPool;
}

/** O_DIRECT alignment used for offsets, lengths and buffers (covers 512 and 4K logical blocks). */
export const DIRECT_IO_ALIGNMENT = 4096;
const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"

const readAsync = promisify(fs.read);
const writeAsync = promisify(fs.write);
const fdatasyncAsync = promisify(fs.fdatasync);
const closeAsync = promisify(fs.close);

export class RawImage implements BlockBackend {
  /** Punching holes (DISCARD) needs a writable image; done with fallocate(2) from the addon. */
  get canDiscard(): boolean {
    return !this.readonly;
  }
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** Buffered fd for unaligned requests under cache=none (undefined otherwise). */
    private readonly bufferedFd: number | undefined,
    readonly sizeBytes: number,
    readonly readonly: boolean,
    readonly cache: CacheMode,
    /** Whether an advisory lock is held. */
    readonly locked: boolean,
    private readonly pool: AlignedBufferPool | undefined,
  ) {}

  static async open(opts: RawImageOptions): Promise<RawImage> {
    const { path } = opts;
    if (opts.format !== undefined && opts.format !== 'raw') {
      throw new ImageFormatError(`disk image format '${opts.format}' is not supported for '${path}': cuju uses raw images only (convert with: qemu-img convert -O raw ${path} ${path}.raw)`);
    }
    const cache = opts.cache ?? 'writeback';
    if (cache !== 'writeback' && cache !== 'none') {
      throw new ImageOptionError(`cache mode '${cache}' is not supported for '${path}': use cache=writeback or cache=none`);
    }
    const readonly = opts.readonly ?? false;
    const access = readonly ? FS.O_RDONLY : FS.O_RDWR;
    const fd = openImage(path, access | (cache === 'none' ? FS.O_DIRECT : 0), readonly, cache);
    let bufferedFd: number | undefined;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new ImageOpenError(`disk image '${path}' is not a regular file (block devices are not supported)`);
      const sizeBytes = st.size;
      if (opts.format === undefined) await refuseQcow2(path, cache === 'none' ? openImage(path, FS.O_RDONLY, true, 'writeback') : fd, cache === 'none');
      let locked = false;
      if (opts.locker) {
        const exclusive = !readonly && !opts.shareRw;
        if (!opts.locker.lock(fd, exclusive)) {
          throw new ImageLockedError(readonly
            ? `disk image '${path}' is being written by another process: stop that VM, or add share-rw=on to both if sharing is intended`
            : `disk image '${path}' is in use by another process: stop that VM, open it with readonly=on, or add share-rw=on if sharing for writing is intended`);
        }
        locked = true;
      }
      if (cache === 'none') bufferedFd = openImage(path, access, readonly, 'writeback');
      const pool = cache === 'none' ? (opts.alignedPool ?? new AlignedBufferPool()) : undefined;
      return new RawImage(path, fd, bufferedFd, sizeBytes, readonly, cache, locked, pool);
    } catch (e) {
      fs.closeSync(fd);
      if (bufferedFd !== undefined) fs.closeSync(bufferedFd);
      throw e;
    }
  }

  acquire(length: number): Uint8Array {
    return this.pool ? this.pool.acquire(length) : new Uint8Array(length);
  }

  release(buffer: Uint8Array): void {
    this.pool?.release(buffer);
  }

  /** The fd to use for [offset, offset+length): the O_DIRECT one only when everything is aligned. */
  private fdFor(offset: number, buffer: Uint8Array): number {
    if (this.bufferedFd === undefined) return this.fd;
    const aligned = offset % DIRECT_IO_ALIGNMENT === 0 && buffer.byteLength % DIRECT_IO_ALIGNMENT === 0
      && buffer.byteOffset % DIRECT_IO_ALIGNMENT === 0 && this.pool !== undefined && this.pool.owns(buffer);
    return aligned ? this.fd : this.bufferedFd;
  }

  async read(offset: number, buffer: Uint8Array): Promise<void> {
    this.checkRange(offset, buffer.byteLength);
    const fd = this.fdFor(offset, buffer);
    let done = 0;
    while (done < buffer.byteLength) {
      const n = await io(() => readAsync(fd, buffer, done, buffer.byteLength - done, offset + done), 'read', this.path);
      if (n.bytesRead === 0) throw new BlockIoError(`read of '${this.path}' at ${offset + done} hit end of file`);
      done += n.bytesRead;
    }
  }

  async write(offset: number, buffer: Uint8Array): Promise<void> {
    if (this.readonly) throw new BlockIoError(`'${this.path}' is read-only`);
    this.checkRange(offset, buffer.byteLength);
    const fd = this.fdFor(offset, buffer);
    let done = 0;
    while (done < buffer.byteLength) {
      const n = await io(() => writeAsync(fd, buffer, done, buffer.byteLength - done, offset + done), 'write', this.path);
      done += n.bytesWritten;
    }
  }

  async flush(): Promise<void> {
    if (this.readonly) return;
    await io(() => fdatasyncAsync(this.fd), 'flush', this.path);
    if (this.bufferedFd !== undefined) await io(() => fdatasyncAsync(this.bufferedFd as number), 'flush', this.path);
  }

  async discard(offset: number, length: number): Promise<void> {
    if (this.readonly) throw new BlockIoError(`'${this.path}' is read-only`);
    this.checkRange(offset, length);
    try {
      // Metadata-only and quick on local file systems, so it runs inline.
      native().punchHole(this.fd, offset, length);
    } catch (e) {
      throw new BlockIoError(`discard on '${this.path}' failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeAsync(this.fd); // also drops the OFD lock
    if (this.bufferedFd !== undefined) await closeAsync(this.bufferedFd);
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.sizeBytes) {
      throw new BlockIoError(`access ${offset}+${length} is outside '${this.path}' (${this.sizeBytes} bytes)`);
    }
  }
}

function openImage(path: string, flags: number, readonly: boolean, cache: CacheMode): number {
  try {
    return fs.openSync(path, flags);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageOpenError(`disk image '${path}' does not exist: check the file= path`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ImageOpenError(`disk image '${path}' cannot be opened for ${readonly ? 'reading' : 'writing'}: permission denied${readonly ? '' : ' (fix its permissions, or add readonly=on)'}`);
    }
    if (code === 'EROFS') throw new ImageOpenError(`disk image '${path}' is on a read-only file system: add readonly=on`);
    if (code === 'EINVAL' && cache === 'none') throw new ImageOpenError(`disk image '${path}' is on a file system without O_DIRECT: use cache=writeback`);
    if (code === 'EISDIR') throw new ImageOpenError(`disk image '${path}' is a directory, not an image file`);
    throw new ImageOpenError(`disk image '${path}' cannot be opened: ${(e as Error).message}`);
  }
}

/** Refuses a qcow2 file given without format=: using it as raw would show the guest a garbage disk. */
async function refuseQcow2(path: string, fd: number, closeAfter: boolean): Promise<void> {
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await readAsync(fd, head, 0, 4, 0);
    if (bytesRead === 4 && head.readUInt32BE(0) === QCOW_MAGIC) {
      throw new ImageFormatError(`disk image '${path}' is qcow2: cuju uses raw images only (convert with: qemu-img convert -O raw ${path} ${path}.raw)`);
    }
  } finally {
    if (closeAfter) fs.closeSync(fd);
  }
}

async function io<T>(op: () => Promise<T>, what: string, path: string): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw new BlockIoError(`${what} of '${path}' failed: ${(e as Error).message}`);
  }
}
