/**
 * The lease record (docs/PROTOCOL.md, "Split-brain lease"): one JSON object padded with
 * spaces to LEASE_RECORD_BYTES and ended by a newline, always written whole at offset 0.
 * A fixed size means a rewrite never leaves the tail of a longer older record behind
 * and is one write of less than a page.
 *
 * - lease-id: random, chosen when the record is first created and kept by every later
 *   holder: it is the lease's identity, which primary and backup compare in their HELLOs
 *   (both must name the same lease).
 * - token: the fencing token; +1 on every change of holder and on every new pairing (a
 *   primary starting to protect the VM with a new backup), so a token names one pairing:
 *   a backup of an older pairing can never win a contention with it. A holder that
 *   finds a larger token than its own was fenced.
 * - holder, role: who holds it (host:pid/random, and 'primary' or 'backup').
 * - renewals: +1 on every renewal. A contender decides expiry by watching this counter
 *   with its own monotonic clock, never by comparing timestamps across hosts.
 * - ttl-ms: the holder's time to live; a contender waits at least this (plus a margin).
 * - alone: the holder runs the VM without a backup (it won the contention after losing
 *   its peer, took over as a backup, or never paired): no backup may take over from it.
 *   Written false when a pairing's protection starts. Absent when read: false.
 */
import { LeaseFormatError } from './errors.js';

export const LEASE_FORMAT = 1;
export const LEASE_RECORD_BYTES = 512;

export type LeaseRole = 'primary' | 'backup';

export interface LeaseRecord {
  leaseId: string;
  token: number;
  holder: string;
  role: LeaseRole;
  renewals: number;
  ttlMs: number;
  alone: boolean;
}

export function encodeLeaseRecord(r: LeaseRecord): Buffer {
  const json = JSON.stringify({
    'cuju-ft-lease': LEASE_FORMAT, 'lease-id': r.leaseId, token: r.token, holder: r.holder, role: r.role, renewals: r.renewals, 'ttl-ms': r.ttlMs, alone: r.alone,
  });
  const body = Buffer.from(json, 'utf8');
  if (body.length > LEASE_RECORD_BYTES - 1) throw new RangeError(`lease record of ${body.length} bytes exceeds ${LEASE_RECORD_BYTES - 1} (holder id too long?)`);
  const out = Buffer.alloc(LEASE_RECORD_BYTES, 0x20);
  body.copy(out);
  out[LEASE_RECORD_BYTES - 1] = 0x0a;
  return out;
}

/** undefined: no lease yet (empty or blank file). Throws LeaseFormatError for anything else that is not a lease. */
export function decodeLeaseRecord(bytes: Uint8Array, where: string): LeaseRecord | undefined {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').trim();
  if (text === '') return undefined;
  const notALease = (why: string) => new LeaseFormatError(`${where} is not a cuju lease file (${why}): point -ft-lease at a file of its own (cuju creates it), not at an image or another file`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw notALease('it does not hold a lease record');
  }
  if (typeof o !== 'object' || o === null || !('cuju-ft-lease' in o)) throw notALease('it does not hold a lease record');
  if (o['cuju-ft-lease'] !== LEASE_FORMAT) throw notALease(`lease format ${String(o['cuju-ft-lease'])}, this cuju reads format ${LEASE_FORMAT}`);
  const count = (k: string, min: number) => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw notALease(`its ${k} is ${JSON.stringify(v)}`);
    return v;
  };
  const text1 = (k: string) => {
    const v = o[k];
    if (typeof v !== 'string' || v.length === 0) throw notALease(`its ${k} is ${JSON.stringify(v)}`);
    return v;
  };
  const role = o.role;
  if (role !== 'primary' && role !== 'backup') throw notALease(`its role is ${JSON.stringify(role)}`);
  const alone = o.alone ?? false;
  if (typeof alone !== 'boolean') throw notALease(`its alone is ${JSON.stringify(alone)}`);
  return { leaseId: text1('lease-id'), token: count('token', 1), holder: text1('holder'), role, renewals: count('renewals', 0), ttlMs: count('ttl-ms', 1), alone };
}

/** Same holder, token, alone flag and renewal count: nobody touched the lease in between. */
export function sameLease(a: LeaseRecord | undefined, b: LeaseRecord | undefined): boolean {
  if (!a || !b) return a === b;
  return a.leaseId === b.leaseId && a.token === b.token && a.holder === b.holder && a.renewals === b.renewals && a.alone === b.alone;
}
