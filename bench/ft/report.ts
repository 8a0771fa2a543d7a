/**
 * bench:ft's results and how they print: one Markdown table per figure (ready for
 * docs/BENCHMARKS.md, readable on a terminal too) and the issue's targets with whether
 * each is met.
 */
import type { Step, StepSummary, WindowSummary } from './epoch-trace.js';
import { percentile as p } from './percentiles.js';
import type { JsMemory } from './backup-memory.js';
import type { ResidentMemory } from './process-memory.js';

const MiB = 1024 * 1024;

export interface DirtyResult {
  /** e.g. "≈1000 pages/epoch", "stopped", "max rate". */
  name: string;
  /** Pages per epoch aimed at (undefined: workload stopped or unpaced). */
  target?: number;
  /** cuju-dirty's set rate, pages/s (0 = as fast as it can, undefined = stopped). */
  rate?: number;
  /** query-ft at the end of the window: percentiles of the last 2048 pauses, µs. */
  pauseP50: number;
  pauseP99: number;
  /** Epochs in the query-ft histogram that came from this window (2048 = all of them). */
  histogramEpochs: number;
  epochsPerSec: number;
  /** FtStats' page bytes per epoch (total-bytes / total-epochs over the window). */
  pageBytesPerEpoch: number;
  /** What the FT connection carried per epoch (the backup's bytes_received). */
  wireBytesPerEpoch: number;
  /** The workload's achieved pages/s, protected and unprotected (NaN when stopped). */
  protectedRate: number;
  unprotectedRate: number;
  trace: WindowSummary;
  /** The backup's time to apply and acknowledge the window's epochs (backup-trace.ts). */
  commitUs?: StepSummary;
  /** The backup VMM's VmRSS at the end of the window, bytes. */
  backupRss: number;
}

export interface RttResult {
  unprotected: number[];
  protected: number[];
  epochUs: number;
  /** How long an epoch waited for its acknowledgement during the protected round trips (p50 µs). */
  ackP50Us?: number;
  /** How long output commit held the guest's packets, from query-ft after the protected round trips (ms). */
  packetHoldMs?: { p50: number; p99: number };
  /** CPU the VMMs used during each series (shares of one core). */
  cpu?: { unprotected: RttCpu; protected: RttCpu };
}

export interface RttCpu {
  /** The primary's vCPU thread (the guest running). */
  primaryVcpu: number;
  /** The primary's other threads (event loop: devices, and when protected the epochs). */
  primaryVmm: number;
  /** The whole backup process, while protected. */
  backup?: number;
}

const pct = (share: number | undefined) => (share === undefined ? '–' : `${Math.round(share * 100)} %`);

export interface FailoverResult {
  /** How the primary was failed: killed (its connection closes) or frozen (silent: only heartbeats tell). */
  how: 'kill -9' | 'SIGSTOP';
  /** The backup's heartbeat timeout in that run, ms. */
  heartbeatTimeoutMs: number;
  /** kill -9 → the backup's receive loop ended (it saw the connection go), ms (backup-trace.ts). */
  lostMs?: number;
  /** How long takeOver() took (state into the machine), ms. */
  takeOverMs?: number;
  /** kill -9 → the backup's "took over" line, ms. */
  tookOverMs?: number;
  /** kill -9 → the first echo the client got from the backup, ms. */
  firstAnswerMs?: number;
  /** Was the first answered request sent before the kill (then TCP had to retransmit it, or it was re-run)? */
  requestSentBeforeKill?: boolean;
  /** The client's longest silence around the kill (last reply before → first after), ms. */
  gapMs?: number;
  /** The connection kept going (no error, answers after the kill). */
  survived: boolean;
  error?: string;
  /** With a standby waiting (-ft-standby / cuju-set-standby): kill -9 → the survivor protected again on it, ms. */
  reprotectedMs?: number;
}

