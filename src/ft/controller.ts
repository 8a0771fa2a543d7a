/**
 * A VM's fault-tolerance side: its role, the running engine (FtPrimary or FtBackup),
 * stats for `info ft`, and the monitor actions. One per VM; commands find it with
 * ftOf(vm). Emits the QMP events CUJU_FT_STARTED, CUJU_FT_PEER_LOST, CUJU_FT_FAILOVER on the VM.
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
import type { FtPrimaryMachine, OutputCommit } from './epoch.js';
import { FtPrimary } from './primary.js';
import { newFtStats, type FtStats } from './status.js';

/** The primary told this backup to stop protecting: it exits cleanly. */
export class FtCancelledError extends Error {
  override readonly name = 'FtCancelledError';
}

export interface FtResources {
  machine: FtPrimaryMachine & { stateCapabilities(): KvmStateCapabilities };
  /** The primary's gates (held packets, recorded or held disk writes). */
  outputs: OutputCommit;
  /** Where a backup puts the disk writes epochs carry. */
  backupDisks: BackupDisks;
}

/** Epoch lengths cuju-adjust-epoch accepts, µs. */
export const MIN_EPOCH_US = 1000;
export const MAX_EPOCH_US = 10_000_000;

const controllers = new WeakMap<VmControl, FtController>();

export function ftOf(vm: VmControl): FtController {
  const c = controllers.get(vm);
  if (!c) throw new MonitorCommandError('this VM has no fault tolerance support');
  return c;
}

export class FtController {
  readonly stats: FtStats = newFtStats();
  primary?: FtPrimary;
  backup?: FtBackup;

  constructor(readonly vm: VmControl, readonly log: (line: string) => void, private readonly resources: FtResources) {
    controllers.set(vm, this);
  }

  private expected(): ExpectedMachine {
    const m = this.resources.machine;
    return { ...m.description(), capabilities: m.stateCapabilities() };
  }

  /** A fault-tolerance migration starts its initial copy (disk writes from here reach the backup). */
  prepareSync(): void {
    this.resources.outputs.recordDiskWrites();
  }

  /** The initial copy failed or was cancelled. */
  syncFailed(): void {
    this.resources.outputs.stopRecordingDiskWrites();
  }

  /**
   * The initial copy is done (the VM is frozen at the sync point, the backup holds it):
   * open the FT channel, start the epochs, let the VM run, protected.
   */
  async startPrimary(handoff: FtHandoff): Promise<void> {
    const { machine, outputs } = this.resources;
    this.stats.role = 'primary';
    this.stats.state = 'syncing';
    try {
      const opened = await openChannel(handoff.socket, handoff.rest, 'primary', this.expected(), this.stats.epochUs);
      const primary = new FtPrimary(machine, handoff.tracker, primaryChannel(handoff.socket, opened), outputs, this.stats, this.log);
      primary.start();
      this.attachPrimary(primary, handoff.peer);
    } catch (e) {
      handoff.tracker.stop();
      handoff.socket.destroy();
      this.stats.state = 'unprotected';
      this.stats.reason = (e as Error).message;
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
  async runBackup(socket: Socket, rest: Uint8Array, target: RestoreTarget, expected: ExpectedMachine, initial: SnapshotContents, peer: string): Promise<void> {
    const opened = await openChannel(socket, rest, 'backup', expected, this.stats.epochUs, 0);
    const backup = new FtBackup(target, expected.devices, { vcpus: initial.vcpus, vm: initial.vm, devices: initial.devices }, backupChannel(socket, opened), this.resources.backupDisks, this.stats);
    this.attachBackup(backup, peer);
    const outcome = await backup.run();
    if (outcome.kind === 'cancelled') {
      this.backup = undefined;
      this.stats.state = 'off';
      throw new FtCancelledError(`the primary stopped protecting the VM (${outcome.reason})`);
    }
    const epoch = await backup.takeOver();
    this.failedOver(epoch, outcome.why);
  }

  adjustEpoch(us: number): void {
    if (!Number.isInteger(us) || us < MIN_EPOCH_US || us > MAX_EPOCH_US) {
      throw new MonitorCommandError(`epoch length must be ${MIN_EPOCH_US}..${MAX_EPOCH_US} microseconds (got ${us})`);
    }
    this.stats.epochUs = us;
    this.primary?.setEpochUs(us);
  }

  attachPrimary(p: FtPrimary, peer: string): void {
    this.primary = p;
    this.stats.peer = peer;
    this.stats.reason = undefined;
    this.vm.emit('CUJU_FT_STARTED', { role: 'primary', peer });
    this.log(`fault tolerance on: protecting the VM on backup ${peer}, epoch ${this.stats.epochUs} us`);
    p.once('ended', ({ state, reason }: { state: string; reason: string }) => {
      if (state === 'unprotected') this.vm.emit('CUJU_FT_PEER_LOST', { role: 'primary', reason });
      this.primary = undefined;
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
    this.log(`${why}: took over from epoch ${epoch}; the VM runs here now`);
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
