/**
 * Fault tolerance between two tiny real KVM machines in this process (ft-pair.ts):
 * `migrate` with the cuju-ft capability protects a RAM-dirtying guest; epochs flow
 * and are applied on the backup while its vCPU never runs; the guest's packets reach
 * the world only after the backup acknowledged their epoch; cuju-migrate-cancel makes
 * the backup exit (FtCancelledError) while the primary runs on with state 'off'; and
 * losing the backup leaves the primary running unprotected with its output released.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../../src/kvm/system.js';
import { FtCancelledError } from '../../../src/ft/controller.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { assertCounterAdvances, until } from '../../migration/harness.js';
import { assertPrimaryRunsOnUnprotected, assertTookOver, openPair, protect, untilAcked } from './ft-pair.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 60_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

test('cuju-ft: epochs reach the paused backup, output waits for ACKs; cuju-migrate-cancel: the backup exits, the primary runs on (off)', opts, async () => {
  const pair = await openPair(kvm!);
  try {
    await protect(pair, 'controller');
    const { primary, primaryFt, backup, backupFt, backupVm, gate, net } = pair;
    await untilAcked(pair, 1);
    const backupCounterEarly = backup.counter;
    await untilAcked(pair, 20);

    // The backup applies epochs: its RAM moves on although its vCPU never ran.
    assert.equal(backupFt.stats.role, 'backup');
    assert.equal(backupFt.stats.state, 'protected');
    assert.ok(backupFt.stats.ackedEpoch >= 20);
    assert.equal(backup.started, false);
    assert.equal(backup.resumedVcpus, 0, 'the backup vCPU never ran');
    assert.ok(backup.counter > backupCounterEarly, `the backup's RAM follows the primary (${backupCounterEarly} → ${backup.counter})`);
    assert.deepEqual(backupVm.events.map((e) => e.name), ['CUJU_FT_STARTED']);

    // The primary: protected, pausing briefly each epoch, holding output until ACKs.
    assert.equal(primaryFt.stats.role, 'primary');
    assert.ok(primaryFt.stats.totalEpochs >= 20);
    assert.ok(primaryFt.stats.lastEpochDirtyPages > 0, 'epochs carry the pages the guest dirties');
    assert.ok(primaryFt.stats.epochsInFlight <= 4);
    const hold = gate.holdStats();
    assert.equal(hold.mode, 'hold');
    assert.ok(hold.totalHeldPackets > 0 && hold.totalReleasedPackets > 0, `packets were held and released (${hold.totalHeldPackets} / ${hold.totalReleasedPackets})`);
    assert.ok(net.seen().length < pair.sentPackets(), 'the packets of unacknowledged epochs are still held');
    assert.deepEqual(net.early, [], 'packets seen before their epoch was acknowledged');

    await primaryFt.cancel();
    assert.equal(primaryFt.stats.state, 'off');
    assert.equal(primaryFt.primary, undefined);
    await until(() => pair.backupResult !== undefined, 'the backup to stop');
    assert.ok(pair.backupResult?.error instanceof FtCancelledError, `runBackup rejected with ${pair.backupResult?.error}`);
    assert.match(pair.backupResult.error.message, /the primary stopped protecting the VM \(protection cancelled on the primary\)/);
    await until(() => pair.cancelled.length === 1, 'the listener to hear of the cancel');
    assert.equal(backupFt.stats.state, 'off');
    assert.equal(backup.started, false, 'the backup never ran the VM');
    assert.equal(backup.board, undefined, 'the backup discarded its copy');
    assert.ok(!backupVm.events.some((e) => e.name === 'CUJU_FT_FAILOVER'), 'no failover');

    // The primary runs on, unprotected and unhindered.
    assert.equal(primary.runState(), 'running');
    await assertCounterAdvances(() => primary.counter, 'the primary after cancel');
    assert.ok(primary.trackers.every((t) => !t.isTracking), 'dirty logging is off');
    assert.equal(gate.mode, 'pass');
    const sent = pair.sentPackets();
    await until(() => net.seen().length >= sent, 'the held packets to be released');
    assert.deepEqual(net.seen().slice(0, sent), Array.from({ length: sent }, (_, i) => i + 1));
    assert.deepEqual(primary.stops, []);
  } finally {
    await pair.close();
  }
});

test('cuju-migrate-cancel while megabytes of epochs are still on their way: the backup still exits, it never fails over', opts, async () => {
  // The proxy holds the FT channel for a while: epochs pile up in the socket buffers.
  const pair = await openPair(kvm!, { at: { direction: 'stream', part: 'commands', offset: 1_500_000 }, action: { kind: 'stall', ms: 300 } });
  try {
    // 300 ms of silence is a lost primary under the default heartbeat (100 ms), and the
    // backup would rightly fail over; this test is about CANCEL behind queued epochs.
    pair.backupFt.setHeartbeat(10, 5000);
    pair.primaryFt.setHeartbeat(10, 5000);
    await protect(pair, 'controller');
    await until(() => pair.proxy!.fired, 'the stall to begin', 20_000);
    await pair.primaryFt.cancel();
    assert.equal(pair.primaryFt.stats.state, 'off', pair.primaryFt.stats.reason);
    await until(() => pair.backupResult !== undefined, 'the backup to stop', 20_000);
    assert.ok(pair.backupResult?.error instanceof FtCancelledError, `the backup exits on CANCEL (it ended with: ${pair.backupResult?.error?.message ?? 'a failover'}; ${pair.backupFt.stats.reason ?? ''})`);
    assert.ok(!pair.backupVm.events.some((e) => e.name === 'CUJU_FT_FAILOVER'), 'no failover: two VMs would run');
    assert.equal(pair.backup.started, false);
    await assertCounterAdvances(() => pair.primary.counter, 'the primary after cancel');
  } finally {
    await pair.close();
  }
});

test('backup lost: the primary runs on unprotected, releases its held output, and says so', opts, async () => {
  const pair = await openPair(kvm!);
  try {
    const peerLost: unknown[] = [];
    pair.primary.on('CUJU_FT_PEER_LOST', (e: unknown) => peerLost.push(e));
    await protect(pair, 'controller');
    await untilAcked(pair, 5);
    assert.ok(pair.gate.holdStats().heldPackets > 0 || pair.net.seen().length < pair.sentPackets(), 'output is held before the loss');
    pair.backupSocket!.resetAndDestroy();
    await assertPrimaryRunsOnUnprotected(pair, 'backup lost');
    assert.equal(peerLost.length, 1);
    assert.equal((peerLost[0] as { role: string }).role, 'primary');
    // From now on packets pass straight through.
    const before = pair.net.seen().length;
    await until(() => pair.net.seen().length > before + 5, 'packets to pass unheld');
  } finally {
    await pair.close();
  }
});

test('cuju-failover on the backup: it takes over at once, at its last committed epoch; the primary loses its backup', opts, async () => {
  const pair = await openPair(kvm!);
  try {
    await protect(pair, 'controller');
    await untilAcked(pair, 8);
    pair.backupFt.failover();
    const epoch = await assertTookOver(pair, 'cuju-failover');
    assert.ok(epoch >= 8);
    assert.match(pair.backupFt.stats.reason ?? '', /failover requested on the monitor/);
    assert.throws(() => pair.backupFt.failover(), /already taken over/);
    await assertPrimaryRunsOnUnprotected(pair, 'cuju-failover: the primary');
  } finally {
    await pair.close();
  }
});
