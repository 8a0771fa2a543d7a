/**
 * A VM's fault-tolerance side: its role, the running engine (FtPrimary or FtBackup),
 * stats for `info ft`, and the monitor actions. One per VM; commands find it with
 * ftOf(vm). Emits the QMP events CUJU_FT_STARTED, CUJU_FT_PEER_LOST, CUJU_FT_FAILOVER on the VM
 * (and, with a split-brain lease, CUJU_FT_CONTENTION and CUJU_FT_FENCED: lease/split-brain-guard.ts).
 */
import type { Socket } from 'node:net';
import { MonitorCommandError } from '../monitor/errors.js';
import type { FtHandoff } from '../migration/outgoing.js';
import type { RestoreTarget } from '../snapshot/restore.js';
import type { ExpectedMachine, SnapshotContents } from '../snapshot/snapshot-parser.js';
import type { KvmStateCapabilities } from '../kvm/state/support.js';
import type { VmControl } from '../vm/control.js';
import { FtBackup, type BackupDisks } from './backup.js';
import { backupChannel, openChannel, primaryChannel } from './channel.js';
import { heartbeatProblem, type HeartbeatSettings } from './heartbeat.js';
import type { FtPrimaryMachine, OutputCommit } from './epoch.js';
import { FtPrimary } from './primary.js';
import { DiskCopySender, type DiskCopySource } from './disk-sync/sender.js';
import type { FtDisk } from './disk-sync/disks.js';
import { newFtStats, REPROTECT_HINT, resetForNewPairing, type FtStats } from './status.js';
import { PrimaryVerifier, SnapshotBuffer } from './verify/primary-verifier.js';
import { recordVerifyResult } from './verify/report.js';
import type { VerifyResult } from './wire/index.js';
import type { FtLease } from './lease/ft-lease.js';
import { SplitBrainGuard } from './lease/split-brain-guard.js';
import type { OutputPermitTarget } from './output/output-permit.js';
import { StandbyReprotector, type StandbyBlock } from './standby.js';
import { collectGarbage } from '../vm/release-memory.js';

/** The primary told this backup to stop protecting: it exits cleanly. */
export class FtCancelledError extends Error {
  override readonly name: string = 'FtCancelledError';
}

/** The backup lost its primary but lost the split-brain lease's contention to it: it exits cleanly. */
export class FtStoodDownError extends FtCancelledError {
  override readonly name = 'FtStoodDownError';
}

export interface FtResources {
  machine: FtPrimaryMachine & { stateCapabilities(): KvmStateCapabilities };
  /** The primary's gates (held packets, recorded or held disk writes). */
  outputs: OutputCommit;
  /** Where a backup puts the disk writes epochs carry. */
  backupDisks: BackupDisks;
  /** This VM's disks in block-device order, for the initial disk copy (src/ft/disk-sync); absent: none. */
  disks?: readonly FtDisk[];
  /** -ft-heartbeat (default DEFAULT_HEARTBEAT). */
  heartbeat?: HeartbeatSettings;
  /** -ft-key's shared key: migrations to and from this VMM authenticate (src/migration/auth.ts). */
  key?: Buffer;
  /** -ft-standby: where to re-protect the VM automatically (standby.ts). */
  standby?: string;
  /** `migrate -c uri` on this VM (MigrationController.pairFtBackup): why it failed, or undefined once protected. */
  pairStandby?(uri: string): Promise<string | undefined>;
}

/** Epoch lengths cuju-adjust-epoch accepts, µs. */
export const MIN_EPOCH_US = 1000;
export const MAX_EPOCH_US = 10_000_000;
/** Largest cuju-verify-every period. */
export const MAX_VERIFY_EVERY = 1_000_000;
/** cuju-adjust-watermark's bound: 1 GiB of dirty pages. */
export const MAX_WATERMARK_PAGES = 262_144;

const controllers = new WeakMap<VmControl, FtController>();

/** The machine a HELLO describes, with the split-brain lease's id (both sides must name the same). */
function withLeaseId(m: ExpectedMachine, leaseId: string | undefined): ExpectedMachine & { leaseId?: string } {
  return { ...m, leaseId };
}

/** The -ft-key shared key of this VM's FT side, if any (the migration code authenticates with it). */
export function ftKeyOf(vm: VmControl): Buffer | undefined {
  return controllers.get(vm)?.key;
}

export function ftOf(vm: VmControl): FtController {
  const c = controllers.get(vm);
  if (!c) throw new MonitorCommandError('this VM has no fault tolerance support');
  return c;
}

