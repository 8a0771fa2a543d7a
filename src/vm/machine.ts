/**
 * A running virtual machine: builds the board, boots the kernel, runs the vCPUs,
 * owns the platform devices, and implements VmControl for the monitors.
 *
 * Lifecycle: prelaunch -> running <-> paused -> shutdown (or internal-error).
 * A reset (guest or monitor) rebuilds the board from the same images.
 * Events: STOP, RESUME, RESET, SHUTDOWN (QMP names), plus 'booted' (boot timer),
 * 'crash' (message) and 'exit' (exit code for the process).
 */
import { EventEmitter } from 'node:events';
import * as K from '../kvm/constants.js';
import { backendNote, KvmSystem } from '../kvm/system.js';
import type { MigratableMachine } from '../migration/migratable.js';
import type { IncomingMachine } from '../migration/incoming.js';
import type { CpuInfo, KvmInfo, RunState, VmControl } from './control.js';
import { Board } from './board.js';
import { IoBus } from './io-bus.js';
import { loadForBoot, type BootImages } from './kernel-boot.js';
import { Vcpu, type VcpuStopReason } from './vcpu.js';
import { formatRegisters } from './registers-text.js';
import { RipSampler } from './rip-sampler.js';
import { collectGarbage } from './release-memory.js';
import { wireVirtioDevices, type VirtioDeviceFactory, type WiredVirtio } from './virtio-wiring.js';
import { readVirtual } from '../x86/page-walk.js';
import { BootTimer, BOOT_TIMER_GPA, BOOT_TIMER_SIZE } from '../devices/boot-timer/boot-timer.js';
import { CmosRtc } from '../devices/rtc/cmos-rtc.js';
import { I8042 } from '../devices/i8042/i8042.js';
import { PowerPort, POWER_BUTTON_IRQ, POWER_PORT } from '../devices/power/power-port.js';
import { Uart16550 } from '../devices/serial/uart16550.js';
import { validateSerialState } from '../devices/serial/state.js';
import { validateVirtioMmioState } from '../devices/virtio/state.js';
import { probeStateSupport, type KvmStateSupport } from '../kvm/state/support.js';
import { DirtyTracker } from '../memory/dirty-tracker.js';
import { tscClockParams } from './platform-cmdline.js';
import type { DeviceDescription, MachineDescription } from '../snapshot/machine-description.js';
import type { ExpectedMachine } from '../snapshot/reader.js';
import type { RestoreTarget } from '../snapshot/restore.js';
import { kvmRestoreTarget, type SnapshotSource } from '../snapshot/machine-snapshot.js';

export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;

export interface MachineOptions {
  name: string;
  memoryMiB: number;
  cpus: number;
  images: BootImages;
  /** -no-reboot: a guest reboot ends the VMM instead. */
  noReboot: boolean;
  /** -no-shutdown: a guest power-off stops the VM but keeps the VMM (and its monitors). */
  noShutdown?: boolean;
  /** virtio devices, in slot order (their back ends outlive resets; models are rebuilt). */
  virtio?: VirtioDeviceFactory[];
  /** Diagnostics from devices (a guest driver that broke a queue, ...). */
  warn?: (message: string) => void;
  /** Bytes the guest writes to its serial console. */
  serialOutput: (bytes: Uint8Array) => void;
  kvm?: KvmSystem;
}

/** A state operation asked of a machine in the wrong run state (monitor error, not a crash). */
export class MachineStateError extends Error {
  override readonly name = 'MachineStateError';
}

export class Machine extends EventEmitter implements VmControl, MigratableMachine, IncomingMachine {
  readonly name: string;
  readonly kvm: KvmSystem;
  private state: RunState = 'prelaunch';
  private board?: Board;
  private support?: KvmStateSupport;
  /** Between freeze() and cont(): devices take no host input, so the saved state stays exact. */
  private frozen = false;
  private virtio?: WiredVirtio;
  private vcpus: Vcpu[] = [];
  private serial?: Uart16550;
  private pendingSerialInput: Uint8Array[] = [];
  private readonly startedAt = process.hrtime.bigint();
  /** The process is on its way out (SHUTDOWN emitted or about to be). */
  private exiting = false;
  /** Milliseconds from VMM start to the guest's boot-timer write (undefined until then). */
  bootToUserSpaceMs?: number;

