/**
 * What `info ft` / `query-ft` report: role, state, epochs, acknowledgements, per-epoch
 * sizes and pause times, held output. One FtStats per VM, updated by the engine.
 */
export type FtRole = 'none' | 'primary' | 'backup';
/**
 * off: no protection configured · syncing: initial live copy to the backup ·
 * protected: epochs flowing · unprotected: the peer is gone (primary runs on alone) ·
 * waiting: a backup waiting for its primary · active: a backup that took over.
 */
export type FtState = 'off' | 'syncing' | 'protected' | 'unprotected' | 'waiting' | 'active';

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
  heldPackets: number;
  heldBytes: number;
  heldWrites: number;
  /** host:port of the peer. */
  peer?: string;
  /** Why protection ended, when it did. */
  reason?: string;
  /** Epochs the primary ended early because the dirty set reached the watermark. */
  earlyEpochs: number;
}

export function newFtStats(): FtStats {
  return {
    role: 'none', state: 'off', epochUs: 5000, epoch: 0, ackedEpoch: 0, epochsInFlight: 0,
    lastEpochDirtyPages: 0, lastEpochBytes: 0, totalEpochs: 0, totalBytes: 0,
    pauseUs: new PauseHistogram(), heldPackets: 0, heldBytes: 0, heldWrites: 0, earlyEpochs: 0,
  };
}

export function toQmpFtInfo(s: FtStats): Record<string, unknown> {
  return {
    role: s.role, state: s.state, 'epoch-us': s.epochUs, epoch: s.epoch, 'acked-epoch': s.ackedEpoch,
    'epochs-in-flight': s.epochsInFlight, 'dirty-pages': s.lastEpochDirtyPages, 'epoch-bytes': s.lastEpochBytes,
    'total-epochs': s.totalEpochs, 'total-bytes': s.totalBytes, 'early-epochs': s.earlyEpochs,
    'pause-us-p50': Math.round(s.pauseUs.percentile(50)), 'pause-us-p99': Math.round(s.pauseUs.percentile(99)),
    'held-packets': s.heldPackets, 'held-bytes': s.heldBytes, 'held-writes': s.heldWrites,
    ...(s.peer ? { peer: s.peer } : {}), ...(s.reason ? { reason: s.reason } : {}),
  };
}

export function formatInfoFt(s: FtStats): string {
  if (s.role === 'none') return 'FT: off (migrate_set_capability cuju-ft on, then migrate -c tcp:BACKUP:PORT)\n';
  const lines = [
    `FT role: ${s.role}, state: ${s.state}${s.peer ? `, peer ${s.peer}` : ''}${s.reason ? ` (${s.reason})` : ''}`,
    `epoch: ${s.epoch} (length ${s.epochUs} us), acknowledged: ${s.ackedEpoch}, in flight: ${s.epochsInFlight}`,
    `last epoch: ${s.lastEpochDirtyPages} dirty pages, ${s.lastEpochBytes} bytes; total ${s.totalEpochs} epochs, ${s.totalBytes} bytes, ${s.earlyEpochs} ended early`,
  ];
  if (s.role === 'primary') {
    lines.push(`pause: p50 ${Math.round(s.pauseUs.percentile(50))} us, p99 ${Math.round(s.pauseUs.percentile(99))} us`);
    lines.push(`held output: ${s.heldPackets} packets (${s.heldBytes} bytes), ${s.heldWrites} disk writes`);
  }
  return lines.join('\n') + '\n';
}
