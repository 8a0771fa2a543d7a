/** The heartbeat's part of `info ft` / `query-ft`: settings and when the peer was last heard. */
import { formatMs, type Liveness } from './heartbeat.js';

/** Milliseconds since the peer's last bytes, or undefined before any. */
export function msSinceHeard(l: Liveness, now = performance.now()): number | undefined {
  return l.lastHeardAt === undefined ? undefined : Math.max(0, Math.round(now - l.lastHeardAt));
}

export function heartbeatInfoLine(l: Liveness, peer: string): string {
  const ago = msSinceHeard(l);
  const heard = ago === undefined ? `nothing heard from the ${peer} yet` : `last heard from the ${peer} ${ago} ms ago`;
  return `heartbeat: every ${formatMs(l.heartbeat.periodMs)}, timeout ${formatMs(l.heartbeat.timeoutMs)}; ${heard}`;
}

export function heartbeatQmpInfo(l: Liveness): Record<string, unknown> {
  const ago = msSinceHeard(l);
  return {
    'heartbeat-period-ms': l.heartbeat.periodMs,
    'heartbeat-timeout-ms': l.heartbeat.timeoutMs,
    ...(ago === undefined ? {} : { 'last-heard-ms-ago': ago }),
  };
}