  constructor(private readonly opts: MachineOptions) {
    super();
    this.name = opts.name;
    this.kvm = opts.kvm ?? KvmSystem.open();
  }

  /** Host memory the VMM uses beyond the guest RAM it backs: process RSS minus resident guest pages. */
  vmmOverheadBytes(): number {
    return process.memoryUsage.rss() - (this.board?.guestResidentBytes() ?? 0);
  }

  runState(): RunState {
    return this.state;
  }

  get memory() {
    if (!this.board) throw new Error('machine has no board (not started)');
    return this.board.mem;
  }

  /** Builds the board, loads the kernel and starts the vCPUs. */
  start(): void {
    this.build(true);
    collectGarbage();
    this.setState('running');
    for (const v of this.vcpus) v.resume();
    this.startProfiler();
  }

  /**
   * Starts from saved state instead of booting: builds the board without loading a
   * kernel, lets `load` write RAM, KVM state and device state into it (it must throw if
   * the state is incomplete or wrong, and then nothing runs), and runs the vCPUs unless
   * `paused` (QEMU's -S). On failure the half-restored board is thrown away.
   */
  async startFromState(load: (target: RestoreTarget, expected: ExpectedMachine) => Promise<void>, paused = false): Promise<void> {
    const waiting = this.state === 'inmigrate';
    if (this.state !== 'prelaunch' && !waiting) throw new MachineStateError(`the VM cannot take incoming state while it is ${this.state}`);
    this.setState('inmigrate');
    this.build(false);
    try {
      const board = this.board!;
      const support = this.stateSupport();
      const target = kvmRestoreTarget(board, support, (ordinal, _device, state) => this.restoreDevice(ordinal, state));
      await load(target, { ...this.description(), capabilities: support.capabilities, validateDevice: (d, s) => this.validateDeviceState(d, s) });
    } catch (e) {
      this.teardown();
      this.setState(waiting ? 'inmigrate' : 'prelaunch');
      throw e;
    }
    this.setState(paused ? 'paused' : 'running');
    this.flushPendingSerialInput();
    // Not inside the switch-over: a full GC costs 25-35 ms (measured), after the vCPUs run.
    setTimeout(collectGarbage, 100).unref();
    if (paused) return;
    for (const v of this.vcpus) v.resume();
    this.emit('RESUME', {});
    this.startProfiler();
  }

  /**
   * Tells the network the VM is here now (after an incoming migration or a failover):
   * every NIC that can announce itself broadcasts RARP frames for its MAC, as QEMU does.
   */
  announceNetwork(): void {
    for (const t of this.virtio?.transports ?? []) {
      const device = t.device as { announce?: () => Promise<void> };
      if (typeof device.announce === 'function') void device.announce();
    }
  }

  /** -incoming tcp: the VM waits for a migration stream (QEMU's inmigrate). */
  awaitIncoming(): void {
    if (this.state === 'prelaunch') this.setState('inmigrate');
  }

  private startProfiler(): void {
    const profile = process.env.CUJU_PROFILE;
    if (profile) {
      const sampler = new RipSampler({ sampleRip: () => this.sampleRip() });
      sampler.start();
      // process 'exit', not ours: the CLI ends the process from its own 'exit' listener.
      process.once('exit', () => { sampler.stop(); sampler.write(profile); });
    }
  }

  /** RIP of vCPU 0 right now (pauses it for the read; for the sampling profiler). */
  private async sampleRip(): Promise<bigint | undefined> {
    const v = this.vcpus[0];
    if (!v || this.state !== 'running') return undefined;
    await v.pause();
    try {
      return this.state === 'running' || this.state === 'shutdown' ? v.fd.getRegs().rip : undefined;
    } finally {
      if (this.state === 'running') v.resume();
    }
  }

