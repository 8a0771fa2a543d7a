/**
 * Steps of the re-protection and verify tests over FtNodes (ft-node.ts): protect a VM the
 * way a user does (`migrate -c` with cuju-ft, optionally x-verify), wait for ACKs, and
 * fail over (the primary crashes, or the backup is told cuju-failover) with the checks
 * every takeover must pass: the new VMM holds the old primary's RAM and vCPU at exactly
 * the epoch it took over at, and its guest carries on from there, consistent.
 */
import assert from 'node:assert/strict';
import { GuestMemory } from '../../../src/memory/guest-memory.js';
import { MigrationController } from '../../../src/migration/controller.js';
import { formatInfoFt } from '../../../src/ft/status.js';
import { assertCounterAdvances, until } from '../../migration/harness.js';
import { checkSweepInvariant, SWEEP_PAGES } from '../../migration/sweep-guest.js';
import type { KvmSystem } from '../../../src/kvm/system.js';
import { FtNode } from './ft-node.js';
import { ramSha256 } from './ft-machines.js';

/** 10 ms epochs: one process runs both ends comfortably on a busy 2-core machine. */
export const CHAIN_EPOCH_US = 10_000;
export const REPROTECT_HINT_RE = /unprotected: run migrate -c tcp:HOST:PORT to pair a new backup/;

/** The first VMM: runs the sweep guest until it has swept its pages a few times. */
export async function firstNode(kvm: KvmSystem): Promise<FtNode> {
  const node = new FtNode(kvm, 'vmm0');
  node.ft.adjustEpoch(CHAIN_EPOCH_US);
  node.bootSweepGuest();
  await until(() => node.counter > BigInt(SWEEP_PAGES) * 3n, 'the first guest to sweep its pages');
  return node;
}

export async function backupNode(kvm: KvmSystem, name: string): Promise<FtNode> {
  const node = new FtNode(kvm, name);
  await node.listen();
  return node;
}

/** `migrate_set_capability cuju-ft on` (+ x-verify), `migrate -c tcp:127.0.0.1:PORT` on `primary`. */
export async function migrateC(primary: FtNode, backup: FtNode, opts: { verify?: boolean } = {}): Promise<void> {
  const c = new MigrationController(primary);
  c.setCapability('cuju-ft', true);
  if (opts.verify) c.setCapability('x-verify', true);
  const stats = await c.start(`tcp:127.0.0.1:${backup.port}`);
  assert.equal(stats.status, 'completed', `${primary.name} → ${backup.name}: ${stats.error}`);
  if (opts.verify) assert.equal(stats.verify, 'match', 'the initial copy verified');
  assert.equal(primary.ft.stats.role, 'primary');
  assert.equal(primary.ft.stats.state, 'protected', primary.ft.stats.reason);
  assert.equal(primary.runState(), 'running');
}

export async function untilAcked(primary: FtNode, n: number): Promise<void> {
  await until(() => primary.ft.stats.ackedEpoch >= n, `${primary.name} to see ACK ${n} (at ${primary.ft.stats.ackedEpoch}, state ${primary.ft.stats.state})`, 20_000);
}

/**
 * The primary goes ('crash': its guest stops and the FT connection is reset; or the
 * backup is told cuju-failover and the old primary's guest is stopped after): `to` takes
 * over. Checks the takeover and returns its epoch.
 */
export async function failOver(from: FtNode, to: FtNode, how: 'crash' | 'cuju-failover'): Promise<number> {
  const what = `${from.name} → ${to.name} (${how})`;
  if (how === 'crash') {
    await from.stop();
    to.backupSocket!.resetAndDestroy();
  } else {
    to.ft.failover();
  }
  await until(() => to.backupResult !== undefined, `${what}: the backup to take over`, 20_000);
  assert.equal(to.backupResult?.error, undefined, `${what}: runBackup failed: ${to.backupResult?.error?.message}`);
  await until(() => to.runState() === 'running', `${what}: the new VM to run`);
  if (how === 'cuju-failover') await from.stop();

  const failovers = to.eventsNamed('CUJU_FT_FAILOVER');
  assert.equal(failovers.length, 1, `${what}: one CUJU_FT_FAILOVER`);
  const epoch = failovers[0].epoch as number;
  assert.equal(to.ft.stats.state, 'active');
  assert.equal(to.ft.stats.epoch, epoch, `${what}: took over at the epoch it last committed`);
  const at = from.recordOf(epoch);
  assert.equal(ramSha256(to.ramAtTakeover!), at.sha256, `${what}: RAM at takeover is not ${from.name}'s at the boundary of epoch ${epoch}`);
  assert.equal(to.regsAtTakeover, at.regs, `${what}: vCPU at takeover is not ${from.name}'s at the boundary of epoch ${epoch}`);
  checkSweepInvariant(GuestMemory.fromBuffer(to.ramAtTakeover!), `${what}: RAM at takeover`);
  await assertCounterAdvances(() => to.counter, `${what}: the new VM`);
  assert.ok(to.counter > at.counter, `${what}: the counter went on from ${at.counter} (now ${to.counter})`);
  await to.vcpu!.pause();
  checkSweepInvariant(to.memory, `${what}: RAM after running on`);
  to.vcpu!.resume();
  assert.deepEqual(to.stops, [], `${what}: the new VM's vCPU never stopped`);
  assert.equal(to.announced, 1, `${what}: the new VM announced itself`);

  // Both survivors say how to get protection back.
  assert.match(to.log.join('\n'), REPROTECT_HINT_RE);
  assert.match(formatInfoFt(to.ft.stats), REPROTECT_HINT_RE);
  await until(() => from.ft.stats.state !== 'protected', `${what}: the old primary to notice`);
  return epoch;
}

/**
 * A fresh pairing: epochs and counters count from this pairing's start, the gate holds
 * output again (a packet waits for its epoch's ACK), dirty tracking runs.
 */
export async function assertFreshlyProtected(primary: FtNode, backup: FtNode, what: string): Promise<void> {
  const s = primary.ft.stats;
  assert.ok(s.ackedEpoch <= s.epoch && s.totalEpochs <= s.epoch, `${what}: counters restarted (epoch ${s.epoch}, acked ${s.ackedEpoch}, total ${s.totalEpochs})`);
  assert.ok(Math.abs(s.epoch - primary.atBoundary.length) <= 1, `${what}: epoch ${s.epoch} numbered from this pairing (${primary.atBoundary.length} boundaries)`);
  assert.deepEqual(primary.eventsNamed('CUJU_FT_STARTED').at(-1), { role: 'primary', peer: `127.0.0.1:${backup.port}` });
  assert.equal(primary.trackers.at(-1)?.isTracking, true, `${what}: dirty tracking runs`);
  assert.equal(primary.gate.mode, 'hold', `${what}: the output gate holds`);
  const before = primary.net.sent.length;
  primary.gate.send([Buffer.alloc(60, 7)]);
  assert.equal(primary.net.sent.length, before, `${what}: a packet waits for its epoch's ACK`);
  await until(() => primary.net.sent.length > before, `${what}: the held packet to be released`);
  await untilAcked(primary, 3);
  assert.equal(backup.ft.stats.role, 'backup');
  assert.equal(backup.ft.stats.state, 'protected');
  assert.ok(backup.ft.stats.epoch >= 3, `${what}: the backup committed from epoch 1 on`);
}
