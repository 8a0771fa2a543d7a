/**
 * node dist/bench/dirty-log.js — cost of DirtyTracker.harvest() on a Board's RAM slot
 * of 256 MiB and 1 GiB, with N pages dirtied by the guest since the last harvest,
 * in manual-protect and legacy mode.
 *
 * Per (size, mode, N): the parked guest is pointed at N pages spread over RAM above
 * 2 MiB, runs until it has stored to each once (`out` ends the phase, the vCPU parks),
 * then harvest() is timed; repeated BENCH_DIRTY_REPS times (default 15), medians
 * printed. The KVM ioctls are timed separately through a wrapper around the VM fd,
 * so the table splits harvest into GET, CLEAR and the rest (merging with the VMM
 * bitmap); "pages()" is the consumer's cost of listing the page numbers.
 * Needs /dev/kvm.
 */
import { KvmSystem } from '../src/kvm/system.js';
import type { DirtyLogVm } from '../src/kvm/dirty-log.js';
import { DirtyTracker } from '../src/memory/dirty-tracker.js';
import { IoBus } from '../src/vm/io-bus.js';
import { Board } from '../src/vm/board.js';
import { Vcpu } from '../src/vm/vcpu.js';
import { bootRegs, longModeSregs, writeLongModeTables } from '../src/x86/long-mode.js';

const MiB = 1024 * 1024;
const PAGE = 4096;
const CODE_GPA = 0x100000;
const FIRST_GPA = 2 * MiB;
const PORT = 0x10;
const REPS = Number(process.env.BENCH_DIRTY_REPS ?? 15);
const SIZES = [256 * MiB, 1024 * MiB];
const DIRTY_COUNTS = [0, 1, 64, 1024, 8192, 32768];

/**
 * rsi = first GPA, rdx = page count (>= 1), rdi = stride:
 *   top: mov rbx,rsi; mov rcx,rdx
 *   l:   mov [rbx],rax; add rbx,rdi; dec rcx; jnz l
 *        out 0x10,al; jmp top
 */
const DIRTY_PAGES_LOOP = [
  0x48, 0x89, 0xf3, 0x48, 0x89, 0xd1,
  0x48, 0x89, 0x03, 0x48, 0x01, 0xfb, 0x48, 0xff, 0xc9, 0x75, 0xf5,
  0xe6, PORT, 0xeb, 0xeb,
];

interface Timings { get: number[]; clear: number[]; harvest: number[]; list: number[]; reported: number }

const nowUs = () => Number(process.hrtime.bigint()) / 1000;
const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** The VM fd with its dirty-log ioctls timed. */
function timedVm(board: Board, t: { get: number; clear: number }): DirtyLogVm {
  const vm = board.vm;
  return {
    checkExtension: (cap) => vm.checkExtension(cap),
    enableCap: (cap, args) => vm.enableCap(cap, args),
    setUserMemoryRegion: (...a) => vm.setUserMemoryRegion(...a),
    getDirtyLog: (slot, bitmap) => { const t0 = nowUs(); vm.getDirtyLog(slot, bitmap); t.get += nowUs() - t0; },
    clearDirtyLog: (slot, first, num, bitmap) => { const t0 = nowUs(); vm.clearDirtyLog(slot, first, num, bitmap); t.clear += nowUs() - t0; },
  };
}

class DirtyingGuest {
  readonly board: Board;
  private readonly vcpu: Vcpu;
  private phaseEnded?: () => void;
  private stopped?: string;

