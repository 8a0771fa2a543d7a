/**
 * The backup: holds the last complete, consistent state of the primary's VM and takes
 * over when the primary is gone. Each epoch arrives whole and verified (the channel
 * reader checks CRCs, the SHA-256 and the sequence) before anything of it is applied;
 * then its pages go into this VM's RAM (which never runs while it is a backup), its
 * vCPU, VM and device state is kept, its disk writes are applied (replicated disks) or
 * kept (shared disks, for re-applying at failover), and it is acknowledged. Epochs
 * apply strictly in order. An epoch cut off by the primary's death is never applied.
 */
import { EventEmitter } from 'node:events';
import { FtStreamEndedError, FtWireError } from './wire/errors.js';
import type { VcpuState } from '../kvm/state/vcpu-state.js';
import type { VmState } from '../kvm/state/vm-state.js';
import type { RestoreTarget } from '../snapshot/restore.js';
import type { DeviceDescription } from '../snapshot/machine-description.js';
import type { DiskDiscard, DiskWrite, EpochContent } from './epoch.js';
import type { FtStats } from './status.js';
import { applyPages, type VerifyRequest, type VerifyResult } from './wire/index.js';
import { verifyBackupState } from './verify/backup-verifier.js';

export type BackupMessage =
  | { type: 'epoch'; epoch: EpochContent }
  | { type: 'cancel'; reason: string }
  | { type: 'verify'; request: VerifyRequest };

export interface BackupChannel {
  /** The next whole, verified message; rejects when the connection ends or breaks. */
  next(): Promise<BackupMessage>;
  sendAck(epoch: number): void;
  /** FT verify mode: the outcome of a VERIFY (optional: channels without verify support). */
  sendVerifyResult?(result: VerifyResult): void;
  close(): void;
}

/** Where the backup puts the disk writes an epoch carries. */
export interface BackupDisks {
  /** 'replicated': write into this side's own image copy at commit. */
  apply(writes: DiskWrite[], discards: DiskDiscard[]): Promise<void>;
  /** 'shared': nothing to apply now; at failover re-apply what the primary may not have written. */
  readonly shared: boolean;
}

export interface MachineState {
  vcpus: VcpuState[];
  vm: VmState;
  devices: unknown[];
}

export type BackupOutcome = { kind: 'failover'; why: string } | { kind: 'cancelled'; reason: string };

export class FtBackup extends EventEmitter {
  private committed = 0;
  private released = 0;
  private takeOverNow?: (why: string) => void;
  /** cuju-failover came: the loop stops waiting for the primary. */
  private forcedWhy?: string;
  /** Shared disks: writes of epochs the primary has not confirmed released, oldest first. */
  private unreleased: { epoch: number; writes: DiskWrite[]; discards: DiskDiscard[] }[] = [];

  constructor(
    private readonly target: RestoreTarget,
    private readonly devices: readonly DeviceDescription[],
    private state: MachineState,
    private readonly channel: BackupChannel,
    private readonly disks: BackupDisks,
    private readonly stats: FtStats,
  ) {
    super();
    stats.role = 'backup';
    stats.state = 'waiting';
  }

  /** Receives epochs until the primary is gone (failover) or cancels protection. */
  async run(): Promise<BackupOutcome> {
    for (;;) {
      let message: BackupMessage;
      try {
        if (this.forcedWhy !== undefined) {
          this.channel.close();
          return { kind: 'failover', why: this.forcedWhy };
        }
        // A promise per wait, not Promise.race against one long-lived "forced" promise:
        // each race would leave a reaction on it holding that race's result (an epoch)
        // for as long as the backup runs.
        const next = await new Promise<BackupMessage | BackupOutcome>((resolve, reject) => {
          this.takeOverNow = (why) => resolve({ kind: 'failover', why });
          this.channel.next().then(resolve, reject);
        });
        this.takeOverNow = undefined;
        if ('kind' in next) {
          this.channel.close();
          return next;
        }
        message = next;
      } catch (e) {
        this.channel.close();
        // Damaged, forged or out-of-sequence data came from a sender that is alive (a dying
        // primary leaves a closed or truncated stream, never a bad CRC). Taking over would
        // put a second VM next to it; without a lease nothing else would stop that. So the
        // backup stands down and the primary, seeing the connection end, runs on alone.
        if (e instanceof FtWireError && !(e instanceof FtStreamEndedError)) {
          return { kind: 'cancelled', reason: `the FT channel from the primary delivered bad data (${(e as Error).message}); a live primary sent it, so this backup stands down instead of taking over` };
        }
        return { kind: 'failover', why: `primary lost: ${(e as Error).message}` };
      }
      if (message.type === 'cancel') {
        this.channel.close();
        return { kind: 'cancelled', reason: message.reason };
      }
      if (message.type === 'verify') {
        await this.verify(message.request);
        continue;
      }
      await this.commit(message.epoch);
    }
  }

