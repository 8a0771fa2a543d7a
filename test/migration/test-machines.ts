/**
 * Small real machines for migration tests: a MigratableMachine (the source) and an
 * IncomingMachine (the destination) over a Board (KVM VM with irqchip, PIT, one vCPU)
 * running the sweep guest (sweep-guest.ts) in long mode: no Linux boot, so a migration
 * of a running, RAM-dirtying guest takes milliseconds. Each carries one fake device
 * whose JSON state travels in the stream and is hashed by verify mode.
 */
import { EventEmitter } from 'node:events';
import type { KvmSystem } from '../../src/kvm/system.js';
import { probeStateSupport, type KvmStateSupport } from '../../src/kvm/state/support.js';
import { DirtyTracker } from '../../src/memory/dirty-tracker.js';
import type { GuestMemory } from '../../src/memory/guest-memory.js';
import type { IncomingMachine } from '../../src/migration/incoming.js';
import type { MigratableMachine } from '../../src/migration/migratable.js';
import { kvmRestoreTarget, type SnapshotSource } from '../../src/snapshot/machine-snapshot.js';
import type { DeviceDescription, MachineDescription } from '../../src/snapshot/machine-description.js';
import type { ExpectedMachine } from '../../src/snapshot/reader.js';
import type { RestoreTarget } from '../../src/snapshot/restore.js';
import { Board } from '../../src/vm/board.js';
import type { CpuInfo, KvmInfo, RunState } from '../../src/vm/control.js';
import { IoBus } from '../../src/vm/io-bus.js';
import { Vcpu, type VcpuStopReason } from '../../src/vm/vcpu.js';
import { bootRegs, longModeSregs, writeLongModeTables } from '../../src/x86/long-mode.js';
import { CODE_GPA, COUNTER_GPA, SWEEP_GUEST } from './sweep-guest.js';

export const TEST_RAM = 2 * 1024 * 1024;
/** Where the fake device writes into guest RAM (as a device's DMA would): outside the sweep area. */
export const DEVICE_PAGE_GPA = 0x1f8000;
const DEVICE: DeviceDescription = { kind: 'test-device', id: 'dev0' };

export interface TestDeviceState {
  kind: 'test-device';
  generation: number;
  note: string;
}

export function testDescription(ramBytes: number): MachineDescription {
  return { ramBytes, vcpuCount: 1, devices: [DEVICE] };
}

function validateTestDevice(_d: DeviceDescription, s: unknown): void {
  const o = s as TestDeviceState;
  if (typeof o !== 'object' || o === null || o.kind !== 'test-device' || !Number.isInteger(o.generation) || typeof o.note !== 'string') {
    throw new Error('test-device state is malformed');
  }
}

/** A vCPU of a test board: no devices; any stop (triple fault, emulation failure) is recorded and parks it. */
function testVcpu(board: Board, stops: VcpuStopReason[]): Vcpu {
  const v = new Vcpu(0, board.vcpuFds[0], {
    pio: new IoBus('pio'),
    mmio: new IoBus('mmio'),
    onVcpuStop: (_v, r) => { stops.push(r); return 'park'; },
  });
  v.start();
  return v;
}

class NotInTestMachineError extends Error {
  override readonly name = 'NotInTestMachineError';
}

/** The source: boots the sweep guest at once and runs it. */
export class TestSourceMachine extends EventEmitter implements MigratableMachine {
  readonly name = 'migration-source';
  readonly board: Board;
  readonly vcpu: Vcpu;
  readonly stops: VcpuStopReason[] = [];
  device: TestDeviceState = { kind: 'test-device', generation: 41, note: 'carried as JSON in the device section' };
  trackers: DirtyTracker[] = [];
  markMigratedCalls = 0;
  private state: RunState = 'running';
  private readonly support: KvmStateSupport;

  constructor(private readonly kvm: KvmSystem, readonly ramBytes = TEST_RAM) {
    super();
    this.board = new Board(kvm, ramBytes, 1);
    writeLongModeTables(this.board.mem);
    this.board.mem.write(CODE_GPA, SWEEP_GUEST);
    const fd = this.board.vcpuFds[0];
    fd.setSregs(longModeSregs(fd.getSregs()));
    fd.setRegs(bootRegs(CODE_GPA, 0));
    // Probed now, not in freeze(): the probe takes tens of ms, which would count as downtime.
    this.support = probeStateSupport(kvm, fd);
    this.vcpu = testVcpu(this.board, this.stops);
    this.vcpu.resume();
  }

  /**
   * The fake device writes guest RAM (through GuestMemory, so only the VMM side of dirty
   * tracking sees it) and changes its state: done on each of the first `passes` pre-copy
   * passes of the next migration, it guarantees that many later passes have something
   * to send, however the guest's vCPU thread gets scheduled. (MIGRATION_PASS is what
   * MigrationController emits on the machine after each pass.)
   */
  dirtyFromDeviceDuring(passes: number): void {
    let left = passes;
    const tick = () => {
      this.device = { ...this.device, generation: this.device.generation + 1 };
      this.board.mem.writeU32(DEVICE_PAGE_GPA, this.device.generation);
      if (--left === 0) this.off('MIGRATION_PASS', tick);
    };
    this.on('MIGRATION_PASS', tick);
  }

