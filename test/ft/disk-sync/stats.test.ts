/** The disk copy in `info migrate` and query-migrate (src/migration/status.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyStats, formatInfoMigrate, toQmpMigrationInfo } from '../../../src/migration/status.js';

test('a migration with a disk copy reports it; one without does not', () => {
  const s = emptyStats('active', 2 * 1048576);
  assert.doesNotMatch(formatInfoMigrate(s, {}), /disk/);
  assert.equal(toQmpMigrationInfo(s).disk, undefined);
  s.disk = { totalBytes: 64 * 1048576, scannedBytes: 40 * 1048576, transferredBytes: 3 * 1048576 + 524288, zeroBytes: 36 * 1048576 + 524288 };
  assert.match(formatInfoMigrate(s, {}), /^disk: transferred 3\.5 MiB of 64\.0 MiB \(40\.0 MiB read, 36\.5 MiB of zeros skipped\)$/m);
  assert.deepEqual(toQmpMigrationInfo(s).disk, { transferred: 3670016, remaining: 24 * 1048576, total: 64 * 1048576, duplicate: 38273024 });
});