export class FtController {
  readonly stats: FtStats = newFtStats();
  primary?: FtPrimary;
  backup?: FtBackup;
  /** Role and state before a new pairing's initial copy (restored if it fails). */
  private beforeSync?: Pick<FtStats, 'role' | 'state' | 'reason'>;
  /** cuju-verify-every N > 0 turned verify on, whatever the x-verify capability. */
  private verifyByCommand = false;
  private readonly verifySnapshot = new SnapshotBuffer();

  /** Split-brain arbitration (src/ft/lease); without a lease protection runs as before and says so. */
  private readonly splitBrain: SplitBrainGuard;

  /** Automatic re-protection (-ft-standby, cuju-set-standby). */
  readonly standby: StandbyReprotector;

  constructor(readonly vm: VmControl, readonly log: (line: string) => void, private readonly resources: FtResources) {
    controllers.set(vm, this);
    if (resources.heartbeat) this.setHeartbeat(resources.heartbeat.periodMs, resources.heartbeat.timeoutMs);
    this.splitBrain = new SplitBrainGuard({ vm, log, stats: this.stats, endProtection: (reason) => this.primary?.cancel(reason) ?? Promise.resolve() });
    const pair = resources.pairStandby;
    this.standby = new StandbyReprotector({
      pair: pair ? (uri) => pair(uri) : () => Promise.resolve('this VMM cannot start a migration'),
      blocked: () => this.standbyBlocked(),
      log,
    }, resources.standby);
    this.stats.standby = () => this.standby.status();
  }

  /** cuju-set-standby: a new standby address, or none. */
  setStandby(uri: string | undefined): void {
    this.standby.set(uri, this.runsUnprotected());
  }

  /** The VM runs here, without a backup, after having had one. */
  private runsUnprotected(): boolean {
    return !this.backup && (this.stats.state === 'unprotected' || this.stats.state === 'active');
  }

  /** Why automatic re-protection may not start now (standby.ts). */
  private standbyBlocked(): StandbyBlock | undefined {
    const { state } = this.stats;
    if (this.primary || state === 'protected') return { why: 'the VM is protected again', final: true };
    if (state === 'off') return { why: 'protection was ended on purpose (cuju-migrate-cancel)', final: true };
    if (state === 'fenced') return { why: 'this VMM was fenced by the split-brain lease', final: true };
    if (this.backup || state === 'waiting') return { why: 'this VMM is a backup', final: true };
    // A pairing typed by hand is under way: if it fails, the next attempt is ours.
    if (state === 'syncing') return { why: 'a pairing is under way', final: false };
    const run = this.vm.runState();
    // Right after a takeover the VM starts only once the incoming load returns.
    if (run === 'inmigrate' || run === 'finish-migrate' || run === 'postmigrate') return { why: `the VM is ${run}`, final: false };
    if (run !== 'running' && run !== 'paused') return { why: `the VM is ${run}`, final: true };
    return undefined;
  }

  get key(): Buffer | undefined {
    return this.resources.key;
  }

  /** cuju-set-heartbeat: takes effect at the running channel's next check. */
  setHeartbeat(periodMs: number, timeoutMs: number): void {
    const problem = heartbeatProblem({ periodMs, timeoutMs });
    if (problem) throw new MonitorCommandError(problem);
    this.stats.liveness.heartbeat = { periodMs, timeoutMs };
  }

  /** Arbitrate split brain with `lease`; `gates` (the VM's FtOutputCommit) let unacknowledged output out only from the lease's winner. */
  useLease(lease: FtLease, gates: readonly OutputPermitTarget[]): void {
    this.splitBrain.use(lease, gates);
  }

  private expected(): ExpectedMachine & { leaseId?: string } {
    const m = this.resources.machine;
    return { ...m.description(), capabilities: m.stateCapabilities(), leaseId: this.splitBrain.helloLeaseId() };
  }

  /**
   * A fault-tolerance migration starts its initial copy (disk writes from here reach the
   * backup). Returns the copy of this VM's disks to run in it (none without disks): it
   * relies on recording having started here first (disk-sync/sender.ts says why).
   */
  prepareSync(opts: { verify?: boolean } = {}): DiskCopySource | undefined {
    const refused = this.splitBrain.prepareProtection();
    if (refused) throw new MonitorCommandError(refused);
    this.beginPairing(opts.verify);
    this.resources.outputs.recordDiskWrites();
    const disks = this.resources.disks ?? [];
    return disks.length > 0 ? new DiskCopySender(disks) : undefined;
  }

