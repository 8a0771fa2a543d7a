/**
 * KVM dirty-page logging: the byte layouts of struct kvm_dirty_log and struct
 * kvm_clear_dirty_log (/usr/include/linux/kvm.h), the bitmap buffer KVM fills, and
 * switching a VM between legacy and manual-protect logging
 * (Documentation/virt/kvm/api.rst 4.8 KVM_GET_DIRTY_LOG, 4.117 KVM_CLEAR_DIRTY_LOG,
 * 7.18 KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2). The ioctls themselves are VmFd methods.
 */
import * as K from './constants.js';
import { native } from './native.js';
import type { VmFd } from './vm-fd.js';

/** args[0] bits of KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2). */
export const KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE = 1 << 0;
export const KVM_DIRTY_LOG_INITIALLY_SET = 1 << 1;

/** struct kvm_dirty_log: u32 slot, u32 padding, u64 dirty_bitmap pointer. */
export const DIRTY_LOG_SIZE = 16;
/** struct kvm_clear_dirty_log: u32 slot, u32 num_pages, u64 first_page, u64 dirty_bitmap pointer. */
export const CLEAR_DIRTY_LOG_SIZE = 24;

/**
 * 'legacy': KVM_GET_DIRTY_LOG returns the log and, atomically with it, clears it and
 * write-protects the returned pages again. 'manual-protect': GET only reads; the VMM
 * re-arms exactly the pages it took with KVM_CLEAR_DIRTY_LOG (cheaper GET, smaller
 * lock hold times, fewer false positives).
 */
export type DirtyLogMode = 'legacy' | 'manual-protect';

/** Bytes of KVM's bitmap for a slot of `pageCount` pages: whole 64-bit `unsigned long`s. */
export function dirtyBitmapBytes(pageCount: number): number {
  return Math.ceil(pageCount / 64) * 8;
}

/**
 * The user-space buffer KVM copies a slot's dirty bitmap into (GET) or reads the
 * pages to re-protect from (CLEAR). Bit i (LSB first, little-endian words) is page i
 * of the slot. KVM gets the buffer's address inside the ioctl structs, so the
 * ArrayBuffer is held here for the bitmap's whole life: an unreferenced ArrayBuffer
 * may be freed by GC while its address is still in use.
 */
export class KvmDirtyBitmap {
  readonly buffer: ArrayBuffer;
  /** 32-bit view: two words per KVM `unsigned long`, same bit order on x86-64. */
  readonly words: Uint32Array;
  readonly address: bigint;

  constructor(readonly pageCount: number) {
    if (!Number.isSafeInteger(pageCount) || pageCount <= 0) throw new RangeError(`dirty bitmap needs a positive page count, got ${pageCount}`);
    // Allocated as an ArrayBuffer (never an on-heap typed array), so its backing store does not move.
    this.buffer = new ArrayBuffer(dirtyBitmapBytes(pageCount));
    this.words = new Uint32Array(this.buffer);
    this.address = native().addressOf(this.buffer);
  }

  isEmpty(): boolean {
    const w = this.words;
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }

  /** Sets the bits of all pages of the slot (and none past its end). */
  setAll(): void {
    this.words.fill(0xffffffff);
    const tail = this.pageCount % 32;
    const last = Math.ceil(this.pageCount / 32) - 1;
    if (tail) this.words[last] = (1 << tail) - 1 >>> 0;
    this.words.fill(0, last + 1);
  }
}

export function encodeDirtyLog(slot: number, bitmapAddress: bigint): Uint8Array {
  const buf = new Uint8Array(DIRTY_LOG_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, slot, true);
  dv.setBigUint64(8, bitmapAddress, true);
  return buf;
}

export function encodeClearDirtyLog(slot: number, firstPage: number, numPages: number, bitmapAddress: bigint): Uint8Array {
  const buf = new Uint8Array(CLEAR_DIRTY_LOG_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, slot, true);
  dv.setUint32(4, numPages, true);
  dv.setBigUint64(8, BigInt(firstPage), true);
  dv.setBigUint64(16, bitmapAddress, true);
  return buf;
}

export interface ManualProtectSupport {
  readonly manualProtect: boolean;
  /** KVM_DIRTY_LOG_INITIALLY_SET: a new log starts all-dirty, nothing write-protected up front. */
  readonly initiallySet: boolean;
}

/** The VmFd methods dirty logging uses (a narrower type lets tests model KVM). */
export type DirtyLogVm = Pick<VmFd, 'checkExtension' | 'enableCap' | 'getDirtyLog' | 'clearDirtyLog' | 'setUserMemoryRegion'>;

/** KVM_CHECK_EXTENSION on the VM answers with the KVM_DIRTY_LOG_* flags it accepts. */
export function manualProtectSupport(vm: DirtyLogVm): ManualProtectSupport {
  let flags = 0;
  try {
    flags = vm.checkExtension(K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
  } catch {
    flags = 0; // Kernels without VM-level KVM_CHECK_EXTENSION: treat as absent.
  }
  return {
    manualProtect: (flags & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) !== 0,
    initiallySet: (flags & KVM_DIRTY_LOG_INITIALLY_SET) !== 0,
  };
}

/**
 * Sets the VM-wide logging mode. It applies to every slot, and KVM reads the
 * INITIALLY_SET choice when a slot's log is created, so call this before turning
 * KVM_MEM_LOG_DIRTY_PAGES on. Returns the mode in force: 'legacy' when manual
 * protection was asked for but KVM lacks or refuses it.
 */
export function setDirtyLogMode(vm: DirtyLogVm, wanted: DirtyLogMode, opts: { initiallySet?: boolean } = {}): { mode: DirtyLogMode; initiallySet: boolean } {
  const support = manualProtectSupport(vm);
  if (!support.manualProtect) return { mode: 'legacy', initiallySet: false };
  if (wanted === 'legacy') {
    // A previous user may have left the VM in manual mode, where GET would not clear.
    vm.enableCap(K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, [0n]);
    return { mode: 'legacy', initiallySet: false };
  }
  const initiallySet = (opts.initiallySet ?? true) && support.initiallySet;
  const args = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | (initiallySet ? KVM_DIRTY_LOG_INITIALLY_SET : 0);
  try {
    vm.enableCap(K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, [BigInt(args)]);
  } catch {
    return { mode: 'legacy', initiallySet: false };
  }
  return { mode: 'manual-protect', initiallySet };
}
