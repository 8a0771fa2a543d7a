/** FT verify mode's part of `info ft` / `query-ft` (one per VM, inside FtStats). */
import type { PageRange } from '../wire/index.js';
import { describeRanges } from './ram-digests.js';

/** Epochs between two verifications unless set otherwise (200 × 5 ms epochs: once a second). */
export const DEFAULT_VERIFY_EVERY = 200;

export interface VerifyMismatch {
  epoch: number;
  ramRanges: PageRange[];
  devicesDiffer: boolean;
  truncated: boolean;
}

export interface VerifyStats {
  /** Whether FT verify runs (the x-verify capability at `migrate -c`, or cuju-verify-every N > 0). */
  enabled: boolean;
  /** Verify every this many epochs. */
  every: number;
  /** Epochs whose states were compared (matching or not). */
  verifiedEpochs: number;
  mismatches: number;
  lastVerifiedEpoch: number;
  lastMismatch?: VerifyMismatch;
  /** Primary: the last RAM snapshot copy, inside the pause (µs). */
  lastCopyUs: number;
  /** Hashing the last snapshot (primary, off the pause) or RAM (backup, between two epochs), ms. */
  lastHashMs: number;
}

export function newVerifyStats(): VerifyStats {
  return { enabled: false, every: DEFAULT_VERIFY_EVERY, verifiedEpochs: 0, mismatches: 0, lastVerifiedEpoch: 0, lastCopyUs: 0, lastHashMs: 0 };
}

/** A new pairing starts counting afresh (the settings stay). */
export function resetVerifyCounts(v: VerifyStats): void {
  Object.assign(v, { verifiedEpochs: 0, mismatches: 0, lastVerifiedEpoch: 0, lastMismatch: undefined, lastCopyUs: 0, lastHashMs: 0 });
}

export function describeMismatch(m: VerifyMismatch): string {
  const parts: string[] = [];
  if (m.ramRanges.length) parts.push(`guest RAM ${describeRanges(m.ramRanges)}${m.truncated ? ' and more' : ''}`);
  if (m.devicesDiffer) parts.push('device state');
  return parts.join(' and ');
}

export function verifyQmpInfo(v: VerifyStats): Record<string, unknown> {
  return {
    verify: v.enabled, 'verify-every': v.every, 'verified-epochs': v.verifiedEpochs, 'verify-mismatches': v.mismatches,
    'last-verified-epoch': v.lastVerifiedEpoch,
    ...(v.lastMismatch ? { 'last-mismatch': { epoch: v.lastMismatch.epoch, differs: describeMismatch(v.lastMismatch) } } : {}),
  };
}

export function verifyInfoLine(v: VerifyStats): string {
  if (!v.enabled) return 'verify: off (migrate_set_capability x-verify on before migrate -c, or cuju-verify-every N)';
  const last = v.lastMismatch ? `; last mismatch at epoch ${v.lastMismatch.epoch}: ${describeMismatch(v.lastMismatch)}` : '';
  return `verify: every ${v.every} epochs, ${v.verifiedEpochs} verified (last epoch ${v.lastVerifiedEpoch}), ${v.mismatches} mismatches; snapshot copy ${v.lastCopyUs} us, hash ${v.lastHashMs} ms${last}`;
}
