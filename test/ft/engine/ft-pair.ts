/**
 * A protected pair in this process: an FtTestPrimary running the sweep guest, with an
 * output gate (GatedNetBackend over WatchedNet) fed by test traffic, and a backup
 * (TestDestinationMachine behind listenForMigration in ft_mode) with its own
 * FtController, optionally behind the fault proxy (test/migration/proxy.ts). protect()
 * runs the initial copy and starts the epochs; assertTookOver() checks a failover.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { KvmSystem } from '../../../src/kvm/system.js';
import { FtCancelledError, FtController } from '../../../src/ft/controller.js';
import { FtBackupDisks, FtOutputCommit } from '../../../src/ft/output/ft-output-commit.js';
import type { FtDisk } from '../../../src/ft/disk-sync/disks.js';
import { GatedNetBackend } from '../../../src/ft/output/gated-net-backend.js';
import { GuestMemory } from '../../../src/memory/guest-memory.js';
import { MigrationController } from '../../../src/migration/controller.js';
import { listenForMigration, type IncomingListener } from '../../../src/migration/incoming.js';
import { OutgoingMigration } from '../../../src/migration/outgoing.js';
import { assertCounterAdvances, freePort, until } from '../../migration/harness.js';
import { FaultProxy, type Fault } from '../../migration/proxy.js';
import { checkSweepInvariant, SWEEP_PAGES } from '../../migration/sweep-guest.js';
import { TestDestinationMachine } from '../../migration/test-machines.js';
import { BackupVm, backupResources, FtTestPrimary, NoDisks, ramSha256, sweepRegs, WatchedNet } from './ft-machines.js';

/** Epoch length of these tests: 10 ms keeps one process running both ends comfortably. */
export const TEST_EPOCH_US = 10_000;

export interface FtPair {
  primary: FtTestPrimary;
  primaryFt: FtController;
  backup: TestDestinationMachine;
  backupVm: BackupVm;
  backupFt: FtController;
  gate: GatedNetBackend;
  net: WatchedNet;
  listener: IncomingListener;
  /** Where the backup listens. */
  port: number;
  notices: string[];
  proxy?: FaultProxy;
  /** The primary's end of the FT connection (set by protect('outgoing')). */
  primarySocket?: Socket;
  /** The backup's end (set when its FT channel opens). */
  backupSocket?: Socket;
  /** The backup's registers right after it took over, before its vCPU ran. */
  backupRegsAtTakeover?: string;
  /** How the backup's runBackup ended: undefined while it runs. */
  backupResult?: { error?: Error };
  /** Reasons the listener was given through onCancelled. */
  cancelled: string[];
  /** Packets sent by the "guest" so far (sequence numbers 1..sentPackets). */
  sentPackets(): number;
  close(): Promise<void>;
}

/** Disks for both sides (test/ft/disk-sync): each side's FtDisks in block-device order. */
export interface PairDisks {
  primary: FtDisk[];
  backup: FtDisk[];
}

