/**
 * /dev/kvm: the system handle. Opens it, checks the API version, answers
 * capability questions and tells which backend (kvm_intel, kvm_amd, kvm_pvm) serves it.
 */
import { existsSync } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import * as K from './constants.js';
import { isNativeError, native } from './native.js';

export class KvmUnavailableError extends Error {
  override readonly name = 'KvmUnavailableError';
}

export type KvmBackend = 'kvm_intel' | 'kvm_amd' | 'kvm_pvm' | 'unknown';

export function detectBackend(): KvmBackend {
  for (const b of ['kvm_pvm', 'kvm_intel', 'kvm_amd'] as const) {
    if (existsSync(`/sys/module/${b}`)) return b;
  }
  return 'unknown';
}

/** One sentence for the user about what the backend means for speed. */
export function backendNote(b: KvmBackend): string {
  switch (b) {
    case 'kvm_pvm':
      return 'KVM backend kvm_pvm (no VT-x/AMD-V): guest user space runs natively, guest kernel code is emulated (~2M instructions/s), so boots and guest I/O are slow; the same VMM runs at full speed on VT-x/AMD-V hosts';
    case 'kvm_intel':
      return 'KVM backend kvm_intel (VT-x): hardware-assisted, full speed';
    case 'kvm_amd':
      return 'KVM backend kvm_amd (AMD-V): hardware-assisted, full speed';
    default:
      return 'KVM backend unknown: /dev/kvm works but no kvm_* module was found in /sys/module';
  }
}

export class KvmSystem {
  readonly fd: number;
  readonly backend: KvmBackend;
  readonly vcpuMmapSize: number;

  private constructor(fd: number) {
    this.fd = fd;
    this.backend = detectBackend();
    this.vcpuMmapSize = native().ioctl(fd, K.KVM_GET_VCPU_MMAP_SIZE);
  }

  static open(path = '/dev/kvm'): KvmSystem {
    let fd: number;
    try {
      fd = native().open(path, fsConstants.O_RDWR);
    } catch (e) {
      if (isNativeError(e) && e.code === 'ENOENT') {
        throw new KvmUnavailableError(`${path} does not exist: this host has no KVM (load kvm_intel/kvm_amd, or run on a host with virtualization)`);
      }
      if (isNativeError(e) && (e.code === 'EACCES' || e.code === 'EPERM')) {
        throw new KvmUnavailableError(`no permission to open ${path}: run as root or add your user to the 'kvm' group`);
      }
      throw new KvmUnavailableError(`cannot open ${path}: ${(e as Error).message}`);
    }
    const version = native().ioctl(fd, K.KVM_GET_API_VERSION);
    if (version !== K.KVM_API_VERSION) {
      native().close(fd);
      throw new KvmUnavailableError(`${path} speaks KVM API version ${version}, cuju needs ${K.KVM_API_VERSION}`);
    }
    return new KvmSystem(fd);
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, else a capability-specific value. */
  checkExtension(cap: number): number {
    return native().ioctl(this.fd, K.KVM_CHECK_EXTENSION, cap);
  }

  /** Raw struct kvm_cpuid2 as KVM_GET_SUPPORTED_CPUID fills it. */
  supportedCpuid(maxEntries = 256): Uint8Array {
    const buf = new Uint8Array(8 + 40 * maxEntries);
    new DataView(buf.buffer).setUint32(0, maxEntries, true);
    native().ioctl(this.fd, K.KVM_GET_SUPPORTED_CPUID, buf);
    return buf;
  }

  /** MSRs KVM can save and restore (KVM_GET_MSR_INDEX_LIST). */
  msrIndexList(): number[] {
    const max = 1024;
    const buf = new Uint8Array(4 + 4 * max);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, max, true);
    native().ioctl(this.fd, K.KVM_GET_MSR_INDEX_LIST, buf);
    const n = dv.getUint32(0, true);
    return Array.from({ length: n }, (_, i) => dv.getUint32(4 + 4 * i, true));
  }

  createVmFd(): number {
    return native().ioctl(this.fd, K.KVM_CREATE_VM, 0);
  }

  close(): void {
    native().close(this.fd);
  }
}
