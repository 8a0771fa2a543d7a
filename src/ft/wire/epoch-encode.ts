/**
 * EPOCH payload, encoder side: header, run table, page bytes (views of the staged copy,
 * never joined), vCPU/VM state (the snapshot codecs), device JSON, disk operations
 * (write bytes as views) and the SHA-256 of everything before it. Limits are checked
 * here too, so the primary fails loudly instead of sending what the backup must refuse.
 */
import { createHash } from 'node:crypto';
import { encodeVcpuState } from '../../snapshot/vcpu-codec.js';
import { encodeVmState } from '../../snapshot/vm-codec.js';
import { ChunkBuilder } from './chunk-builder.js';
import {
  DiskOpKind, MAX_DEVICE_STATE, MAX_DISK_BYTES_PER_EPOCH, MAX_DISK_OPS, MAX_DISK_WRITE, MAX_VCPU_STATE, MAX_VM_STATE,
  ZERO_RUN_FLAG,
} from './format.js';
import type { DiskOp, EpochContent } from './messages.js';
import { checkEpochPages, encodePageRuns } from './page-runs.js';

const MAX_PAGE_NUMBER_SPACE = 2 ** 32;

function checkLimit(what: string, bytes: number, limit: number): void {
  if (bytes > limit) throw new RangeError(`${what} is ${bytes} bytes, the FT channel allows ${limit}`);
}

function checkEpochNumbers(c: EpochContent): void {
  if (!Number.isSafeInteger(c.epoch) || c.epoch < 1) throw new RangeError(`epoch number must be a positive safe integer, got ${c.epoch}`);
  if (!Number.isSafeInteger(c.releasedEpoch) || c.releasedEpoch < 0 || c.releasedEpoch >= c.epoch) {
    throw new RangeError(`releasedEpoch must be 0..${c.epoch - 1} for epoch ${c.epoch}, got ${c.releasedEpoch}`);
  }
}

function encodeDiskOps(b: ChunkBuilder, ops: DiskOp[]): void {
  if (ops.length > MAX_DISK_OPS) throw new RangeError(`an epoch carries at most ${MAX_DISK_OPS} disk operations, not ${ops.length}`);
  let written = 0;
  b.u32(ops.length);
  for (const op of ops) {
    const length = op.kind === 'write' ? op.data.length : op.length;
    if (!Number.isSafeInteger(op.offset) || op.offset < 0 || !Number.isSafeInteger(op.offset + length) || length < 1) {
      throw new RangeError(`disk ${op.kind} at ${op.offset} of ${length} bytes is not a valid range`);
    }
    if (!Number.isInteger(op.device) || op.device < 0) throw new RangeError(`disk ${op.kind} names device ${op.device}`);
    b.u32(op.kind === 'write' ? DiskOpKind.Write : DiskOpKind.Discard).u32(op.device).u64(op.offset).u64(length);
    if (op.kind === 'write') {
      checkLimit(`a disk write at ${op.offset}`, length, MAX_DISK_WRITE);
      written += length;
      b.bytes(op.data);
    }
  }
  checkLimit('the disk writes of one epoch', written, MAX_DISK_BYTES_PER_EPOCH);
}

/** The EPOCH payload as chunks (page and disk bytes are views of the caller's buffers: keep them until sent). */
export function encodeEpochPayload(c: EpochContent): ChunkBuilder {
  checkEpochNumbers(c);
  checkEpochPages(c, MAX_PAGE_NUMBER_SPACE);
  const pages = encodePageRuns(c);
  const b = new ChunkBuilder();
  b.u64(c.epoch).u64(c.releasedEpoch).u32(pages.runs.length);
  for (const r of pages.runs) b.u32(r.first).u32(r.count | (r.zero ? ZERO_RUN_FLAG : 0));
  for (const range of pages.data) b.bytes(range);

  b.u32(c.vcpus.length);
  c.vcpus.forEach((v, i) => {
    const bytes = encodeVcpuState(v);
    checkLimit(`vCPU ${i} state`, bytes.length, MAX_VCPU_STATE);
    b.u32(bytes.length).bytes(bytes);
  });
  const vm = encodeVmState(c.vm);
  checkLimit('VM state', vm.length, MAX_VM_STATE);
  b.u32(vm.length).bytes(vm);
  b.u32(c.devices.length);
  c.devices.forEach((state, i) => {
    const json = JSON.stringify(state);
    if (json === undefined) throw new RangeError(`device ${i} state is not JSON-serialisable`);
    const bytes = Buffer.from(json, 'utf8');
    checkLimit(`device ${i} state`, bytes.length, MAX_DEVICE_STATE);
    b.u32(bytes.length).bytes(bytes);
  });
  encodeDiskOps(b, c.diskOps);

  const hash = createHash('sha256');
  for (const chunk of b.finish()) hash.update(chunk);
  b.bytes(hash.digest());
  return b;
}
