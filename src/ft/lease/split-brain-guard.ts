/**
 * The FT controller's split-brain side (ft-lease.ts has the lease protocol):
 * - before a primary starts protecting, it must hold the lease (taken while the initial
 *   copy runs, awaited before the FT channel opens) and start the pairing with a new
 *   fencing token; a lease another live VMM renews, or one that cannot be reached,
 *   refuses protection with one clear message;
 * - both HELLOs carry the lease's id, so primary and backup must name the same lease;
 *   the backup then reads the pairing's token;
 * - on losing its peer each side contends once: a primary that wins releases what it
 *   held and runs on alone, one that loses is fenced; a backup that wins takes over, one
 *   that loses stands down. A store that does not answer: the primary holds its output
 *   and retries (backing off), the backup retries for a bounded time, then stands down;
 * - the output gates let acknowledged output out in protected mode, anything else only
 *   from a holder running alone (FtLease.mayEmit);
 * - fenced (a newer token took the lease): protection ends, nothing is emitted any
 *   more, the VM is paused, and the log, CUJU_FT_FENCED and `info ft` say so.
 * Without a lease all of this is skipped, and the log says once that protection is off.
 */
import type { VmControl } from '../../vm/control.js';
import type { OutputPermitTarget } from '../output/output-permit.js';
import type { FtStats } from '../status.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaseHeldError, LeaseUnreachableError } from './errors.js';
import type { ContentionResult, FtLease, ObtainResult } from './ft-lease.js';
import type { LeaseRole } from './lease-record.js';

export interface SplitBrainContext {
  vm: VmControl;
  log: (line: string) => void;
  stats: FtStats;
  /** Ends protection without letting output out (the gates are closed by then). */
  endProtection: (reason: string) => Promise<void>;
}

/** How long a backup waits for the primary to create the lease before comparing HELLOs. */
export const LEASE_ID_WAIT_MS = 3000;

/** How long a backup that lost its primary keeps retrying an unreachable lease before it stands down. */
export const BACKUP_CONTENTION_RETRY_MS = 10_000;

/** Backoff between contention attempts on an unreachable lease: from the first to the longest. */
export const CONTENTION_BACKOFF_MS = { first: 20, longest: 1000 } as const;

export const SPLIT_BRAIN_OFF = 'split-brain protection is off (no -ft-lease and no share-rw disk): if primary and backup lose each other while both live, both may run the VM';

export class SplitBrainGuard {
  private lease?: FtLease;
  private pending?: Promise<ObtainResult | Error>;
  private saidOff = false;
  /** A primary's contention after its protection ended is running. */
  private contending = false;

  constructor(private readonly ctx: SplitBrainContext, private readonly backupRetryMs = BACKUP_CONTENTION_RETRY_MS) {}

  /** Arbitrate with `lease` from now on; `gates` are the VM's output gates. */
  use(lease: FtLease, gates: readonly OutputPermitTarget[]): void {
    this.lease = lease;
    this.ctx.stats.lease = () => lease.status();
    for (const g of gates) {
      g.setOutputPermit((acked) => lease.mayEmit(acked));
      g.setOutputFence?.((write) => lease.fenced(write));
    }
    lease.on('renewed', () => { for (const g of gates) g.permitChanged(); });
    lease.on('fenced', (by: { token?: number; holder?: string; ownToken?: number }) => void this.fenced(by));
  }

  get active(): boolean {
    return this.lease !== undefined;
  }

  /** `migrate -c` begins: refuse a fenced VMM at once; start taking the lease while the initial copy runs. */
  prepareProtection(): string | undefined {
    const lease = this.lease;
    if (!lease) return undefined;
    if (lease.state === 'fenced') return `this VMM was fenced off ${lease.where} (a newer fencing token holds it): it may not run or protect this VM any more`;
    if (lease.state !== 'contending') this.pending = lease.obtain('primary').catch((e: Error) => e);
    return undefined;
  }

  /** Before the primary's FT channel opens: it must hold the lease. Throws with the reason otherwise. */
  async beforePrimaryStart(): Promise<void> {
    const lease = this.lease;
    if (!lease) return this.sayOff();
    const outcome = await (this.pending ?? lease.obtain('primary').catch((e: Error) => e));
    this.pending = undefined;
    if (outcome instanceof Error) throw outcome;
    if (outcome.kind === 'held') {
      const r = outcome.record;
      throw new LeaseHeldError(`${lease.where} is held by ${r ? `${r.holder} (${r.role}, fencing token ${r.token})` : 'another party'}, which keeps renewing it: another VMM runs this VM; stop it first, or give each VM its own -ft-lease`);
    }
    await lease.beginPairing();
  }

  /** What this side's HELLO says about the lease (the peer's must say the same). */
  helloLeaseId(): string | undefined {
    return this.lease?.leaseId;
  }

  /** On the backup, before its HELLO: learn the lease's id (the primary has just created it). */
  async backupLeaseId(): Promise<string | undefined> {
    const lease = this.lease;
    if (!lease) {
      this.sayOff();
      return undefined;
    }
    return lease.learnId(LEASE_ID_WAIT_MS);
  }

  /**
   * On the backup, right after the HELLOs: read the pairing's fencing token (the primary
   * wrote it before its HELLO). Throws when the lease cannot be read: this backup could
   * never take over safely, so it refuses to protect.
   */
  async backupPaired(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    const r = await lease.pairWith();
    this.ctx.log(`${lease.where}: protecting the pairing with fencing token ${r.token} (primary ${r.holder})`);
  }

