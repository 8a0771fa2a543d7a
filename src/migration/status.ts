/**
 * What `info migrate` / `query-migrate` report: QEMU's MigrationStatus names and the
 * counters of qapi/migration.json's MigrationInfo that mean something here.
 */
export type MigrationStatus = 'none' | 'setup' | 'active' | 'device' | 'completed' | 'failed' | 'cancelling' | 'cancelled';

export function isFinished(s: MigrationStatus): boolean {
  return s === 'none' || s === 'completed' || s === 'failed' || s === 'cancelled';
}

export interface MigrationStats {
  status: MigrationStatus;
  /** ms since `migrate`; while active, so far. */
  totalTimeMs: number;
  /** ms the VM was stopped for the switch-over (set once completed). */
  downtimeMs?: number;
  setupTimeMs: number;
  /** Bytes sent (header, RAM, device state). */
  transferredBytes: number;
  /** RAM bytes still to send: the last harvested dirty set. */
  remainingBytes: number;
  totalRamBytes: number;
  /** Pages sent as data / as zero runs. */
  normalPages: number;
  zeroPages: number;
  /** Dirty-log harvests so far (QEMU's dirty-sync-count). */
  dirtySyncCount: number;
  /** Pages per second the guest dirtied during the last pass. */
  dirtyPagesRate: number;
  /** Megabits per second over the last pass. */
  mbps: number;
  pagesPerSecond: number;
  /** Why it failed (status failed). */
  error?: string;
  /** Verify mode's verdict at the switch-over, when it ran. */
  verify?: 'match' | 'mismatch';
  /** The initial copy of replicated disks (fault-tolerance migrations with disks only). */
  disk?: DiskCopyStats;
}

/** Progress of a fault-tolerance migration's disk copy (src/ft/disk-sync). */
export interface DiskCopyStats {
  /** Bytes of all replicated disks. */
  totalBytes: number;
  /** Bytes read so far. */
  scannedBytes: number;
  /** Data bytes sent (all-zero ranges are not sent). */
  transferredBytes: number;
  /** Bytes sent as zero ranges (holes). */
  zeroBytes: number;
}

export function emptyDiskCopyStats(): DiskCopyStats {
  return { totalBytes: 0, scannedBytes: 0, transferredBytes: 0, zeroBytes: 0 };
}

export function emptyStats(status: MigrationStatus = 'none', totalRamBytes = 0): MigrationStats {
  return {
    status, totalTimeMs: 0, setupTimeMs: 0, transferredBytes: 0, remainingBytes: 0, totalRamBytes,
    normalPages: 0, zeroPages: 0, dirtySyncCount: 0, dirtyPagesRate: 0, mbps: 0, pagesPerSecond: 0,
  };
}

/** QMP query-migrate's MigrationInfo. */
export function toQmpMigrationInfo(s: MigrationStats): Record<string, unknown> {
  if (s.status === 'none') return {};
  const info: Record<string, unknown> = { status: s.status };
  info['total-time'] = Math.round(s.totalTimeMs);
  if (s.downtimeMs !== undefined) info.downtime = Math.round(s.downtimeMs);
  info['setup-time'] = Math.round(s.setupTimeMs);
  info.ram = {
    transferred: s.transferredBytes,
    remaining: s.remainingBytes,
    total: s.totalRamBytes,
    duplicate: s.zeroPages,
    skipped: 0,
    normal: s.normalPages,
    'normal-bytes': s.normalPages * 4096,
    'dirty-pages-rate': Math.round(s.dirtyPagesRate),
    mbps: s.mbps,
    'dirty-sync-count': s.dirtySyncCount,
    'page-size': 4096,
    'pages-per-second': Math.round(s.pagesPerSecond),
  };
  // QEMU reports block migration as 'disk' with the same MigrationStats shape.
  if (s.disk) info.disk = { transferred: s.disk.transferredBytes, remaining: s.disk.totalBytes - s.disk.scannedBytes, total: s.disk.totalBytes, duplicate: s.disk.zeroBytes };
  if (s.error !== undefined) info['error-desc'] = s.error;
  if (s.verify !== undefined) info['x-verify'] = s.verify;
  return info;
}

/** HMP `info migrate`, in QEMU 7.2's words and order (hmp_info_migrate). */
export function formatInfoMigrate(s: MigrationStats, capabilities: Record<string, boolean>): string {
  const kb = (b: number) => Math.floor(b / 1024);
  let out = 'capabilities: ' + Object.entries(capabilities).map(([k, v]) => `${k}: ${v ? 'on' : 'off'}`).join(' ') + '\n';
  if (s.status === 'none') return out;
  out += `Migration status: ${s.status}`;
  out += s.status === 'failed' && s.error ? ` (${s.error})\n` : '\n';
  out += `total time: ${Math.round(s.totalTimeMs)} ms\n`;
  if (s.downtimeMs !== undefined) out += `downtime: ${Math.round(s.downtimeMs)} ms\n`;
  out += `setup: ${Math.round(s.setupTimeMs)} ms\n`;
  out += `transferred ram: ${kb(s.transferredBytes)} kbytes\n`;
  out += `throughput: ${s.mbps.toFixed(2)} mbps\n`;
  out += `remaining ram: ${kb(s.remainingBytes)} kbytes\n`;
  out += `total ram: ${kb(s.totalRamBytes)} kbytes\n`;
  out += `duplicate: ${s.zeroPages} pages\n`;
  out += `normal: ${s.normalPages} pages\n`;
  out += `normal bytes: ${kb(s.normalPages * 4096)} kbytes\n`;
  out += `dirty sync count: ${s.dirtySyncCount}\n`;
  out += `page size: 4 kbytes\n`;
  out += `dirty pages rate: ${Math.round(s.dirtyPagesRate)} pages\n`;
  out += `pages-per-second: ${Math.round(s.pagesPerSecond)}\n`;
  if (s.disk) {
    const mib = (b: number) => (b / 1048576).toFixed(1);
    out += `disk: transferred ${mib(s.disk.transferredBytes)} MiB of ${mib(s.disk.totalBytes)} MiB (${mib(s.disk.scannedBytes)} MiB read, ${mib(s.disk.zeroBytes)} MiB of zeros skipped)\n`;
  }
  if (s.verify) out += `verify: ${s.verify}\n`;
  return out;
}