  constructor(kvm: KvmSystem, readonly bytes: number) {
    this.board = new Board(kvm, bytes, 1);
    writeLongModeTables(this.board.mem);
    this.board.mem.write(CODE_GPA, Uint8Array.from(DIRTY_PAGES_LOOP));
    const fd = this.board.vcpuFds[0];
    fd.setSregs(longModeSregs(fd.getSregs()));
    const pio = new IoBus('pio');
    pio.register(PORT, 1, 'phase-end', { read: () => 0, write: () => { void this.vcpu.pause(); this.phaseEnded?.(); } });
    this.vcpu = new Vcpu(0, fd, {
      pio, mmio: new IoBus('mmio'),
      onVcpuStop: (_v, r) => {
        this.stopped = JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v));
        this.phaseEnded?.();
        return 'park';
      },
    });
    this.vcpu.start();
  }

  /** Has the guest store once to each of `n` pages spread evenly above 2 MiB. */
  async dirty(n: number): Promise<void> {
    if (n === 0) return;
    const stride = Math.floor((this.bytes - FIRST_GPA) / n / PAGE) * PAGE;
    if (stride < PAGE) throw new Error(`${n} pages do not fit in ${this.bytes / MiB} MiB`);
    const fd = this.board.vcpuFds[0];
    fd.setRegs({ ...bootRegs(CODE_GPA, 0), rsi: BigInt(FIRST_GPA), rdx: BigInt(n), rdi: BigInt(stride) });
    const ended = new Promise<void>((r) => (this.phaseEnded = r));
    this.vcpu.resume();
    await ended;
    await this.vcpu.pause();
    if (this.stopped) throw new Error(`guest stopped: ${this.stopped}`);
  }

  destroy(): void {
    this.vcpu.destroy();
    this.board.destroy();
  }
}

async function measure(guest: DirtyingGuest, mode: 'auto' | 'legacy', n: number): Promise<Timings & { startMs: number; modeName: string }> {
  const ioctl = { get: 0, clear: 0 };
  const tracker = new DirtyTracker(timedVm(guest.board, ioctl), guest.board.ramSlot, guest.board.mem);
  const t0 = nowUs();
  tracker.start({ mode });
  const startMs = (nowUs() - t0) / 1000;
  const r: Timings = { get: [], clear: [], harvest: [], list: [], reported: 0 };
  await guest.dirty(Math.max(n, 1)); // first touch of the pages (host faults) outside the timed reps
  tracker.harvest();
  for (let i = 0; i < REPS; i++) {
    await guest.dirty(n);
    ioctl.get = 0;
    ioctl.clear = 0;
    const h0 = nowUs();
    const dirty = tracker.harvest();
    r.harvest.push(nowUs() - h0);
    r.get.push(ioctl.get);
    r.clear.push(ioctl.clear);
    const l0 = nowUs();
    const pages = dirty.pages();
    r.list.push(nowUs() - l0);
    r.reported = pages.length;
  }
  const modeName = tracker.mode ?? '?';
  tracker.stop();
  return { ...r, startMs, modeName };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  rows.forEach((r) => console.log(line(r)));
}

async function main(): Promise<void> {
  const kvm = KvmSystem.open();
  console.log(`KVM backend ${kvm.backend}; ${REPS} harvests per row, medians in µs; guest parked while harvesting\n`);
  const rows: string[][] = [];
  const starts: string[] = [];
  for (const bytes of SIZES) {
    const guest = new DirtyingGuest(kvm, bytes);
    try {
      for (const mode of ['auto', 'legacy'] as const) {
        for (const n of DIRTY_COUNTS) {
          const m = await measure(guest, mode, n);
          if (m.reported < n) throw new Error(`harvest reported ${m.reported} pages, the guest dirtied ${n}`);
          const [h, g, c, l] = [median(m.harvest), median(m.get), median(m.clear), median(m.list)];
          rows.push([`${bytes / MiB} MiB`, m.modeName, String(n), String(m.reported), h.toFixed(0), g.toFixed(0), c.toFixed(0), (h - g - c).toFixed(0), l.toFixed(0)]);
          if (n === 0) starts.push(`${bytes / MiB} MiB ${m.modeName}: start() ${m.startMs.toFixed(2)} ms`);
        }
      }
    } finally {
      guest.destroy();
    }
  }
  printTable(['slot', 'mode', 'dirty', 'reported', 'harvest', 'GET', 'CLEAR', 'merge', 'pages()'], rows);
  console.log('\n' + starts.join('\n'));
  console.log('\n"reported" can exceed "dirty" by the pages the CPU itself wrote (page-table accessed/dirty bits).');
  kvm.close();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
