/**
 * What happens with the outcome of one verification, on either side: it is counted, and
 * a mismatch raises the alarm (a log line and the QMP event CUJU_FT_VERIFY_MISMATCH with
 * the epoch and what differed). Nothing else: the pair keeps running (the backup's state
 * can't be trusted after a mismatch; what to do about it is the operator's call).
 */
import type { VerifyResult } from '../wire/index.js';
import { describeMismatch, type VerifyStats } from './verify-stats.js';

export type EmitEvent = (name: string, data: Record<string, unknown>) => void;

export function recordVerifyResult(stats: VerifyStats, r: VerifyResult, log: (line: string) => void, emit: EmitEvent): void {
  stats.verifiedEpochs++;
  stats.lastVerifiedEpoch = Math.max(stats.lastVerifiedEpoch, r.epoch);
  if (!r.devicesDiffer && r.ramRanges.length === 0 && !r.truncated) return;
  const mismatch = { epoch: r.epoch, ramRanges: r.ramRanges, devicesDiffer: r.devicesDiffer, truncated: r.truncated };
  stats.mismatches++;
  stats.lastMismatch = mismatch;
  log(`fault tolerance VERIFY MISMATCH at epoch ${r.epoch}: the backup's ${describeMismatch(mismatch)} differ from the primary's; the backup's copy is not exact`);
  emit('CUJU_FT_VERIFY_MISMATCH', {
    epoch: r.epoch,
    ram: r.ramRanges.map((g) => ({ 'first-page': g.firstPage, pages: g.pages })),
    'ram-truncated': r.truncated,
    devices: r.devicesDiffer,
  });
}
