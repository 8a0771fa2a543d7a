/**
 * Automatic re-protection to a configured standby (`-ft-standby tcp:HOST:PORT`, or
 * `cuju-set-standby` at run time). A standby is any VMM waiting with the same VM flags
 * and `-incoming tcp:0:PORT,ft_mode`. Once this VMM runs the VM unprotected after having
 * protected it (it took over by failover, or it lost its backup), it pairs the standby
 * with exactly the `migrate -c` a user would type, and retries with backoff while the
 * standby is not there yet (a standby being restarted by its supervisor). Retries stop
 * when protection resumes, when the user ends protection (cuju-migrate-cancel: state
 * off), when the VM is fenced by the split-brain lease, or when the standby is unset.
 */
import { parseMigrateUri } from '../migration/uri.js';
import { MonitorCommandError } from '../monitor/errors.js';

/** Backoff between attempts: 0.5 s, doubling, at most 10 s (a standby's restart takes seconds). */
export const STANDBY_RETRY = { firstMs: 500, maxMs: 10_000 } as const;
/** While the VM is still being started after a takeover (or a pairing by hand runs), look again this soon. */
const BLOCKED_POLL_MS = 50;

export interface StandbyBlock {
  why: string;
  /** true: stop trying (protection resumed or was ended on purpose); false: try again later. */
  final: boolean;
}

export interface StandbyDeps {
  /** `migrate -c uri`: resolves with why the pairing failed, or undefined once protection started. */
  pair(uri: string): Promise<string | undefined>;
  /** Why no attempt may start now; undefined: one may. */
  blocked(): StandbyBlock | undefined;
  log(line: string): void;
  retry?: { firstMs: number; maxMs: number };
}

export interface StandbyStatus {
  uri?: string;
  /** Attempts of the current re-protection (0 when none is under way). */
  attempts: number;
  /** Why the last attempt failed. */
  lastError?: string;
  /** ms until the next attempt, when one is scheduled. */
  nextInMs?: number;
  /** Whether an attempt (the initial copy to the standby) is running now. */
  pairing: boolean;
}

/** Checks a standby address: only `tcp:HOST:PORT` can hold a backup. Throws MonitorCommandError. */
export function checkStandbyUri(uri: string): string {
  const target = parseMigrateUri(uri, 'the standby');
  if (target.kind !== 'tcp') throw new MonitorCommandError(`the standby '${uri}' must be tcp:HOST:PORT (a VMM started with -incoming tcp:0:PORT,ft_mode)`);
  return uri;
}

export class StandbyReprotector {
  private current?: string;
  private timer?: NodeJS.Timeout;
  private nextAt?: number;
  private attempts = 0;
  private lastError?: string;
  private pairing = false;
  private readonly retry: { firstMs: number; maxMs: number };

  constructor(private readonly deps: StandbyDeps, uri?: string) {
    this.retry = deps.retry ?? STANDBY_RETRY;
    if (uri !== undefined) this.current = checkStandbyUri(uri);
  }

  get uri(): string | undefined {
    return this.current;
  }

  /**
   * cuju-set-standby: a new standby (or none). When the VM runs unprotected right now, a
   * new standby is tried at once: the operator just brought one up.
   */
  set(uri: string | undefined, unprotectedNow: boolean): void {
    const checked = uri === undefined ? undefined : checkStandbyUri(uri);
    this.cancelTimer();
    this.current = checked;
    this.attempts = 0;
    this.lastError = undefined;
    if (checked === undefined) this.deps.log('fault tolerance: no standby: re-protection is manual (migrate -c)');
    else if (unprotectedNow) this.protectionLost();
  }

  /** The VM runs here without a backup after having had one: pair the standby, if there is one. */
  protectionLost(): void {
    if (this.current === undefined || this.pairing) return;
    this.attempts = 0;
    this.lastError = undefined;
    this.schedule(0);
  }

  /** The VMM is going away. */
  stop(): void {
    this.cancelTimer();
    this.current = undefined;
  }

  status(): StandbyStatus {
    return {
      uri: this.current, attempts: this.attempts, lastError: this.lastError, pairing: this.pairing,
      nextInMs: this.nextAt === undefined ? undefined : Math.max(0, Math.round(this.nextAt - performance.now())),
    };
  }

  private schedule(ms: number): void {
    this.cancelTimer();
    this.nextAt = performance.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nextAt = undefined;
      void this.attempt();
    }, ms);
    // A pending retry must not keep a VMM that is otherwise done from exiting.
    this.timer.unref();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = undefined;
  }

  private backoffMs(): number {
    return Math.min(this.retry.maxMs, this.retry.firstMs * 2 ** Math.max(0, this.attempts - 1));
  }

  private async attempt(): Promise<void> {
    const uri = this.current;
    if (uri === undefined) return;
    const block = this.deps.blocked();
    if (block) {
      if (block.final) {
        this.deps.log(`fault tolerance: no re-protection on standby ${uri}: ${block.why}`);
        this.attempts = 0;
      } else {
        this.schedule(Math.min(BLOCKED_POLL_MS, this.retry.firstMs));
      }
      return;
    }
    this.attempts++;
    this.pairing = true;
    this.deps.log(`fault tolerance: re-protecting the VM on standby ${uri} (attempt ${this.attempts})`);
    let error: string | undefined;
    try {
      error = await this.deps.pair(uri);
    } catch (e) {
      error = (e as Error).message;
    } finally {
      this.pairing = false;
    }
    // The standby was changed while this attempt ran: the change decides what happens next.
    if (this.current !== uri) return;
    if (error === undefined) {
      this.deps.log(`fault tolerance: re-protected on standby ${uri} after ${this.attempts} attempt${this.attempts === 1 ? '' : 's'}`);
      this.attempts = 0;
      this.lastError = undefined;
      return;
    }
    this.lastError = error;
    const delay = this.backoffMs();
    this.deps.log(`fault tolerance: re-protection on standby ${uri} failed: ${error}; next attempt in ${(delay / 1000).toFixed(1)} s`);
    this.schedule(delay);
  }
}

/** `info ft`'s standby line. */
export function standbyInfoLine(s: StandbyStatus | undefined): string {
  if (!s?.uri) return 'standby: none (-ft-standby or cuju-set-standby tcp:HOST:PORT re-protects automatically)';
  if (s.pairing) return `standby: ${s.uri}: pairing now (attempt ${s.attempts})`;
  if (s.nextInMs !== undefined && s.attempts > 0) return `standby: ${s.uri}: attempt ${s.attempts} failed (${s.lastError}); next in ${(s.nextInMs / 1000).toFixed(1)} s`;
  return `standby: ${s.uri}: re-protects automatically when the VM runs here unprotected`;
}

export function standbyQmpInfo(s: StandbyStatus | undefined): Record<string, unknown> {
  if (!s?.uri) return {};
  return {
    standby: {
      uri: s.uri, attempts: s.attempts, pairing: s.pairing,
      ...(s.lastError ? { 'last-error': s.lastError } : {}), ...(s.nextInMs !== undefined ? { 'next-in-ms': s.nextInMs } : {}),
    },
  };
}
