/**
 * Lines up the `cuju-trace` events (phase-trace.ts) of a migration's source and
 * destination on one clock, relative to the moment the source froze the VM, so the
 * switch-over's share of each step is visible.
 */
export interface TraceEvent {
  at: number;
  side: 'src' | 'dst';
  event: string;
  detail: string;
}

const TRACE_LINE = /^cuju-trace (\d+\.\d+) (\S+)(?: (.*))?$/gm;

export function parseTrace(stderr: string, side: 'src' | 'dst'): TraceEvent[] {
  return [...stderr.matchAll(TRACE_LINE)].map((m) => ({ at: Number(m[1]), side, event: m[2], detail: m[3] ?? '' }));
}

/**
 * Both sides' events from the source's last `freeze:start` on, as text lines
 * "+12.345 ms  src  send-pages:end  pass=3"; plus the pre-copy in one line.
 */
export function switchOverTimeline(src: TraceEvent[], dst: TraceEvent[]): string[] {
  const start = src.find((e) => e.event === 'migrate:start');
  const freeze = [...src].reverse().find((e) => e.event === 'freeze:start');
  if (!start || !freeze) return ['(no trace events: was the trace preload loaded?)'];
  const passes = src.filter((e) => e.at < freeze.at && e.event.startsWith('send-') && e.event.endsWith(':end')).length;
  const lines = [`pre-copy: ${passes} passes in ${(freeze.at - start.at).toFixed(1)} ms before the freeze`];
  const all = [...src, ...dst].filter((e) => e.at >= freeze.at).sort((a, b) => a.at - b.at);
  for (const e of all) lines.push(`+${(e.at - freeze.at).toFixed(3).padStart(9)} ms  ${e.side}  ${e.event}${e.detail ? `  ${e.detail}` : ''}`);
  return lines;
}