/** `key`: both sides run with this -ft-key (the migration and the FT channel authenticate). */
export async function openPair(kvm: KvmSystem, fault?: Fault, disks?: PairDisks, opts: { key?: Buffer } = {}): Promise<FtPair> {
  const primary = new FtTestPrimary(kvm);
  const backup = new TestDestinationMachine(kvm);
  const backupVm = new BackupVm();
  const backupFt = new FtController(backupVm, () => {}, backupResources(disks ? new FtBackupDisks(disks.backup.map((d) => d.image), false) : new NoDisks()));
  const notices: string[] = [];
  const cancelled: string[] = [];
  const port = await freePort();
  const pair: Partial<FtPair> & { cancelled: string[]; notices: string[] } = { cancelled, notices };
  const listener = await listenForMigration(backup, {
    host: '127.0.0.1', port, notice: (l) => notices.push(l), idleTimeoutMs: 5_000, key: opts.key,
    ft: {
      runBackup: (socket, ...rest) => {
        pair.backupSocket = socket;
        return backupFt.runBackup(socket, ...rest).then(
          () => {
            // Still inside the load: the vCPU holds the restored state and has not run.
            pair.backupRegsAtTakeover = sweepRegs(backup.board!.vcpuFds[0]);
            pair.backupResult = {};
          },
          (e: Error) => { pair.backupResult = { error: e }; throw e; },
        );
      },
      isCancel: (e) => e instanceof FtCancelledError,
      disks: disks?.backup,
      onCancelled: (reason) => cancelled.push(reason),
    },
  });
  const proxy = fault ? await FaultProxy.start(port, fault) : undefined;

  // The primary's output: packets wait for the ACK of the epoch they were produced in.
  let gate!: GatedNetBackend;
  const net = new WatchedNet((epoch) => gate.mode === 'pass' || primaryFt.stats.ackedEpoch >= epoch);
  gate = new GatedNetBackend(net);
  const primaryFt = new FtController(primary, () => {}, {
    machine: primary, outputs: new FtOutputCommit([gate], disks?.primary.map((d) => d.gate) ?? []), backupDisks: new NoDisks(), disks: disks?.primary, key: opts.key,
  });
  primaryFt.adjustEpoch(TEST_EPOCH_US);

  // The guest "sends" a packet every millisecond; each remembers the epoch it belongs to.
  let seq = 0;
  const traffic = setInterval(() => {
    const packet = Buffer.alloc(60);
    packet.writeUInt32LE(++seq, 0);
    const s = gate.holdStats();
    net.epochOf.set(seq, s.mode === 'hold' ? s.epoch : -1);
    gate.send([packet]);
  }, 1);

  Object.assign(pair, {
    primary, primaryFt, backup, backupVm, backupFt, gate, net, listener, proxy, port,
    sentPackets: () => seq,
    async close() {
      clearInterval(traffic);
      pair.primarySocket?.destroy();
      pair.backupSocket?.destroy();
      proxy?.close();
      listener.close();
      // Let protection end (the epoch timer stops) before the boards go.
      await until(() => !primaryFt.primary, 'the primary to stop protecting').catch(() => {});
      await until(() => pair.backupResult !== undefined || !pair.backupSocket, 'the backup to finish').catch(() => {});
      primary.destroy();
      backup.destroy();
    },
  });
  await until(() => primary.counter > BigInt(SWEEP_PAGES) * 2n, 'the primary guest to sweep its pages');
  return pair as FtPair;
}

/**
 * The initial copy and the start of the epochs: through MigrationController with the
 * cuju-ft capability (as `migrate -c` does), or through OutgoingMigration and
 * FtController.startPrimary directly, which leaves the primary's socket to the test.
 */
export async function protect(pair: FtPair, how: 'controller' | 'outgoing'): Promise<void> {
  const port = pair.proxy?.port ?? pair.port;
  if (how === 'controller') {
    const c = new MigrationController(pair.primary);
    c.setCapability('cuju-ft', true);
    const stats = await c.start(`tcp:127.0.0.1:${port}`);
    assert.equal(stats.status, 'completed', stats.error);
  } else {
    const diskCopy = pair.primaryFt.prepareSync();
    const m = new OutgoingMigration(pair.primary, { kind: 'tcp', host: '127.0.0.1', port }, { verify: false, downtimeLimitMs: 300, maxBandwidth: 2 ** 32, ft: true, diskCopy, key: pair.primaryFt.key });
    await m.run();
    assert.equal(m.stats.status, 'completed', m.stats.error);
    assert.ok(m.handoff, 'the FT migration handed its connection over');
    pair.primarySocket = m.handoff.socket;
    await pair.primaryFt.startPrimary(m.handoff);
  }
  assert.equal(pair.primaryFt.stats.state, 'protected', pair.primaryFt.stats.reason);
  assert.equal(pair.primary.runState(), 'running', 'the primary runs, protected');
}

/** Waits until the backup has acknowledged at least `n` epochs (as the primary knows it). */
export async function untilAcked(pair: FtPair, n: number): Promise<void> {
  await until(() => pair.primaryFt.stats.ackedEpoch >= n, `the primary to see ACK ${n} (at ${pair.primaryFt.stats.ackedEpoch}, state ${pair.primaryFt.stats.state})`, 20_000);
}

/**
 * The backup took over: at exactly the epoch it last committed and acknowledged, whose
 * RAM is the primary's at that epoch's boundary byte for byte (same SHA-256), and its
 * guest carries on from there, consistent. Returns that epoch.
 */
