/**
 * One vCPU: its KVM fd, its thread (native, runs KVM_RUN off the event loop) and the
 * exit dispatch. State machine: parked (thread waiting, registers readable) <->
 * running (inside KVM_RUN or handling an exit); `pause()` kicks a running vCPU and
 * resolves once it is parked, `resume()` lets it run again; `destroy()` ends the thread.
 */
import * as K from '../kvm/constants.js';
import { native, type VcpuThreadHandle } from '../kvm/native.js';
import type { VcpuFd } from '../kvm/vcpu-fd.js';
import type { IoBus } from './io-bus.js';

const EINTR = 4;
const EAGAIN = 11;

export type VcpuStopReason =
  | { kind: 'shutdown'; cause: 'triple-fault' }
  | { kind: 'system-event'; type: number }
  | { kind: 'fatal'; message: string }
  | { kind: 'emulation-failure'; suberror: number; data: bigint[] };

export interface VcpuHost {
  readonly pio: IoBus;
  readonly mmio: IoBus;
  /**
   * The vCPU hit something that ends its run: a triple fault, a KVM system event, an
   * unhandled emulation failure. Returns 'resume' if the host fixed things up (e.g.
   * injected #BP for an int3 the emulator can't run), 'park' otherwise.
   */
  onVcpuStop(vcpu: Vcpu, reason: VcpuStopReason): 'resume' | 'park';
}

export class Vcpu {
  private thread?: VcpuThreadHandle;
  private running = false;
  private pauseRequested = true;
  private parkedWaiters: (() => void)[] = [];
  private destroyed = false;
  /** Exits handled, by reason (diagnostics and benchmarks). */
  readonly exitCounts = new Map<number, number>();
  /** Pauses that first had to let KVM complete an I/O exit (see onExit). */
  completions = 0;
  /** The last parking, split: kick → KVM_RUN returned, and → this thread saw it (µs; diagnostics). */
  lastPark?: { kickToExitUs: number; exitToParkUs: number };
  threadId = 0;

  constructor(readonly index: number, readonly fd: VcpuFd, private readonly host: VcpuHost) {}

  get isRunning(): boolean {
    return this.running;
  }

  /** Creates the thread, parked; call resume() to run. */
  start(): void {
    this.thread = native().vcpuStart(this.fd.fd, this.fd.run, (errno) => this.onExit(errno));
    this.threadId = native().vcpuThreadId(this.thread);
  }

  resume(): void {
    if (!this.thread || this.destroyed) return;
    this.pauseRequested = false;
    if (!this.running) {
      this.running = true;
      native().vcpuResume(this.thread);
    }
  }

  /** Resolves once the vCPU is parked (out of KVM_RUN, its state readable and writable). */
  pause(): Promise<void> {
    this.pauseRequested = true;
    if (!this.running || !this.thread) return Promise.resolve();
    const parked = new Promise<void>((resolve) => this.parkedWaiters.push(resolve));
    native().vcpuKick(this.thread);
    return parked;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pauseRequested = true;
    if (this.thread) native().vcpuStop(this.thread);
    this.running = false;
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const w = this.parkedWaiters;
    this.parkedWaiters = [];
    for (const f of w) f();
  }

  private park(): void {
    this.running = false;
    if (this.thread) {
      // Diagnostics (bench:ft's pause trace): kick → out of KVM_RUN → parked here, µs.
      const [kickUs, exitUs] = native().vcpuTimes(this.thread);
      const nowUs = Number(process.hrtime.bigint()) / 1000;
      this.lastPark = { kickToExitUs: exitUs - kickUs, exitToParkUs: nowUs - exitUs };
    }
    this.releaseWaiters();
  }