  /** Called (once) at the next read of `memory`: lets a test act at a precise step of a migration. */
  onNextMemoryAccess?: () => void;

  get memory(): GuestMemory {
    const hook = this.onNextMemoryAccess;
    this.onNextMemoryAccess = undefined;
    hook?.();
    return this.board.mem;
  }

  get counter(): bigint {
    return this.board.mem.readU64(COUNTER_GPA);
  }

  runState(): RunState {
    return this.state;
  }

  async stop(): Promise<void> {
    await this.vcpu.pause();
    if (this.state === 'running') {
      this.state = 'paused';
      this.emit('STOP', {});
    }
  }

  async cont(): Promise<void> {
    if (this.state !== 'paused') return;
    this.state = 'running';
    this.vcpu.resume();
    this.emit('RESUME', {});
  }

  async systemReset(): Promise<void> {
    throw new NotInTestMachineError('the migration test machine cannot reset');
  }

  async systemPowerdown(): Promise<void> {
    throw new NotInTestMachineError('the migration test machine cannot power down');
  }

  async quit(): Promise<void> {
    throw new NotInTestMachineError('the migration test machine cannot quit');
  }

  async cpus(): Promise<CpuInfo[]> {
    throw new NotInTestMachineError('the migration test machine does not report CPUs');
  }

  async registersText(): Promise<string> {
    throw new NotInTestMachineError('the migration test machine does not report registers');
  }

  kvmInfo(): KvmInfo {
    return { enabled: true, present: true, backend: this.kvm.backend, note: 'migration test machine' };
  }

  description(): MachineDescription {
    return testDescription(this.ramBytes);
  }

  async freeze(): Promise<SnapshotSource> {
    await this.stop();
    const b = this.board;
    return { mem: b.mem, vm: b.vm, vcpuFds: b.vcpuFds, machine: this.description(), support: this.support, deviceState: () => this.device };
  }

  trackDirtyPages(): DirtyTracker {
    const t = new DirtyTracker(this.board.vm, this.board.ramSlot, this.board.mem);
    t.start();
    this.trackers.push(t);
    return t;
  }

  markMigrated(): void {
    this.markMigratedCalls++;
    if (this.state === 'paused') this.state = 'postmigrate';
  }

  destroy(): void {
    this.vcpu.destroy();
    this.board.destroy();
  }
}

/** The destination: builds a blank board per attempt, as Machine.startFromState does. */
export class TestDestinationMachine implements IncomingMachine {
  board?: Board;
  vcpu?: Vcpu;
  readonly stops: VcpuStopReason[] = [];
  /** startFromState calls, and the errors of those whose load rejected. */
  attempts = 0;
  readonly loadFailures: Error[] = [];
  /** Set once a load succeeded and the vCPU was let run. */
  started = false;
  resumedVcpus = 0;
  announced = 0;
  /** Guest RAM right after the load, before the vCPU ran a single instruction. */
  ramAtStart?: Uint8Array;
  private device?: unknown;
  private support?: KvmStateSupport;

  constructor(private readonly kvm: KvmSystem, readonly ramBytes = TEST_RAM) {}

  get memory(): GuestMemory {
    if (!this.board) throw new Error('the destination has no board outside startFromState');
    return this.board.mem;
  }

  get counter(): bigint {
    return this.memory.readU64(COUNTER_GPA);
  }

  deviceStates(): unknown[] {
    return [this.device];
  }

  announceNetwork(): void {
    this.announced++;
  }

  async startFromState(load: (target: RestoreTarget, expected: ExpectedMachine) => Promise<void>, paused = false): Promise<void> {
    if (this.started) throw new Error('the destination already runs a VM');
    this.attempts++;
    const board = new Board(this.kvm, this.ramBytes, 1);
    const vcpu = testVcpu(board, this.stops);
    this.board = board;
    this.vcpu = vcpu;
    this.device = undefined;
    this.support ??= probeStateSupport(this.kvm, board.vcpuFds[0]);
    const target = kvmRestoreTarget(board, this.support, (_o, _d, s) => { this.device = s; });
    try {
      await load(target, { ...testDescription(this.ramBytes), capabilities: this.support.capabilities, validateDevice: validateTestDevice });
    } catch (e) {
      this.loadFailures.push(e as Error);
      vcpu.destroy();
      board.destroy();
      this.board = undefined;
      this.vcpu = undefined;
      throw e;
    }
    this.ramAtStart = Uint8Array.from(board.mem.regions[0].bytes);
    this.started = true;
    if (paused) return;
    vcpu.resume();
    this.resumedVcpus++;
  }

  destroy(): void {
    this.vcpu?.destroy();
    this.board?.destroy();
  }
}
