/**
 * The heartbeat's settings on an FtController (what `cuju-set-heartbeat` and
 * `-ft-heartbeat` reach) and how `info ft` / `query-ft` show them; no KVM needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FtController } from '../../../src/ft/controller.js';
import { DEFAULT_HEARTBEAT, PeerWatch, stallThresholdMs } from '../../../src/ft/heartbeat.js';
import { formatInfoFt, toQmpFtInfo } from '../../../src/ft/status.js';
import { MonitorCommandError } from '../../../src/monitor/errors.js';
import type { VmControl } from '../../../src/vm/control.js';
import { BackupVm, backupResources, NoDisks } from './ft-machines.js';

const controller = (heartbeat?: { periodMs: number; timeoutMs: number }) =>
  new FtController(new BackupVm() as unknown as VmControl, () => {}, { ...backupResources(new NoDisks()), heartbeat });

test('defaults 50 ms / 500 ms; -ft-heartbeat settings are taken; cuju-set-heartbeat changes them', () => {
  assert.deepEqual(controller().stats.liveness.heartbeat, DEFAULT_HEARTBEAT);
  const c = controller({ periodMs: 20, timeoutMs: 300 });
  assert.deepEqual(c.stats.liveness.heartbeat, { periodMs: 20, timeoutMs: 300 });
  c.setHeartbeat(5, 50);
  assert.deepEqual(c.stats.liveness.heartbeat, { periodMs: 5, timeoutMs: 50 });
});

test('cuju-set-heartbeat refuses bad values with one line, keeping the old settings', () => {
  const c = controller();
  const refused = (p: number, t: number, re: RegExp) => assert.throws(() => c.setHeartbeat(p, t), (e: unknown) => e instanceof MonitorCommandError && re.test(e.message) && !e.message.includes('\n'));
  refused(0, 100, /^the heartbeat period must be 1 ms to 10 s \(got 0 ms\)$/);
  refused(20_000, 100_000, /period must be 1 ms to 10 s/);
  refused(10, 15, /^the heartbeat timeout \(15 ms\) must be at least 2 periods \(20 ms\): one late heartbeat is not a lost peer$/);
  refused(10, 700_000, /timeout must be at most 600 s/);
  refused(Number.NaN, 100, /period must be/);
  assert.deepEqual(c.stats.liveness.heartbeat, DEFAULT_HEARTBEAT);
});

test('info ft and query-ft show the heartbeat and when the peer was last heard', () => {
  const c = controller();
  c.stats.role = 'backup';
  c.stats.state = 'protected';
  assert.match(formatInfoFt(c.stats), /\nheartbeat: every 50 ms, timeout 500 ms; nothing heard from the primary yet\n/);
  assert.deepEqual(Object.entries(toQmpFtInfo(c.stats)).filter(([k]) => k.includes('heard') || k.startsWith('heartbeat')), [['heartbeat-period-ms', 50], ['heartbeat-timeout-ms', 500]]);
  c.stats.liveness.lastHeardAt = performance.now() - 42;
  assert.match(formatInfoFt(c.stats), /; last heard from the primary 4\d ms ago\n/);
  assert.ok(Math.abs((toQmpFtInfo(c.stats)['last-heard-ms-ago'] as number) - 42) < 10);
});

test('a PeerWatch stops after its verdict and can be stopped before; its own stall threshold is period + timeout/2', async () => {
  assert.equal(stallThresholdMs({ periodMs: 10, timeoutMs: 100 }), 60);
  const live = { heartbeat: { periodMs: 2, timeoutMs: 10 } };
  const verdicts: string[] = [];
  let beats = 0;
  const w = new PeerWatch(live, 'backup');
  w.start({ beat: () => beats++, silent: (why) => verdicts.push(why) });
  w.setWaiting(true);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(verdicts, ['no heartbeat from the backup for 10 ms']);
  const beatsAtVerdict = beats;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(beats, beatsAtVerdict, 'no beats after the verdict');
  // Not waiting for the peer (busy applying an epoch): no verdict, however long.
  const idle = new PeerWatch(live, 'primary');
  const none: string[] = [];
  idle.start({ beat: () => {}, silent: (why) => none.push(why) });
  await new Promise((r) => setTimeout(r, 60));
  idle.stop();
  assert.deepEqual(none, []);
});
