/** The torture suite's table of rounds and its totals. */
import type { RoundOutcome } from './round.js';

export interface Totals {
  rounds: number;
  faults: number;
  /** Acknowledged answers or writes lost, summed over rounds (must be 0). */
  lost: number;
  /** Rounds after which two VMs served (must be 0). */
  twoServing: number;
  failedRounds: number;
  /** FT verify over all rounds: epochs compared, and mismatches (must be 0). */
  verified: number;
  verifyMismatches: number;
}

export function totals(outcomes: readonly RoundOutcome[]): Totals {
  return {
    rounds: outcomes.length,
    faults: outcomes.length,
    lost: outcomes.reduce((n, o) => n + o.lost.length, 0),
    twoServing: outcomes.filter((o) => o.serving.length > 1).length,
    failedRounds: outcomes.filter((o) => !o.ok).length,
    verified: outcomes.reduce((n, o) => n + o.verify.verified, 0),
    verifyMismatches: outcomes.reduce((n, o) => n + o.verify.mismatches, 0),
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function table(outcomes: readonly RoundOutcome[], seed: number, skipped: readonly string[]): string {
  const head = ['round', 'fault', 'disk', 'lease', 'delay ms', 'answers (at fault)', 'writes', 'verified', 'serving', 'lost', 'outcome'];
  const rows = outcomes.map((o) => [
    String(o.index), o.fault, o.disk, o.splitBrainProtection ? 'on' : 'off', String(o.delayMs), `${o.client.answers} (${o.answersAtFault})`, String(o.client.written),
    o.verify.mismatches ? `${o.verify.verified} (${o.verify.mismatches} DIFFER)` : String(o.verify.verified),
    o.serving.join('+') || 'none', String(o.lost.length), o.ok ? 'ok' : [...o.lost, ...o.problems].join('; '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.slice().map((r) => (i === head.length - 1 ? 0 : r[i].length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]))).join(' | ');
  const t = totals(outcomes);
  return [
    `seed ${seed} (replay: CUJU_TORTURE_SEED=${seed})`,
    line(head),
    ...rows.map(line),
    `totals: ${t.rounds} rounds, ${t.faults} faults injected, acknowledged data lost: ${t.lost}, rounds with two serving VMs: ${t.twoServing}, failed rounds: ${t.failedRounds}, FT verify: ${t.verified} epochs compared, ${t.verifyMismatches} differed`,
    ...(skipped.length ? [`not run (their detection is not in this build): ${skipped.join('; ')}`] : []),
    ...(outcomes.some((o) => !o.splitBrainProtection)
      ? [`lease off in ${outcomes.filter((o) => !o.splitBrainProtection).length} rounds: the VMMs said split-brain protection is off (no lease in effect), so after a damaged or cut link both sides may serve`]
      : []),
  ].join('\n');
}
