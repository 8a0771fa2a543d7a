/**
 * The FT sides of the migration test machines (test/migration/test-machines.ts):
 *  - FtTestPrimary: the sweep-guest source plus what FtPrimary needs (parkForEpoch,
 *    resumeAfterEpoch, stateCapabilities). It records guest RAM (a SHA-256), the sweep
 *    counter and the guest's registers at the sync point and at every epoch boundary,
 *    while the vCPU is parked: the state a backup taking over at that epoch must hold.
 *  - BackupVm: the VmControl a backup's FtController reports its events on (the
 *    backup machine itself is TestDestinationMachine, an IncomingMachine).
 *  - WatchedNet: the primary's "tap" behind the output gate; it notes every packet that
 *    reaches it before the epoch it was produced in was acknowledged.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { KvmSystem } from '../../../src/kvm/system.js';
import type { VcpuFd } from '../../../src/kvm/vcpu-fd.js';
import type { KvmStateCapabilities, KvmStateSupport } from '../../../src/kvm/state/support.js';
import type { FtPrimaryMachine } from '../../../src/ft/epoch.js';
import type { BackupDisks } from '../../../src/ft/backup.js';
import type { FtResources } from '../../../src/ft/controller.js';
import type { DiskDiscard, DiskWrite } from '../../../src/ft/epoch.js';
import type { SnapshotSource } from '../../../src/snapshot/machine-snapshot.js';
import type { CpuInfo, KvmInfo, RunState } from '../../../src/vm/control.js';
import { COUNTER_GPA } from '../../migration/sweep-guest.js';
import { TestSourceMachine } from '../../migration/test-machines.js';
import { FakeNet } from '../output/fakes.js';

export interface StateRecord {
  /** Of all guest RAM. */
  sha256: string;
  /** The sweep guest's counter. */
  counter: bigint;
  /** The sweep guest's live registers (its page pointer rbx, rax, rip). */
  regs: string;
}

export function ramSha256(ram: Uint8Array): string {
  return createHash('sha256').update(ram).digest('hex');
}

/** The registers the sweep guest keeps its position in: the vCPU must be parked. */
export function sweepRegs(fd: VcpuFd): string {
  const r = fd.getRegs();
  return `rip=0x${r.rip.toString(16)} rbx=0x${r.rbx.toString(16)} rax=${r.rax}`;
}

function record(ram: Uint8Array, fd: VcpuFd): StateRecord {
  const counter = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength).readBigUInt64LE(COUNTER_GPA);
  return { sha256: ramSha256(ram), counter, regs: sweepRegs(fd) };
}

export class FtTestPrimary extends TestSourceMachine implements FtPrimaryMachine {
  /** RAM at the sync point (what the backup holds as epoch 0). */
  atSync?: StateRecord;
  /** RAM at each epoch boundary, in order: atBoundary[n - 1] is epoch n's. */
  readonly atBoundary: StateRecord[] = [];
  /**
   * The base class's probe result, as its freeze() hands it out: probing again here would
   * issue vCPU ioctls on a vCPU already running (they block until it leaves KVM_RUN,
   * which the sweep guest never does on its own).
   */
  private ftSupport?: KvmStateSupport;

  constructor(kvm: KvmSystem) {
    super(kvm);
  }

  private stateSupport(): KvmStateSupport {
    if (!this.ftSupport) throw new Error('FtTestPrimary: no KVM state support before the initial copy froze the VM');
    return this.ftSupport;
  }

  private ram(): Uint8Array {
    return this.board.mem.regions[0].bytes;
  }

  /** The initial copy freezes the VM once: that is the sync point. */
  override async freeze(): Promise<SnapshotSource> {
    const src = await super.freeze();
    this.ftSupport = src.support;
    this.atSync = record(this.ram(), this.board.vcpuFds[0]);
    return src;
  }

  stateCapabilities(): KvmStateCapabilities {
    return this.stateSupport().capabilities;
  }

