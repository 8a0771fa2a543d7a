/**
 * A real KVM machine (Board: irqchip, PIT, CPUID, boot MSRs) running a tiny 64-bit
 * guest that counts: each loop iteration increments a u64 in RAM and R15 (so
 * counter - R15 is 0 or 1 whenever the vCPU parks) and every 4096 iterations writes
 * AL to port 0x80, where the test's bus counts the exits.
 */
import { KvmSystem } from '../../src/kvm/system.js';
import { Board } from '../../src/vm/board.js';
import { IoBus } from '../../src/vm/io-bus.js';
import { Vcpu } from '../../src/vm/vcpu.js';
import { bootRegs, longModeSregs, writeLongModeTables } from '../../src/x86/long-mode.js';

export const RAM_BYTES = 2 * 1024 * 1024;
export const CODE_GPA = 0x100000;
export const COUNTER_GPA = 0x150000;
export const PORT = 0x80;

const COUNTER_LOOP = [
  0x48, 0xff, 0x04, 0x25, 0x00, 0x00, 0x15, 0x00, // inc qword [0x150000]
  0x49, 0xff, 0xc7, //                               inc r15
  0x41, 0xf7, 0xc7, 0xff, 0x0f, 0x00, 0x00, //       test r15d, 0xfff
  0x75, 0xec, //                                     jnz loop
  0xe6, 0x80, //                                     out 0x80, al
  0xeb, 0xe8, //                                     jmp loop
];

export class CounterVm {
  readonly board: Board;
  readonly vcpu: Vcpu;
  portWrites = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  stops: string[] = [];

  /** `boot`: load the guest and its entry state; without it the board stays blank (a restore target). */
  constructor(kvm: KvmSystem, boot: boolean) {
    this.board = new Board(kvm, RAM_BYTES, 1);
    const fd = this.board.vcpuFds[0];
    if (boot) {
      writeLongModeTables(this.board.mem);
      this.board.mem.write(CODE_GPA, Uint8Array.from(COUNTER_LOOP));
      fd.setSregs(longModeSregs(fd.getSregs()));
      fd.setRegs(bootRegs(CODE_GPA, 0));
    }
    const pio = new IoBus('pio');
    pio.register(PORT, 1, 'counter-port', {
      read: () => 0,
      write: () => {
        this.portWrites++;
        this.waiters = this.waiters.filter((w) => (w.n <= this.portWrites ? (w.resolve(), false) : true));
      },
    });
    this.vcpu = new Vcpu(0, fd, {
      pio, mmio: new IoBus('mmio'),
      onVcpuStop: (_v, r) => {
        this.stops.push(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
        this.waiters.forEach((w) => w.resolve());
        return 'park';
      },
    });
    this.vcpu.start();
  }

  get counter(): bigint {
    return this.board.mem.readU64(COUNTER_GPA);
  }

  /** Runs until `n` more port writes arrived, then parks the vCPU. */
  async runFor(n: number): Promise<void> {
    const target = this.portWrites + n;
    const reached = new Promise<void>((resolve) => this.waiters.push({ n: target, resolve }));
    this.vcpu.resume();
    await reached;
    await this.vcpu.pause();
    if (this.stops.length) throw new Error(`guest stopped: ${this.stops.join('; ')}`);
  }

  destroy(): void {
    this.vcpu.destroy();
    this.board.destroy();
  }
}