  private onExit(errno: number): void {
    if (this.destroyed) return;
    let action: 'resume' | 'park' = 'resume';
    let ioServiced = false;
    if (errno === EINTR || errno === EAGAIN) {
      // Kicked (pause or stop request) or interrupted: nothing to service.
    } else if (errno !== 0) {
      action = this.host.onVcpuStop(this, { kind: 'fatal', message: `KVM_RUN failed with errno ${errno}` });
    } else {
      const reason = this.fd.runView.getUint32(8, true);
      ioServiced = reason === K.KVM_EXIT_IO || reason === K.KVM_EXIT_MMIO;
      action = this.dispatch();
    }
    if (action === 'resume' && ioServiced && this.pauseRequested) {
      // KVM finishes an I/O instruction (the value read into its register, the
      // instruction pointer past it) only on the next KVM_RUN. State read before that
      // would replay the instruction wherever it is restored: a second read of a
      // read-to-clear register, a console byte written twice. So run once more with
      // immediate_exit, which completes the I/O and returns EINTR, and park then.
      this.completions++;
      native().vcpuResume(this.thread!, true);
      return;
    }
    if (action === 'park' || this.pauseRequested) {
      this.park();
      return;
    }
    native().vcpuResume(this.thread!);
  }

  private dispatch(): 'resume' | 'park' {
    const run = this.fd.runView;
    const reason = run.getUint32(8, true);
    this.exitCounts.set(reason, (this.exitCounts.get(reason) ?? 0) + 1);
    switch (reason) {
      case K.KVM_EXIT_IO:
        this.handleIo(run);
        return 'resume';
      case K.KVM_EXIT_MMIO:
        this.handleMmio(run);
        return 'resume';
      case K.KVM_EXIT_INTR:
      case K.KVM_EXIT_IRQ_WINDOW_OPEN:
      case K.KVM_EXIT_HLT:
        return 'resume';
      case K.KVM_EXIT_SHUTDOWN:
        return this.host.onVcpuStop(this, { kind: 'shutdown', cause: 'triple-fault' });
      case K.KVM_EXIT_SYSTEM_EVENT:
        return this.host.onVcpuStop(this, { kind: 'system-event', type: run.getUint32(32, true) });
      case K.KVM_EXIT_INTERNAL_ERROR: {
        const suberror = run.getUint32(32, true);
        const ndata = Math.min(run.getUint32(36, true), 16);
        const data = Array.from({ length: ndata }, (_, i) => run.getBigUint64(40 + 8 * i, true));
        return this.host.onVcpuStop(this, { kind: 'emulation-failure', suberror, data });
      }
      case K.KVM_EXIT_FAIL_ENTRY:
        return this.host.onVcpuStop(this, {
          kind: 'fatal',
          message: `VM entry failed (hardware reason 0x${run.getBigUint64(32, true).toString(16)})`,
        });
      default:
        return this.host.onVcpuStop(this, { kind: 'fatal', message: `unexpected KVM exit reason ${reason}` });
    }
  }

  private handleIo(run: DataView): void {
    const direction = run.getUint8(32);
    const size = run.getUint8(33);
    const port = run.getUint16(34, true);
    const count = run.getUint32(36, true);
    const dataOffset = Number(run.getBigUint64(40, true));
    for (let i = 0; i < count; i++) {
      const off = dataOffset + i * size;
      if (direction === K.KVM_EXIT_IO_OUT) {
        const v = size === 1 ? run.getUint8(off) : size === 2 ? run.getUint16(off, true) : run.getUint32(off, true);
        this.host.pio.write(port, size, v);
      } else {
        const v = Number(this.host.pio.read(port, size));
        if (size === 1) run.setUint8(off, v & 0xff);
        else if (size === 2) run.setUint16(off, v & 0xffff, true);
        else run.setUint32(off, v >>> 0, true);
      }
    }
  }

  private handleMmio(run: DataView): void {
    const addr = Number(run.getBigUint64(32, true));
    const len = run.getUint32(48, true);
    const isWrite = run.getUint8(52) !== 0;
    if (isWrite) {
      let v = 0n;
      for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(run.getUint8(40 + i));
      this.host.mmio.write(addr, len, len === 8 ? v : Number(v));
    } else {
      let v = BigInt(this.host.mmio.read(addr, len));
      for (let i = 0; i < len; i++) {
        run.setUint8(40 + i, Number(v & 0xffn));
        v >>= 8n;
      }
    }
  }
}
