/**
 * The live-migration session around the snapshot stream (docs/PROTOCOL.md, "Migration
 * session"): source → destination a 16-byte hello, the snapshot stream, later one-line
 * JSON commands; destination → source one-line JSON replies.
 */
import { MigrationProtocolError } from './errors.js';

export const HELLO_MAGIC = 'CUJUMIG\0';
export const HELLO_SIZE = 16;
export const PROTOCOL_VERSION = 1;
export const FLAG_VERIFY = 1;
/** Cuju fault tolerance: after the initial copy the destination becomes the backup. */
export const FLAG_FT = 2;
/**
 * With FLAG_FT only: the disk-copy phase (src/ft/disk-sync, docs/PROTOCOL.md "Disk copy")
 * follows the hello, before the snapshot stream. A feature flag rather than a version
 * bump: a cuju without it refuses the unknown flag by name, and a source without it
 * talks to a newer backup exactly as before.
 */
export const FLAG_DISK_COPY = 4;
/**
 * -ft-key: the source authenticates (auth.ts): its nonce follows the hello, and nothing
 * else flows until both sides have proved they hold the shared key.
 */
export const FLAG_AUTH = 8;
const KNOWN_FLAGS = FLAG_VERIFY | FLAG_FT | FLAG_DISK_COPY | FLAG_AUTH;
/** A reply or command line longer than this is damage, not a message. */
export const MAX_LINE = 64 * 1024;

export interface Hello {
  version: number;
  verify: boolean;
  ft: boolean;
  /** The disk-copy phase follows the hello (ft only). */
  diskCopy: boolean;
  /** The -ft-key handshake follows the hello. */
  auth: boolean;
}

export function encodeHello(h: { verify: boolean; ft?: boolean; diskCopy?: boolean; auth?: boolean }): Buffer {
  const b = Buffer.alloc(HELLO_SIZE);
  b.write(HELLO_MAGIC, 0, 'latin1');
  b.writeUInt32LE(PROTOCOL_VERSION, 8);
  b.writeUInt32LE((h.verify ? FLAG_VERIFY : 0) | (h.ft ? FLAG_FT : 0) | (h.ft && h.diskCopy ? FLAG_DISK_COPY : 0) | (h.auth ? FLAG_AUTH : 0), 12);
  return b;
}

export function decodeHello(b: Uint8Array): Hello {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  if (buf.length !== HELLO_SIZE || buf.toString('latin1', 0, 8) !== HELLO_MAGIC) {
    throw new MigrationProtocolError('the incoming connection is not a cuju migration (bad hello)');
  }
  const version = buf.readUInt32LE(8);
  if (version !== PROTOCOL_VERSION) {
    throw new MigrationProtocolError(`the source speaks migration protocol version ${version}, this cuju speaks ${PROTOCOL_VERSION}: use the same cuju version on both hosts`);
  }
  const flags = buf.readUInt32LE(12);
  if (flags & ~KNOWN_FLAGS) throw new MigrationProtocolError(`the source asked for unknown migration options (flags 0x${flags.toString(16)})`);
  const ft = (flags & FLAG_FT) !== 0;
  const diskCopy = (flags & FLAG_DISK_COPY) !== 0;
  if (diskCopy && !ft) throw new MigrationProtocolError('the source announced a disk copy outside a fault-tolerance migration (flags 0x' + flags.toString(16) + ')');
  return { version, verify: (flags & FLAG_VERIFY) !== 0, ft, diskCopy, auth: (flags & FLAG_AUTH) !== 0 };
}

/** Destination → source. */
export type DestinationReply =
  | { type: 'loaded'; ramHash?: string; deviceHash?: string }
  | { type: 'started' }
  | { type: 'error'; message: string }
  /** -ft-key: the destination's nonce and its proof of the key (hex; auth.ts). */
  | { type: 'challenge'; nonce: string; proof: string };

/** Source → destination, after the stream. */
/** 'ft': stay paused as the backup; the FT channel (binary, src/ft/wire) follows this line. */
/** `mac` (hex, -ft-key only): authenticates the command and the snapshot stream before it (auth.ts). */
export type SourceCommand = ({ type: 'go' } | { type: 'ft' } | { type: 'abort'; reason: string }) & { mac?: string };

const HEX64 = /^[0-9a-f]{64}$/;

function parseLine(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new MigrationProtocolError('the peer sent a malformed message');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MigrationProtocolError('the peer sent a malformed message');
  return v as Record<string, unknown>;
}

export function parseReply(line: string): DestinationReply {
  const o = parseLine(line);
  switch (o.type) {
    case 'loaded': {
      const hashes = [o.ramHash, o.deviceHash];
      if (!hashes.every((h) => h === undefined || (typeof h === 'string' && HEX64.test(h)))) break;
      return { type: 'loaded', ramHash: o.ramHash as string | undefined, deviceHash: o.deviceHash as string | undefined };
    }
    case 'started':
      return { type: 'started' };
    case 'error':
      if (typeof o.message === 'string') return { type: 'error', message: o.message.slice(0, 1000) };
      break;
    case 'challenge':
      if (typeof o.nonce === 'string' && HEX64.test(o.nonce) && typeof o.proof === 'string' && HEX64.test(o.proof)) return { type: 'challenge', nonce: o.nonce, proof: o.proof };
      break;
  }
  throw new MigrationProtocolError('the destination sent a message this cuju does not understand');
}

export function parseCommand(line: string): SourceCommand {
  const o = parseLine(line);
  const mac = typeof o.mac === 'string' && HEX64.test(o.mac) ? { mac: o.mac } : {};
  if (o.type === 'go') return { type: 'go', ...mac };
  if (o.type === 'ft') return { type: 'ft', ...mac };
  if (o.type === 'abort' && typeof o.reason === 'string') return { type: 'abort', reason: o.reason.slice(0, 1000), ...mac };
  throw new MigrationProtocolError('the source sent a message this cuju does not understand');
}

export function encodeLine(message: DestinationReply | SourceCommand): string {
  return JSON.stringify(message) + '\n';
}