  /** As Machine.parkForEpoch: no STOP event, no run-state change; undefined when not running. */
  async parkForEpoch(): Promise<SnapshotSource | undefined> {
    if (this.runState() !== 'running') return undefined;
    await this.vcpu.pause();
    if (this.runState() !== 'running') {
      this.resumeAfterEpoch();
      return undefined;
    }
    this.atBoundary.push(record(this.ram(), this.board.vcpuFds[0]));
    const b = this.board;
    return { mem: b.mem, vm: b.vm, vcpuFds: b.vcpuFds, machine: this.description(), support: this.stateSupport(), deviceState: () => this.device };
  }

  resumeAfterEpoch(): void {
    if (this.runState() === 'running') this.vcpu.resume();
  }

  /** The record a backup that took over at `epoch` must match. */
  recordOf(epoch: number): StateRecord {
    const r = epoch === 0 ? this.atSync : this.atBoundary[epoch - 1];
    if (!r) throw new Error(`the primary recorded no boundary for epoch ${epoch} (it has ${this.atBoundary.length})`);
    return r;
  }
}

class NotOnTheBackupError extends Error {
  override readonly name = 'NotOnTheBackupError';
}

/** Where a backup's FtController emits CUJU_FT_* events; records them. */
export class BackupVm extends EventEmitter {
  readonly name = 'ft-backup';
  readonly events: { name: string; data: unknown }[] = [];

  constructor() {
    super();
    for (const e of ['CUJU_FT_STARTED', 'CUJU_FT_PEER_LOST', 'CUJU_FT_FAILOVER']) this.on(e, (data: unknown) => this.events.push({ name: e, data }));
  }

  runState(): RunState { return 'inmigrate'; }
  async stop(): Promise<void> { throw new NotOnTheBackupError('stop'); }
  async cont(): Promise<void> { throw new NotOnTheBackupError('cont'); }
  async systemReset(): Promise<void> { throw new NotOnTheBackupError('reset'); }
  async systemPowerdown(): Promise<void> { throw new NotOnTheBackupError('powerdown'); }
  async quit(): Promise<void> { throw new NotOnTheBackupError('quit'); }
  async cpus(): Promise<CpuInfo[]> { throw new NotOnTheBackupError('cpus'); }
  async registersText(): Promise<string> { throw new NotOnTheBackupError('registers'); }
  kvmInfo(): KvmInfo { return { enabled: true, present: true, backend: 'test', note: 'FT backup test side' }; }
}

/** A backup without disks: epochs must carry no disk writes (the test machines have none). */
export class NoDisks implements BackupDisks {
  readonly shared = false;
  readonly applied: { writes: DiskWrite[]; discards: DiskDiscard[] }[] = [];

  async apply(writes: DiskWrite[], discards: DiskDiscard[]): Promise<void> {
    this.applied.push({ writes, discards });
  }
}

/** A backup's resources: it never uses the primary-side ones, and says so loudly if it tries. */
export function backupResources(disks: BackupDisks): FtResources {
  const absent = (what: string) => new Proxy({}, { get: (_t, p) => { throw new NotOnTheBackupError(`the backup used ${what}.${String(p)}`); } });
  return { machine: absent('machine') as FtResources['machine'], outputs: absent('outputs') as FtResources['outputs'], backupDisks: disks };
}

/**
 * The real back end behind the primary's GatedNetBackend. `isReleasable(epoch)` says
 * whether a packet of that epoch may be seen by the world now; a packet seen earlier is
 * recorded in `early` (not thrown: the gate would count a throw as a dropped packet).
 */
export class WatchedNet extends FakeNet {
  readonly early: string[] = [];
  /** Epoch of each packet by its sequence number (written by the test's traffic). */
  readonly epochOf = new Map<number, number>();

  constructor(private readonly isReleasable: (epoch: number) => boolean) {
    super();
  }

  override send(packet: readonly Uint8Array[]): boolean {
    const seq = Buffer.from(packet[0]).readUInt32LE(0);
    const epoch = this.epochOf.get(seq);
    if (epoch !== undefined && epoch >= 0 && !this.isReleasable(epoch)) this.early.push(`packet ${seq} of epoch ${epoch}`);
    return super.send(packet);
  }

  /** Sequence numbers of the packets the world has seen, in order. */
  seen(): number[] {
    return this.sent.map((p) => Buffer.from(p).readUInt32LE(0));
  }
}
