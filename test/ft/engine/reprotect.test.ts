/**
 * Re-protection between tiny real KVM machines in this process (ft-node.ts, ft-chain.ts):
 * a VM that took over by failover, or a primary whose backup was lost, pairs a fresh
 * backup with the same `migrate -c` while the guest keeps running, and protection
 * resumes: epochs restart from 1, the output gate holds again, and the next failover
 * again lands on exactly the last committed epoch. Repeated along a chain of VMMs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../../src/kvm/system.js';
import { formatInfoFt } from '../../../src/ft/status.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { MigrationController } from '../../../src/migration/controller.js';
import { assertCounterAdvances, freePort, until } from '../../migration/harness.js';
import type { FtNode } from './ft-node.js';
import { assertFreshlyProtected, backupNode, failOver, firstNode, migrateC, REPROTECT_HINT_RE, untilAcked } from './ft-chain.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 120_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

const ROUNDS = 3;

test(`primary → failover → new backup → failover ... (${ROUNDS} rounds): the guest carries on intact every time`, opts, async () => {
  const nodes: FtNode[] = [];
  try {
    nodes.push(await firstNode(kvm!));
    for (let round = 1; round <= ROUNDS; round++) {
      const primary = nodes[round - 1];
      const backup = await backupNode(kvm!, `vmm${round}`);
      nodes.push(backup);
      // Round 1 protects a VM that was never protected; later rounds the VM that took over.
      await migrateC(primary, backup);
      await assertFreshlyProtected(primary, backup, `round ${round}`);
      await untilAcked(primary, 10);
      const epoch = await failOver(primary, backup, round % 2 === 1 ? 'crash' : 'cuju-failover');
      assert.ok(epoch >= 10, `round ${round}: took over at ${epoch}, after ACK 10`);
      assert.equal(backup.ft.stats.epochUs, primary.ft.stats.epochUs, 'the VM keeps its epoch length');
    }
    // The last survivor runs on, unprotected, and would accept the next backup.
    const last = nodes.at(-1)!;
    assert.equal(last.ft.stats.state, 'active');
    assert.equal(last.gate.mode, 'pass');
    await assertCounterAdvances(() => last.counter, 'the last survivor');
  } finally {
    for (const n of nodes.reverse()) n.destroy();
  }
});

test('backup lost: the primary runs on unprotected, says how to re-protect, and the same migrate -c pairs a new backup', opts, async () => {
  const nodes: FtNode[] = [];
  try {
    const a = await firstNode(kvm!);
    nodes.push(a);
    const b = await backupNode(kvm!, 'vmm1');
    nodes.push(b);
    await migrateC(a, b);
    await untilAcked(a, 5);
    b.backupSocket!.resetAndDestroy();
    await until(() => a.ft.stats.state === 'unprotected', 'the primary to notice the loss');
    assert.match(a.ft.stats.reason ?? '', /backup lost/);
    assert.match(a.log.join('\n'), REPROTECT_HINT_RE);
    assert.match(formatInfoFt(a.ft.stats), REPROTECT_HINT_RE);
    assert.equal(a.gate.mode, 'pass', 'held output was released');
    await assertCounterAdvances(() => a.counter, 'the unprotected primary');
    // The lost backup saw its primary vanish too; in this test it is the one that dies.
    await until(() => b.backupResult !== undefined, 'the lost backup to finish');
    b.destroy();

    // A re-protection attempt that fails (nothing listens there) leaves it as it was.
    const failed = new MigrationController(a);
    failed.setCapability('cuju-ft', true);
    const attempt = await failed.start(`tcp:127.0.0.1:${await freePort()}`);
    assert.equal(attempt.status, 'failed');
    assert.deepEqual([a.ft.stats.role, a.ft.stats.state], ['primary', 'unprotected']);
    assert.match(a.ft.stats.reason ?? '', /backup lost/);
    assert.equal(a.gate.mode, 'pass');

    const c = await backupNode(kvm!, 'vmm2');
    nodes.push(c);
    await migrateC(a, c);
    await assertFreshlyProtected(a, c, 'after the loss');
    assert.ok(a.log.some((l) => /pairing a new backup \(this VMM was primary, unprotected\)/.test(l)), a.log.join('\n'));
    await untilAcked(a, 10);
    const epoch = await failOver(a, c, 'cuju-failover');
    assert.ok(epoch >= 10);
  } finally {
    for (const n of nodes.reverse()) n.destroy();
  }
});

test('migrate -c is refused on a VMM that is still a waiting backup', opts, async () => {
  const nodes: FtNode[] = [];
  try {
    const a = await firstNode(kvm!);
    nodes.push(a);
    const b = await backupNode(kvm!, 'vmm1');
    nodes.push(b);
    await migrateC(a, b);
    await untilAcked(a, 2);
    const c = await backupNode(kvm!, 'vmm2');
    nodes.push(c);
    await assert.rejects(migrateC(b, c), /cannot be migrated while it is inmigrate|is a backup/);
    assert.equal(b.ft.stats.role, 'backup');
    assert.equal(b.ft.stats.state, 'protected');
    await a.ft.cancel();
  } finally {
    for (const n of nodes.reverse()) n.destroy();
  }
});
