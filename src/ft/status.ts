/**
 * What `info ft` / `query-ft` report: role, state, epochs, acknowledgements, per-epoch
 * sizes and pause times, held output. One FtStats per VM, updated by the engine.
 */
import { newLiveness, type Liveness } from './heartbeat.js';
import { heartbeatInfoLine, heartbeatQmpInfo } from './heartbeat-status.js';
import { newVerifyStats, resetVerifyCounts, verifyInfoLine, verifyQmpInfo, type VerifyStats } from './verify/verify-stats.js';

import type { FtLeaseStatus } from './lease/ft-lease.js';
import { standbyInfoLine, standbyQmpInfo, type StandbyStatus } from './standby.js';

export type FtRole = 'none' | 'primary' | 'backup';
/**
 * off: no protection configured · syncing: initial live copy to the backup ·
 * protected: epochs flowing · unprotected: the peer is gone (primary runs on alone) ·
 * waiting: a backup waiting for its primary · active: a backup that took over.
 */
/** fenced: a newer fencing token took the split-brain lease: no output, VM paused. */
export type FtState = 'off' | 'syncing' | 'protected' | 'unprotected' | 'waiting' | 'active' | 'fenced';

export class PauseHistogram {
  private readonly samples: number[] = [];
  constructor(private readonly keep = 2048) {}
  add(us: number): void {
    this.samples.push(us);
    if (this.samples.length > this.keep) this.samples.shift();
  }
  percentile(p: number): number {
    if (this.samples.length === 0) return 0;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
  get count(): number {
    return this.samples.length;
  }
}

export interface FtStats {
  role: FtRole;
  state: FtState;
  /** Length of an epoch of guest run time, µs. */
  epochUs: number;
  /** Newest epoch taken (primary) or committed (backup). */
  epoch: number;
  /** Newest epoch the backup acknowledged (primary), or applied (backup). */
  ackedEpoch: number;
  epochsInFlight: number;
  lastEpochDirtyPages: number;
  lastEpochBytes: number;
  totalEpochs: number;
  totalBytes: number;
  pauseUs: PauseHistogram;
  /** How long output commit held each packet the guest sent, ms (primary; recent packets). */
  packetHoldMs: PauseHistogram;
  heldPackets: number;
  heldBytes: number;
  heldWrites: number;
  /** host:port of the peer. */
  peer?: string;
  /** Why protection ended, when it did. */
  reason?: string;
  /** Epochs the primary ended early because the dirty set reached the watermark. */
  earlyEpochs: number;
  /** Dirty pages at which the primary ends an epoch early (0: never; cuju-adjust-watermark). */
  watermarkPages: number;
  /** FT verify mode (src/ft/verify). */
  verify: VerifyStats;
  /** The split-brain lease as it stands now (src/ft/lease); absent: split-brain protection is off. */
  lease?: () => FtLeaseStatus;
  /** Heartbeat settings (cuju-set-heartbeat) and the peer's last sign of life (heartbeat.ts). */
  liveness: Liveness;
  /** Automatic re-protection (standby.ts); absent in stats without a controller. */
  standby?: () => StandbyStatus;
}

/**
 * 2048 dirty pages (8 MiB) end an epoch early: copying them costs ~0.6-3 ms of pause
 * (bench/ft-wire.ts), about what a whole 5 ms epoch of a busy guest would cost anyway.
 */
export const DEFAULT_WATERMARK_PAGES = 2048;

export function newFtStats(): FtStats {
  return {
    role: 'none', state: 'off', epochUs: 5000, epoch: 0, ackedEpoch: 0, epochsInFlight: 0,
    lastEpochDirtyPages: 0, lastEpochBytes: 0, totalEpochs: 0, totalBytes: 0,
    pauseUs: new PauseHistogram(), packetHoldMs: new PauseHistogram(), heldPackets: 0, heldBytes: 0, heldWrites: 0, earlyEpochs: 0, watermarkPages: DEFAULT_WATERMARK_PAGES,
    verify: newVerifyStats(),
    liveness: newLiveness(),
  };
}

/**
 * A new pairing (re-protection after a failover or a lost backup): epochs count from 0
 * again and the counters restart; settings (epoch length, watermark, verify) stay.
 */
export function resetForNewPairing(s: FtStats): void {
  Object.assign(s, {
    epoch: 0, ackedEpoch: 0, epochsInFlight: 0, lastEpochDirtyPages: 0, lastEpochBytes: 0, totalEpochs: 0, totalBytes: 0,
    pauseUs: new PauseHistogram(), packetHoldMs: new PauseHistogram(), heldPackets: 0, heldBytes: 0, heldWrites: 0, earlyEpochs: 0, peer: undefined, reason: undefined,
  });
  resetVerifyCounts(s.verify);
  s.liveness.lastHeardAt = undefined;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** "; packets held p50 X ms, p99 Y ms" once packets were held: what output commit adds to a round trip. */
function holdText(h: PauseHistogram): string {
  return h.count > 0 ? `; packets held p50 ${h.percentile(50).toFixed(2)} ms, p99 ${h.percentile(99).toFixed(2)} ms` : '';
}

/** The hint for a VM that runs without a backup after having had one. */
export const REPROTECT_HINT = 'run migrate -c tcp:HOST:PORT to pair a new backup';

export function toQmpFtInfo(s: FtStats): Record<string, unknown> {
  return {
    role: s.role, state: s.state, 'epoch-us': s.epochUs, epoch: s.epoch, 'acked-epoch': s.ackedEpoch,
    'epochs-in-flight': s.epochsInFlight, 'dirty-pages': s.lastEpochDirtyPages, 'epoch-bytes': s.lastEpochBytes,
    'total-epochs': s.totalEpochs, 'total-bytes': s.totalBytes, 'early-epochs': s.earlyEpochs, 'watermark-pages': s.watermarkPages,
    'pause-us-p50': Math.round(s.pauseUs.percentile(50)), 'pause-us-p99': Math.round(s.pauseUs.percentile(99)),
    'held-packets': s.heldPackets, 'held-bytes': s.heldBytes, 'held-writes': s.heldWrites,
    ...(s.packetHoldMs.count > 0 ? { 'packet-hold-ms-p50': round2(s.packetHoldMs.percentile(50)), 'packet-hold-ms-p99': round2(s.packetHoldMs.percentile(99)) } : {}),
    ...(s.peer ? { peer: s.peer } : {}), ...(s.reason ? { reason: s.reason } : {}),
    ...verifyQmpInfo(s.verify),
    'split-brain-protection': s.lease !== undefined,
    ...(s.lease ? { lease: qmpLease(s.lease()) } : {}),
    ...heartbeatQmpInfo(s.liveness),
    ...standbyQmpInfo(s.standby?.()),
  };
}

export function formatInfoFt(s: FtStats): string {
  if (s.role === 'none') return 'FT: off (migrate_set_capability cuju-ft on, then migrate -c tcp:BACKUP:PORT)\n';
  const lines = [
    `FT role: ${s.role}, state: ${s.state}${s.peer ? `, peer ${s.peer}` : ''}${s.reason ? ` (${s.reason})` : ''}`,
    `epoch: ${s.epoch} (length ${s.epochUs} us, ends early at ${s.watermarkPages || 'no'} dirty pages), acknowledged: ${s.ackedEpoch}, in flight: ${s.epochsInFlight}`,
    `last epoch: ${s.lastEpochDirtyPages} dirty pages, ${s.lastEpochBytes} bytes; total ${s.totalEpochs} epochs, ${s.totalBytes} bytes, ${s.earlyEpochs} ended early`,
  ];
  if (s.role === 'primary') {
    lines.push(`pause: p50 ${Math.round(s.pauseUs.percentile(50))} us, p99 ${Math.round(s.pauseUs.percentile(99))} us`);
    lines.push(`held output: ${s.heldPackets} packets (${s.heldBytes} bytes), ${s.heldWrites} disk writes${holdText(s.packetHoldMs)}`);
  }
  lines.push(verifyInfoLine(s.verify));
  lines.push(leaseLine(s.lease?.()));
  lines.push(heartbeatInfoLine(s.liveness, s.role === 'primary' ? 'backup' : 'primary'));
  const standby = s.standby?.();
  lines.push(standbyInfoLine(standby));
  if ((s.state === 'unprotected' || s.state === 'active') && !standby?.uri) lines.push(`unprotected: ${REPROTECT_HINT}`);
  return lines.join('\n') + '\n';
}

function qmpLease(l: FtLeaseStatus): Record<string, unknown> {
  const c = l.lastContention;
  return {
    where: l.where, state: l.state, valid: l.valid, 'ttl-ms': l.ttlMs, self: l.self,
    ...(l.leaseId ? { 'lease-id': l.leaseId, token: l.token, holder: l.holder, 'holder-role': l.role, alone: l.alone } : {}),
    ...(l.pairToken !== undefined ? { 'pair-token': l.pairToken } : {}),
    ...(c ? { 'last-contention': { role: c.role, won: c.won, token: c.token, holder: c.holder, ...(c.why ? { reason: c.why } : {}) } } : {}),
  };
}

/** Who holds the split-brain lease (fencing token, running alone or protected), and the last contention, or that split-brain protection is off. */
function leaseLine(l: FtLeaseStatus | undefined): string {
  if (!l) return 'split-brain protection: off (no -ft-lease and no share-rw disk): if primary and backup lose each other, both may run the VM';
  const who = l.holder === undefined ? 'no holder yet' : `held by ${l.holder === l.self ? 'this VMM' : l.holder} (${l.role}), fencing token ${l.token}, ${l.alone ? 'alone' : 'protected'}`;
  const here = l.state === 'held' ? (l.valid ? 'held, valid' : 'held, NOT valid: unprotected output held') : l.state;
  const c = l.lastContention;
  const contention = c ? `; last contention (as ${c.role}): ${c.won ? 'won' : `lost${c.why ? ` (${c.why})` : ''}`}` : '';
  const pair = l.pairToken !== undefined ? `; protecting the pairing with token ${l.pairToken}` : '';
  return `lease: ${l.where}${l.leaseId ? ` (id ${l.leaseId})` : ''}: ${who}; here ${here}${pair}${contention}; ttl ${l.ttlMs} ms`;
}
