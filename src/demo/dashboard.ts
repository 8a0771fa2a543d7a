/**
 * What the demo shows, as lines of text: the guest service and its client, the serving
 * VMM's `info ft` (exactly what the monitor prints), its backup, the keys, the recent
 * events. A pure function of a snapshot of the demo's state, so it is tested as text.
 */
import type { KvSessionStats } from './kv-session.js';

export interface VmView {
  name: string;
  pid: number;
  tap: string;
  /** `info ft` as the VMM printed it ('' when it did not answer). */
  infoFt: string;
  frozen?: boolean;
  monitor: string;
}

export interface DashboardView {
  backend: string;
  service: string;
  client: KvSessionStats;
  /** performance.now() at render time (to say how long ago the last answer came). */
  now: number;
  serving: VmView;
  backup?: VmView;
  former?: VmView;
  events: { at: Date; text: string }[];
  message: string;
}

const clock = (d: Date) => d.toTimeString().slice(0, 8);

/** The `info ft` lines worth a glance (role and state, epochs, last epoch, pauses, held output). */
function ftLines(info: string): string[] {
  if (info === '') return ['(monitor not answering)'];
  return info.split('\n').filter((l) => /^(FT|epoch|last epoch|pause|held output|lease)/.test(l));
}

function clientLine(c: KvSessionStats, now: number): string {
  const ago = c.lastAnswerAt ? `${((now - c.lastAnswerAt) / 1000).toFixed(1)} s ago` : 'none yet';
  return `  ${c.answers} answers (counter ${c.counter}, ${c.written} fsync'ed records), last ${ago}, ` +
    `round trip ${c.lastRttMs.toFixed(0)} ms (max ${c.maxRttMs.toFixed(0)} ms)`;
}

function verdictLine(c: KvSessionStats): string {
  if (c.bad) return `  ACKNOWLEDGED STATE LOST: ${c.bad}`;
  if (c.closed) return `  connection ended: ${c.closed}`;
  return '  every answer consistent with all acknowledged ones: nothing lost';
}

export function renderDashboard(v: DashboardView): string[] {
  const vm = (label: string, x: VmView) => [
    `${label}: ${x.name}, pid ${x.pid}, tap ${x.tap}${x.frozen ? ' (FROZEN: SIGSTOP)' : ''}   monitor: nc -U ${x.monitor}`,
    ...ftLines(x.infoFt).map((l) => `    ${l}`),
  ];
  return [
    `cuju demo   ${v.backend}`,
    '',
    `guest service ${v.service}, client on this host over ONE TCP connection:`,
    clientLine(v.client, v.now),
    verdictLine(v.client),
    '',
    ...vm('serving', v.serving),
    ...(v.backup ? vm('backup ', v.backup) : ['backup : none: the VM is NOT protected (r starts a new backup)']),
    ...(v.former ? vm('former ', v.former) : []),
    '',
    `keys: k kill -9 the primary   s freeze it (SIGSTOP)   c continue a frozen one   r re-protect   q quit`,
    `      (or from another shell: kill -9 ${v.serving.pid})`,
    ...(v.message ? [`  ${v.message}`] : []),
    '',
    'events:',
    ...v.events.slice(-8).map((e) => `  ${clock(e.at)}  ${e.text}`),
  ];
}
