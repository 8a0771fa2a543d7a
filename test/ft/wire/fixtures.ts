/**
 * A small protected machine for FT channel tests: RAM with content, staged epochs with
 * KVM-sized vCPU/VM state, byte sources that deliver in chosen pieces and fail loudly
 * when a reader asks for more than the test gave it.
 */
import { CAPS, vcpuState, vmState } from '../../snapshot/fixtures.js';
import type { VcpuState } from '../../../src/kvm/state/vcpu-state.js';
import type { ExpectedMachine } from '../../../src/snapshot/snapshot-parser.js';
import { StreamByteQueue } from '../../../src/snapshot/stream-byte-queue.js';
import { ChannelReader, type ChannelReaderOptions } from '../../../src/ft/wire/channel-reader.js';
import { encodeMessage } from '../../../src/ft/wire/encode.js';
import { localHello } from '../../../src/ft/wire/hello.js';
import type { ChannelMessage, DiskOp, EpochContent } from '../../../src/ft/wire/messages.js';
import { stagePages } from '../../../src/ft/wire/stage-pages.js';
import type { FtRole } from '../../../src/ft/wire/format.js';

export const PAGE = 4096;
export const RAM_PAGES = 64;

export const MACHINE: ExpectedMachine = {
  ramBytes: RAM_PAGES * PAGE,
  vcpuCount: 1,
  devices: [{ kind: 'serial', id: 'serial0' }, { kind: 'virtio-blk', id: 'virtio-mmio.0' }],
  capabilities: CAPS,
};

/** A vCPU state without XSAVE (kvm_fpu instead): a smaller message for byte-by-byte tests. */
export function fpuVcpuState(seed: number): VcpuState {
  return { ...vcpuState(seed), fpu: { kind: 'fpu', bytes: new Uint8Array(416).fill(seed) } };
}

/** MACHINE on a host without KVM_CAP_XSAVE. */
export const FPU_MACHINE: ExpectedMachine = { ...MACHINE, capabilities: { ...CAPS, xsave: false, xsaveSize: 0 } };

export const hello = (role: FtRole, machine = MACHINE): ChannelMessage => ({ type: 'hello', ...localHello(role, machine, 5000) });

/** RAM whose page p holds a pattern seeded by p and `seed`, except the listed zero pages. */
export function patternRam(seed: number, zeroPages: number[] = []): Uint8Array {
  const ram = new Uint8Array(RAM_PAGES * PAGE);
  for (let i = 0; i < ram.length; i += 7) ram[i] = (i * 13 + seed) & 0xff || 1;
  for (const p of zeroPages) ram.fill(0, p * PAGE, (p + 1) * PAGE);
  return ram;
}

export function epoch(n: number, pages: number[], opts: { ram?: Uint8Array; released?: number; diskOps?: DiskOp[] } = {}): EpochContent {
  const ram = opts.ram ?? patternRam(n, pages.filter((p) => p % 5 === 0));
  return {
    epoch: n, releasedEpoch: opts.released ?? Math.max(0, n - 2), ...stagePages(ram, pages),
    vcpus: [vcpuState(n)], vm: vmState(), devices: [{ ier: n }, { queues: [n] }],
    diskOps: opts.diskOps ?? [
      { kind: 'write', device: 1, offset: 4096 * n, data: new Uint8Array(1500).fill(n) },
      { kind: 'discard', device: 1, offset: 0, length: 8192 },
    ],
  };
}

/** Frames `messages` with consecutive sequence numbers from `firstSeq`, joined. */
export function frames(messages: ChannelMessage[], firstSeq = 0): Buffer {
  return Buffer.concat(messages.flatMap((m, i) => encodeMessage(m, firstSeq + i)));
}

export const READ_PAST = 'the test stream has no more bytes';

/**
 * A byte queue delivering `bytes` in pieces cut at `cuts` (offsets), then either ending
 * or (when `failPastEnd`) erroring: a reader that asks for more than it was given is caught.
 */
export function source(bytes: Uint8Array, cuts: number[] = [], failPastEnd = false): StreamByteQueue {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  async function* gen() {
    let at = 0;
    for (const c of [...points, bytes.length]) {
      yield bytes.subarray(at, c);
      at = c;
    }
    if (failPastEnd) throw new Error(READ_PAST);
  }
  return new StreamByteQueue(gen(), 'the test stream');
}

export function backupReader(bytes: Uint8Array, opts: Partial<ChannelReaderOptions> & { cuts?: number[]; failPastEnd?: boolean } = {}): ChannelReader {
  return new ChannelReader(source(bytes, opts.cuts, opts.failPastEnd), { role: 'backup', machine: MACHINE, ...opts });
}

/** Every message the reader yields, then how it ended (undefined: clean end). */
export async function drain(reader: ChannelReader): Promise<{ messages: ChannelMessage[]; error?: Error }> {
  const messages: ChannelMessage[] = [];
  try {
    for await (const m of reader) messages.push(m);
    return { messages };
  } catch (e) {
    return { messages, error: e as Error };
  }
}