  /**
   * Also how a survivor is re-protected: a backup that took over (state 'active') or a
   * primary that lost its backup ('unprotected') pairs a new backup the same way and
   * becomes a primary whose counters and epoch numbers start afresh.
   */
  private beginPairing(verify = false): void {
    if (this.backup) throw new MonitorCommandError('this VMM is a backup: it can protect the VM only after it took over');
    this.beforeSync = { role: this.stats.role, state: this.stats.state, reason: this.stats.reason };
    if (this.stats.role !== 'none') {
      this.log(`fault tolerance: pairing a new backup (this VMM was ${this.stats.role}, ${this.stats.state})`);
      resetForNewPairing(this.stats);
    }
    this.stats.role = 'primary';
    this.stats.state = 'syncing';
    this.stats.verify.enabled = verify || this.verifyByCommand;
    // The snapshot buffer is touched now, while the VM runs, not in a pause.
    if (this.stats.verify.enabled) this.verifySnapshot.get(this.resources.machine.memory.size);
  }

  /** The initial copy failed or was cancelled: the VMM is what it was before. */
  syncFailed(): void {
    this.resources.outputs.stopRecordingDiskWrites();
    if (this.beforeSync && this.stats.state === 'syncing') Object.assign(this.stats, this.beforeSync);
  }

