/**
 * The backup's side of SplitBrainGuard against a real lease file: how long it keeps
 * contending while the lease's lock is held. A primary frozen while it holds the lock is
 * killed by its kernel after its ttl (FileLeaseStore's hold deadline), so the backup
 * must keep trying at least that long, even when its own retry budget is shorter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLeaseStore } from '../../../src/ft/lease/file-lease-store.js';
import { FtLease } from '../../../src/ft/lease/ft-lease.js';
import { SplitBrainGuard } from '../../../src/ft/lease/split-brain-guard.js';
import { nativeImageLocker } from '../../../src/block/image-lock.js';
import type { FtStats } from '../../../src/ft/status.js';
import type { VmControl } from '../../../src/vm/control.js';

const locker = nativeImageLocker();
const skip = locker ? undefined : 'native addon not built (OFD locks)';

interface GuardedBackup {
  path: string;
  guard: SplitBrainGuard;
  backup: FtLease;
  pairToken: number;
  log: string[];
  events: string[];
}

/** A paired primary and backup on a real lease file (ttl 600 ms), and the backup's guard with a 100 ms retry budget. */
async function guardedBackup(t: { after(fn: () => void): void }): Promise<GuardedBackup> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-guard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'vm.lease');
  const ttlMs = 600;
  const primary = new FtLease(new FileLeaseStore(path, { holdDeadlineMs: ttlMs }), { ttlMs, holder: 'hosta:1/primary' });
  const backup = new FtLease(new FileLeaseStore(path, { lockTimeoutMs: 50, holdDeadlineMs: ttlMs }), { ttlMs, holder: 'hostb:2/backup' });
  t.after(() => { primary.stop(); backup.stop(); });
  await primary.obtain('primary');
  const pairing = await primary.beginPairing();
  await backup.pairWith();
  const log: string[] = [];
  const events: string[] = [];
  const vm = { emit: (name: string) => { events.push(name); } } as unknown as VmControl;
  const guard = new SplitBrainGuard({ vm, log: (l) => log.push(l), stats: {} as FtStats, endProtection: async () => {} }, 100);
  guard.use(backup, []);
  return { path, guard, backup, pairToken: pairing.token, log, events };
}

test('a backup keeps contending past its own retry budget while the lock can still be a frozen primary\'s (ttl + one store operation), and wins once it drops', { skip, timeout: 30_000 }, async (t) => {
  const { path, guard, backup, pairToken, log, events } = await guardedBackup(t);
  // The frozen primary: the lease's lock, held on another open file, for 1.5 s.
  const fd = openSync(path, 'r+');
  assert.equal(locker!.lock(fd, true), true);
  const held = 1500;
  const released = new Promise<void>((resolve) => setTimeout(() => { closeSync(fd); resolve(); }, held));
  const start = performance.now();
  const standDown = await guard.beforeTakeOver('primary lost: no heartbeat', true);
  const waited = performance.now() - start;
  await released;
  assert.equal(standDown, undefined, `the backup took over (log: ${log.join(' | ')})`);
  assert.ok(waited >= held - 50, `it won only after the lock dropped (${Math.round(waited)} ms)`);
  assert.equal(backup.token, pairToken + 1);
  assert.match(log[0], /the lease file .* stayed locked by another process for 50 ms; not taking over until the lease answers \(retrying for 3600 ms\)/);
  assert.ok(events.includes('CUJU_FT_CONTENTION'));
});

test('a lock that never drops: the backup stands down once ttl + one store operation + 1 s have passed', { skip, timeout: 30_000 }, async (t) => {
  const { path, guard } = await guardedBackup(t);
  const fd = openSync(path, 'r+');
  t.after(() => closeSync(fd));
  assert.equal(locker!.lock(fd, true), true);
  const start = performance.now();
  const standDown = await guard.beforeTakeOver('primary lost: no heartbeat', true);
  const waited = performance.now() - start;
  assert.match(standDown ?? '', /^primary lost: no heartbeat, but the lease file .* stayed locked by another process for 50 ms: without the lease this backup cannot tell whether the primary still runs, so it stands down$/);
  assert.ok(waited >= 3600 && waited < 8000, `it tried for ttl + max(2 s, ttl) + 1 s = 3.6 s (${Math.round(waited)} ms)`);
});
