/**
 * Heartbeats on the FT channel (src/ft/heartbeat.ts, channel.ts) over real loopback
 * connections: a link that goes silent without any close is detected on both sides
 * within the timeout plus one period (with loose bounds: the machine is shared); an idle
 * channel stays up on heartbeats alone; a big epoch on a slow link counts as life while
 * it flows (no heartbeat has to overtake it); a stall of this process's own event loop
 * does not blame the peer; settings changed at run time apply to the running channel.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { backupChannel, openChannel, primaryChannel } from '../../../src/ft/channel.js';
import { newLiveness, type HeartbeatSettings } from '../../../src/ft/heartbeat.js';
import { epoch, MACHINE, RAM_PAGES } from '../wire/fixtures.js';
import { silentLink } from './silent-link.js';

const HB: HeartbeatSettings = { periodMs: 10, timeoutMs: 100 };
/** Slack for a loaded 2-core machine; the bounds are about the mechanism, not the scheduler. */
const SLACK_MS = 150;

async function openPair(t: TestContext, hb = HB, link: { forwardBytesPerSecond?: number } = {}) {
  const l = await silentLink(link);
  t.after(() => l.close());
  const primaryLive = newLiveness(hb);
  const backupLive = newLiveness(hb);
  const [p, b] = await Promise.all([
    openChannel(l.client, new Uint8Array(0), 'primary', MACHINE, 5000, 0, { liveness: primaryLive }),
    openChannel(l.server, new Uint8Array(0), 'backup', MACHINE, 5000, 0, { liveness: backupLive }),
  ]);
  const primary = primaryChannel(l.client, p);
  const backup = backupChannel(l.server, b);
  const closed: { why: string; at: number }[] = [];
  primary.onClose((why) => closed.push({ why, at: performance.now() }));
  t.after(() => { primary.close(); backup.close(); });
  return { link: l, primary, backup, closed, primaryLive, backupLive, p, b };
}

test('a link gone silent (no FIN, no RST): both sides detect it within timeout + one period', async (t) => {
  const { link, primary, backup, closed } = await openPair(t);
  for (let n = 1; n <= 3; n++) {
    await primary.sendEpoch(epoch(n, [1, 2, 3]));
    const m = await backup.next();
    assert.equal(m.type === 'epoch' && m.epoch.epoch, n);
    backup.sendAck(n);
  }
  await sleep(50);
  // The backup is waiting for the next epoch when the link goes silent.
  const waiting = backup.next().then(() => { throw new Error('no message can arrive'); }, (e: Error) => ({ e, at: performance.now() }));
  const t0 = link.silence();
  const lost = await waiting;
  const backupMs = lost.at - t0;
  assert.equal(lost.e.message, 'no heartbeat from the primary for 100 ms');
  await (async () => { while (closed.length === 0) await sleep(2); })();
  const primaryMs = closed[0].at - t0;
  assert.equal(closed[0].why, 'no heartbeat from the backup for 100 ms');
  t.diagnostic(`detection after the link went silent: backup ${backupMs.toFixed(1)} ms, primary ${primaryMs.toFixed(1)} ms (timeout ${HB.timeoutMs} ms, period ${HB.periodMs} ms)`);
  // The last bytes may have crossed up to one period before the silence began.
  for (const [who, ms] of [['backup', backupMs], ['primary', primaryMs]] as const) {
    assert.ok(ms >= HB.timeoutMs - HB.periodMs - 2, `the ${who} declared the peer lost after ${ms.toFixed(1)} ms, before the timeout`);
    assert.ok(ms <= HB.timeoutMs + HB.periodMs + SLACK_MS, `the ${who} took ${ms.toFixed(1)} ms to notice`);
  }
  // Later calls fail the same way (FtBackup stops at the first).
  await assert.rejects(backup.next(), /no heartbeat from the primary for 100 ms/);
});

test('an idle channel stays up on heartbeats alone, for many timeouts', async (t) => {
  const { backup, closed, primaryLive, backupLive } = await openPair(t);
  let failed: Error | undefined;
  backup.next().catch((e: Error) => { failed = e; });
  await sleep(8 * HB.timeoutMs);
  assert.equal(failed, undefined, `the backup gave up: ${failed?.message}`);
  assert.deepEqual(closed, []);
  const now = performance.now();
  assert.ok(now - backupLive.lastHeardAt! < HB.timeoutMs, 'the backup heard the primary recently');
  assert.ok(now - primaryLive.lastHeardAt! < HB.timeoutMs, 'the primary heard the backup recently');
});

