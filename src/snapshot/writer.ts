/**
 * Streams a snapshot to any Writable (a file, a socket): header, memory passes, vCPU,
 * VM and device state, end marker and the SHA-256 trailer. RAM goes out one run
 * (at most 1 MiB) at a time, so no second copy of guest RAM is ever held.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { GuestMemory } from '../memory/guest-memory.js';
import type { VcpuState } from '../kvm/state/vcpu-state.js';
import type { VmState } from '../kvm/state/vm-state.js';
import { crc32Continue, crc32Of } from './crc.js';
import { SnapshotError } from './errors.js';
import { FRAME_HEADER_SIZE, MEMORY_RUN_HEADER_SIZE, PAGE_SIZE, PageEncoding, SectionType } from './format.js';
import { encodeHeader } from './header.js';
import type { MachineDescription } from './machine-description.js';
import { dirtyPageRuns, nonZeroRuns, type MemoryRun } from './memory-runs.js';
import { SectionOrder } from './section-order.js';
import { encodeVcpuState } from './vcpu-codec.js';
import { encodeVmState } from './vm-codec.js';

export class SnapshotWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly order: SectionOrder;
  private failure?: Error;
  private started = false;
  /** Bytes written so far (header, sections, trailer). */
  bytesWritten = 0;

  constructor(private readonly out: Writable, private readonly machine: MachineDescription) {
    this.order = new SectionOrder(machine.vcpuCount, machine.devices.length);
    out.on('error', (e) => { this.failure ??= e; });
  }

  /** Writes bytes, waiting for the stream to drain when it asks to. */
  private async emit(chunk: Uint8Array, hashed = true): Promise<void> {
    this.throwIfFailed();
    if (hashed) this.hash.update(chunk);
    this.bytesWritten += chunk.length;
    const more = this.out.write(chunk, (e) => { if (e) this.failure ??= e; });
    if (!more) {
      await new Promise<void>((resolve) => {
        const done = () => { this.out.off('drain', done); this.out.off('error', done); this.out.off('close', done); resolve(); };
        this.out.on('drain', done).on('error', done).on('close', done);
      });
    }
    this.throwIfFailed();
  }

  /** A separate method: TypeScript cannot see the stream callbacks set `failure` meanwhile. */
  private throwIfFailed(): void {
    if (this.failure) throw new SnapshotError(`writing the snapshot failed: ${this.failure.message}`);
  }

  private async header(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.emit(encodeHeader(this.machine));
  }

  /** One framed section; `parts` are the payload pieces (written without joining them). */
  private async section(type: SectionType, index: number, parts: Uint8Array[]): Promise<void> {
    await this.header();
    this.order.accept(type, index);
    const length = parts.reduce((n, p) => n + p.length, 0);
    const frame = Buffer.alloc(FRAME_HEADER_SIZE);
    frame.writeUInt32LE(type >>> 0, 0);
    frame.writeUInt32LE(index >>> 0, 4);
    frame.writeBigUInt64LE(BigInt(length), 8);
    let crc = crc32Of(frame);
    await this.emit(frame);
    for (const p of parts) {
      crc = crc32Continue(p, crc);
      await this.emit(p);
    }
    const tail = Buffer.alloc(4);
    tail.writeUInt32LE(crc, 0);
    await this.emit(tail);
  }

  private async run(mem: GuestMemory, pass: number, run: MemoryRun): Promise<void> {
    const head = Buffer.alloc(MEMORY_RUN_HEADER_SIZE);
    head.writeBigUInt64LE(BigInt(run.gpa), 0);
    head.writeUInt32LE(run.pages, 8);
    head.writeUInt32LE(run.encoding, 12);
    // A copy, not a view: during a live pass the guest may change the page between
    // the CRC and the moment the stream really writes it.
    const data = run.encoding === PageEncoding.Data ? [Buffer.from(mem.view(run.gpa, run.pages * PAGE_SIZE))] : [];
    await this.section(SectionType.Memory, pass, [head, ...data]);
  }

  /** Every non-zero page of RAM (the first, or only, pass: the target starts zeroed). */
  async writeRam(mem: GuestMemory, pass = 0): Promise<void> {
    for (const run of nonZeroRuns(mem)) await this.run(mem, pass, run);
  }

  /** A later pre-copy pass: these page frame numbers (ascending), zero pages as zero runs. */
  async writePages(mem: GuestMemory, pass: number, pageNumbers: Iterable<number>): Promise<void> {
    for (const run of dirtyPageRuns(mem, pageNumbers)) await this.run(mem, pass, run);
  }

  async writeVcpu(index: number, state: VcpuState): Promise<void> {
    await this.section(SectionType.Vcpu, index, [encodeVcpuState(state)]);
  }

  async writeVm(state: VmState): Promise<void> {
    await this.section(SectionType.Vm, 0, [encodeVmState(state)]);
  }

  /** Device `ordinal` of the machine description; its state must be JSON-serializable. */
  async writeDevice(ordinal: number, state: unknown): Promise<void> {
    const d = this.machine.devices[ordinal];
    const json = JSON.stringify(state);
    if (json === undefined) throw new SnapshotError(`device ${d?.kind} '${d?.id}' returned a state JSON cannot hold`);
    await this.section(SectionType.Device, ordinal, [Buffer.from(json, 'utf8')]);
  }

  /** End marker and SHA-256 trailer. Does not end the stream (a socket may carry more). */
  async finish(): Promise<void> {
    await this.section(SectionType.End, 0, []);
    if (!this.order.finished) throw new SnapshotError('snapshot ended before all sections were written');
    await this.emit(this.hash.digest(), false);
  }
}
