import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatInfoFt, newFtStats, toQmpFtInfo } from '../../src/ft/status.js';

test('info ft and query-ft show how long output commit held packets, once it held any', () => {
  const s = newFtStats();
  s.role = 'primary';
  s.state = 'protected';
  assert.match(formatInfoFt(s), /^held output: 0 packets \(0 bytes\), 0 disk writes$/m);
  assert.equal(toQmpFtInfo(s)['packet-hold-ms-p50'], undefined);
  for (const ms of [1, 2, 3, 4, 40]) s.packetHoldMs.add(ms);
  assert.match(formatInfoFt(s), /^held output: 0 packets \(0 bytes\), 0 disk writes; packets held p50 3\.00 ms, p99 40\.00 ms$/m);
  const q = toQmpFtInfo(s);
  assert.equal(q['packet-hold-ms-p50'], 3);
  assert.equal(q['packet-hold-ms-p99'], 40);
});
