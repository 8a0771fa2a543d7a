/**
 * Reads the lines bench/ft/pause-trace.ts prints in the primary and sums them up per
 * measurement window: where the pause goes (median and p99 of each step) and how long
 * an epoch waits for its acknowledgement.
 */
import { mean, percentile } from './percentiles.js';

export const STEPS = ['park', 'kex', 'kjs', 'get', 'clear', 'harvest', 'copy', 'vcpu', 'vmstate', 'rest', 'resume', 'pause', 'total'] as const;
export type Step = (typeof STEPS)[number];

export interface EpochRecord {
  wallMs: number;
  epoch: number;
  pages?: number;
  /** µs per step; absent when the trace printed '?' (step not seen or out of order). */
  us: Partial<Record<Step, number>>;
}

export interface AckRecord {
  wallMs: number;
  epoch: number;
  us: number;
}

const EPOCH_LINE = /^cuju-ft-epoch (\d+(?:\.\d+)?) e=(\d+) pages=(\d+|\?)((?: [a-z]+=(?:\d+|\?))*)$/gm;
const ACK_LINE = /^cuju-ft-ack (\d+(?:\.\d+)?) e=(\d+) us=(-?\d+)$/gm;

export function parseEpochs(stderr: string): EpochRecord[] {
  return [...stderr.matchAll(EPOCH_LINE)].map((m) => {
    const us: Partial<Record<Step, number>> = {};
    for (const [, key, value] of m[4].matchAll(/ ([a-z]+)=(\d+|\?)/g)) {
      if (value !== '?' && (STEPS as readonly string[]).includes(key)) us[key as Step] = Number(value);
    }
    return { wallMs: Number(m[1]), epoch: Number(m[2]), pages: m[3] === '?' ? undefined : Number(m[3]), us };
  });
}

export function parseAcks(stderr: string): AckRecord[] {
  return [...stderr.matchAll(ACK_LINE)].map((m) => ({ wallMs: Number(m[1]), epoch: Number(m[2]), us: Number(m[3]) }));
}

export interface StepSummary {
  p50: number;
  p99: number;
  mean: number;
}

export interface WindowSummary {
  epochs: number;
  /** The epoch numbers in the window. */
  numbers: Set<number>;
  pagesMean: number;
  pagesP50: number;
  steps: Partial<Record<Step, StepSummary>>;
  ackUs?: StepSummary;
}

/** Epochs whose boundary began in [fromMs, toMs) (wall clock), and acks of those epochs. */
export function summarizeWindow(epochs: readonly EpochRecord[], acks: readonly AckRecord[], fromMs: number, toMs: number): WindowSummary {
  const inWindow = epochs.filter((e) => e.wallMs >= fromMs && e.wallMs < toMs);
  const numbers = new Set(inWindow.map((e) => e.epoch));
  const pages = inWindow.flatMap((e) => (e.pages === undefined ? [] : [e.pages]));
  const steps: Partial<Record<Step, StepSummary>> = {};
  for (const s of STEPS) {
    // A step that did not happen in an epoch (no KVM_CLEAR_DIRTY_LOG when nothing was dirty) took no time.
    const values = inWindow.map((e) => e.us[s] ?? (s === 'clear' ? 0 : NaN)).filter((v) => !Number.isNaN(v));
    if (values.length) steps[s] = summarize(values);
  }
  const ackValues = acks.filter((a) => numbers.has(a.epoch)).map((a) => a.us);
  return {
    epochs: inWindow.length,
    numbers,
    pagesMean: mean(pages),
    pagesP50: percentile(pages, 50),
    steps,
    ackUs: ackValues.length ? summarize(ackValues) : undefined,
  };
}

function summarize(values: number[]): StepSummary {
  return { p50: percentile(values, 50), p99: percentile(values, 99), mean: mean(values) };
}

/** The backup's lines (backup-trace.ts). */
export interface BackupTrace {
  /** µs to apply and acknowledge each epoch. */
  commits: { wallMs: number; epoch: number; us: number }[];
  /** When its receive loop ended (primary gone) and when takeOver() was done, wall ms. */
  lostAt?: number;
  takeOverAt?: number;
  takeOverUs?: number;
}

export function parseBackupTrace(stderr: string): BackupTrace {
  const commits = [...stderr.matchAll(/^cuju-ft-commit (\d+(?:\.\d+)?) e=(\d+) us=(\d+)$/gm)]
    .map((m) => ({ wallMs: Number(m[1]), epoch: Number(m[2]), us: Number(m[3]) }));
  const lost = /^cuju-ft-lost (\d+(?:\.\d+)?)$/m.exec(stderr);
  const takeOver = /^cuju-ft-takeover (\d+(?:\.\d+)?) us=(\d+)$/m.exec(stderr);
  return {
    commits,
    lostAt: lost ? Number(lost[1]) : undefined,
    takeOverAt: takeOver ? Number(takeOver[1]) : undefined,
    takeOverUs: takeOver ? Number(takeOver[2]) : undefined,
  };
}

/** Commit times of the epochs in `window` (its epoch numbers), p50/p99/mean µs. */
export function commitSummary(trace: BackupTrace, epochs: ReadonlySet<number>): StepSummary | undefined {
  const values = trace.commits.filter((c) => epochs.has(c.epoch)).map((c) => c.us);
  return values.length ? summarize(values) : undefined;
}
