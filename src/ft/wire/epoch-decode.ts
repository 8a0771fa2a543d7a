/**
 * EPOCH payload, reader side: every count and length is checked against its limit, the
 * machine (RAM pages, vCPU and device count) and the bytes left in the frame before it
 * is read; the SHA-256 is compared at the end. What needs the whole message to be
 * trusted first (epoch order, KVM struct sizes, device validators) is checkEpoch's job,
 * run by the reader after the frame CRC.
 */
import { KvmStateError } from '../../kvm/state/errors.js';
import { validateVcpuState } from '../../kvm/state/vcpu-state.js';
import { validateVmState } from '../../kvm/state/vm-state.js';
import { SnapshotError } from '../../snapshot/errors.js';
import type { ExpectedMachine } from '../../snapshot/snapshot-parser.js';
import { decodeVcpuState } from '../../snapshot/vcpu-codec.js';
import { decodeVmState } from '../../snapshot/vm-codec.js';
import { FtWireError } from './errors.js';
import {
  DISK_OP_HEADER_SIZE, DiskOpKind, EPOCH_HEADER_SIZE, MAX_DEVICE_STATE, MAX_DISK_BYTES_PER_EPOCH, MAX_DISK_OPS,
  MAX_DISK_WRITE, MAX_FRAME_PAYLOAD, MAX_VCPU_STATE, MAX_VM_STATE, PAGE_SIZE, RUN_ENTRY_SIZE, SHA256_SIZE,
} from './format.js';
import type { DiskOp, EpochContent } from './messages.js';
import { decodeRunTable, expandRuns } from './page-runs.js';
import { safeU64, type PayloadReader } from './payload-reader.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Runs a snapshot codec / KVM validator and reports its complaint as an FtWireError. */
function asWire<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SnapshotError || e instanceof KvmStateError) throw new FtWireError(e.message);
    throw e;
  }
}

async function sized(r: PayloadReader, what: string, limit: number): Promise<Uint8Array> {
  const n = await r.u32(`the length of ${what}`);
  if (n > limit) throw new FtWireError(`${r.where}: ${what} claims ${n} bytes, more than the ${limit} allowed: the channel is damaged`);
  return r.bytes(n, what);
}

function countMismatch(r: PayloadReader, what: string, got: number, expected: number): FtWireError {
  return new FtWireError(`${r.where}: carries ${got} ${what}, the machine has ${expected}: the channel is damaged`);
}

/** Where a decoded epoch's page bytes go: a buffer of exactly `bytes` (allocated or reused). */
export type PageDataBuffer = (bytes: number) => Uint8Array;

const freshBuffer: PageDataBuffer = (bytes) => Buffer.allocUnsafe(bytes);

async function readPages(r: PayloadReader, ramPages: number, pageBuffer: PageDataBuffer): Promise<Pick<EpochContent, 'pageNumbers' | 'pageData' | 'zeroPages'>> {
  const runCount = await r.u32('the run count');
  // Runs are disjoint and non-empty, so there are never more than RAM has pages.
  if (runCount > ramPages) throw new FtWireError(`${r.where}: claims ${runCount} page runs, guest RAM has only ${ramPages} pages: the channel is damaged`);
  const table = buf(await r.bytes(runCount * RUN_ENTRY_SIZE, 'the page run table'));
  const { runs, dataPages, zeroPages } = decodeRunTable(table, runCount, ramPages, r.where);
  // Joined only once all of it has arrived (so a lying run table allocates nothing).
  const pieces = await r.pieces(dataPages * PAGE_SIZE, 'the page data');
  const pageData = pieces.length === 1 && pageBuffer === freshBuffer ? pieces[0] : pageBuffer(dataPages * PAGE_SIZE);
  if (pageData !== pieces[0]) pieces.reduce((at, p) => { pageData.set(p, at); return at + p.length; }, 0);
  return { ...expandRuns(runs, dataPages, zeroPages), pageData };
}

async function readDiskOps(r: PayloadReader, deviceCount: number): Promise<DiskOp[]> {
  const count = await r.u32('the disk operation count');
  if (count > MAX_DISK_OPS) throw new FtWireError(`${r.where}: claims ${count} disk operations, at most ${MAX_DISK_OPS} are allowed: the channel is damaged`);
  const ops: DiskOp[] = [];
  let written = 0;
  for (let i = 0; i < count; i++) {
    const what = `disk operation ${i}`;
    const h = buf(await r.bytes(DISK_OP_HEADER_SIZE, what));
    const kind = h.readUInt32LE(0);
    const device = h.readUInt32LE(4);
    const offset = safeU64(h, 8, `${r.where}: ${what} offset`);
    const length = safeU64(h, 16, `${r.where}: ${what} length`);
    if (device >= deviceCount) throw new FtWireError(`${r.where}: ${what} names device ${device}, the machine has ${deviceCount}: the channel is damaged`);
    if (length < 1 || !Number.isSafeInteger(offset + length)) throw new FtWireError(`${r.where}: ${what} covers ${length} bytes at ${offset}: the channel is damaged`);
    if (kind === DiskOpKind.Discard) {
      ops.push({ kind: 'discard', device, offset, length });
      continue;
    }
    if (kind !== DiskOpKind.Write) throw new FtWireError(`${r.where}: ${what} has unknown kind ${kind}: the channel is damaged`);
    written += length;
    if (length > MAX_DISK_WRITE || written > MAX_DISK_BYTES_PER_EPOCH) {
      throw new FtWireError(`${r.where}: ${what} brings the epoch's disk writes to ${written} bytes (one write ≤ ${MAX_DISK_WRITE}, all ≤ ${MAX_DISK_BYTES_PER_EPOCH}): the channel is damaged`);
    }
    // Copied: a view would keep the socket's whole chunk alive for as long as the write is held.
    ops.push({ kind: 'write', device, offset, data: new Uint8Array(await r.bytes(length, `${what} data`)) });
  }
  return ops;
}

