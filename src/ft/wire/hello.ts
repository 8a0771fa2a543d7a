/**
 * HELLO: the first message each side sends. The payload starts with the magic and the
 * version (frozen across versions), then the sender's role and machine. checkPeerHello
 * refuses a peer of another version, the same role or another machine with one message
 * naming both values and what to change.
 */
import type { DeviceDescription, MachineDescription } from '../../snapshot/machine-description.js';
import { FtPeerMismatchError, FtWireError } from './errors.js';
import {
  FT_CHANNEL_VERSION, HELLO_FIXED_SIZE, HELLO_MAGIC, MAX_DEVICE_NAME, MAX_DEVICES, PAGE_SIZE, ROLE_CODES, type FtRole,
} from './format.js';
import type { Hello } from './messages.js';

/** This side's machine as the HELLO describes it, with the lease it arbitrates with (if any). */
export type HelloMachine = MachineDescription & { leaseId?: string };

/** Longest lease id a HELLO carries. */
export const MAX_LEASE_ID = 64;

/** This side's HELLO. */
export function localHello(role: FtRole, machine: HelloMachine, epochUs: number): Hello {
  const { ramBytes, vcpuCount, devices, leaseId } = machine;
  return { version: FT_CHANNEL_VERSION, role, epochUs, pageSize: PAGE_SIZE, ramBytes, vcpuCount, devices, ...(leaseId ? { leaseId } : {}) };
}

export function encodeHelloPayload(h: Hello): Buffer {
  if (h.devices.length > MAX_DEVICES) throw new RangeError(`a HELLO lists at most ${MAX_DEVICES} devices, not ${h.devices.length}`);
  const names = h.devices.flatMap((d) => [d.kind, d.id].map((s) => {
    const b = Buffer.from(s, 'utf8');
    if (b.length < 1 || b.length > MAX_DEVICE_NAME) throw new RangeError(`device kind and id must be 1..${MAX_DEVICE_NAME} bytes: '${s}'`);
    return b;
  }));
  // Optional trailer after the device list: u16 length + the lease id (absent: no lease).
  const lease = h.leaseId ? Buffer.from(h.leaseId, 'utf8') : undefined;
  if (lease && lease.length > MAX_LEASE_ID) throw new RangeError(`a lease id is at most ${MAX_LEASE_ID} bytes: '${h.leaseId}'`);
  const out = Buffer.alloc(HELLO_FIXED_SIZE + names.reduce((n, b) => n + 2 + b.length, 0) + (lease ? 2 + lease.length : 0));
  out.write(HELLO_MAGIC, 0, 'latin1');
  out.writeUInt32LE(h.version, 8);
  out.writeUInt32LE(ROLE_CODES[h.role], 12);
  out.writeUInt32LE(h.epochUs >>> 0, 16);
  out.writeUInt32LE(h.pageSize, 20);
  out.writeBigUInt64LE(BigInt(h.ramBytes), 24);
  out.writeUInt32LE(h.vcpuCount, 32);
  out.writeUInt32LE(h.devices.length, 36);
  let at = HELLO_FIXED_SIZE;
  for (const b of names) {
    out.writeUInt16LE(b.length, at);
    out.set(b, at + 2);
    at += 2 + b.length;
  }
  if (lease) {
    out.writeUInt16LE(lease.length, at);
    out.set(lease, at + 2);
  }
  return out;
}

const bad = (what: string) => new FtWireError(`the FT peer sent a malformed HELLO (${what}): the connection is not a cuju fault-tolerance channel or is damaged`);

