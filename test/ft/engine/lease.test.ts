/**
 * Split brain between two tiny real KVM machines in this process, both using one lease
 * file (src/ft/lease), decided by contention (docs/ARCHITECTURE.md, "Split brain"):
 * - a primary that dies (kill -9: it never writes the lease again, its connection
 *   closes): the backup wins the contention at once and takes over, far inside the ttl;
 *   the primary, should it run again, loses, is fenced and never emitted anything unacked;
 * - partitioned pair (the FT connection is cut, both sides live and contend): exactly one
 *   side wins and runs the VM and lets output out, the other stands down or is fenced;
 * - a primary whose lease does not answer when it lost its backup: its held output stays
 *   held and it retries until the lease answers, then it wins and releases it;
 * - wrong set-ups refuse protection: a lease that cannot be reached, or a backup that
 *   does not name the same lease.
 * Durations are asserted against bounds (far below the ttl), never exact values.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmSystem } from '../../../src/kvm/system.js';
import { FtStoodDownError } from '../../../src/ft/controller.js';
import { FileLeaseStore } from '../../../src/ft/lease/file-lease-store.js';
import { FtLease } from '../../../src/ft/lease/ft-lease.js';
import type { LeaseStore } from '../../../src/ft/lease/lease-store.js';
import { formatInfoFt, toQmpFtInfo } from '../../../src/ft/status.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { until } from '../../migration/harness.js';
import { FreezableStore } from '../lease/freezable-store.js';
import { assertPrimaryRunsOnUnprotected, assertTookOver, openPair, protect, untilAcked, type FtPair } from './ft-pair.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 90_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

/** A default-sized ttl: a takeover must not depend on it (the old protocol waited ttl + ttl/4). */
const TTL = 5000;

interface LeasedPair {
  pair: FtPair;
  primaryLease: FtLease;
  backupLease: FtLease;
  path: string;
  log: string[];
  done(): Promise<void>;
}

