/**
 * -ft-heartbeat PERIOD[,timeout=T]: durations with a unit (us, ms, s; a bare number is
 * ms). Without timeout=, the timeout is ten periods (the default 10ms gives 100ms).
 */
import { heartbeatProblem, type HeartbeatSettings } from '../../ft/heartbeat.js';
import { UsageError } from './usage-error.js';

/** Timeout when only the period is given, in periods. */
export const DEFAULT_TIMEOUT_PERIODS = 10;

const DURATION = /^(\d+(?:\.\d+)?)(us|ms|s)?$/;
const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

function durationMs(flag: string, text: string, what: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: ${what} '${text}' is not a duration: write it as e.g. 10ms, 1s or 500us`);
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms'];
}

export function parseHeartbeat(value: string, flag = '-ft-heartbeat'): HeartbeatSettings {
  const [first, ...options] = value.split(',');
  if (first === '') throw new UsageError(`${flag} '${value}': the period comes first, e.g. ${flag} 10ms,timeout=100ms`);
  const periodMs = durationMs(flag, first.replace(/^period=/, ''), 'period');
  let timeoutMs = DEFAULT_TIMEOUT_PERIODS * periodMs;
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    if (key !== 'timeout' || eq < 0) throw new UsageError(`${flag}: unknown option '${option}' in '${value}' (only timeout=T is known, e.g. ${flag} 10ms,timeout=100ms)`);
    timeoutMs = durationMs(flag, option.slice(eq + 1), 'timeout');
  }
  const problem = heartbeatProblem({ periodMs, timeoutMs });
  if (problem) throw new UsageError(`${flag} ${value}: ${problem}`);
  return { periodMs, timeoutMs };
}