/** Decodes a HELLO; a version other than ours is refused before the rest is looked at. */
export function decodeHelloPayload(payload: Uint8Array, local: FtRole): Hello {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.length < 12 || b.toString('latin1', 0, 8) !== HELLO_MAGIC) {
    throw new FtWireError('the FT peer is not a cuju fault-tolerance channel (its HELLO lacks the CUJUFT magic): check the host and port');
  }
  const version = b.readUInt32LE(8);
  const peer = local === 'primary' ? 'backup' : 'primary';
  if (version !== FT_CHANNEL_VERSION) {
    throw new FtPeerMismatchError(`FT channel version mismatch: the ${peer} speaks version ${version}, this ${local} speaks version ${FT_CHANNEL_VERSION} (run the same cuju version on both hosts)`);
  }
  if (b.length < HELLO_FIXED_SIZE) throw bad('too short');
  const roleCode = b.readUInt32LE(12);
  const role = (Object.keys(ROLE_CODES) as FtRole[]).find((r) => ROLE_CODES[r] === roleCode);
  if (!role) throw bad(`unknown role ${roleCode}`);
  const ram = b.readBigUInt64LE(24);
  if (ram > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`RAM size ${ram}`);
  const deviceCount = b.readUInt32LE(36);
  if (deviceCount > MAX_DEVICES) throw bad(`${deviceCount} devices`);
  const devices: DeviceDescription[] = [];
  let at = HELLO_FIXED_SIZE;
  const name = (): string => {
    if (at + 2 > b.length) throw bad('device list cut short');
    const n = b.readUInt16LE(at);
    if (n < 1 || n > MAX_DEVICE_NAME || at + 2 + n > b.length) throw bad('device name length');
    const s = b.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    return s;
  };
  for (let i = 0; i < deviceCount; i++) devices.push({ kind: name(), id: name() });
  let leaseId: string | undefined;
  if (at < b.length) {
    if (at + 2 > b.length) throw bad('lease id cut short');
    const n = b.readUInt16LE(at);
    if (n < 1 || n > MAX_LEASE_ID || at + 2 + n !== b.length) throw bad(`${b.length - at} bytes after the device list`);
    leaseId = b.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
  }
  return {
    version, role, epochUs: b.readUInt32LE(16), pageSize: b.readUInt32LE(20), ramBytes: Number(ram),
    vcpuCount: b.readUInt32LE(32), devices, ...(leaseId ? { leaseId } : {}),
  };
}

function size(bytes: number): string {
  const MiB = 1024 * 1024;
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

function deviceList(d: DeviceDescription[]): string {
  return d.length === 0 ? '(none)' : d.map((x) => `${x.kind} '${x.id}'`).join(', ');
}

/** Throws FtPeerMismatchError naming the first difference between the peer and this side. */
export function checkPeerHello(peer: Hello, local: FtRole, machine: HelloMachine): void {
  const them = local === 'primary' ? 'backup' : 'primary';
  if (peer.role === local) {
    throw new FtPeerMismatchError(`FT role mismatch: the peer is a ${peer.role} too, and so is this side (connect a primary's migrate to a backup started with -incoming tcp:HOST:PORT,ft_mode)`);
  }
  const fail = (what: string, theirs: string, ours: string, fix: string) => {
    throw new FtPeerMismatchError(`FT ${what} mismatch: the ${them}'s VM has ${theirs}, this ${local}'s ${ours} (${fix})`);
  };
  if (peer.pageSize !== PAGE_SIZE) fail('page size', `${peer.pageSize}-byte pages`, `${PAGE_SIZE}-byte pages`, 'both sides must be x86-64 cuju');
  if (peer.ramBytes !== machine.ramBytes) fail('RAM size', `${size(peer.ramBytes)} of RAM`, size(machine.ramBytes), 'start both with the same -m');
  if (peer.vcpuCount !== machine.vcpuCount) fail('vCPU count', `${peer.vcpuCount} vCPUs`, `${machine.vcpuCount}`, 'start both with the same -smp');
  const same = peer.devices.length === machine.devices.length
    && peer.devices.every((d, i) => d.kind === machine.devices[i].kind && d.id === machine.devices[i].id);
  if (!same) fail('device', `devices ${deviceList(peer.devices)}`, deviceList(machine.devices), 'start both with the same devices, in the same order');
  if ((peer.leaseId ?? '') !== (machine.leaseId ?? '')) {
    const lease = (id: string | undefined) => (id ? `lease id ${id}` : 'no split-brain lease');
    fail('split-brain lease', lease(peer.leaseId), lease(machine.leaseId), 'give both sides -ft-lease naming the same lease file, or neither');
  }
}