  private build(boot: boolean): void {
    this.support = undefined;
    this.frozen = false;
    const board = new Board(this.kvm, this.opts.memoryMiB * 1024 * 1024, this.opts.cpus);
    this.board = board;
    const pio = new IoBus('pio');
    const mmio = new IoBus('mmio');
    this.serial = new Uart16550(this.serialCallbacks());
    // A restore replaces this UART: input typed meanwhile waits for the restored one.
    if (boot) this.flushPendingSerialInput();
    // Through `this.serial`: a restore replaces the UART with one in the saved state.
    pio.register(COM1_PORT, 8, 'serial0', {
      read: (off) => this.serial!.read(off),
      write: (off, _size, v) => this.serial!.write(off, Number(v)),
    });
    const i8042 = new I8042(() => this.guestReset('i8042 reset'));
    pio.register(0x60, 1, 'i8042-data', { read: () => i8042.read(0), write: (_o, s, v) => i8042.write(0, s, v) });
    pio.register(0x64, 1, 'i8042-cmd', { read: () => i8042.read(4), write: (_o, s, v) => i8042.write(4, s, v) });
    pio.register(0x70, 2, 'cmos-rtc', new CmosRtc());
    pio.register(0x80, 1, 'post-code', { read: () => 0, write: () => {} });
    pio.register(POWER_PORT, 1, 'cuju-power', new PowerPort(() => this.guestPowerOff()));
    mmio.register(BOOT_TIMER_GPA, BOOT_TIMER_SIZE, 'boot-timer', new BootTimer(() => this.onBootTimer()));
    const host = { pio, mmio, onVcpuStop: (v: Vcpu, r: VcpuStopReason) => this.onVcpuStop(v, r) };
    this.virtio = wireVirtioDevices(board, mmio, this.opts.virtio ?? [], this.opts.warn ?? (() => {}));
    if (boot) {
      const clock = tscClockParams(this.kvm.backend, board.vcpuFds[0].getTscKhz(), this.opts.images.cmdline);
      const images = { ...this.opts.images, cmdline: [this.opts.images.cmdline, ...this.virtio.cmdline, ...clock].join(' ') };
      loadForBoot(board.mem, images, this.opts.cpus, board.vcpuFds[0]);
    }
    this.vcpus = board.vcpuFds.map((fd, i) => new Vcpu(i, fd, host));
    for (const v of this.vcpus) v.start();
  }

  private flushPendingSerialInput(): void {
    for (const chunk of this.pendingSerialInput) this.serial?.enqueueInput(chunk);
    this.pendingSerialInput = [];
  }

  private serialCallbacks() {
    const board = this.board!;
    return {
      setIrq: (level: boolean) => board.vm.irqLine(COM1_IRQ, level),
      onOutput: (bytes: Uint8Array) => this.opts.serialOutput(bytes),
    };
  }

  /** What KVM state this host can save and restore (probed once per board, on vCPU 0). */
  private stateSupport(): KvmStateSupport {
    if (!this.board) throw new Error('machine has no board (not started)');
    this.support ??= probeStateSupport(this.kvm, this.board.vcpuFds[0]);
    return this.support;
  }

  /** This host's KVM state capabilities (what a peer's vCPU/VM state must fit). */
  stateCapabilities() {
    return this.stateSupport().capabilities;
  }

  /** The machine a snapshot of it describes: RAM, vCPUs, and devices in a fixed order (serial, then virtio slots). */
  description(): MachineDescription {
    const devices: DeviceDescription[] = [{ kind: 'serial', id: 'serial0' }];
    (this.opts.virtio ?? []).forEach((f, n) => devices.push({ kind: f.name.split(' ')[0], id: `virtio-mmio.${n}` }));
    return { ramBytes: this.opts.memoryMiB * 1024 * 1024, vcpuCount: this.opts.cpus, devices };
  }

