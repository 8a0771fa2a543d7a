/**
 * Walking a split-virtqueue descriptor chain (§2.7.5) into plain lists of guest buffers.
 * Everything read here is guest-controlled, so every rule is checked and every violation
 * is a VirtqueueError: indices inside the table, no loops, at most `queueSize` buffers,
 * indirect tables only when negotiated, never nested, never combined with NEXT, a multiple
 * of 16 bytes and inside RAM; device-readable buffers before device-writable ones; every
 * buffer inside guest RAM. Zero-length buffers are legal and dropped.
 */
import { GuestMemory } from '../../memory/guest-memory.js';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_SIZE } from './constants.js';
import { VirtqueueError } from './errors.js';

/** One guest buffer: `len` bytes at guest-physical `gpa`, checked to lie inside RAM. */
export interface GuestSegment {
  gpa: number;
  len: number;
}

export interface DescriptorChain {
  /** Index of the head descriptor: the id the used ring reports back. */
  head: number;
  /** Device-readable buffers, in chain order. */
  readable: GuestSegment[];
  /** Device-writable buffers, in chain order. */
  writable: GuestSegment[];
  readableBytes: number;
  writableBytes: number;
}

export interface ChainRules {
  /** Guest-physical address of the queue's descriptor table. */
  tableGpa: number;
  queueSize: number;
  /** VIRTIO_F_RING_INDIRECT_DESC was negotiated. */
  indirectAllowed: boolean;
}

export function readDescriptorChain(mem: GuestMemory, rules: ChainRules, head: number): DescriptorChain {
  const chain: DescriptorChain = { head, readable: [], writable: [], readableBytes: 0, writableBytes: 0 };
  let table = rules.tableGpa;
  let tableSize = rules.queueSize;
  let seen = new Uint8Array(tableSize);
  let inIndirect = false;
  let buffers = 0;
  let index = head;
  for (;;) {
    if (index >= tableSize) {
      throw new VirtqueueError(`descriptor index ${index} is outside the ${inIndirect ? 'indirect table' : 'descriptor table'} of ${tableSize} entries`);
    }
    if (seen[index]) throw new VirtqueueError(`descriptor chain from head ${head} loops at index ${index}`);
    seen[index] = 1;
    const at = table + index * VIRTQ_DESC_SIZE;
    if (!mem.contains(at, VIRTQ_DESC_SIZE)) throw new VirtqueueError(`descriptor at 0x${at.toString(16)} is outside guest RAM`);
    const addr = mem.readU64(at);
    const len = mem.readU32(at + 8);
    const flags = mem.readU16(at + 12);
    const next = mem.readU16(at + 14);

    if (flags & VIRTQ_DESC_F_INDIRECT) {
      if (inIndirect) throw new VirtqueueError('indirect descriptor inside an indirect table');
      if (!rules.indirectAllowed) throw new VirtqueueError('indirect descriptor used without VIRTIO_F_RING_INDIRECT_DESC');
      if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError('indirect descriptor also has VIRTQ_DESC_F_NEXT');
      if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) throw new VirtqueueError(`indirect table length ${len} is not a positive multiple of 16`);
      const entries = len / VIRTQ_DESC_SIZE;
      if (entries > rules.queueSize) throw new VirtqueueError(`indirect table of ${entries} entries is longer than the queue (${rules.queueSize})`);
      const tableGpa = checkedAddress(mem, addr, len, 'indirect table');
      table = tableGpa;
      tableSize = entries;
      seen = new Uint8Array(entries);
      inIndirect = true;
      index = 0;
      continue;
    }

    if (++buffers > rules.queueSize) throw new VirtqueueError(`descriptor chain from head ${head} is longer than the queue (${rules.queueSize})`);
    if (len > 0) {
      const gpa = checkedAddress(mem, addr, len, 'buffer');
      if (flags & VIRTQ_DESC_F_WRITE) {
        chain.writable.push({ gpa, len });
        chain.writableBytes += len;
      } else {
        if (chain.writable.length > 0) throw new VirtqueueError('device-readable buffer after a device-writable one');
        chain.readable.push({ gpa, len });
        chain.readableBytes += len;
      }
    }
    if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
    index = next;
  }
}

function checkedAddress(mem: GuestMemory, addr: bigint, len: number, what: string): number {
  if (addr > BigInt(Number.MAX_SAFE_INTEGER) || !mem.contains(Number(addr), len)) {
    throw new VirtqueueError(`${what} 0x${addr.toString(16)}+${len} is outside guest RAM`);
  }
  return Number(addr);
}

/** The buffers covering bytes [start, start+length) of the concatenation of `segments`. */
export function sliceSegments(segments: readonly GuestSegment[], start: number, length: number): GuestSegment[] {
  const out: GuestSegment[] = [];
  let skip = start;
  let left = length;
  for (const s of segments) {
    if (left === 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const take = Math.min(s.len - skip, left);
    out.push({ gpa: s.gpa + skip, len: take });
    left -= take;
    skip = 0;
  }
  if (left > 0) throw new RangeError(`segments hold fewer than ${start + length} bytes`);
  return out;
}

/** Copies the bytes of `segments` out of guest RAM into one buffer. */
export function gatherSegments(mem: GuestMemory, segments: readonly GuestSegment[]): Uint8Array {
  const total = segments.reduce((n, s) => n + s.len, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const s of segments) {
    out.set(mem.view(s.gpa, s.len), at);
    at += s.len;
  }
  return out;
}

/** Copies `data` into guest RAM across `segments` (through GuestMemory.write, so dirty tracking sees it); returns bytes written. */
export function scatterToSegments(mem: GuestMemory, segments: readonly GuestSegment[], data: Uint8Array): number {
  let at = 0;
  for (const s of segments) {
    if (at >= data.length) break;
    const n = Math.min(s.len, data.length - at);
    mem.write(s.gpa, data.subarray(at, at + n));
    at += n;
  }
  return at;
}
