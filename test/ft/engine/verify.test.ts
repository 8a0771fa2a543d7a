/**
 * FT verify mode between tiny real KVM machines (ft-node.ts): every N epochs the primary
 * hashes its RAM and device state at the epoch's boundary and the backup compares with
 * its own after applying that epoch. A guest dirtying RAM non-stop verifies clean epoch
 * after epoch; a byte changed in the backup's RAM behind the replication's back is
 * reported at the next verification (log, CUJU_FT_VERIFY_MISMATCH naming the epoch and
 * the page range, counters) on both sides.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../../src/kvm/system.js';
import { formatInfoFt, toQmpFtInfo } from '../../../src/ft/status.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { until } from '../../migration/harness.js';
import type { FtNode } from './ft-node.js';
import { backupNode, firstNode, migrateC } from './ft-chain.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 120_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

const EVERY = 5;
/** A page the sweep guest never writes (its code, counter and sweep area are at 1 MiB and up). */
const UNTOUCHED_GPA = 0x50000;

async function verifiedPair(): Promise<{ a: FtNode; b: FtNode; nodes: FtNode[] }> {
  const a = await firstNode(kvm!);
  a.ft.setVerifyEvery(EVERY);
  const b = await backupNode(kvm!, 'vmm1');
  await migrateC(a, b, { verify: true });
  return { a, b, nodes: [a, b] };
}

async function untilVerified(a: FtNode, n: number): Promise<void> {
  await until(() => a.ft.stats.verify.verifiedEpochs >= n, `${n} verified epochs (at ${a.ft.stats.verify.verifiedEpochs}, state ${a.ft.stats.state} ${a.ft.stats.reason ?? ''})`, 30_000);
}

test('verify: the backup matches the primary at every verified epoch while the guest dirties RAM', opts, async () => {
  const { a, b, nodes } = await verifiedPair();
  try {
    await untilVerified(a, 12);
    const v = a.ft.stats.verify;
    assert.equal(v.mismatches, 0, `mismatch: ${JSON.stringify(v.lastMismatch)}`);
    assert.equal(v.lastVerifiedEpoch % EVERY, 0, 'verified at multiples of the period');
    assert.ok(a.ft.stats.lastEpochDirtyPages > 0, 'the guest dirties pages every epoch');
    assert.ok(b.ft.stats.verify.verifiedEpochs >= 12 && b.ft.stats.verify.mismatches === 0, 'the backup counted them too');
    assert.deepEqual(a.eventsNamed('CUJU_FT_VERIFY_MISMATCH'), []);
    assert.deepEqual(b.eventsNamed('CUJU_FT_VERIFY_MISMATCH'), []);
    assert.equal(a.ft.stats.state, 'protected');
    assert.match(formatInfoFt(a.ft.stats), new RegExp(`verify: every ${EVERY} epochs, \\d+ verified \\(last epoch \\d+\\), 0 mismatches`));
    const q = toQmpFtInfo(a.ft.stats);
    assert.equal(q.verify, true);
    assert.ok((q['verified-epochs'] as number) >= 12);

    // cuju-verify-every 0 stops verifying; protection goes on.
    a.ft.setVerifyEvery(0);
    const stoppedAt = a.ft.stats.epoch;
    const count = a.ft.stats.verify.verifiedEpochs;
    await until(() => a.ft.stats.ackedEpoch >= stoppedAt + 3 * EVERY, 'more epochs');
    assert.ok(a.ft.stats.verify.verifiedEpochs <= count + 1, 'at most the verification in flight completes');
    assert.throws(() => a.ft.setVerifyEvery(-1), /0\.\.\d+ epochs/);
    await a.ft.cancel();
  } finally {
    for (const n of nodes.reverse()) n.destroy();
  }
});

test('verify: a byte changed in the backup\'s RAM behind its back is reported at the next verified epoch', opts, async () => {
  const { a, b, nodes } = await verifiedPair();
  try {
    await untilVerified(a, 2);
    assert.equal(a.ft.stats.verify.mismatches, 0);
    const ram = b.board!.mem.regions[0].bytes;
    const committed = b.ft.stats.epoch;
    ram[UNTOUCHED_GPA + 123] ^= 0x5a;

    await until(() => a.ft.stats.verify.mismatches >= 1, 'the primary to hear of the mismatch', 30_000);
    const [event] = a.eventsNamed('CUJU_FT_VERIFY_MISMATCH');
    assert.ok((event.epoch as number) > committed, `reported at epoch ${event.epoch}, after the change (backup at ${committed})`);
    assert.equal((event.epoch as number) % EVERY, 0);
    // 1 MiB chunks: the page lies in the first one, pages 0-255.
    assert.deepEqual(event.ram, [{ 'first-page': 0, pages: 256 }]);
    assert.equal(event.devices, false);
    assert.equal(event['ram-truncated'], false);
    assert.deepEqual(b.eventsNamed('CUJU_FT_VERIFY_MISMATCH')[0], event, 'the backup raised the same alarm');
    assert.ok(a.log.some((l) => l.includes(`VERIFY MISMATCH at epoch ${event.epoch as number}: the backup's guest RAM pages 0-255 differ`)), a.log.join('\n'));
    assert.match(formatInfoFt(a.ft.stats), new RegExp(`last mismatch at epoch ${event.epoch as number}: guest RAM pages 0-255`));
    assert.equal(a.ft.stats.state, 'protected', 'an alarm, not the end of protection');

    // Put the byte back: later verifications agree again.
    ram[UNTOUCHED_GPA + 123] ^= 0x5a;
    const mismatchedAt = a.ft.stats.verify.lastMismatch!.epoch;
    await until(() => a.ft.stats.verify.lastVerifiedEpoch >= mismatchedAt + 3 * EVERY, 'later verifications');
    assert.ok(a.ft.stats.verify.lastMismatch!.epoch < a.ft.stats.verify.lastVerifiedEpoch, 'the last verifications matched');
    await a.ft.cancel();
  } finally {
    for (const n of nodes.reverse()) n.destroy();
  }
});
