/**
 * Test doubles for FtPrimary's epoch pipeline, no KVM: a guest whose RAM writes mark
 * pages dirty (FakeGuest, with its DirtyPageTracker), a machine that parks and records
 * RAM at every boundary (FakePrimaryMachine), a channel that queues epochs until the
 * test lets the "socket" take them and delivers ACKs on command (FakeChannel), and an
 * OutputCommit that records every call (RecordingOutput). One shared `log` records the
 * order of events across all of them.
 */
import { EventEmitter } from 'node:events';
import { GuestMemory } from '../../../src/memory/guest-memory.js';
import type { DirtyPages, DirtyPageTracker } from '../../../src/migration/migratable.js';
import type { VmFd } from '../../../src/kvm/vm-fd.js';
import type { KvmStateSupport } from '../../../src/kvm/state/support.js';
import type { SnapshotSource } from '../../../src/snapshot/machine-snapshot.js';
import type { MachineDescription } from '../../../src/snapshot/machine-description.js';
import type { DiskDiscard, DiskWrite, EpochContent, FtPrimaryMachine, OutputCommit } from '../../../src/ft/epoch.js';
import type { PrimaryChannel } from '../../../src/ft/primary.js';
import type { CpuInfo, KvmInfo, RunState } from '../../../src/vm/control.js';

export const PAGE = 4096;

/** A set of page numbers with DirtyPages' shape (ascending iteration). */
export class PageSet implements DirtyPages {
  private readonly pages: number[];

  constructor(pages: Iterable<number>) {
    this.pages = [...new Set(pages)].sort((a, b) => a - b);
  }

  [Symbol.iterator](): Iterator<number> {
    return this.pages[Symbol.iterator]();
  }

  count(): number {
    return this.pages.length;
  }

  union(other: DirtyPages): DirtyPages {
    return new PageSet([...this.pages, ...other]);
  }
}

/** Guest RAM whose writes are tracked, as KVM's dirty log tracks a running guest's. */
export class FakeGuest {
  readonly ram: Uint8Array;
  readonly memory: GuestMemory;
  private dirty = new Set<number>();
  harvests = 0;
  trackerStopped = false;

  constructor(readonly pages: number) {
    this.ram = new Uint8Array(pages * PAGE);
    this.memory = GuestMemory.fromBuffer(this.ram);
  }

  /** The guest writes page `page`: every byte of it becomes a function of `value`, so any stale or torn copy shows. */
  write(page: number, value: number): void {
    const words = new Uint32Array(this.ram.buffer, this.ram.byteOffset + page * PAGE, PAGE / 4);
    for (let i = 0; i < words.length; i++) words[i] = (value * 2654435761 + i * 4) >>> 0;
    this.dirty.add(page);
  }

  readonly tracker: DirtyPageTracker = {
    harvest: () => {
      if (this.trackerStopped) throw new Error('harvest() on a stopped tracker');
      this.harvests++;
      const set = new PageSet(this.dirty);
      this.dirty = new Set();
      return set;
    },
    peekCount: () => (this.trackerStopped ? undefined : this.dirty.size),
    stop: () => { this.trackerStopped = true; },
  };

  /** Pages written since the last harvest. */
  get pendingDirty(): number[] {
    return [...this.dirty].sort((a, b) => a - b);
  }
}

class NotInFakeMachineError extends Error {
  override readonly name = 'NotInFakeMachineError';
}

/** irqchip / PIT bytes stamped with the boundary number, so captured VM state shows which park it came from. */
function fakeVm(boundary: () => number): VmFd {
  const stamp = (size: number, tag: number) => {
    const b = new Uint8Array(size);
    new DataView(b.buffer).setUint32(0, tag, true);
    new DataView(b.buffer).setUint32(4, boundary(), true);
    return b;
  };
  return { getIrqchip: (chip: number) => stamp(520, chip), getPit2: () => stamp(112, 99) } as unknown as VmFd;
}

const SUPPORT: KvmStateSupport = {
  capabilities: { backend: 'unknown', xsave: false, xsaveSize: 0, xcrs: false, debugRegs: false, vcpuEvents: false, clock: false, tscKhz: false },
  msrIndices: [],
  unreadableMsrs: [],
};

/**
 * The primary's machine: no vCPU fds (so nothing KVM is captured), one device whose
 * state names the boundary it was captured at, and a copy of RAM taken at every park
 * (ramAt[n-1] is RAM at the n-th boundary). Parking can be held open (holdParks) to
 * let a test act while the vCPUs are being parked.
 */
export class FakePrimaryMachine extends EventEmitter implements FtPrimaryMachine {
  readonly name = 'fake-primary';
  state: RunState = 'running';
  parks = 0;
  resumes = 0;
  /** RAM at each successful park, in order. */
  readonly ramAt: Uint8Array[] = [];
  /** Runs right after the vCPUs are let go again (the guest's first instructions of the next epoch). */
  onResume?: () => void;
  /** When set, parkForEpoch waits for this before it parks. */
  holdParks?: Promise<void>;
  /** Makes the device's state capture throw (a refused KVM call, a broken device). */
  failCapture?: Error;
  private readonly vm = fakeVm(() => this.parks);

  constructor(private readonly guest: FakeGuest, readonly log: string[]) {
    super();
  }

  get memory(): GuestMemory {
    return this.guest.memory;
  }

  description(): MachineDescription {
    return { ramBytes: this.guest.ram.length, vcpuCount: 0, devices: [{ kind: 'fake', id: 'dev0' }] };
  }

