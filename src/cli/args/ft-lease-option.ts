/**
 * `-ft-lease PATH[,ttl=MS]`: the split-brain lease (src/ft/lease), and its default: with
 * a share-rw disk (the original Cuju's shared NFS image) the lease is a file next to
 * that image, `<image>.cuju-lease`, which both hosts reach by construction.
 */
import { MAX_LEASE_TTL_MS, MIN_LEASE_TTL_MS } from '../../ft/lease/ft-lease.js';
import type { DeviceSpec } from './devices.js';
import { parseKeyValue, rejectUnknownKeys } from './key-value.js';
import { UsageError } from './usage-error.js';

export interface FtLeaseOption {
  path: string;
  /** Absent: the lease's default (DEFAULT_LEASE_TTL_MS). */
  ttlMs?: number;
  /** Where the path came from, for the log. */
  origin: '-ft-lease' | 'share-rw disk';
}

export const LEASE_SUFFIX = '.cuju-lease';

export function parseFtLeaseOption(text: string): FtLeaseOption {
  const list = parseKeyValue(text, { impliedKey: 'path', flag: '-ft-lease' });
  rejectUnknownKeys(list, ['path', 'ttl'], '-ft-lease', 'the split-brain lease (use PATH[,ttl=MS])');
  const path = list.get('path');
  if (!path) throw new UsageError('-ft-lease: no lease path given (use -ft-lease PATH[,ttl=MS], PATH on storage both hosts reach)');
  const ttl = list.get('ttl');
  if (ttl === undefined) return { path, origin: '-ft-lease' };
  const m = /^(\d+)(ms)?$/.exec(ttl);
  const ttlMs = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_LEASE_TTL_MS || ttlMs > MAX_LEASE_TTL_MS) {
    throw new UsageError(`-ft-lease: ttl=${ttl} is not a lease time to live: give milliseconds ${MIN_LEASE_TTL_MS}..${MAX_LEASE_TTL_MS} (e.g. ttl=5000)`);
  }
  return { path, ttlMs, origin: '-ft-lease' };
}

/** -ft-lease if given, else next to the first share-rw image, else none (split-brain protection off). */
export function ftLeaseFor(option: string | undefined, devices: readonly DeviceSpec[]): FtLeaseOption | undefined {
  if (option !== undefined) return parseFtLeaseOption(option);
  const shared = devices.find((d) => d.kind === 'virtio-blk' && d.shareRw);
  return shared && shared.kind === 'virtio-blk' ? { path: shared.file + LEASE_SUFFIX, origin: 'share-rw disk' } : undefined;
}
