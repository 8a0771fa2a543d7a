/**
 * Synthetic snapshot parts for format tests that need no KVM: vCPU and VM states with
 * KVM's struct sizes, a small RAM with a few non-zero pages, an in-memory Writable and
 * a RestoreTarget that records every call.
 */
import { Writable } from 'node:stream';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import type { KvmStateCapabilities } from '../../src/kvm/state/support.js';
import type { VcpuState } from '../../src/kvm/state/vcpu-state.js';
import type { VmState } from '../../src/kvm/state/vm-state.js';
import type { MachineDescription } from '../../src/snapshot/machine-description.js';
import type { RestoreTarget } from '../../src/snapshot/restore.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';

export const RAM = 64 * 4096;

export const CAPS: KvmStateCapabilities = {
  backend: 'unknown', xsave: true, xsaveSize: 4096, xcrs: true, debugRegs: true, vcpuEvents: true, clock: true, tscKhz: true,
};

export const MACHINE: MachineDescription = {
  ramBytes: RAM,
  vcpuCount: 2,
  devices: [{ kind: 'serial', id: 'serial0' }, { kind: 'virtio-blk', id: 'virtio-mmio.0' }],
};

function pattern(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

export function vcpuState(seed: number): VcpuState {
  const cpuid = new Uint8Array(8 + 2 * 40);
  new DataView(cpuid.buffer).setUint32(0, 2, true);
  cpuid.set(pattern(80, seed), 8);
  return {
    cpuid, mpState: seed % 4, regs: pattern(144, seed), sregs: pattern(312, seed + 1),
    fpu: { kind: 'xsave', bytes: pattern(4096, seed + 2) }, xcrs: pattern(392, seed + 3), debugRegs: pattern(128, seed + 4),
    lapic: pattern(1024, seed + 5), msrs: [{ index: 0x10, data: 123456789n + BigInt(seed) }, { index: 0x6e0, data: 0xffffffffffffffffn }],
    events: pattern(64, seed + 6), tscKhz: 2_445_406,
  };
}

export function vmState(): VmState {
  const chip = (id: number) => {
    const b = pattern(520, id);
    new DataView(b.buffer).setUint32(0, id, true);
    return b;
  };
  return { irqchips: [chip(0), chip(1), chip(2)], pit: pattern(112, 9), clock: pattern(48, 10) };
}

export const DEVICE_STATES = [{ version: 1, ier: 3, rx: 'aGk=' }, { version: 1, queues: [], note: 'ünïcode' }];

/** RAM with content in pages 1, 2, 3 (a run), 10 and the last page. */
export function sourceMemory(): GuestMemory {
  const mem = GuestMemory.fromBuffer(new Uint8Array(RAM));
  for (const p of [1, 2, 3, 10, RAM / 4096 - 1]) mem.write(p * 4096 + 17, pattern(100, p));
  return mem;
}

export class Collector extends Writable {
  private chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface RecordingTarget extends RestoreTarget {
  calls: string[];
  vm?: VmState;
  vcpus: VcpuState[];
  devices: unknown[];
}

export function recordingTarget(ram = RAM): RecordingTarget {
  const t: RecordingTarget = {
    memory: GuestMemory.fromBuffer(new Uint8Array(ram)),
    calls: [], vcpus: [], devices: [],
    restoreVm(s) { t.calls.push('vm'); t.vm = s; },
    restoreVcpu(i, s) { t.calls.push(`vcpu${i}`); t.vcpus[i] = s; },
    restoreDevice(i, _d, s) { t.calls.push(`device${i}`); t.devices[i] = s; },
  };
  const write = t.memory.write.bind(t.memory);
  t.memory.write = (gpa, data) => { t.calls.push('memory'); write(gpa, data); };
  return t;
}

/** A complete, valid snapshot of the fixture machine; `extra` writes more sections after RAM. */
export async function writeValidSnapshot(mem = sourceMemory(), extra?: (w: SnapshotWriter) => Promise<void>): Promise<Buffer> {
  const out = new Collector();
  const w = new SnapshotWriter(out, MACHINE);
  await w.writeRam(mem);
  if (extra) await extra(w);
  await w.writeVcpu(0, vcpuState(0));
  await w.writeVcpu(1, vcpuState(1));
  await w.writeVm(vmState());
  await w.writeDevice(0, DEVICE_STATES[0]);
  await w.writeDevice(1, DEVICE_STATES[1]);
  await w.finish();
  return out.bytes();
}
