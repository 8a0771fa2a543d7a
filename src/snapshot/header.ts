/**
 * The snapshot header: magic, format version, flags, the machine description and a
 * CRC32 over all of it. Decoding checks the magic and the version before anything else,
 * so an old cuju names a newer snapshot as such instead of calling it damaged.
 */
import { crc32 } from 'node:zlib';
import { SnapshotError } from './errors.js';
import {
  FORMAT_VERSION, HEADER_FIXED_SIZE, KNOWN_FLAGS, MAGIC, MAX_DEVICES, MAX_HEADER_SIZE, MAX_VCPUS, PAGE_SIZE,
} from './format.js';
import type { DeviceDescription, MachineDescription } from './machine-description.js';

/** Bytes the reader needs to learn magic, version, flags and the header's length. */
export const HEADER_PREFIX_SIZE = 20;
const MAX_NAME_BYTES = 255;

function nameBytes(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length === 0 || b.length > MAX_NAME_BYTES) throw new SnapshotError(`device ${what} '${s}' must be 1..${MAX_NAME_BYTES} bytes of UTF-8`);
  return b;
}

export function encodeHeader(m: MachineDescription): Buffer {
  if (!Number.isSafeInteger(m.ramBytes) || m.ramBytes <= 0 || m.ramBytes % PAGE_SIZE !== 0) {
    throw new SnapshotError(`RAM size ${m.ramBytes} is not a positive multiple of ${PAGE_SIZE}`);
  }
  if (!Number.isInteger(m.vcpuCount) || m.vcpuCount < 1 || m.vcpuCount > MAX_VCPUS) throw new SnapshotError(`vCPU count ${m.vcpuCount} is outside 1..${MAX_VCPUS}`);
  if (m.devices.length > MAX_DEVICES) throw new SnapshotError(`${m.devices.length} devices is more than a snapshot holds (${MAX_DEVICES})`);
  const names = m.devices.map((d) => [nameBytes(d.kind, 'kind'), nameBytes(d.id, 'id')]);
  const size = HEADER_FIXED_SIZE + names.reduce((n, [k, i]) => n + 4 + k.length + i.length, 0) + 4;
  const buf = Buffer.alloc(size);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(FORMAT_VERSION, 8);
  buf.writeUInt32LE(0, 12);
  buf.writeUInt32LE(size, 16);
  buf.writeUInt32LE(m.vcpuCount, 20);
  buf.writeBigUInt64LE(BigInt(m.ramBytes), 24);
  buf.writeUInt32LE(PAGE_SIZE, 32);
  buf.writeUInt32LE(m.devices.length, 36);
  let off = HEADER_FIXED_SIZE;
  for (const [k, i] of names) {
    buf.writeUInt16LE(k.length, off); k.copy(buf, off + 2); off += 2 + k.length;
    buf.writeUInt16LE(i.length, off); i.copy(buf, off + 2); off += 2 + i.length;
  }
  buf.writeUInt32LE(crc32(buf.subarray(0, size - 4)), size - 4);
  return buf;
}

/** Checks magic, version and flags; returns the whole header's length. */
export function decodeHeaderPrefix(prefix: Uint8Array): number {
  const b = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (b.toString('latin1', 0, 8) !== MAGIC) throw new SnapshotError('not a cuju snapshot (bad magic: expected "CUJUSNAP")');
  const version = b.readUInt32LE(8);
  if (version > FORMAT_VERSION) {
    throw new SnapshotError(`snapshot format version ${version} is newer than this cuju supports (${FORMAT_VERSION}): restore it with a newer cuju`);
  }
  if (version !== FORMAT_VERSION) throw new SnapshotError(`snapshot format version ${version} is not a version cuju ever wrote (this cuju reads ${FORMAT_VERSION})`);
  const flags = b.readUInt32LE(12);
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new SnapshotError(`snapshot header has unknown flags 0x${flags.toString(16)}: written by an incompatible cuju`);
  const size = b.readUInt32LE(16);
  if (size < HEADER_FIXED_SIZE + 4 || size > MAX_HEADER_SIZE) throw new SnapshotError(`snapshot header length ${size} is out of range: the file is damaged`);
  return size;
}

export function decodeHeader(raw: Uint8Array): MachineDescription {
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const size = b.length;
  if (crc32(b.subarray(0, size - 4)) !== b.readUInt32LE(size - 4)) throw new SnapshotError('snapshot header CRC mismatch: the file is damaged');
  const vcpuCount = b.readUInt32LE(20);
  const ram = b.readBigUInt64LE(24);
  const pageSize = b.readUInt32LE(32);
  const count = b.readUInt32LE(36);
  if (pageSize !== PAGE_SIZE) throw new SnapshotError(`snapshot page size ${pageSize} is not supported (cuju uses ${PAGE_SIZE})`);
  if (vcpuCount < 1 || vcpuCount > MAX_VCPUS) throw new SnapshotError(`snapshot vCPU count ${vcpuCount} is out of range: the file is damaged`);
  if (ram === 0n || ram > BigInt(Number.MAX_SAFE_INTEGER) || ram % BigInt(PAGE_SIZE) !== 0n) throw new SnapshotError(`snapshot RAM size ${ram} is invalid: the file is damaged`);
  if (count > MAX_DEVICES) throw new SnapshotError(`snapshot lists ${count} devices, more than ${MAX_DEVICES}: the file is damaged`);
  const devices: DeviceDescription[] = [];
  let off = HEADER_FIXED_SIZE;
  const name = (): string => {
    if (off + 2 > size - 4) throw new SnapshotError('snapshot header device list is cut short: the file is damaged');
    const n = b.readUInt16LE(off);
    if (n === 0 || off + 2 + n > size - 4) throw new SnapshotError('snapshot header device list is cut short: the file is damaged');
    const s = b.toString('utf8', off + 2, off + 2 + n);
    off += 2 + n;
    return s;
  };
  for (let i = 0; i < count; i++) devices.push({ kind: name(), id: name() });
  if (off !== size - 4) throw new SnapshotError('snapshot header has bytes after its device list: the file is damaged');
  return { ramBytes: Number(ram), vcpuCount, devices };
}
