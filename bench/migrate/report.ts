/**
 * bench:migrate's result table: one row per migration, with its throughput put against
 * the loopback TCP stream and memcpy measured in the same run. Printed as text and as
 * Markdown (for docs/BENCHMARKS.md).
 */
import type { MigrationResult } from './migrating-vm.js';

const MiB = 1024 * 1024;

export interface Scenario {
  /** Row label, e.g. "20000 pages/s" or "idle". */
  name: string;
  /** Pages per second for cuju-dirty; undefined: it stays stopped (an idle guest at its shell). */
  rate?: number;
  /** Bytes per second; undefined: unlimited for the benchmark (see migrate.ts). */
  maxBandwidth?: number;
  verify?: boolean;
}

export interface ScenarioResult {
  scenario: Scenario;
  result: MigrationResult;
}

export interface Limits {
  memcpyMiBps: number;
  tcpMiBps: number;
}

/** MiB/s from Mbit/s (query-migrate's ram.mbps is 10^6 bits per second). */
export function mbpsToMiBps(mbps: number): number {
  return (mbps * 1e6) / 8 / MiB;
}

const f0 = (v: number) => Math.round(v).toString();
const f1 = (v: number) => v.toFixed(1);
const f3 = (v: number) => v.toPrecision(3);

export const HEADER = [
  'workload', 'status', 'total ms', 'downtime ms', 'sent MiB', 'passes',
  'first pass MiB/s', 'mean MiB/s', 'last pass pages/s', 'dirty pages/s seen',
  'first pass ÷ TCP', 'first pass ÷ memcpy', 'verify',
];

export function rowCells(r: ScenarioResult, limits: Limits): string[] {
  const info = r.result.final;
  const ram = info.ram;
  const total = info['total-time'] ?? r.result.hostMs;
  const sentMiB = (ram?.transferred ?? 0) / MiB;
  const first = mbpsToMiBps(r.result.peakMbps);
  return [
    r.scenario.name,
    info.status === 'completed' ? 'completed' : `${info.status}: ${info['error-desc'] ?? '?'}`,
    f0(total),
    info.downtime === undefined ? '–' : f0(info.downtime),
    f1(sentMiB),
    String(ram?.['dirty-sync-count'] ?? '–'),
    f0(first),
    f0(total > 0 ? sentMiB / (total / 1000) : 0),
    f0(ram?.['pages-per-second'] ?? 0),
    f0(r.result.peakDirtyRate),
    f3(first / limits.tcpMiBps),
    f3(first / limits.memcpyMiBps),
    r.scenario.verify ? (info['x-verify'] ?? 'not reported') : '–',
  ];
}

export function textTable(rows: string[][]): string {
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(rows: string[][]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map(line)].join('\n');
}
