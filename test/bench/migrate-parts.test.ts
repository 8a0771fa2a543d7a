/** bench:migrate's pure parts: the snapshot cache key, the limits, the table cells. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memcpyRate, summarize, tcpStreamRate } from '../../bench/migrate/limits.js';
import { HEADER, mbpsToMiBps, rowCells } from '../../bench/migrate/report.js';
import { snapshotKey, snapshotPath } from '../../bench/migrate/snapshot-cache.js';
import { parseTrace, switchOverTimeline } from '../../bench/migrate/timeline.js';

test('the snapshot key changes with the kernel, the initramfs, the VM flags and the set-up commands, and only then', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-bench-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kernel = join(dir, 'k');
  const initrd = join(dir, 'i');
  writeFileSync(kernel, 'kernel v1');
  writeFileSync(initrd, 'initrd v1');
  const base = { kernel, initrd, memoryMiB: 256, cpus: 1, append: 'console=ttyS0 quiet', setup: 'cuju-dirty 32 1 0 /tmp/r & d=$!' };
  const k0 = await snapshotKey(base);
  assert.equal(await snapshotKey({ ...base }), k0);
  assert.notEqual(await snapshotKey({ ...base, memoryMiB: 128 }), k0);
  assert.notEqual(await snapshotKey({ ...base, append: 'console=ttyS0' }), k0);
  assert.notEqual(await snapshotKey({ ...base, setup: 'cuju-dirty 64 1 0 /tmp/r & d=$!' }), k0);
  writeFileSync(initrd, 'initrd v2');
  const k1 = await snapshotKey(base);
  assert.notEqual(k1, k0);
  writeFileSync(kernel, 'kernel v2');
  assert.notEqual(await snapshotKey(base), k1);
  assert.match(snapshotPath('/c', k0), /^\/c\/migrate-guest-[0-9a-f]{16}\.cuju$/);
});

test('summarize takes the median and the best', () => {
  assert.deepEqual(summarize([3, 1, 2]), { median: 2, best: 3, samples: [3, 1, 2] });
});

test('the limits measure something plausible', async () => {
  const m = memcpyRate(16 * 1024 * 1024, 3);
  assert.ok(m.median > 100, `memcpy ${m.median} MiB/s`);
  const t = await tcpStreamRate(64 * 1024 * 1024, 1);
  assert.ok(t.median > 10, `tcp ${t.median} MiB/s`);
});

test('a table row: MiB/s from Mbit/s, ratios against the limits, verify only when asked', () => {
  assert.equal(mbpsToMiBps(8 * 1.048576), 1);
  const final = {
    status: 'completed', 'total-time': 2000, downtime: 150,
    ram: { transferred: 200 * 1048576, remaining: 0, total: 256 * 1048576, normal: 0, mbps: 8 * 1.048576 * 400, 'dirty-sync-count': 3, 'dirty-pages-rate': 5000, 'pages-per-second': 90000 },
    'x-verify': 'match' as const,
  };
  const cells = rowCells({ scenario: { name: '5000 pages/s', rate: 5000, verify: true }, result: { final, peakMbps: 8 * 1.048576 * 800, peakDirtyRate: 5100, hostMs: 2100 } }, { memcpyMiBps: 8000, tcpMiBps: 1600 });
  const cell = (name: string) => cells[HEADER.indexOf(name)];
  assert.equal(cells.length, HEADER.length);
  assert.equal(cell('downtime ms'), '150');
  assert.equal(cell('sent MiB'), '200.0');
  assert.equal(cell('first pass MiB/s'), '800');
  assert.equal(cell('mean MiB/s'), '100');
  assert.equal(cell('first pass ÷ TCP'), '0.500');
  assert.equal(cell('first pass ÷ memcpy'), '0.100');
  assert.equal(cell('verify'), 'match');
  const failed = rowCells({ scenario: { name: 'x' }, result: { final: { status: 'failed', 'error-desc': 'boom' }, peakMbps: 0, peakDirtyRate: 0, hostMs: 5 } }, { memcpyMiBps: 1, tcpMiBps: 1 });
  assert.equal(failed[HEADER.indexOf('status')], 'failed: boom');
  assert.equal(failed[HEADER.indexOf('verify')], '–');
});

test('the switch-over timeline lines up both sides from the source\'s freeze', () => {
  const src = parseTrace([
    'cuju: something else',
    'cuju-trace 1000.000 migrate:start',
    'cuju-trace 1100.000 send-ram:end pass=0',
    'cuju-trace 1200.000 freeze:start',
    'cuju-trace 1201.500 freeze:end',
    'cuju-trace 1230.000 line-received started',
  ].join('\n'), 'src');
  const dst = parseTrace('cuju-trace 1050.000 incoming:start\ncuju-trace 1220.250 incoming:vcpus-running\n', 'dst');
  assert.equal(src.length, 5);
  assert.deepEqual(switchOverTimeline(src, dst), [
    'pre-copy: 1 passes in 200.0 ms before the freeze',
    '+    0.000 ms  src  freeze:start',
    '+    1.500 ms  src  freeze:end',
    '+   20.250 ms  dst  incoming:vcpus-running',
    '+   30.000 ms  src  line-received  started',
  ]);
  assert.deepEqual(switchOverTimeline([], dst), ['(no trace events: was the trace preload loaded?)']);
});