export interface MemoryResult {
  guestBytes: number;
  /** The backup's VmRSS right after `migrate -c` returned (initial copy done), bytes. */
  backupAfterSync: number;
  backup: ResidentMemory;
  primary: ResidentMemory;
  /** The split right after the initial copy (older results: only backupAfterSync). */
  afterSync?: ResidentMemory;
  /** The backup's V8 figures: each one's max over the protected windows, and the last before protection. */
  backupJs?: Omit<JsMemory, 'wallMs'>;
  afterSyncJs?: Omit<JsMemory, 'wallMs'>;
}

export interface Results {
  date: string;
  epochUs: number;
  /** migrate -c: initial copy until protected, ms. */
  protectMs: number;
  dirty: DirtyResult[];
  rtt: RttResult;
  failovers: FailoverResult[];
  memory: MemoryResult;
  /** FT verify over the protected windows (BENCH_FT_VERIFY), when it ran. */
  verify?: { every: number; verified: number; mismatches: number };
}

const f0 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'));
const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(1));
const f2 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(2));

export function median(values: readonly number[]): number {
  return p(values, 50);
}

export function table(header: string[], rows: string[][]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function dirtyTable(rows: readonly DirtyResult[]): string {
  return table(
    ['workload (cuju-dirty)', 'dirty pages/epoch (mean)', 'pause p50 µs', 'pause p99 µs', 'epochs/s', 'page bytes/epoch', 'wire bytes/epoch',
      'workload pages/s unprotected', 'protected', 'protected ÷ unprotected', 'backup VmRSS MiB'],
    rows.map((r) => [
      `${r.name}${r.rate === undefined ? '' : r.rate === 0 ? ' (rate 0)' : ` (${f0(r.rate)}/s)`}`,
      f0(r.trace.pagesMean),
      `${f0(r.pauseP50)}${r.histogramEpochs < 2048 ? '*' : ''}`,
      `${f0(r.pauseP99)}${r.histogramEpochs < 2048 ? '*' : ''}`,
      f0(r.epochsPerSec),
      f0(r.pageBytesPerEpoch),
      f0(r.wireBytesPerEpoch),
      f0(r.unprotectedRate),
      f0(r.protectedRate),
      r.rate === undefined ? '–' : f2(r.protectedRate / r.unprotectedRate),
      f0(r.backupRss / MiB),
    ]),
  );
}

const SHOWN_STEPS: Step[] = ['park', 'kex', 'kjs', 'harvest', 'get', 'clear', 'copy', 'vcpu', 'vmstate', 'rest', 'resume', 'pause', 'total'];

/** Where the pause goes: each step's p50 (p99), µs, per workload. */
export function breakdownTable(rows: readonly DirtyResult[]): string {
  return table(
    ['workload', 'epochs traced', ...SHOWN_STEPS, 'epoch → ack p50 (p99)', 'backup commit p50 (p99)'],
    rows.map((r) => [
      r.name,
      String(r.trace.epochs),
      ...SHOWN_STEPS.map((s) => {
        const v = r.trace.steps[s];
        return v ? `${f0(v.p50)} (${f0(v.p99)})` : '–';
      }),
      r.trace.ackUs ? `${f0(r.trace.ackUs.p50)} (${f0(r.trace.ackUs.p99)})` : '–',
      r.commitUs ? `${f0(r.commitUs.p50)} (${f0(r.commitUs.p99)})` : '–',
    ]),
  );
}

export function rttTable(r: RttResult): string {
  const u50 = median(r.unprotected);
  const p50 = median(r.protected);
  return table(
    ['round trip (8 bytes, client namespace ↔ guest echo)', 'p50 ms', 'p99 ms', 'samples'],
    [
      ['unprotected', f2(u50), f2(p(r.unprotected, 99)), String(r.unprotected.length)],
      [`protected (epoch ${r.epochUs / 1000} ms)`, f2(p50), f2(p(r.protected, 99)), String(r.protected.length)],
      ['added by protection (p50)', f2(p50 - u50), '–', `ratio ${f2(p50 / u50)}`],
      // Output commit's share of the added time; the rest is the guest running slower protected.
      ...(r.packetHoldMs ? [['of which the reply held by output commit', f2(r.packetHoldMs.p50), f2(r.packetHoldMs.p99), 'query-ft']] : []),
    ],
  ) + (r.cpu ? `\n\n${table(
    ['CPU during the round trips (share of one core)', 'primary vCPU thread', 'primary VMM threads', 'backup process'],
    [
      ['unprotected', pct(r.cpu.unprotected.primaryVcpu), pct(r.cpu.unprotected.primaryVmm), '–'],
      ['protected', pct(r.cpu.protected.primaryVcpu), pct(r.cpu.protected.primaryVmm), pct(r.cpu.protected.backup)],
    ],
  )}` : '');
}

export function failoverTable(rows: readonly FailoverResult[]): string {
  return table(
    ['failover run', 'fault (heartbeat timeout)', 'fault → backup sees the loss ms', 'takeOver() ms', 'fault → backup "took over" line ms', 'fault → first answer ms',
      'that request sent before the fault', 'client gap ms', 'connection', 'fault → re-protected on the standby ms'],
    rows.map((r, i) => [
      String(i + 1), `${r.how} (${r.heartbeatTimeoutMs} ms)`, f1(r.lostMs), f1(r.takeOverMs), f1(r.tookOverMs), f1(r.firstAnswerMs),
      r.requestSentBeforeKill === undefined ? '–' : r.requestSentBeforeKill ? 'yes' : 'no',
      f1(r.gapMs), r.survived ? 'carried on' : `broken: ${r.error ?? '?'}`, f1(r.reprotectedMs),
    ]),
  );
}

export function memoryTable(m: MemoryResult): string {
  const mib = (v: number | undefined) => f1(v === undefined ? undefined : v / MiB);
  // Guest RAM only ever grows on the backup, so its max goes with the max RSS.
  const row = (name: string, r: ResidentMemory, js?: Omit<JsMemory, 'wallMs'>) => [
    name, mib(r.rss), mib(r.anon), mib(r.file), mib(r.shmem), mib(js?.guestRam),
    mib(js?.guestRam === undefined ? undefined : r.rss - js.guestRam - r.file),
    mib(js?.heapTotal), mib(js?.newSpace), mib(js?.arrayBuffers), f2(r.rss / m.guestBytes),
  ];
  const afterSync = m.afterSync ?? { rss: m.backupAfterSync, anon: NaN, file: NaN, shmem: NaN };
  return table(
    ['VMM process', 'VmRSS MiB', 'RssAnon', 'RssFile', 'RssShmem', 'guest RAM resident', 'rest: RSS − guest RAM − file',
      'JS heap (max)', 'of it new space', 'ArrayBuffers (max)', `÷ guest RAM (${f0(m.guestBytes / MiB)} MiB)`],
    [
      row('backup (max while protected)', m.backup, m.backupJs), row('primary (same moment)', m.primary),
      row('backup right after the initial copy', afterSync, m.afterSyncJs),
    ],
  );
}

export interface TargetRow {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/** The issue's targets against this run. */
export function targets(r: Results): TargetRow[] {
  const at1000 = r.dirty.filter((d) => d.target !== undefined && d.target > 0)
    .sort((a, b) => Math.abs(a.trace.pagesMean - 1000) - Math.abs(b.trace.pagesMean - 1000))[0];
  const added = median(r.rtt.protected) - median(r.rtt.unprotected);
  const addedLimit = r.epochUs / 1000 + 2;
  const kills = r.failovers.filter((f) => f.how === 'kill -9');
  const stops = r.failovers.filter((f) => f.how === 'SIGSTOP');
  const firstAnswers = kills.filter((f) => f.survived && f.firstAnswerMs !== undefined).map((f) => f.firstAnswerMs!);
  const tookOver = kills.flatMap((f) => (f.tookOverMs === undefined ? [] : [f.tookOverMs]));
  const failover = firstAnswers.length === kills.length && firstAnswers.length > 0 ? median(firstAnswers) : NaN;
  const silentLost = stops.flatMap((f) => (f.lostMs === undefined ? [] : [f.lostMs - f.heartbeatTimeoutMs]));
  const memLimit = r.memory.guestBytes * 1.15;
  const reprotected = kills.flatMap((f) => (f.reprotectedMs === undefined ? [] : [f.reprotectedMs]));
  return [
    {
      target: 'pause p99 ≤ 1 ms at 1,000 dirty pages/epoch',
      measured: at1000 ? `${f0(at1000.pauseP99)} µs at ${f0(at1000.trace.pagesMean)} pages/epoch` : 'not measured',
      met: at1000 ? at1000.pauseP99 <= 1000 : undefined,
    },
    {
      target: `added round trip p50 ≤ epoch + 2 ms (${f1(addedLimit)} ms)`,
      measured: `${f2(added)} ms (${f2(median(r.rtt.unprotected))} → ${f2(median(r.rtt.protected))} ms)`,
      met: Number.isNaN(added) ? undefined : added <= addedLimit,
    },
    {
      target: 'failover ≤ 100 ms after the primary dies (kill -9 → first answer)',
      measured: Number.isNaN(failover)
        ? `not every run carried on (${kills.filter((f) => !f.survived).length} of ${kills.length} broken)`
        : `median ${f1(failover)} ms of ${firstAnswers.length} (${firstAnswers.map(f1).join(', ')}); "took over" after median ${f1(median(tookOver))} ms`,
      met: Number.isNaN(failover) ? false : failover <= 100,
    },
    {
      target: 'silent primary (SIGSTOP) found within heartbeat timeout + one period (issue 6)',
      measured: silentLost.length === stops.length && stops.length > 0
        ? `loss seen ${silentLost.map(f1).join(', ')} ms after the timeout; connection ${stops.every((f) => f.survived) ? 'carried on' : 'broken in some runs'}`
        : stops.length === 0 ? 'not measured' : 'the backup did not see the loss in every run',
      met: stops.length === 0 ? undefined : silentLost.length === stops.length && stops.every((f) => f.survived) && Math.max(...silentLost) <= 200,
    },
    {
      target: 'time from failover to re-protected (issue 6; standby waiting, no target set)',
      measured: reprotected.length ? `kill -9 → protected again on the standby: ${reprotected.map(f0).join(', ')} ms` : 'not measured',
      met: undefined,
    },
    {
      target: 'backup memory ≤ guest RAM + 15 %',
      measured: `${f1(r.memory.backup.rss / MiB)} MiB = guest RAM × ${f2(r.memory.backup.rss / r.memory.guestBytes)} (limit ${f1(memLimit / MiB)} MiB)`,
      met: r.memory.backup.rss <= memLimit,
    },
  ];
}

export function targetTable(rows: readonly TargetRow[]): string {
  return table(['target (issue 5, 6)', 'measured', 'met'], rows.map((t) => [t.target, t.measured, t.met === undefined ? '–' : t.met ? 'yes' : 'no']));
}

export function fullReport(r: Results): string {
  return [
    targetTable(targets(r)),
    dirtyTable(r.dirty),
    breakdownTable(r.dirty),
    rttTable(r.rtt),
    failoverTable(r.failovers),
    memoryTable(r.memory),
    ...(r.verify ? [`FT verify every ${r.verify.every} epochs over the protected windows: ${r.verify.verified} epochs compared, ${r.verify.mismatches} differed${r.verify.mismatches ? ' (THE REPLICA DIFFERED)' : ''}`] : []),
  ].join('\n\n');
}
