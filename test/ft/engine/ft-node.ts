/**
 * One cuju VMM of a re-protection chain, in this process: a tiny real KVM machine that
 * starts empty, waiting as an FT backup (listenForMigration in ft_mode), takes over when
 * its primary goes, and can then protect the VM in turn (`migrate -c` through a
 * MigrationController with the cuju-ft capability) to the next FtNode. It has its own
 * FtController and output gate (GatedNetBackend over FakeNet) like a real VMM, so what a
 * VM that became primary by failover needs (dirty tracking, gates, epoch numbering,
 * stats) is exercised for real. Like FtTestPrimary it records guest RAM (SHA-256), the
 * sweep counter and registers at its sync point and at every epoch boundary it takes.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import assert from 'node:assert/strict';
import type { KvmSystem } from '../../../src/kvm/system.js';
import { probeStateSupport, type KvmStateCapabilities, type KvmStateSupport } from '../../../src/kvm/state/support.js';
import { DirtyTracker } from '../../../src/memory/dirty-tracker.js';
import type { GuestMemory } from '../../../src/memory/guest-memory.js';
import { FtCancelledError, FtController } from '../../../src/ft/controller.js';
import type { FtPrimaryMachine } from '../../../src/ft/epoch.js';
import { FtOutputCommit } from '../../../src/ft/output/ft-output-commit.js';
import { GatedNetBackend } from '../../../src/ft/output/gated-net-backend.js';
import { listenForMigration, type IncomingListener, type IncomingMachine } from '../../../src/migration/incoming.js';
import { MigrationController } from '../../../src/migration/controller.js';
import type { MigratableMachine } from '../../../src/migration/migratable.js';
import { kvmRestoreTarget, type SnapshotSource } from '../../../src/snapshot/machine-snapshot.js';
import type { DeviceDescription, MachineDescription } from '../../../src/snapshot/machine-description.js';
import type { ExpectedMachine } from '../../../src/snapshot/reader.js';
import type { RestoreTarget } from '../../../src/snapshot/restore.js';
import { Board } from '../../../src/vm/board.js';
import type { CpuInfo, KvmInfo, RunState } from '../../../src/vm/control.js';
import { IoBus } from '../../../src/vm/io-bus.js';
import { Vcpu, type VcpuStopReason } from '../../../src/vm/vcpu.js';
import { freePort } from '../../migration/harness.js';
import { CODE_GPA, COUNTER_GPA, SWEEP_GUEST } from '../../migration/sweep-guest.js';
import { bootRegs, longModeSregs, writeLongModeTables } from '../../../src/x86/long-mode.js';
import { testDescription, TEST_RAM } from '../../migration/test-machines.js';
import { FakeNet } from '../output/fakes.js';
import { NoDisks, ramSha256, sweepRegs, type StateRecord } from './ft-machines.js';

class NotInFtNodeError extends Error {
  override readonly name = 'NotInFtNodeError';
}

function validateTestDevice(_d: DeviceDescription, s: unknown): void {
  if (typeof s !== 'object' || s === null || (s as { kind?: unknown }).kind !== 'test-device') throw new Error('test-device state is malformed');
}

export class FtNode extends EventEmitter implements IncomingMachine, MigratableMachine, FtPrimaryMachine {
  readonly name: string;
  board?: Board;
  vcpu?: Vcpu;
  readonly stops: VcpuStopReason[] = [];
  readonly ft: FtController;
  readonly gate: GatedNetBackend;
  readonly net = new FakeNet();
  readonly log: string[] = [];
  readonly events: { name: string; data: Record<string, unknown> }[] = [];
  readonly trackers: DirtyTracker[] = [];
  /** The backup side's socket once its FT channel opened (to cut it in tests). */
  backupSocket?: Socket;
  /** How this node's runBackup ended: undefined while it runs (or never ran). */
  backupResult?: { error?: Error };
  /** The vCPU's registers right after the takeover, before it ran. */
  regsAtTakeover?: string;
  /** Guest RAM right after the takeover, before the vCPU ran. */
  ramAtTakeover?: Uint8Array;
  announced = 0;
  /** This node's sync point and epoch boundaries while it is primary (reset by each new pairing). */
  atSync?: StateRecord;
  atBoundary: StateRecord[] = [];
  listener?: IncomingListener;
  port = 0;
  private state: RunState = 'inmigrate';
  private device: unknown;
  private support?: KvmStateSupport;

  constructor(private readonly kvm: KvmSystem, name: string) {
    super();
    this.name = name;
    this.gate = new GatedNetBackend(this.net);
    this.ft = new FtController(this, (l) => this.log.push(l), {
      machine: this,
      outputs: new FtOutputCommit([this.gate], []),
      backupDisks: new NoDisks(),
      // Automatic re-protection (cuju-set-standby in the tests) pairs the way main.ts does.
      pairStandby: (uri) => new MigrationController(this).pairFtBackup(uri),
    });
    for (const e of ['CUJU_FT_STARTED', 'CUJU_FT_PEER_LOST', 'CUJU_FT_FAILOVER', 'CUJU_FT_VERIFY_MISMATCH']) {
      this.on(e, (data: Record<string, unknown>) => this.events.push({ name: e, data }));
    }
  }

  /** Waits as an FT backup (`-incoming tcp:0:PORT,ft_mode`), on `port` or a free one. */
  async listen(port?: number): Promise<void> {
    this.port = port ?? await freePort();
    this.listener = await listenForMigration(this, {
      host: '127.0.0.1', port: this.port, notice: (l) => this.log.push(l), idleTimeoutMs: 10_000,
      ft: {
        runBackup: (socket, ...rest) => {
          this.backupSocket = socket;
          return this.ft.runBackup(socket, ...rest).then(
            () => {
              // Still inside the load: the vCPU holds the restored state and has not run.
              this.regsAtTakeover = sweepRegs(this.board!.vcpuFds[0]);
              this.ramAtTakeover = Uint8Array.from(this.ram());
              this.backupResult = {};
            },
            (e: Error) => { this.backupResult = { error: e }; throw e; },
          );
        },
        isCancel: (e) => e instanceof FtCancelledError,
        onCancelled: (reason) => this.log.push(`cancelled: ${reason}`),
      },
    });
  }

  eventsNamed(name: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.name === name).map((e) => e.data);
  }

  private ram(): Uint8Array {
    if (!this.board) throw new Error(`${this.name} has no board`);
    return this.board.mem.regions[0].bytes;
  }

  get memory(): GuestMemory {
    if (!this.board) throw new Error(`${this.name} has no board`);
    return this.board.mem;
  }

  get counter(): bigint {
    return this.memory.readU64(COUNTER_GPA);
  }

  private record(): StateRecord {
    const ram = this.ram();
    const counter = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength).readBigUInt64LE(COUNTER_GPA);
    return { sha256: ramSha256(ram), counter, regs: sweepRegs(this.board!.vcpuFds[0]) };
  }

  /** The record a backup that took over from this node at `epoch` must match. */
  recordOf(epoch: number): StateRecord {
    const r = epoch === 0 ? this.atSync : this.atBoundary[epoch - 1];
    assert.ok(r, `${this.name} recorded no boundary for epoch ${epoch} (it has ${this.atBoundary.length})`);
    return r;
  }

  /** The first VMM of a chain: boots the sweep guest and runs it (no backup yet). */
  bootSweepGuest(): void {
    if (this.board) throw new Error(`${this.name} already runs a VM`);
    const board = new Board(this.kvm, TEST_RAM, 1);
    writeLongModeTables(board.mem);
    board.mem.write(CODE_GPA, SWEEP_GUEST);
    const fd = board.vcpuFds[0];
    fd.setSregs(longModeSregs(fd.getSregs()));
    fd.setRegs(bootRegs(CODE_GPA, 0));
    this.support = probeStateSupport(this.kvm, fd);
    this.board = board;
    this.vcpu = this.newVcpu(board);
    this.device = { kind: 'test-device', generation: 1, note: 'the chain test device' };
    this.state = 'running';
    this.vcpu.resume();
  }

  private newVcpu(board: Board): Vcpu {
    const v = new Vcpu(0, board.vcpuFds[0], { pio: new IoBus('pio'), mmio: new IoBus('mmio'), onVcpuStop: (_v, r) => { this.stops.push(r); return 'park'; } });
    v.start();
    return v;
  }

  // ---- IncomingMachine: the backup side ----

  async startFromState(load: (target: RestoreTarget, expected: ExpectedMachine) => Promise<void>, paused = false): Promise<void> {
    if (this.board) throw new Error(`${this.name} already runs a VM`);
    const board = new Board(this.kvm, TEST_RAM, 1);
    const vcpu = this.newVcpu(board);
    this.board = board;
    this.vcpu = vcpu;
    this.support ??= probeStateSupport(this.kvm, board.vcpuFds[0]);
    const target = kvmRestoreTarget(board, this.support, (_o, _d, s) => { this.device = s; });
    try {
      await load(target, { ...testDescription(TEST_RAM), capabilities: this.support.capabilities, validateDevice: validateTestDevice });
    } catch (e) {
      vcpu.destroy();
      board.destroy();
      this.board = undefined;
      this.vcpu = undefined;
      throw e;
    }
    this.state = paused ? 'paused' : 'running';
    if (!paused) vcpu.resume();
  }

  deviceStates(): unknown[] {
    return [this.device];
  }

  announceNetwork(): void {
    this.announced++;
  }

  // ---- MigratableMachine + FtPrimaryMachine: the primary side ----

  description(): MachineDescription {
    return testDescription(TEST_RAM);
  }

  stateCapabilities(): KvmStateCapabilities {
    if (!this.support) throw new Error(`${this.name} never had a VM`);
    return this.support.capabilities;
  }

  private source(): SnapshotSource {
    const b = this.board!;
    return { mem: b.mem, vm: b.vm, vcpuFds: b.vcpuFds, machine: this.description(), support: this.support!, deviceState: () => this.device };
  }

  /** The initial copy freezes the VM once: that is a new pairing's sync point. */
  async freeze(): Promise<SnapshotSource> {
    await this.stop();
    this.atSync = this.record();
    this.atBoundary = [];
    return this.source();
  }

  trackDirtyPages(): DirtyTracker {
    const t = new DirtyTracker(this.board!.vm, this.board!.ramSlot, this.board!.mem);
    t.start();
    this.trackers.push(t);
    return t;
  }

  markMigrated(): void {
    if (this.state === 'paused') this.state = 'postmigrate';
  }

  async parkForEpoch(): Promise<SnapshotSource | undefined> {
    if (this.state !== 'running' || !this.vcpu) return undefined;
    await this.vcpu.pause();
    if (this.state !== 'running') {
      this.resumeAfterEpoch();
      return undefined;
    }
    this.atBoundary.push(this.record());
    return this.source();
  }

  resumeAfterEpoch(): void {
    if (this.state === 'running') this.vcpu?.resume();
  }

  // ---- VmControl ----

  runState(): RunState {
    return this.state;
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    await this.vcpu!.pause();
    this.state = 'paused';
    this.emit('STOP', {});
  }

  async cont(): Promise<void> {
    if (this.state !== 'paused') return;
    this.state = 'running';
    this.vcpu!.resume();
    this.emit('RESUME', {});
  }

  async systemReset(): Promise<void> { throw new NotInFtNodeError('reset'); }
  async systemPowerdown(): Promise<void> { throw new NotInFtNodeError('powerdown'); }
  async quit(): Promise<void> { throw new NotInFtNodeError('quit'); }
  async cpus(): Promise<CpuInfo[]> { throw new NotInFtNodeError('cpus'); }
  async registersText(): Promise<string> { throw new NotInFtNodeError('registers'); }
  kvmInfo(): KvmInfo { return { enabled: true, present: true, backend: this.kvm.backend, note: 'FT chain test node' }; }

  /** This VMM is gone: its guest stops, its connections close. */
  destroy(): void {
    this.listener?.close();
    this.backupSocket?.destroy();
    this.state = 'shutdown';
    this.vcpu?.destroy();
    this.board?.destroy();
    this.vcpu = undefined;
    this.board = undefined;
  }
}