  private validateDeviceState(device: DeviceDescription, state: unknown): void {
    if (device.kind === 'serial') {
      validateSerialState(state);
      return;
    }
    const n = Number(device.id.slice('virtio-mmio.'.length));
    const t = this.virtio?.transports[n];
    if (!t) throw new Error(`no virtio device in slot ${n}`);
    validateVirtioMmioState(state, { deviceId: t.device.deviceId, queueMaxSizes: t.device.queueMaxSizes });
  }

  private restoreDevice(ordinal: number, state: unknown): void {
    if (ordinal === 0) {
      this.serial = Uart16550.restore(state, this.serialCallbacks());
      this.flushPendingSerialInput();
      return;
    }
    this.virtio!.transports[ordinal - 1].restoreState(state);
  }

  /**
   * Parks every vCPU and waits until no device has I/O in flight (block requests
   * complete, net transmit drained), so RAM, KVM state and device state are one
   * consistent picture. Resolves with a SnapshotSource valid until the machine runs
   * again; the caller resumes with cont() or leaves the machine paused.
   */
  async freeze(): Promise<SnapshotSource> {
    if (!this.board || (this.state !== 'running' && this.state !== 'paused')) {
      throw new MachineStateError(`the VM cannot be saved while it is ${this.state}`);
    }
    await this.stop();
    this.frozen = true;
    for (const t of this.virtio?.transports ?? []) await t.device.quiesce?.();
    const board = this.board;
    return {
      mem: board.mem, vm: board.vm, vcpuFds: board.vcpuFds,
      machine: this.description(),
      support: this.stateSupport(),
      deviceState: (ordinal) => this.deviceState(ordinal),
    };
  }

  /**
   * An epoch boundary (fault tolerance): parks every vCPU without changing the run
   * state or emitting STOP, and without waiting for device I/O (in-flight block
   * requests are part of the device state and re-issued on restore). The returned
   * source is valid until resumeAfterEpoch(). Resolves undefined when the VM is not
   * running (paused by the user, shutting down): then there is no epoch to take.
   */
  async parkForEpoch(): Promise<SnapshotSource | undefined> {
    if (!this.board || this.state !== 'running') return undefined;
    const board = this.board;
    await Promise.all(this.vcpus.map((v) => v.pause()));
    if (this.state !== 'running' || this.board !== board) {
      this.resumeAfterEpoch();
      return undefined;
    }
    return {
      mem: board.mem, vm: board.vm, vcpuFds: board.vcpuFds,
      machine: this.description(),
      support: this.stateSupport(),
      deviceState: (ordinal) => this.deviceState(ordinal),
    };
  }

  /** Ends an epoch boundary: the vCPUs run again (if the VM is still meant to run). */
  resumeAfterEpoch(): void {
    if (this.state !== 'running') return;
    for (const v of this.vcpus) v.resume();
  }

  private deviceState(ordinal: number): unknown {
    if (ordinal === 0) return this.serial!.saveState();
    return this.virtio!.transports[ordinal - 1].saveState();
  }

  /** Every device's state, in description() order (verify mode compares them). */
  deviceStates(): unknown[] {
    return this.description().devices.map((_d, i) => this.deviceState(i));
  }

  /**
   * Records pages written from now on, by the guest (KVM's dirty log on the RAM slot)
   * and by the VMM's devices. Only valid for the current board: a reset ends it.
   */
  trackDirtyPages(): DirtyTracker {
    if (!this.board) throw new MachineStateError('the VM has no memory to track (not started)');
    const tracker = new DirtyTracker(this.board.vm, this.board.ramSlot, this.board.mem);
    tracker.start();
    return tracker;
  }

  /** After a completed outgoing migration: the VM lives elsewhere now and stays paused here (QEMU's postmigrate). */
  markMigrated(): void {
    if (this.state === 'paused') this.setState('postmigrate');
  }

  private teardown(): void {
    for (const v of this.vcpus) v.destroy();
    this.vcpus = [];
    for (const t of this.virtio?.transports ?? []) t.hostReset();
    this.virtio?.dispose();
    this.virtio = undefined;
    this.board?.destroy();
    this.board = undefined;
  }

  private setState(s: RunState): void {
    this.state = s;
  }