  /** cuju-verify-every N: verify every N epochs from now on (also for later pairings); 0 turns verify off. */
  setVerifyEvery(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > MAX_VERIFY_EVERY) throw new MonitorCommandError(`the verify period must be 0..${MAX_VERIFY_EVERY} epochs (0 turns verify off; got ${n})`);
    this.verifyByCommand = n > 0;
    this.stats.verify.enabled = n > 0;
    if (n > 0) this.stats.verify.every = n;
    if (n > 0 && this.primary) this.verifySnapshot.get(this.resources.machine.memory.size);
    if (n === 0) this.verifySnapshot.drop();
  }

  /**
   * The initial copy is done (the VM is frozen at the sync point, the backup holds it):
   * open the FT channel, start the epochs, let the VM run, protected.
   */
  async startPrimary(handoff: FtHandoff, opts: { verify?: boolean } = {}): Promise<void> {
    const { machine, outputs } = this.resources;
    this.stats.role = 'primary';
    this.stats.state = 'syncing';
    try {
      await this.splitBrain.beforePrimaryStart();
      const opened = await openChannel(handoff.socket, handoff.rest, 'primary', this.expected(), this.stats.epochUs, 0, { sessionKey: handoff.sessionKey, liveness: this.stats.liveness });
      const primary = new FtPrimary(machine, handoff.tracker, primaryChannel(handoff.socket, opened), outputs, this.stats, this.log);
      if (opts.verify) this.stats.verify.enabled = true;
      primary.verifier = new PrimaryVerifier(this.stats.verify, (r) => this.verified(r), this.verifySnapshot);
      primary.start();
      this.attachPrimary(primary, handoff.peer);
    } catch (e) {
      handoff.tracker.stop();
      handoff.socket.destroy();
      this.stats.state = 'unprotected';
      this.stats.reason = (e as Error).message;
      // The pairing may have begun (alone = false): win the lease back before running on.
      this.splitBrain.protectionEnded(`fault tolerance could not start: ${(e as Error).message}`);
      throw new MonitorCommandError(`fault tolerance could not start: ${(e as Error).message}; the VM runs on unprotected`);
    } finally {
      await machine.cont();
    }
  }

  /**
   * On the backup, inside the incoming migration's load: after the initial copy, take
   * epochs until the primary is gone, then put the last committed state into the machine
   * (the caller runs it). Rejects with FtCancelledError when the primary cancels.
   */
  async runBackup(socket: Socket, rest: Uint8Array, target: RestoreTarget, expected: ExpectedMachine, initial: SnapshotContents, peer: string, sessionKey?: Uint8Array): Promise<void> {
    const opened = await openChannel(socket, rest, 'backup', withLeaseId(expected, await this.splitBrain.backupLeaseId()), this.stats.epochUs, 0, { sessionKey, liveness: this.stats.liveness });
    try {
      // Before the first epoch is read: the token read here must precede every ACK (FtBackup.primaryReleased).
      await this.splitBrain.backupPaired();
    } catch (e) {
      opened.watch.stop();
      socket.destroy();
      throw new Error(`this backup refuses to protect the VM: ${(e as Error).message}`);
    }
    // The initial copy (all of guest RAM through the socket) left its buffers behind; one
    // full collection and a malloc_trim give them back (measured: backup VmRSS right after
    // the copy 145.9 -> 114.6 MiB for a 128 MiB guest). The primary runs again by now; only
    // this backup's first ACK waits for it.
    collectGarbage();
    const backup = new FtBackup(target, expected.devices, { vcpus: initial.vcpus, vm: initial.vm, devices: initial.devices }, backupChannel(socket, opened), this.resources.backupDisks, this.stats);
    this.attachBackup(backup, peer);
    backup.on('verified', (r: VerifyResult) => {
      this.stats.verify.enabled = true;
      this.verified(r);
    });
    const outcome = await backup.run();
    if (outcome.kind === 'cancelled') {
      this.backup = undefined;
      this.stats.state = 'off';
      throw new FtCancelledError(`the primary stopped protecting the VM (${outcome.reason})`);
    }
    const standDown = await this.splitBrain.beforeTakeOver(outcome.why, backup.primaryReleased >= 1);
    if (standDown) {
      this.backup = undefined;
      this.stats.state = 'off';
      this.stats.reason = standDown;
      throw new FtStoodDownError(standDown);
    }
    const epoch = await backup.takeOver();
    // The VM keeps its epoch length when this VMM protects it in turn.
    if (opened.peerEpochUs >= MIN_EPOCH_US && opened.peerEpochUs <= MAX_EPOCH_US) this.stats.epochUs = opened.peerEpochUs;
    this.failedOver(epoch, outcome.why);
  }

  adjustEpoch(us: number): void {
    if (!Number.isInteger(us) || us < MIN_EPOCH_US || us > MAX_EPOCH_US) {
      throw new MonitorCommandError(`epoch length must be ${MIN_EPOCH_US}..${MAX_EPOCH_US} microseconds (got ${us})`);
    }
    this.stats.epochUs = us;
    this.primary?.setEpochUs(us);
  }

  /** cuju-adjust-watermark: dirty pages that end an epoch early (0 = only the epoch length). */
  adjustWatermark(pages: number): void {
    if (!Number.isInteger(pages) || pages < 0 || pages > MAX_WATERMARK_PAGES) {
      throw new MonitorCommandError(`the watermark must be 0..${MAX_WATERMARK_PAGES} pages (0 turns it off; got ${pages})`);
    }
    this.stats.watermarkPages = pages;
  }

  attachPrimary(p: FtPrimary, peer: string): void {
    this.primary = p;
    if (this.splitBrain.active) p.heldOutputNote = 'its held output goes out once it won the split-brain lease';
    this.stats.peer = peer;
    this.stats.reason = undefined;
    this.vm.emit('CUJU_FT_STARTED', { role: 'primary', peer });
    this.log(`fault tolerance on: protecting the VM on backup ${peer}, epoch ${this.stats.epochUs} us`);
    p.once('ended', ({ state, reason }: { state: string; reason: string }) => {
      if (state === 'unprotected') {
        this.vm.emit('CUJU_FT_PEER_LOST', { role: 'primary', reason });
        if (!this.standby.uri) this.log(`unprotected: ${REPROTECT_HINT}`);
      }
      this.primary = undefined;
      this.splitBrain.protectionEnded(reason);
      if (state === 'unprotected') this.standby.protectionLost();
    });
  }

  attachBackup(b: FtBackup, peer: string): void {
    this.backup = b;
    this.stats.peer = peer;
    this.vm.emit('CUJU_FT_STARTED', { role: 'backup', peer });
    this.log(`fault tolerance on: this VMM is the backup of ${peer}`);
  }

  failedOver(epoch: number, why: string): void {
    this.backup = undefined;
    this.stats.reason = why;
    this.vm.emit('CUJU_FT_PEER_LOST', { role: 'backup', reason: why });
    this.vm.emit('CUJU_FT_FAILOVER', { epoch });
    const next = this.standby.uri ? `re-protecting on standby ${this.standby.uri}` : REPROTECT_HINT;
    this.log(`${why}: took over from epoch ${epoch}; the VM runs here now, unprotected: ${next}`);
    this.standby.protectionLost();
  }

  /** A verification's outcome (either side): counted; a mismatch raises the alarm. */
  private verified(r: VerifyResult): void {
    recordVerifyResult(this.stats.verify, r, this.log, (name, data) => this.vm.emit(name, data));
  }

  /** cuju-failover (backup only). */
  failover(): void {
    if (!this.backup) throw new MonitorCommandError(this.stats.role === 'backup' ? 'this backup has already taken over' : 'cuju-failover is for the backup: this VMM is not one');
    this.backup.forceFailover();
  }

  /** cuju-migrate-cancel (primary only). */
  async cancel(): Promise<void> {
    if (!this.primary) throw new MonitorCommandError('fault tolerance is not running on this VMM (cuju-migrate-cancel is for the primary)');
    await this.primary.cancel();
  }
}