/** The largest EPOCH payload `machine` can produce: every page, every limit reached. */
export function maxEpochPayload(machine: ExpectedMachine): number {
  const ramPages = Math.floor(machine.ramBytes / PAGE_SIZE);
  const max = EPOCH_HEADER_SIZE + ramPages * (RUN_ENTRY_SIZE + PAGE_SIZE)
    + 4 + machine.vcpuCount * (4 + MAX_VCPU_STATE) + 4 + MAX_VM_STATE
    + 4 + machine.devices.length * (4 + MAX_DEVICE_STATE)
    + 4 + MAX_DISK_OPS * DISK_OP_HEADER_SIZE + MAX_DISK_BYTES_PER_EPOCH + SHA256_SIZE;
  return Math.min(max, MAX_FRAME_PAYLOAD);
}

/** Reads an EPOCH payload (the reader has checked the frame header); the structure only. */
export async function readEpochPayload(r: PayloadReader, machine: ExpectedMachine, pageBuffer = freshBuffer): Promise<EpochContent> {
  const ramPages = Math.floor(machine.ramBytes / PAGE_SIZE);
  const head = buf(await r.bytes(EPOCH_HEADER_SIZE - 4, 'the epoch header'));
  const epoch = safeU64(head, 0, `${r.where}: epoch number`);
  const releasedEpoch = safeU64(head, 8, `${r.where}: released epoch`);
  const pages = await readPages(r, ramPages, pageBuffer);

  const vcpuCount = await r.u32('the vCPU count');
  if (vcpuCount !== machine.vcpuCount) throw countMismatch(r, 'vCPU states', vcpuCount, machine.vcpuCount);
  const vcpus = [];
  for (let i = 0; i < vcpuCount; i++) {
    const bytes = await sized(r, `vCPU ${i} state`, MAX_VCPU_STATE);
    vcpus.push(asWire(() => decodeVcpuState(bytes, `${r.where}: vCPU ${i} state`)));
  }
  const vmBytes = await sized(r, 'VM state', MAX_VM_STATE);
  const vm = asWire(() => decodeVmState(vmBytes, `${r.where}: VM state`));

  const deviceCount = await r.u32('the device count');
  if (deviceCount !== machine.devices.length) throw countMismatch(r, 'device states', deviceCount, machine.devices.length);
  const devices: unknown[] = [];
  for (let i = 0; i < deviceCount; i++) {
    const { kind, id } = machine.devices[i];
    const bytes = await sized(r, `the state of ${kind} '${id}'`, MAX_DEVICE_STATE);
    try {
      devices.push(JSON.parse(utf8.decode(bytes)));
    } catch {
      throw new FtWireError(`${r.where}: the state of ${kind} '${id}' is not valid JSON: the channel is damaged`);
    }
  }
  const diskOps = await readDiskOps(r, deviceCount);

  const digest = r.digest();
  r.hashing = false;
  const sha = await r.bytes(SHA256_SIZE, 'the SHA-256');
  if (!digest.equals(sha)) throw new FtWireError(`${r.where}: SHA-256 mismatch: the channel is damaged`);
  if (r.remaining !== 0) throw new FtWireError(`${r.where}: ${r.remaining} bytes follow the SHA-256 inside the message: the channel is damaged`);
  r.checkedSha256 = Uint8Array.from(sha);
  return { epoch, releasedEpoch, ...pages, vcpus, vm, devices, diskOps };
}

/**
 * Checks a structurally sound, CRC-verified epoch against the backup's state and host:
 * epoch order, the released-epoch watermark, KVM struct sizes against this host's
 * capabilities and each device's own validator.
 */
export function checkEpoch(c: EpochContent, lastEpoch: number, lastReleased: number, machine: ExpectedMachine, where: string): void {
  if (c.epoch !== lastEpoch + 1) {
    throw new FtWireError(`${where}: epoch ${c.epoch} arrived after epoch ${lastEpoch}, expected ${lastEpoch + 1}: epochs must come in order`);
  }
  if (c.releasedEpoch >= c.epoch || c.releasedEpoch < lastReleased) {
    throw new FtWireError(`${where}: released epoch ${c.releasedEpoch} must be ${lastReleased}..${c.epoch - 1} (it never goes back, and an epoch cannot be released before it is acknowledged)`);
  }
  if (machine.capabilities) {
    const caps = machine.capabilities;
    c.vcpus.forEach((s, i) => asWire(() => validateVcpuState(s, caps, `${where}: vCPU ${i}`)));
    asWire(() => validateVmState(c.vm, caps));
  }
  if (machine.validateDevice) {
    machine.devices.forEach((d, i) => {
      try {
        machine.validateDevice!(d, c.devices[i]);
      } catch (e) {
        throw new FtWireError(`${where}: the state of ${d.kind} '${d.id}' is not usable: ${(e as Error).message}`);
      }
    });
  }
}