test('a big epoch on a slow link is life while its bytes flow', async (t) => {
  // 1 MiB of epochs at 2 MiB/s: half a second on the wire, five heartbeat timeouts.
  const { primary, backup, closed } = await openPair(t, HB, { forwardBytesPerSecond: 2 * 1024 * 1024 });
  const all = Array.from({ length: RAM_PAGES }, (_, i) => i);
  const t0 = performance.now();
  const sent = [1, 2, 3, 4].map((n) => primary.sendEpoch(epoch(n, all)));
  for (let n = 1; n <= 4; n++) {
    const m = await backup.next();
    assert.equal(m.type === 'epoch' && m.epoch.epoch, n);
    backup.sendAck(n);
  }
  await Promise.all(sent);
  const ms = performance.now() - t0;
  assert.ok(ms > 3 * HB.timeoutMs, `the epochs took ${ms.toFixed(0)} ms: the link must be slower than the timeout for this test to mean anything`);
  assert.deepEqual(closed, [], 'the primary kept its backup');
});

test('no heartbeat is queued behind epochs the socket has not taken yet', async (t) => {
  const { primary, backup, closed, p } = await openPair(t);
  const all = Array.from({ length: RAM_PAGES }, (_, i) => i);
  // 30 MiB of epochs while the backup does not read: far more than loopback socket buffers hold (~10 MiB).
  const EPOCHS = 120;
  const before = p.writer.sent;
  const sent = Array.from({ length: EPOCHS }, (_, i) => primary.sendEpoch(epoch(i + 1, all)));
  await sleep(3 * HB.timeoutMs);
  assert.ok(p.writer.queuedBytes > 0, 'the epochs are still queued on the socket');
  assert.equal(p.writer.sent - before, EPOCHS, 'only the epochs were sent meanwhile, no heartbeat');
  assert.deepEqual(closed, [], 'a backup that is busy (not reading) but sends heartbeats is not lost');
  for (let n = 1; n <= EPOCHS; n++) {
    const m = await backup.next();
    assert.equal(m.type === 'epoch' && m.epoch.epoch, n);
  }
  await Promise.all(sent);
});

test('this process\'s own stall (event loop blocked for 4 timeouts) does not blame the peer', async (t) => {
  const { backup, closed, p, b } = await openPair(t);
  let failed: Error | undefined;
  backup.next().catch((e: Error) => { failed = e; });
  await sleep(3 * HB.periodMs);
  // Both ends live in this process: a blocked loop is each side's own stall (as a
  // SIGSTOPped VMM that resumes). Neither read nor sent for 400 ms.
  const until = performance.now() + 4 * HB.timeoutMs;
  while (performance.now() < until) { /* blocked */ }
  await sleep(3 * HB.timeoutMs);
  assert.equal(failed, undefined, `the backup blamed the primary: ${failed?.message}`);
  assert.deepEqual(closed, [], 'the primary blamed the backup');
  assert.ok(p.watch.stalls >= 1 && b.watch.stalls >= 1, 'both watches saw their own stall');
});

test('settings changed at run time apply to the running channel', async (t) => {
  const slow = { periodMs: 50, timeoutMs: 1000 };
  const { link, backup, backupLive, primaryLive } = await openPair(t, slow);
  const waiting = backup.next().then(() => undefined, (e: Error) => ({ e, at: performance.now() }));
  await sleep(60);
  // As cuju-set-heartbeat does (FtController.setHeartbeat replaces the settings object).
  backupLive.heartbeat = { periodMs: 5, timeoutMs: 40 };
  primaryLive.heartbeat = { periodMs: 5, timeoutMs: 40 };
  await sleep(3 * slow.periodMs);
  const t0 = link.silence();
  const lost = await waiting;
  assert.ok(lost, 'the backup noticed');
  assert.equal(lost.e.message, 'no heartbeat from the primary for 40 ms');
  assert.ok(lost.at - t0 < 40 + 5 + SLACK_MS, `noticed after ${(lost.at - t0).toFixed(1)} ms with a 40 ms timeout`);
});
