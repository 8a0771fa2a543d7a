/**
 * A sampling profiler for the guest: every `intervalMs` it pauses vCPU 0, reads RIP,
 * and counts it. Where guest kernel code is emulated (kvm_pvm) this shows where boot
 * time goes; map the addresses with the kernel's System.map (see docs/BENCHMARKS.md).
 * Enabled with CUJU_PROFILE=FILE; the histogram is written when the VMM exits.
 */
import { writeFileSync } from 'node:fs';

export interface RipSource {
  sampleRip(): Promise<bigint | undefined>;
}

export class RipSampler {
  private readonly counts = new Map<bigint, number>();
  private timer?: NodeJS.Timeout;
  private busy = false;
  samples = 0;

  constructor(private readonly source: RipSource, private readonly intervalMs = 10) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const rip = await this.source.sampleRip();
      if (rip !== undefined) {
        this.counts.set(rip, (this.counts.get(rip) ?? 0) + 1);
        this.samples++;
      }
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** "count rip" lines, most frequent first. */
  write(path: string): void {
    const lines = [...this.counts].sort((a, b) => b[1] - a[1]).map(([rip, n]) => `${n} ${rip.toString(16)}`);
    writeFileSync(path, lines.join('\n') + '\n');
  }
}
