/**
 * Heartbeats and -ft-key between two tiny real KVM machines (ft-pair.ts):
 * - the FT link goes silent mid-stream (the fault proxy partitions it: nothing passes,
 *   no FIN, no RST): the backup takes over by heartbeat timeout at its last acknowledged
 *   epoch, and the primary runs on unprotected with its output released;
 * - a tight heartbeat (5 ms, timeout 50 ms) survives seconds of epochs of a guest that
 *   dirties pages as fast as it can: no false detection from the primary's own pauses;
 * - with the same -ft-key on both sides, the authenticated pair protects and fails over.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmSystem } from '../../../src/kvm/system.js';
import { formatInfoFt, toQmpFtInfo } from '../../../src/ft/status.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { until } from '../../migration/harness.js';
import { assertPrimaryRunsOnUnprotected, assertTookOver, openPair, protect, untilAcked } from './ft-pair.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 60_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

test('the FT link goes silent (partition, no close): the backup takes over by heartbeat timeout, the primary runs on unprotected', opts, async (t) => {
  // 400 KB into the FT channel: a few epochs in, mid-epoch.
  const pair = await openPair(kvm!, { at: { direction: 'stream', part: 'commands', offset: 400_000 }, action: { kind: 'partition' } });
  try {
    // Tighter than the default (50 ms / 500 ms): the bounds below are about the mechanism.
    pair.primaryFt.setHeartbeat(10, 100);
    pair.backupFt.setHeartbeat(10, 100);
    await protect(pair, 'outgoing');
    await until(() => pair.proxy!.fired, 'the partition', 20_000);
    const t0 = performance.now();
    await until(() => pair.backupResult !== undefined, 'the backup to notice', 5_000);
    const backupMs = performance.now() - t0;
    await until(() => pair.primaryFt.stats.state !== 'protected', 'the primary to notice', 5_000);
    const primaryMs = performance.now() - t0;
    t.diagnostic(`partition noticed (and taken over) by the backup after ${backupMs.toFixed(0)} ms, by the primary after ${primaryMs.toFixed(0)} ms (timeout 100 ms)`);
    await assertTookOver(pair, 'silent link');
    assert.equal(pair.backupFt.stats.reason, 'primary lost: no heartbeat from the primary for 100 ms');
    assert.match(pair.primaryFt.stats.reason ?? '', /^backup lost: no heartbeat from the backup for 100 ms/);
    await assertPrimaryRunsOnUnprotected(pair, 'silent link: the primary');
    // Loose: the mechanism promises timeout + one period; the rest is a loaded machine.
    assert.ok(backupMs < 100 + 10 + 400, `the backup took ${backupMs.toFixed(0)} ms`);
    assert.ok(primaryMs < 100 + 10 + 400, `the primary took ${primaryMs.toFixed(0)} ms`);
  } finally {
    await pair.close();
  }
});

test('a tight heartbeat (5 ms, timeout 50 ms) survives seconds of epochs of a busy guest: no false detection', opts, async (t) => {
  const pair = await openPair(kvm!);
  try {
    pair.primaryFt.setHeartbeat(5, 50);
    pair.backupFt.setHeartbeat(5, 50);
    await protect(pair, 'outgoing');
    await untilAcked(pair, 3);
    const from = pair.primaryFt.stats.ackedEpoch;
    await sleep(3000);
    const s = pair.primaryFt.stats;
    assert.equal(s.state, 'protected', s.reason);
    assert.equal(pair.backupResult, undefined, `the backup gave up: ${pair.backupResult?.error?.message ?? pair.backupFt.stats.reason}`);
    assert.equal(pair.backupFt.stats.state, 'protected');
    assert.ok(s.ackedEpoch > from + 20, `epochs went on (${from} → ${s.ackedEpoch})`);
    t.diagnostic(`${s.ackedEpoch - from} epochs in 3 s, pause p50 ${Math.round(s.pauseUs.percentile(50))} us, p99 ${Math.round(s.pauseUs.percentile(99))} us, no false detection`);
    // info ft / query-ft show the settings and a recent sign of life.
    assert.match(formatInfoFt(s), /\nheartbeat: every 5 ms, timeout 50 ms; last heard from the backup \d+ ms ago\n/);
    const q = toQmpFtInfo(pair.backupFt.stats);
    assert.equal(q['heartbeat-period-ms'], 5);
    assert.equal(q['heartbeat-timeout-ms'], 50);
    assert.ok((q['last-heard-ms-ago'] as number) < 50, `the backup last heard the primary ${String(q['last-heard-ms-ago'])} ms ago`);
  } finally {
    await pair.close();
  }
});

test('-ft-key on both sides: the pair authenticates, protects, and the backup takes over when the primary dies', opts, async () => {
  const pair = await openPair(kvm!, undefined, undefined, { key: randomBytes(32) });
  try {
    await protect(pair, 'outgoing');
    await untilAcked(pair, 5);
    pair.primarySocket!.destroy();
    await assertTookOver(pair, 'authenticated pair');
    await assertPrimaryRunsOnUnprotected(pair, 'authenticated pair: the primary');
  } finally {
    await pair.close();
  }
});
