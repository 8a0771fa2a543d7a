/** What `info migrate` and `query-migrate` show (src/migration/status.ts) in each state. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyStats, formatInfoMigrate, isFinished, toQmpMigrationInfo, type MigrationStats } from '../../src/migration/status.js';

const caps = { 'x-verify': true };

function activeStats(): MigrationStats {
  return {
    ...emptyStats('active', 2 * 1024 * 1024),
    totalTimeMs: 1234.4, setupTimeMs: 3.6, transferredBytes: 5 * 1024 * 1024 + 1023, remainingBytes: 900 * 1024,
    normalPages: 1300, zeroPages: 7, dirtySyncCount: 3, dirtyPagesRate: 4567.8, mbps: 812.3456, pagesPerSecond: 24999.5,
  };
}

test('none: info migrate shows only the capabilities, query-migrate an empty object', () => {
  assert.equal(formatInfoMigrate(emptyStats(), { 'x-verify': false }), 'capabilities: x-verify: off\n');
  assert.deepEqual(toQmpMigrationInfo(emptyStats()), {});
});

test('active: every counter in QEMU 7.2 order, sizes in kbytes, no downtime yet', () => {
  assert.equal(formatInfoMigrate(activeStats(), caps), [
    'capabilities: x-verify: on',
    'Migration status: active',
    'total time: 1234 ms',
    'setup: 4 ms',
    'transferred ram: 5120 kbytes',
    'throughput: 812.35 mbps',
    'remaining ram: 900 kbytes',
    'total ram: 2048 kbytes',
    'duplicate: 7 pages',
    'normal: 1300 pages',
    'normal bytes: 5200 kbytes',
    'dirty sync count: 3',
    'page size: 4 kbytes',
    'dirty pages rate: 4568 pages',
    'pages-per-second: 25000',
    '',
  ].join('\n'));
});

test('failed: the reason follows the status; cancelled shows no reason', () => {
  const failed = { ...activeStats(), status: 'failed' as const, error: 'the destination refused the migration: snapshot RAM size mismatch' };
  assert.match(formatInfoMigrate(failed, caps), /^Migration status: failed \(the destination refused the migration: snapshot RAM size mismatch\)$/m);
  const cancelled = { ...activeStats(), status: 'cancelled' as const };
  assert.match(formatInfoMigrate(cancelled, caps), /^Migration status: cancelled$/m);
  assert.equal(toQmpMigrationInfo(failed)['error-desc'], failed.error);
  assert.equal(toQmpMigrationInfo(cancelled)['error-desc'], undefined);
});

test('completed: downtime and the verify verdict are shown', () => {
  const done: MigrationStats = { ...activeStats(), status: 'completed', downtimeMs: 41.5, remainingBytes: 0, verify: 'match' };
  const text = formatInfoMigrate(done, caps);
  assert.match(text, /^Migration status: completed\ntotal time: 1234 ms\ndowntime: 42 ms\nsetup: 4 ms\n/m);
  assert.match(text, /^remaining ram: 0 kbytes$/m);
  assert.ok(text.endsWith('verify: match\n'));
});

test('query-migrate has the MigrationInfo shape of qapi/migration.json', () => {
  const done: MigrationStats = { ...activeStats(), status: 'completed', downtimeMs: 41.5, verify: 'mismatch' };
  assert.deepEqual(toQmpMigrationInfo(done), {
    status: 'completed',
    'total-time': 1234,
    downtime: 42,
    'setup-time': 4,
    ram: {
      transferred: 5 * 1024 * 1024 + 1023,
      remaining: 900 * 1024,
      total: 2 * 1024 * 1024,
      duplicate: 7,
      skipped: 0,
      normal: 1300,
      'normal-bytes': 1300 * 4096,
      'dirty-pages-rate': 4568,
      mbps: 812.3456,
      'dirty-sync-count': 3,
      'page-size': 4096,
      'pages-per-second': 25000,
    },
    'x-verify': 'mismatch',
  });
  const active = toQmpMigrationInfo(activeStats());
  assert.equal(active.status, 'active');
  assert.equal('downtime' in active, false, 'no downtime while active');
  // Everything QMP carries must survive JSON (no bigint, no undefined holes).
  assert.deepEqual(JSON.parse(JSON.stringify(active)), active);
});

test('isFinished: only none, completed, failed and cancelled let a new migration start', () => {
  const all = ['none', 'setup', 'active', 'device', 'completed', 'failed', 'cancelling', 'cancelled'] as const;
  assert.deepEqual(all.filter(isFinished), ['none', 'completed', 'failed', 'cancelled']);
});