  /** Input typed on the console (stdin or a serial socket). */
  serialInput(bytes: Uint8Array): void {
    // While state is arriving the UART is about to be replaced by the restored one.
    // Frozen for a snapshot, the UART must not change either: input waits for cont().
    if (this.serial && this.state !== 'inmigrate' && !this.frozen) this.serial.enqueueInput(bytes);
    else this.pendingSerialInput.push(bytes);
  }

  private onBootTimer(): void {
    if (this.bootToUserSpaceMs !== undefined) return;
    this.bootToUserSpaceMs = Number(process.hrtime.bigint() - this.startedAt) / 1e6;
    this.emit('booted', this.bootToUserSpaceMs);
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    await Promise.all(this.vcpus.map((v) => v.pause()));
    this.setState('paused');
    this.emit('STOP', {});
  }

  async cont(): Promise<void> {
    if (this.state !== 'paused' && this.state !== 'postmigrate') return;
    this.setState('running');
    if (this.frozen) {
      this.frozen = false;
      for (const t of this.virtio?.transports ?? []) t.device.thaw?.();
      this.flushPendingSerialInput();
    }
    for (const v of this.vcpus) v.resume();
    this.emit('RESUME', {});
  }

  async systemReset(): Promise<void> {
    this.reset(false, 'host-qmp-system-reset');
  }

  async systemPowerdown(): Promise<void> {
    if (!this.board || this.state === 'shutdown') return;
    // The guest's cuju power driver treats an edge on this ISA IRQ as the power button.
    this.board.vm.irqLine(POWER_BUTTON_IRQ, true);
    this.board.vm.irqLine(POWER_BUTTON_IRQ, false);
    this.emit('POWERDOWN', {});
  }

  async quit(): Promise<void> {
    this.shutdown(false, 'host-qmp-quit', 0);
  }

  async cpus(): Promise<CpuInfo[]> {
    return Promise.all(this.vcpus.map(async (v) => {
      const parkedByUs = this.state === 'running';
      if (parkedByUs) await v.pause();
      try {
        const regs = v.fd.getRegs();
        const halted = v.fd.getMpState() === K.KVM_MP_STATE_HALTED;
        return { index: v.index, threadId: v.threadId, pc: regs.rip, halted };
      } finally {
        if (parkedByUs && this.state === 'running') v.resume();
      }
    }));
  }

  async registersText(cpuIndex = 0): Promise<string> {
    const v = this.vcpus[cpuIndex];
    if (!v) throw new Error(`CPU ${cpuIndex} does not exist`);
    const parkedByUs = this.state === 'running';
    if (parkedByUs) await v.pause();
    try {
      return formatRegisters(cpuIndex, v.fd.getRegs(), v.fd.getSregs());
    } finally {
      if (parkedByUs && this.state === 'running') v.resume();
    }
  }

  kvmInfo(): KvmInfo {
    return { enabled: true, present: true, backend: this.kvm.backend, note: backendNote(this.kvm.backend) };
  }

  private guestPowerOff(): void {
    this.shutdown(true, 'guest-shutdown', 0);
  }

  private guestReset(why: string): void {
    if (this.opts.noReboot) {
      this.shutdown(true, 'guest-reset', 0);
      return;
    }
    this.reset(true, 'guest-reset', why);
  }

  /** Runs the reset on the event loop, never inside a vCPU exit handler. */
  private reset(guest: boolean, reason: string, _why?: string): void {
    if (this.state === 'shutdown' || this.state === 'internal-error') return;
    setImmediate(() => {
      if (this.state === 'shutdown' || this.state === 'internal-error') return;
      const wasPaused = this.state === 'paused';
      this.teardown();
      this.emit('RESET', { guest, reason });
      this.build(true);
      if (!wasPaused) {
        this.setState('running');
        for (const v of this.vcpus) v.resume();
      }
    });
  }