  /**
   * FT verify mode: the VERIFY follows its epoch, so RAM and the held device states are
   * that epoch's. Compares, reports to the primary, and lets the controller count it
   * ('verified' event).
   */
  private async verify(request: VerifyRequest): Promise<void> {
    const result = await verifyBackupState(request, this.target.memory, this.state.devices, this.stats.verify);
    this.channel.sendVerifyResult?.(result);
    this.emit('verified', result);
  }

  /**
   * The newest released epoch a committed EPOCH carried: the primary released that
   * epoch's output after this backup acknowledged it, so it was still protecting with
   * this backup then (the split-brain guard's proof that the pairing's token is current).
   */
  get primaryReleased(): number {
    return this.released;
  }

  /** cuju-failover: stop waiting for the primary and take over with the last committed epoch. */
  forceFailover(why = 'failover requested on the monitor'): void {
    this.forcedWhy ??= why;
    this.takeOverNow?.(why);
  }

  private async commit(e: EpochContent): Promise<void> {
    if (e.epoch !== this.committed + 1) throw new Error(`epoch ${e.epoch} after ${this.committed}`); // the reader enforces this
    applyPages(e, this.target.memory);
    this.state = { vcpus: e.vcpus, vm: e.vm, devices: e.devices };
    const writes = e.diskOps.filter((o) => o.kind === 'write').map(({ device, offset, data }) => ({ device, offset, data: (data as Uint8Array) }));
    const discards = e.diskOps.filter((o) => o.kind === 'discard').map(({ device, offset, length }) => ({ device, offset, length: length as number }));
    if (this.disks.shared) {
      this.unreleased.push({ epoch: e.epoch, writes, discards });
      this.unreleased = this.unreleased.filter((u) => u.epoch > e.releasedEpoch);
    } else if (writes.length || discards.length) {
      await this.disks.apply(writes, discards);
    }
    this.committed = e.epoch;
    this.released = Math.max(this.released, e.releasedEpoch);
    this.channel.sendAck(e.epoch);
    this.stats.state = 'protected';
    this.stats.epoch = e.epoch;
    this.stats.ackedEpoch = e.epoch;
    this.stats.totalEpochs++;
    this.stats.lastEpochDirtyPages = e.pageNumbers.length;
    this.stats.lastEpochBytes = e.pageData.length;
    this.stats.totalBytes += e.pageData.length;
    this.stats.heldWrites = this.unreleased.reduce((n, u) => n + u.writes.length, 0);
  }

  /**
   * Puts the last committed epoch's vCPU, VM and device state into the machine (RAM is
   * already there) and, for shared disks, re-applies writes the primary had been allowed
   * to make but may not have made. The caller then runs the VM.
   */
  async takeOver(): Promise<number> {
    for (const u of this.unreleased) await this.disks.apply(u.writes, u.discards);
    this.unreleased = [];
    this.target.restoreVm(this.state.vm);
    this.state.vcpus.forEach((s, i) => this.target.restoreVcpu(i, s));
    this.state.devices.forEach((s, i) => this.target.restoreDevice(i, this.devices[i], s));
    this.stats.state = 'active';
    return this.committed;
  }
}