export async function assertTookOver(pair: FtPair, what: string): Promise<number> {
  const { backup, backupFt, backupVm, primary, primaryFt } = pair;
  await until(() => pair.backupResult !== undefined, `${what}: the backup to take over`, 20_000);
  assert.equal(pair.backupResult?.error, undefined, `${what}: runBackup failed: ${pair.backupResult?.error?.message}`);
  await until(() => backup.started, `${what}: the backup VM to start`);
  const failover = backupVm.events.filter((e) => e.name === 'CUJU_FT_FAILOVER');
  assert.equal(failover.length, 1, `${what}: one CUJU_FT_FAILOVER event`);
  const epoch = (failover[0].data as { epoch: number }).epoch;
  assert.equal(backupFt.stats.state, 'active');
  assert.equal(backupFt.stats.epoch, epoch, `${what}: took over at the epoch it last committed`);
  assert.equal(backupFt.stats.ackedEpoch, epoch, `${what}: ... which is the last it acknowledged`);
  assert.ok(primaryFt.stats.ackedEpoch <= epoch, `${what}: the primary saw ACK ${primaryFt.stats.ackedEpoch}, the backup took over at ${epoch}`);
  assert.ok(epoch <= primary.atBoundary.length, `${what}: took over at epoch ${epoch}, only ${primary.atBoundary.length} were taken`);

  const at = primary.recordOf(epoch);
  const ram = backup.ramAtStart!;
  assert.equal(ramSha256(ram), at.sha256, `${what}: the backup's RAM at takeover is not the primary's at the boundary of epoch ${epoch}`);
  assert.equal(pair.backupRegsAtTakeover, at.regs, `${what}: the backup's vCPU at takeover is not the primary's at the boundary of epoch ${epoch}`);
  checkSweepInvariant(GuestMemory.fromBuffer(ram), `${what}: backup RAM at takeover`);

  // Its vCPU continues from that point: the counter moves on from the boundary's value,
  // and RAM stays consistent (vCPU state from another epoch than RAM would break it).
  await assertCounterAdvances(() => backup.counter, `${what}: the backup`);
  assert.ok(backup.counter > at.counter, `${what}: the backup's counter ${backup.counter} went on from ${at.counter}`);
  await backup.vcpu!.pause();
  checkSweepInvariant(backup.memory, `${what}: backup RAM after running on`);
  backup.vcpu!.resume();
  assert.deepEqual(backup.stops, [], `${what}: the backup's guest never stopped`);
  assert.equal(backup.announced, 1, `${what}: the backup announced the VM`);
  return epoch;
}

/**
 * The primary after losing its backup: unprotected, tracking off, still running, and
 * every packet the guest sent has reached the world, in order, none before its ACK.
 */
export async function assertPrimaryRunsOnUnprotected(pair: FtPair, what: string): Promise<void> {
  const { primary, primaryFt, gate, net } = pair;
  await until(() => primaryFt.stats.state !== 'protected', `${what}: the primary to notice the backup is gone`, 20_000);
  assert.equal(primaryFt.stats.state, 'unprotected', `${what}: ${primaryFt.stats.reason}`);
  assert.match(primaryFt.stats.reason ?? '', /backup lost/);
  assert.equal(primaryFt.primary, undefined, `${what}: the epoch loop is gone`);
  assert.ok(primary.trackers.every((t) => !t.isTracking), `${what}: dirty logging is off`);
  assert.equal(primary.runState(), 'running');
  await assertCounterAdvances(() => primary.counter, `${what}: the primary`);
  assert.equal(gate.mode, 'pass', `${what}: the gate lets packets through`);
  const sent = pair.sentPackets();
  await until(() => net.seen().length >= sent, `${what}: held packets to be released (${net.seen().length} of ${sent})`);
  assert.deepEqual(net.seen().slice(0, sent), Array.from({ length: sent }, (_, i) => i + 1), `${what}: every packet reached the world once, in order`);
  assert.deepEqual(net.early, [], `${what}: packets seen before their epoch was acknowledged`);
  assert.equal(gate.holdStats().heldPackets, 0);
}
