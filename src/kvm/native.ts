/**
 * Loads the N-API addon (native/, built by node-gyp on `npm install`) and gives
 * its functions types. Nothing else in the tree touches the addon directly.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** Opaque handle to a watched fd. */
export type FdWatchHandle = { readonly __fdWatch: unique symbol };

/** Opaque handle to a vCPU thread. */
export type VcpuThreadHandle = { readonly __vcpuThread: unique symbol };

export interface NativeAddon {
  open(path: string, flags: number): number;
  close(fd: number): void;
  ioctl(fd: number, request: number, arg?: Uint8Array | number | bigint): number;
  mmapFd(fd: number, length: number, offset: number, writable?: boolean): ArrayBuffer;
  mmapAnonymous(length: number, shared?: boolean): ArrayBuffer;
  addressOf(buffer: ArrayBuffer): bigint;
  eventfd(initval: number, flags: number): number;
  getpid(): number;
  /** malloc_trim(0): return freed C-heap pages to the OS. */
  mallocTrim(): boolean;
  /** fcntl(F_OFD_SETLK) over the whole file: true when locked, false when someone else holds a conflicting lock. */
  ofdLock(fd: number, exclusive: boolean): boolean;
  /** A kernel timer that SIGKILLs this process in `ms` unless disarmed (native/hold_deadline.c). */
  killTimerArm(ms: number): number;
  killTimerDisarm(id: number): void;
  /** fallocate(PUNCH_HOLE|KEEP_SIZE). */
  punchHole(fd: number, offset: number, length: number): void;
  /** Bytes of a mapping resident in RAM (mincore). */
  residentBytes(buffer: ArrayBuffer): number;
  /**
   * Calls onReadable on the main thread when fd becomes readable. One-shot, re-armed
   * after the callback returns: the callback must read the fd until EAGAIN.
   */
  watchFd(fd: number, onReadable: () => void): FdWatchHandle;
  unwatchFd(handle: FdWatchHandle): void;
  vcpuStart(vcpuFd: number, kvmRun: ArrayBuffer, onExit: (errno: number) => void): VcpuThreadHandle;
  /** completeOnly: KVM_RUN with immediate_exit, which only completes the last exit's I/O and returns EINTR. */
  vcpuResume(handle: VcpuThreadHandle, completeOnly?: boolean): void;
  vcpuKick(handle: VcpuThreadHandle): void;
  vcpuStop(handle: VcpuThreadHandle): void;
  vcpuThreadId(handle: VcpuThreadHandle): number;
  /** [last kick, last return from KVM_RUN], CLOCK_MONOTONIC µs (the clock of process.hrtime). */
  vcpuTimes(handle: VcpuThreadHandle): [number, number];
}

export class NativeAddonMissingError extends Error {
  override readonly name = 'NativeAddonMissingError';
}

function packageRoot(): string {
  // dist/src/kvm/native.js or src/kvm/native.ts: walk up to the folder holding package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new NativeAddonMissingError('cannot find the cuju package root (binding.gyp)');
}

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (cached) return cached;
  const path = join(packageRoot(), 'build', 'Release', 'cuju_native.node');
  if (!existsSync(path)) {
    throw new NativeAddonMissingError(`native addon not built (${path} missing): run 'npm install' in the cuju folder`);
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeAddon;
  return cached;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).errno === 'number';
}
