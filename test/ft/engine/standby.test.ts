/**
 * Automatic re-protection to a standby (src/ft/standby.ts) between tiny real KVM machines
 * in this process (ft-node.ts): a backup told its standby takes over when its primary
 * crashes and pairs the standby by itself; a primary that loses its backup keeps trying
 * its standby until one listens there; either way protection resumes exactly (the next
 * failover lands on the last committed epoch) and `info ft` says what happens.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../../src/kvm/system.js';
import { formatInfoFt } from '../../../src/ft/status.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { freePort, until } from '../../migration/harness.js';
import { FtNode } from './ft-node.js';
import { assertFreshlyProtected, backupNode, failOver, firstNode, migrateC, untilAcked } from './ft-chain.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 120_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

const protectedBy = (primary: FtNode, backup: FtNode) => primary.ft.stats.state === 'protected' && primary.ft.stats.peer === `127.0.0.1:${backup.port}`;

test('a backup with a standby takes over, then pairs the standby by itself; the standby takes over exactly in turn', opts, async () => {
  const nodes: FtNode[] = [];
  try {
    const a = await firstNode(kvm!);
    nodes.push(a);
    const b = await backupNode(kvm!, 'vmm1');
    nodes.push(b);
    const c = await backupNode(kvm!, 'vmm2');
    nodes.push(c);
    await migrateC(a, b);
    // Set while b is still a backup: nothing happens until b runs the VM alone.
    b.ft.setStandby(`tcp:127.0.0.1:${c.port}`);
    assert.equal(b.ft.stats.role, 'backup');
    assert.match(formatInfoFt(b.ft.stats), new RegExp(`standby: tcp:127.0.0.1:${c.port}: re-protects automatically`));
    await untilAcked(a, 10);
    await a.stop();
    b.backupSocket!.resetAndDestroy();
    await until(() => protectedBy(b, c), 'the survivor to pair its standby by itself', 30_000);
    const log = b.log.join('\n');
    assert.match(log, new RegExp(`took over from epoch \\d+; the VM runs here now, unprotected: re-protecting on standby tcp:127.0.0.1:${c.port}`));
    assert.match(log, /pairing a new backup \(this VMM was backup, active\)/);
    assert.match(log, /re-protected on standby tcp:127\.0\.0\.1:\d+ after 1 attempt/);
    await assertFreshlyProtected(b, c, 'after the automatic pairing');
    await untilAcked(b, 10);
    const epoch = await failOver(b, c, 'crash');
    assert.ok(epoch >= 10, `took over at ${epoch}, after ACK 10`);
  } finally {
    for (const n of nodes.reverse()) n.destroy();
  }
});

test('a primary that lost its backup retries its standby with backoff until one listens there', opts, async () => {
  const nodes: FtNode[] = [];
  try {
    const a = await firstNode(kvm!);
    nodes.push(a);
    const b = await backupNode(kvm!, 'vmm1');
    nodes.push(b);
    await migrateC(a, b);
    const port = await freePort();
    a.ft.setStandby(`tcp:127.0.0.1:${port}`);
    await untilAcked(a, 5);
    b.backupSocket!.resetAndDestroy();
    await until(() => a.ft.stats.state === 'unprotected', 'the primary to notice the loss');
    // Nothing listens yet: attempts fail and the next one is scheduled, the VM runs on.
    await until(() => a.ft.standby.status().attempts >= 2 && a.ft.standby.status().nextInMs !== undefined, 'two failed attempts', 20_000);
    assert.match(formatInfoFt(a.ft.stats), /standby: tcp:127\.0\.0\.1:\d+: attempt \d+ failed \(.+\); next in \d+\.\d s/);
    assert.deepEqual([a.ft.stats.state, a.gate.mode], ['unprotected', 'pass']);
    assert.equal(a.runState(), 'running');
    const c = new FtNode(kvm!, 'vmm2');
    nodes.push(c);
    await c.listen(port);
    await until(() => protectedBy(a, c), 'the primary to pair the standby once it listens', 30_000);
    assert.match(a.log.join('\n'), /re-protection on standby tcp:127\.0\.0\.1:\d+ failed: .+; next attempt in \d+\.\d s/);
    await assertFreshlyProtected(a, c, 'after the retries');
    assert.equal(a.ft.standby.status().attempts, 0);
    // cuju-migrate-cancel ends protection on purpose: no automatic pairing follows.
    await a.ft.cancel();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(a.ft.stats.state, 'off');
    assert.equal(a.ft.standby.status().attempts, 0);
  } finally {
    for (const n of nodes.reverse()) n.destroy();
  }
});