  /**
   * The backup lost its primary (`why`): contend for the lease before taking over.
   * `confirmed`: the primary released output after this backup read the pairing's token,
   * so that token was this pairing's (and not a later one's, read by a backup frozen
   * since its HELLO). Returns why this backup must stand down instead, or undefined when
   * it won and may take over.
   */
  async beforeTakeOver(why: string, confirmed: boolean): Promise<string | undefined> {
    const lease = this.lease;
    if (!lease) return undefined;
    if (!confirmed) {
      return `${why}, but the primary never confirmed this pairing (it released no epoch yet): this backup cannot tell whether the fencing token it read is its pairing's, so it stands down`;
    }
    const start = performance.now();
    // A primary frozen while it holds the lease's lock is killed by its kernel within its
    // ttl (FileLeaseStore's hold deadline): wait at least that long for the lock.
    const retryMs = Math.max(this.backupRetryMs, lease.takeoverWaitMs() + CONTENTION_BACKOFF_MS.longest);
    let failure: Error | undefined;
    for (let wait: number = CONTENTION_BACKOFF_MS.first; ; wait = Math.min(wait * 2, CONTENTION_BACKOFF_MS.longest)) {
      let outcome: ContentionResult;
      try {
        outcome = await lease.contend('backup');
      } catch (e) {
        if (!(e instanceof LeaseUnreachableError)) throw e;
        if (!failure) this.ctx.log(`${why}: ${e.message}; not taking over until the lease answers (retrying for ${retryMs} ms)`);
        failure = e;
        if (performance.now() - start >= retryMs) {
          this.contended('backup', undefined, failure.message);
          return `${why}, but ${failure.message}: without the lease this backup cannot tell whether the primary still runs, so it stands down`;
        }
        await sleep(wait);
        continue;
      }
      this.contended('backup', outcome);
      if (outcome.kind === 'won') {
        this.ctx.log(`${why}: won ${lease.where} (fencing token ${outcome.record.token}) in ${Math.round(performance.now() - start)} ms: taking over`);
        return undefined;
      }
      return `${why}, but ${outcome.why}; this backup stands down`;
    }
  }

  /**
   * The primary's protection ended (backup lost, cancelled, or it could not start):
   * contend as the primary. Won: it runs on alone and what it held goes out. Lost: it is
   * fenced (the lease's 'fenced' event pauses the VM). Unreachable: its output stays held
   * and it retries, backing off, until the lease answers.
   */
  protectionEnded(reason: string): void {
    const lease = this.lease;
    if (!lease || this.contending || lease.state !== 'held') return;
    this.contending = true;
    void this.contendAsPrimary(lease, reason).finally(() => { this.contending = false; });
  }

  private async contendAsPrimary(lease: FtLease, reason: string): Promise<void> {
    const start = performance.now();
    let failing = false;
    for (let wait: number = CONTENTION_BACKOFF_MS.first; lease.state === 'held'; wait = Math.min(wait * 2, CONTENTION_BACKOFF_MS.longest)) {
      let outcome: ContentionResult;
      try {
        outcome = await lease.contend('primary');
      } catch (e) {
        if (!failing) this.ctx.log(`warning: ${reason}, and ${(e as Error).message}: the output held for unacknowledged epochs stays held (the backup may have taken over) until the lease answers; retrying`);
        failing = true;
        await sleep(wait);
        continue;
      }
      this.contended('primary', outcome);
      if (outcome.kind === 'won') {
        this.ctx.log(`${lease.where}: won (fencing token ${outcome.record.token}) in ${Math.round(performance.now() - start)} ms: this VMM runs the VM alone; its held output goes out`);
      }
      return;
    }
  }

  private contended(role: LeaseRole, outcome: ContentionResult | undefined, unreachable?: string): void {
    this.ctx.vm.emit('CUJU_FT_CONTENTION', {
      role, won: outcome?.kind === 'won',
      token: outcome?.record?.token ?? null, holder: outcome?.record?.holder ?? null,
      ...(outcome?.kind === 'lost' ? { reason: outcome.why } : unreachable ? { reason: unreachable } : {}),
    });
  }

  private sayOff(): void {
    if (this.saidOff) return;
    this.saidOff = true;
    this.ctx.log(`warning: ${SPLIT_BRAIN_OFF}`);
  }

  private async fenced(by: { token?: number; holder?: string; ownToken?: number }): Promise<void> {
    const { stats, vm, log } = this.ctx;
    const where = this.lease?.where ?? 'the lease';
    const reason = by.token !== undefined
      ? `fenced: ${where} now has fencing token ${by.token} held by ${by.holder} (this VMM had token ${by.ownToken})`
      : `fenced: ${where} no longer holds this VMM's record (token ${by.ownToken}): it was emptied or replaced`;
    log(`${reason}; this VMM emits no more output and pauses its VM`);
    vm.emit('CUJU_FT_FENCED', { token: by.token ?? null, holder: by.holder ?? null, 'own-token': by.ownToken ?? null });
    stats.state = 'fenced';
    stats.reason = reason;
    await this.ctx.endProtection(reason).catch(() => {});
    stats.state = 'fenced';
    stats.reason = reason;
    await vm.stop().catch((e: Error) => log(`warning: the fenced VM could not be paused: ${e.message} (its output stays held)`));
  }
}