  async parkForEpoch(): Promise<SnapshotSource | undefined> {
    if (this.holdParks) await this.holdParks;
    if (this.state !== 'running') return undefined;
    this.parks++;
    this.ramAt.push(Uint8Array.from(this.guest.ram));
    this.log.push(`park ${this.parks}`);
    return {
      mem: this.guest.memory, vm: this.vm, vcpuFds: [], machine: this.description(), support: SUPPORT,
      deviceState: () => {
        if (this.failCapture) throw this.failCapture;
        return { boundary: this.parks };
      },
    };
  }

  resumeAfterEpoch(): void {
    this.resumes++;
    this.log.push('resume');
    this.onResume?.();
  }

  trackDirtyPages(): DirtyPageTracker {
    return this.guest.tracker;
  }

  runState(): RunState {
    return this.state;
  }

  async stop(): Promise<void> {
    this.state = 'paused';
  }

  async cont(): Promise<void> {
    this.state = 'running';
  }

  async systemReset(): Promise<void> { throw new NotInFakeMachineError('no reset'); }
  async systemPowerdown(): Promise<void> { throw new NotInFakeMachineError('no powerdown'); }
  async quit(): Promise<void> { throw new NotInFakeMachineError('no quit'); }
  async cpus(): Promise<CpuInfo[]> { throw new NotInFakeMachineError('no cpus'); }
  async registersText(): Promise<string> { throw new NotInFakeMachineError('no registers'); }
  kvmInfo(): KvmInfo { return { enabled: false, present: false, backend: 'none', note: 'fake' }; }
}

/** An epoch as the socket took it: its bytes copied at that moment. */
function copyEpoch(e: EpochContent): EpochContent {
  return { ...e, pageNumbers: Uint32Array.from(e.pageNumbers), pageData: Uint8Array.from(e.pageData) };
}

interface Queued {
  content: EpochContent;
  resolve(): void;
  reject(e: Error): void;
}

/**
 * The FT channel as FtPrimary sees it. Epochs wait in `queued` until transmit() lets
 * the socket take them (the bytes are copied then, as a socket would read them), unless
 * autoTransmit. ack() and breakConnection() play the backup.
 */
export class FakeChannel implements PrimaryChannel {
  autoTransmit = true;
  readonly queued: Queued[] = [];
  /** What left, in order, with its bytes as they were when they left. */
  readonly sent: EpochContent[] = [];
  readonly cancels: string[] = [];
  closeCalls = 0;
  closed = false;
  /** The largest number of epochs handed to sendEpoch but not yet taken by the socket. */
  maxQueued = 0;
  private readonly ackListeners: ((n: number) => void)[] = [];
  private readonly closeListeners: ((why: string) => void)[] = [];

  constructor(readonly log: string[]) {}

  sendEpoch(content: EpochContent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('sending on a closed channel'));
    this.log.push(`send ${content.epoch}`);
    return new Promise((resolve, reject) => {
      this.queued.push({ content, resolve, reject });
      this.maxQueued = Math.max(this.maxQueued, this.queued.length);
      if (this.autoTransmit) this.transmit();
    });
  }

  /** The socket takes the first `n` queued epochs (all by default). */
  transmit(n = this.queued.length): void {
    for (const q of this.queued.splice(0, n)) {
      this.sent.push(copyEpoch(q.content));
      this.log.push(`sent ${q.content.epoch}`);
      q.resolve();
    }
  }

  async sendCancel(reason: string): Promise<void> {
    if (this.closed) throw new Error('sending on a closed channel');
    this.cancels.push(reason);
    this.log.push('cancel');
  }

  onAck(listener: (epoch: number) => void): void {
    this.ackListeners.push(listener);
  }

  onClose(listener: (why: string) => void): void {
    this.closeListeners.push(listener);
  }

  /** The backup acknowledges epoch `n`. */
  ack(n: number): void {
    this.log.push(`ack ${n}`);
    for (const l of this.ackListeners) l(n);
  }

  /** The connection breaks: queued sends fail, listeners hear it (as primaryChannel does). */
  breakConnection(why: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queued.splice(0)) q.reject(new Error(why));
    for (const l of this.closeListeners) l(why);
  }

  close(): void {
    this.closeCalls++;
    this.log.push('close');
    this.breakConnection('protection ended');
  }
}

/** An OutputCommit that records its calls (and their order in the shared log). */
export class RecordingOutput implements OutputCommit {
  readonly begun: number[] = [];
  readonly released: number[] = [];
  releaseAlls = 0;
  /** Disk writes the next takeDiskWrites() hands out. */
  pendingWrites: DiskWrite[] = [];
  pendingDiscards: DiskDiscard[] = [];
  heldPackets = 0;

  constructor(readonly log: string[]) {}

  recordDiskWrites(): void {
    this.log.push('recordDiskWrites');
  }

  stopRecordingDiskWrites(): void {
    this.log.push('stopRecordingDiskWrites');
  }

  beginEpoch(n: number): void {
    this.begun.push(n);
    this.log.push(`begin ${n}`);
  }

  release(n: number): void {
    this.released.push(n);
    this.log.push(`release ${n}`);
  }

  releaseAll(): void {
    this.releaseAlls++;
    this.log.push('releaseAll');
  }

  takeDiskWrites(): { writes: DiskWrite[]; discards: DiskDiscard[] } {
    const taken = { writes: this.pendingWrites, discards: this.pendingDiscards };
    this.pendingWrites = [];
    this.pendingDiscards = [];
    return taken;
  }

  held(): { packets: number; bytes: number; writes: number } {
    return { packets: this.heldPackets, bytes: 0, writes: 0 };
  }
}

/** Lets every pending promise reaction and I/O callback run (setImmediate is never mocked here). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