async function leasedPair(stores: { primary?: (path: string) => LeaseStore; backup?: (path: string) => LeaseStore } = {}): Promise<LeasedPair> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ft-lease-'));
  const path = join(dir, 'vm.lease');
  const log: string[] = [];
  const pair = await openPair(kvm!);
  const primaryLease = new FtLease(stores.primary?.(path) ?? new FileLeaseStore(path), { ttlMs: TTL, log: (l) => log.push(`primary: ${l}`) });
  const backupLease = new FtLease(stores.backup?.(path) ?? new FileLeaseStore(path), { ttlMs: TTL, log: (l) => log.push(`backup: ${l}`) });
  pair.primaryFt.useLease(primaryLease, [pair.gate]);
  pair.backupFt.useLease(backupLease, []);
  return {
    pair, primaryLease, backupLease, path, log,
    async done() {
      primaryLease.stop();
      backupLease.stop();
      await pair.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Protected, and the backup's pairing confirmed (the primary released epochs after it read the token). */
async function protectConfirmed(pair: FtPair): Promise<number> {
  await protect(pair, 'outgoing');
  await untilAcked(pair, 5);
  // From here on every packet the guest sends is tagged with an epoch while protected.
  return pair.sentPackets();
}

/**
 * What a VMM that lost the contention emitted after the loss: only packets of epochs the
 * backup acknowledged (<= the epoch it took over at). Packets produced unprotected after
 * the loss (epoch -1, later than `protectedFrom`) must never appear.
 */
function assertEmittedOnlyAcked(pair: FtPair, protectedFrom: number, takeoverEpoch: number, what: string): void {
  const bad = pair.net.seen().filter((seq) => {
    if (seq <= protectedFrom) return false;
    const epoch = pair.net.epochOf.get(seq) ?? -1;
    return epoch < 1 || epoch > takeoverEpoch;
  });
  assert.deepEqual(bad.slice(0, 10), [], `${what}: emitted packets the backup never acknowledged (epochs: ${bad.slice(0, 10).map((s) => pair.net.epochOf.get(s)).join(', ')})`);
  assert.deepEqual(pair.net.early, [], `${what}: packets emitted before their epoch was acknowledged`);
}

test('the primary dies: the backup wins the lease at once and takes over far inside the ttl; the primary, running again, is fenced and emitted nothing unacknowledged', opts, async (t) => {
  let store!: FreezableStore;
  const { pair, primaryLease, backupLease, done } = await leasedPair({ primary: (path) => (store = new FreezableStore(new FileLeaseStore(path))) });
  try {
    const protectedFrom = await protectConfirmed(pair);
    assert.equal(primaryLease.state, 'held');
    assert.equal(primaryLease.alone, false, 'protected: the record says the primary does not run alone');
    const T = primaryLease.token!;
    assert.equal(T, 2, 'the lease was created with token 1, the pairing took token 2');
    const fencedEvents: unknown[] = [];
    pair.primary.on('CUJU_FT_FENCED', (d: unknown) => fencedEvents.push(d));
    let wonAt: number | undefined;
    backupLease.once('renewed', () => { wonAt = performance.now(); });

    // kill -9: the primary never writes the lease again and its connection closes.
    store.freeze();
    const killedAt = performance.now();
    pair.primarySocket!.destroy();
    const epoch = await assertTookOver(pair, 'dead primary');
    assert.ok(wonAt, 'the backup won the lease before taking over');
    const took = wonAt - killedAt;
    t.diagnostic(`backup won the lease ${took.toFixed(1)} ms after the primary's connection closed (ttl ${TTL} ms)`);
    assert.ok(took < TTL / 2, `the backup took ${took} ms to win, not far below the ttl of ${TTL} ms`);
    assert.equal(backupLease.token, T + 1);
    assert.equal(backupLease.alone, true);
    assert.equal(pair.backupFt.stats.state, 'active');
    const backupInfo = toQmpFtInfo(pair.backupFt.stats).lease as Record<string, unknown>;
    assert.deepEqual(backupInfo['last-contention'], { role: 'backup', won: true, token: T + 1, holder: backupLease.holder });

    // The dead primary's output: nothing unacknowledged went out while it was "dead".
    await sleep(200);
    assert.ok(pair.gate.holdStats().heldPackets > 0, 'the lost primary holds what it produced');
    assertEmittedOnlyAcked(pair, protectedFrom, epoch, 'dead primary');

    // It runs again (kill was a freeze after all): its contention finds token 3: fenced, paused.
    store.unfreeze();
    await until(() => pair.primaryFt.stats.state === 'fenced' && pair.primary.runState() === 'paused', 'the primary to be fenced and paused', 20_000);
    assert.deepEqual(fencedEvents, [{ token: T + 1, holder: backupLease.holder, 'own-token': T }]);
    assert.match(pair.primaryFt.stats.reason ?? '', /^fenced: the lease file .* now has fencing token 3 held by .* \(this VMM had token 2\)$/);
    assert.match(formatInfoFt(pair.primaryFt.stats), /state: fenced/);
    assert.match(formatInfoFt(pair.primaryFt.stats), /fencing token 3, alone; here fenced/);
    const produced = pair.sentPackets();
    await sleep(300);
    assert.ok(pair.sentPackets() > produced, 'traffic still arrives at the gate');
    assertEmittedOnlyAcked(pair, protectedFrom, epoch, 'fenced primary');
  } finally {
    await done();
  }
});

test('partitioned pair: both live and contend; exactly one runs the VM and lets output out', opts, async (t) => {
  const { pair, primaryLease, backupLease, done } = await leasedPair();
  try {
    const protectedFrom = await protectConfirmed(pair);
    assert.match(formatInfoFt(pair.primaryFt.stats), /\nlease: the lease file .*vm\.lease \(id [0-9a-f]{16}\): held by this VMM \(primary\), fencing token 2, protected; here held, valid; ttl 5000 ms\n/);
    const cutAt = performance.now();
    pair.primarySocket!.destroy(); // the partition: the FT connection is gone, both sides live on
    await until(() => pair.backupResult !== undefined, 'the backup to decide', 30_000);
    const decided = performance.now() - cutAt;
    t.diagnostic(`decided ${decided.toFixed(1)} ms after the cut; winner: ${pair.backupResult!.error ? 'primary' : 'backup'}`);
    if (pair.backupResult!.error) {
      // The primary won: the backup stood down, the primary runs on and everything it held went out.
      assert.ok(pair.backupResult!.error instanceof FtStoodDownError, `the backup stood down (got ${pair.backupResult!.error.message})`);
      assert.match(pair.cancelled[0] ?? '', /^primary lost: .*, but the primary .* declared it runs on alone \(it won the lease file .*, token 2\); this backup stands down$/);
      assert.equal(pair.backup.started, false, 'the backup never ran the VM');
      assert.deepEqual(pair.backupVm.events.filter((e) => e.name === 'CUJU_FT_FAILOVER'), []);
      await assertPrimaryRunsOnUnprotected(pair, 'partition: the primary');
      assert.equal(primaryLease.alone, true);
      const lease = toQmpFtInfo(pair.primaryFt.stats).lease as Record<string, unknown>;
      assert.equal(lease.token, 2);
      assert.equal(lease.alone, true);
      assert.deepEqual(lease['last-contention'], { role: 'primary', won: true, token: 2, holder: primaryLease.holder });
    } else {
      // The backup won: it took over; the primary is fenced, paused, and let out nothing unacknowledged.
      const epoch = await assertTookOver(pair, 'partition: the backup');
      await until(() => pair.primaryFt.stats.state === 'fenced' && pair.primary.runState() === 'paused', 'the primary to be fenced', 20_000);
      await sleep(200);
      assertEmittedOnlyAcked(pair, protectedFrom, epoch, 'partition: the fenced primary');
      assert.equal(backupLease.token, 3);
    }
  } finally {
    await done();
  }
});

test('a primary whose lease does not answer after losing its backup holds its output and retries; once the lease answers it wins and releases it', opts, async () => {
  let pStore!: FreezableStore;
  let bStore!: FreezableStore;
  const { pair, primaryLease, done } = await leasedPair({
    primary: (path) => (pStore = new FreezableStore(new FileLeaseStore(path))),
    backup: (path) => (bStore = new FreezableStore(new FileLeaseStore(path))),
  });
  try {
    await protectConfirmed(pair);
    pStore.freeze();
    bStore.freeze(); // the shared storage is gone for both
    pair.primarySocket!.destroy();
    await until(() => pair.primaryFt.stats.state === 'unprotected', 'the primary to notice');
    const emitted = pair.net.sent.length;
    await sleep(500);
    assert.equal(pair.net.sent.length, emitted, 'nothing went out while the lease did not answer');
    assert.ok(pair.gate.holdStats().heldPackets > 0);
    assert.equal(primaryLease.mayEmit(false), false);
    pStore.unfreeze(); // the primary reaches the lease again first
    await until(() => primaryLease.alone, 'the primary to win', 20_000);
    await assertPrimaryRunsOnUnprotected(pair, 'the primary after the lease answered');
    bStore.unfreeze(); // the backup's retries now find the primary running alone: it stands down
    await until(() => pair.backupResult !== undefined, 'the backup to decide', 30_000);
    assert.ok(pair.backupResult!.error instanceof FtStoodDownError, pair.backupResult!.error?.message);
    assert.equal(pair.backup.started, false);
  } finally {
    await done();
  }
});

test('a lease that cannot be reached refuses protection: the VM runs on as before, the backup does not take over', opts, async () => {
  const pair = await openPair(kvm!);
  const lease = new FtLease(new FileLeaseStore('/nonexistent-cuju-folder/vm.lease'), { ttlMs: TTL });
  pair.primaryFt.useLease(lease, [pair.gate]);
  try {
    await assert.rejects(protect(pair, 'outgoing'), /fault tolerance could not start: the lease file \/nonexistent-cuju-folder\/vm\.lease cannot be opened for writing: its folder \/nonexistent-cuju-folder does not exist/);
    await until(() => pair.backupResult !== undefined, 'the backup to give up');
    assert.ok(pair.backupResult!.error, 'the backup did not take over');
    assert.equal(pair.backup.started, false);
    assert.equal(pair.primary.runState(), 'running');
  } finally {
    await pair.close();
  }
});

test('primary and backup must name the same lease', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ft-lease-'));
  const pair = await openPair(kvm!);
  const lease = new FtLease(new FileLeaseStore(join(dir, 'a.lease')), { ttlMs: TTL });
  pair.primaryFt.useLease(lease, [pair.gate]);
  // Stopped at the end too: a lease still at work writes into `dir` while it is removed.
  const backupLease = new FtLease(new FileLeaseStore(join(dir, 'b.lease')), { ttlMs: TTL });
  pair.backupFt.useLease(backupLease, []);
  try {
    await assert.rejects(protect(pair, 'outgoing'), /FT split-brain lease mismatch: the backup's VM has no split-brain lease, this primary's lease id [0-9a-f]{16} \(give both sides -ft-lease naming the same lease file, or neither\)/);
    await until(() => pair.backupResult !== undefined, 'the backup to give up');
    assert.match(pair.backupResult!.error?.message ?? '', /split-brain lease mismatch/);
    assert.equal(pair.backup.started, false);
  } finally {
    lease.stop();
    backupLease.stop();
    await pair.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
