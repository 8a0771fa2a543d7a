/**
 * Which of the FT engine's failure-detection features this build of cuju has, read from
 * `cuju --help`: a flag counts as ready once its own help line no longer says it is
 * reserved or kept raw (the section heading may lag behind the flags, so it is not read). CUJU_TORTURE_FEATURES=heartbeat,lease,key
 * (or "all") forces features on, to try a build whose help text lags behind.
 */
import { execFileSync } from 'node:child_process';
import { CUJU } from '../helpers/guest-vm.js';

export interface FtFeatures {
  /** -ft-heartbeat PERIOD,timeout=T: a silent peer (stopped, cut off) is detected. */
  heartbeat: boolean;
  /** -ft-lease PATH: only one side may run after a failure (no split brain). */
  lease: boolean;
  /** -ft-key FILE: the replication channel is authenticated (HMAC). */
  key: boolean;
}

const NOT_READY = /kept raw|reserved|not (yet )?implemented/i;

export function flagReady(help: string, flag: string): boolean {
  const lines = help.split('\n');
  const at = lines.findIndex((l) => l.trim().startsWith(`${flag} `));
  return at >= 0 && !NOT_READY.test(lines[at]);
}

export function parseFtFeatures(help: string, forced = ''): FtFeatures {
  const force = new Set(forced.split(',').map((s) => s.trim()).filter(Boolean));
  const on = (name: string, flag: string) => force.has('all') || force.has(name) || flagReady(help, flag);
  return { heartbeat: on('heartbeat', '-ft-heartbeat'), lease: on('lease', '-ft-lease'), key: on('key', '-ft-key') };
}

/** This build's features; none when `cuju --help` cannot run (the rounds then show why cuju does not start). */
export function ftFeatures(): FtFeatures {
  let help = '';
  try {
    help = execFileSync(process.execPath, [CUJU, '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    help = '';
  }
  return parseFtFeatures(help, process.env.CUJU_TORTURE_FEATURES ?? '');
}