  private shutdown(guest: boolean, reason: string, exitCode: number): void {
    if (this.exiting || (guest && this.state === 'shutdown')) return;
    this.setState('shutdown');
    if (guest && this.opts.noShutdown) {
      // QEMU's -no-shutdown: the guest is off, the VMM stays for its monitors.
      for (const v of this.vcpus) void v.pause();
      setImmediate(() => this.emit('SHUTDOWN', { guest, reason }));
      return;
    }
    this.exiting = true;
    setImmediate(() => {
      this.teardown();
      this.emit('SHUTDOWN', { guest, reason });
      this.emit('exit', exitCode);
    });
  }

  private crash(message: string): void {
    if (this.state === 'internal-error' || this.state === 'shutdown') return;
    this.setState('internal-error');
    for (const v of this.vcpus) void v.pause();
    this.emit('crash', message);
    setImmediate(() => {
      this.teardown();
      this.emit('exit', 1);
    });
  }

  private onVcpuStop(v: Vcpu, reason: VcpuStopReason): 'resume' | 'park' {
    switch (reason.kind) {
      case 'system-event':
        if (reason.type === K.KVM_SYSTEM_EVENT_RESET) this.guestReset('system event reset');
        else this.guestPowerOff();
        return 'park';
      case 'shutdown':
        this.crash(`guest triple fault (KVM_EXIT_SHUTDOWN) on CPU ${v.index}\n${this.describeCpu(v)}`);
        return 'park';
      case 'emulation-failure':
        if (this.fixUpEmulationFailure(v)) return 'resume';
        this.crash(`guest hit an instruction KVM cannot emulate (KVM_EXIT_INTERNAL_ERROR suberror ${reason.suberror}) on CPU ${v.index}: ${this.instructionBytes(v)}\n${this.describeCpu(v)}`);
        return 'park';
      case 'fatal':
        this.crash(`${reason.message} on CPU ${v.index}\n${this.describeCpu(v)}`);
        return 'park';
    }
  }

  /**
   * kvm_pvm runs guest kernel code in KVM's instruction emulator, which lacks a few
   * instructions. Those with a safe equivalent are completed here:
   *  - int3 (0xCC, used by the kernel's text patching and self-tests): deliver #BP as
   *    the CPU would, with RIP after the instruction.
   *  - fwait (0x9B): x87 exceptions are never pending in our guests, so it is a no-op.
   */
  private fixUpEmulationFailure(v: Vcpu): boolean {
    if (!this.board) return false;
    const regs = v.fd.getRegs();
    const sregs = v.fd.getSregs();
    const bytes = readVirtual(this.board.mem, sregs.cr3, sregs.cr0, regs.rip, 1);
    if (bytes.length === 0) return false;
    if (bytes[0] === 0xcc) {
      v.fd.setRegs({ ...regs, rip: regs.rip + 1n });
      const events = v.fd.getVcpuEvents();
      events[0] = 1; // exception.injected
      events[1] = 3; // #BP
      events[2] = 0; // no error code
      events[3] = 0; // not pending
      new DataView(events.buffer).setUint32(20, 0, true); // flags: leave NMI/SIPI/SMM state alone
      v.fd.setVcpuEvents(events);
      return true;
    }
    if (bytes[0] === 0x9b) {
      v.fd.setRegs({ ...regs, rip: regs.rip + 1n });
      return true;
    }
    return false;
  }

  private instructionBytes(v: Vcpu): string {
    try {
      const regs = v.fd.getRegs();
      const sregs = v.fd.getSregs();
      const bytes = this.board ? readVirtual(this.board.mem, sregs.cr3, sregs.cr0, regs.rip, 16) : new Uint8Array();
      return `bytes at RIP: ${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ') || '(unmapped)'}`;
    } catch {
      return 'bytes at RIP: (unreadable)';
    }
  }

  private describeCpu(v: Vcpu): string {
    try {
      return formatRegisters(v.index, v.fd.getRegs(), v.fd.getSregs());
    } catch (e) {
      return `(registers unavailable: ${(e as Error).message})`;
    }
  }

  /** Stops everything without events (tests, error paths). */
  destroy(): void {
    this.setState('shutdown');
    this.teardown();
  }
}
