/**
 * Split-brain arbitration: at most one VMM may run the VM and let unacknowledged output
 * out. The lease lives in a LeaseStore both sides reach (a file on the shared storage by
 * default) and carries a fencing token, a holder, an `alone` flag and a renewal counter
 * (lease-record.ts). Every change is one read-modify-write under the store's lock.
 *
 * A protected pair (docs/ARCHITECTURE.md, "Split brain"):
 * - when protection starts the primary writes a new token T with alone = false
 *   (beginPairing) and the backup reads it once the HELLOs were exchanged (pairWith);
 * - in protected mode the primary emits only output of epochs the backup acknowledged,
 *   which needs no lease (the backup holds the state that produced it);
 * - on losing the peer each side contends once (contend): the primary wins if the record
 *   still has T and names it (it writes alone = true, then releases what it held), the
 *   backup wins if the record has T and is not alone (it writes T + 1 naming itself,
 *   alone, and takes over). The store's lock orders the two writes: the second sees the
 *   first and loses. A primary that lost is fenced.
 * No clock is compared and nobody waits for an expiry, so a takeover costs one locked
 * read-modify-write.
 *
 * Expiry is still how a VMM starting protection deals with a lease another VMM holds
 * (obtain): every holder renews every ttl/3 and counts itself lease-less once its last
 * successful renewal STARTED more than ttl - margin ago (valid()); the newcomer watches
 * the renewal counter for ttl + margin and takes the lease only if it never moved. A
 * holder running alone emits unprotected output only while valid, so that newcomer cannot
 * overlap with it either.
 *
 * A holder whose renewal or contention finds another token or holder was fenced: it never
 * holds this lease again ('fenced' event; the controller pauses the VM). The output gates
 * ask mayEmit() at the moment each packet or shared-disk write would leave.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaseFencedError, LeaseUnreachableError } from './errors.js';
import { sameLease, type LeaseRecord, type LeaseRole } from './lease-record.js';
import type { LeaseStore } from './lease-store.js';

export const DEFAULT_LEASE_TTL_MS = 5000;
export const MIN_LEASE_TTL_MS = 300;
export const MAX_LEASE_TTL_MS = 600_000;

/** Slack on both sides of the ttl: covers renewal latency, timer lateness and output already in flight. */
export function leaseMargin(ttlMs: number): number {
  return Math.floor(ttlMs / 4);
}

export type FtLeaseState = 'idle' | 'contending' | 'held' | 'fenced' | 'stopped';

/** The outcome of the last contention this VMM took part in (for info ft / query-ft). */
export interface ContentionReport {
  role: LeaseRole;
  won: boolean;
  /** The record after the contention: its token and holder say who won. */
  token?: number;
  holder?: string;
  /** Why it lost (when it did). */
  why?: string;
}

export interface FtLeaseStatus {
  where: string;
  state: FtLeaseState;
  ttlMs: number;
  /** The lease's identity (known once read). */
  leaseId?: string;
  /** Fencing token, holder and alone flag of the record as this side last saw it. */
  token?: number;
  holder?: string;
  role?: LeaseRole;
  alone?: boolean;
  /** This VMM's holder id. */
  self: string;
  /** This VMM holds the lease and renewed it recently enough to emit unprotected output. */
  valid: boolean;
  /** Backup (until it wins): the token of the pairing it protects (what it contends with). */
  pairToken?: number;
  lastContention?: ContentionReport;
}

export type ObtainResult = { kind: 'acquired'; record: LeaseRecord } | { kind: 'held'; record: LeaseRecord | undefined };

export type ContentionResult = { kind: 'won'; record: LeaseRecord } | { kind: 'lost'; record: LeaseRecord | undefined; why: string };

export interface FtLeaseOptions {
  ttlMs?: number;
  /** This VMM's identity in the record (default host:pid/random). */
  holder?: string;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** How often a contender re-reads the record (default ttl/10, at least 20 ms). */
  pollMs?: number;
  /** Bound on one store operation (default max(2 s, ttl)): storage that does not answer is unreachable. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export class FtLease extends EventEmitter {
  readonly ttlMs: number;
  readonly holder: string;
  private readonly now: () => number;
  private readonly pollMs: number;
  private readonly startTimeoutMs: number;
  private readonly log: (line: string) => void;
  private currentState: FtLeaseState = 'idle';
  /** The last record this side read or wrote. */
  private record?: LeaseRecord;
  /** The token this VMM obtained: a record with another one is not ours any more. */
  private heldToken?: number;
  /** Backup: the pairing's record as read when protection started. */
  private pairing?: LeaseRecord;
  private lastContention?: ContentionReport;
  private lastRenewStart = Number.NEGATIVE_INFINITY;
  private everHeld = false;
  private timer?: NodeJS.Timeout;
  private failing = false;
  private role: LeaseRole = 'primary';
  /** This VMM's own read-modify-writes, one at a time (a renewal must never race a token change). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly store: LeaseStore, options: FtLeaseOptions = {}) {
    super();
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs < MIN_LEASE_TTL_MS || this.ttlMs > MAX_LEASE_TTL_MS) {
      throw new RangeError(`lease ttl must be ${MIN_LEASE_TTL_MS}..${MAX_LEASE_TTL_MS} ms, got ${this.ttlMs}`);
    }
    this.holder = options.holder ?? `${hostname()}:${process.pid}/${randomBytes(4).toString('hex')}`;
    this.now = options.now ?? (() => performance.now());
    this.pollMs = options.pollMs ?? Math.max(20, Math.floor(this.ttlMs / 10));
    this.startTimeoutMs = options.startTimeoutMs ?? Math.max(2000, this.ttlMs);
    this.log = options.log ?? (() => {});
  }

  get state(): FtLeaseState {
    return this.currentState;
  }

  get where(): string {
    return this.store.where;
  }

  /** The lease's identity as last read (what HELLO carries). */
  get leaseId(): string | undefined {
    return this.record?.leaseId;
  }

  /** The fencing token this VMM holds (or held, when fenced). */
  get token(): number | undefined {
    return this.currentState === 'held' || this.currentState === 'fenced' ? this.heldToken : undefined;
  }

  /** This VMM holds the lease and declared it runs alone (no backup may take over from it). */
  get alone(): boolean {
    return this.currentState === 'held' && this.record?.alone === true;
  }

  /** Holding the lease, renewed within ttl - margin by this side's clock. */
  valid(): boolean {
    return this.currentState === 'held' && this.now() - this.lastRenewStart < this.ttlMs - leaseMargin(this.ttlMs);
  }

  /**
   * What the output gates ask before anything leaves. `acked`: the gate is in protected
   * mode, so what would leave belongs to an epoch the backup acknowledged (or to the time
   * before the pairing, which the backup's initial state includes): it never diverges
   * from a takeover, whoever wins, so it needs no lease. Anything else (unprotected
   * output, or held output released when protection ended) may leave only from a holder
   * running alone (it won the contention, took over, or never paired) whose lease is
   * valid. A VMM that never held the lease is a plain VM: nothing to arbitrate.
   */
  mayEmit(acked = false): boolean {
    if (this.currentState === 'fenced') return false;
    if (acked) return true;
    if (!this.everHeld) return true;
    return this.alone && this.valid();
  }

  status(): FtLeaseStatus {
    const r = this.record;
    return {
      where: this.where, state: this.currentState, ttlMs: this.ttlMs, self: this.holder, valid: this.valid(),
      ...(r ? { leaseId: r.leaseId, token: r.token, holder: r.holder, role: r.role, alone: r.alone } : {}),
      ...(this.pairing && this.currentState !== 'held' ? { pairToken: this.pairing.token } : {}),
      ...(this.lastContention ? { lastContention: { ...this.lastContention } } : {}),
    };
  }

  /** Reads the lease (creating an empty file if there is none): proves it reachable and well-formed. */
  async probe(): Promise<LeaseRecord | undefined> {
    const r = await this.bounded(this.store.update(() => undefined), 'read');
    if (r) this.record = r;
    return r;
  }

  /**
   * The lease's identity for the HELLO. The primary creates the lease before its HELLO,
   * so a backup that finds the file still empty looks again for up to `waitMs`.
   */
  async learnId(waitMs: number): Promise<string | undefined> {
    const start = this.now();
    for (;;) {
      const r = await this.probe();
      if (r || this.now() - start >= waitMs) return r?.leaseId;
      await sleep(this.pollMs);
    }
  }

  /**
   * Takes the lease for `role`, running alone: at once when nobody ever held it (creating
   * it) or this VMM holds it; otherwise only after watching it expire. 'held': another
   * party keeps renewing it (or took it meanwhile). Renews from then on.
   */
  async obtain(role: LeaseRole): Promise<ObtainResult> {
    if (this.currentState === 'fenced') throw new LeaseFencedError(`${this.where}: this VMM was fenced (token ${this.heldToken}) and may not hold the lease again`);
    if (this.currentState === 'contending') throw new Error(`${this.where}: already contending`);
    this.role = role;
    if (this.currentState === 'held') return { kind: 'acquired', record: this.record! };
    this.currentState = 'contending';
    try {
      const start = this.now();
      const seen = await this.bounded(this.store.update((cur) => (cur ? undefined : this.claim(undefined))), 'create');
      if (!seen) throw new LeaseUnreachableError(`${this.where} stayed empty after it was written`);
      if (this.isOurs(seen)) {
        this.hold(seen, start);
        this.log(`${this.where}: created, held by this VMM (${role}, token ${seen.token}, lease id ${seen.leaseId})`);
        return { kind: 'acquired', record: seen };
      }
      return await this.watchExpiry(seen, role);
    } finally {
      if (this.currentState === 'contending') this.currentState = 'idle';
    }
  }

  private async watchExpiry(seen: LeaseRecord, role: LeaseRole): Promise<ObtainResult> {
    this.record = seen;
    const ttl = Math.max(seen.ttlMs, this.ttlMs);
    const window = ttl + leaseMargin(ttl);
    this.log(`${this.where} is held by ${seen.holder} (${seen.role}, token ${seen.token}): watching it for ${window} ms to see whether it is still renewed`);
    const watchStart = this.now();
    for (;;) {
      await sleep(this.pollMs);
      if (this.currentState !== 'contending') throw new LeaseUnreachableError(`${this.where}: contention stopped`);
      const cur = await this.bounded(this.store.update(() => undefined), 'read');
      if (!sameLease(cur, seen)) {
        if (cur) this.record = cur;
        return { kind: 'held', record: cur };
      }
      if (this.now() - watchStart >= window) break;
    }
    const start = this.now();
    const after = await this.bounded(this.store.update((cur) => (sameLease(cur, seen) ? this.claim(seen) : undefined)), 'take over');
    if (after && this.isOurs(after)) {
      this.hold(after, start);
      this.log(`${this.where}: ${seen.holder} did not renew it for ${window} ms: now held by this VMM (${role}, token ${after.token})`);
      return { kind: 'acquired', record: after };
    }
    if (after) this.record = after;
    return { kind: 'held', record: after };
  }

  /**
   * The primary's protection starts (VM frozen at the sync point, before its HELLO): a
   * new fencing token names this pairing and alone turns false, so the backup may win a
   * contention from now on, and a backup of an older pairing never can. Throws when the
   * lease is not this VMM's any more (fenced) or cannot be written.
   */
  async beginPairing(): Promise<LeaseRecord> {
    if (this.currentState !== 'held') throw new LeaseUnreachableError(`${this.where} is not held by this VMM (${this.currentState})`);
    const start = this.now();
    const after = await this.bounded(this.serial(() => this.store.update((cur) => (cur && this.isOurs(cur)
      ? { ...cur, token: cur.token + 1, role: 'primary', alone: false, renewals: 0, ttlMs: this.ttlMs }
      : undefined))), 'begin the pairing');
    if (!after || after.holder !== this.holder || after.alone || (this.heldToken !== undefined && after.token !== this.heldToken + 1)) {
      this.fence(after);
      throw new LeaseFencedError(`${this.where} is no longer held by this VMM: ${after ? `fencing token ${after.token} held by ${after.holder}` : 'it was emptied'}`);
    }
    this.heldToken = after.token;
    this.record = after;
    this.lastRenewStart = start;
    this.lastContention = undefined;
    this.log(`${this.where}: pairing with fencing token ${after.token} (the backup may take over from now on)`);
    return after;
  }

  /**
   * The backup, once the HELLOs were exchanged: reads the pairing's record (the primary
   * wrote it before its HELLO). Its token is what this backup contends with.
   */
  async pairWith(): Promise<LeaseRecord> {
    const r = await this.bounded(this.store.update(() => undefined), 'read the pairing');
    if (!r) throw new LeaseUnreachableError(`${this.where} is empty: the primary did not create it`);
    this.record = r;
    this.pairing = r;
    this.lastContention = undefined;
    return r;
  }

  /**
   * Backup: how long a contention can keep failing on the store's lock while the pairing's
   * primary still holds it. A VMM holds the lock at most its ttl (the store's hold
   * deadline: its kernel kills it then, even when it is frozen), and one more bounded
   * store operation then gets through.
   */
  takeoverWaitMs(): number {
    return Math.max(this.pairing?.ttlMs ?? 0, this.ttlMs) + this.startTimeoutMs;
  }

  /**
   * One contention after losing the peer, as `role`: a single read-modify-write under the
   * store's lock (docs/ARCHITECTURE.md, "Split brain"). Rejects with LeaseUnreachableError
   * when the store does not answer (the caller retries: it may neither release nor take
   * over meanwhile). Idempotent: a retry after a write whose answer was lost still wins.
   */
  async contend(role: LeaseRole): Promise<ContentionResult> {
    if (this.currentState === 'fenced') return this.lost(role, undefined, `this VMM was fenced (token ${this.heldToken})`);
    return role === 'primary' ? this.contendAsPrimary() : this.contendAsBackup();
  }

  private async contendAsPrimary(): Promise<ContentionResult> {
    if (this.currentState !== 'held' || this.heldToken === undefined) return this.lost('primary', this.record, `this VMM does not hold ${this.where}`);
    const start = this.now();
    const after = await this.bounded(this.serial(() => this.store.update((cur) => (cur && this.isOurs(cur)
      ? { ...cur, role: 'primary', alone: true, renewals: cur.renewals + 1 }
      : undefined))), 'contend');
    if ((this.currentState as FtLeaseState) === 'fenced') return this.lost('primary', after, `this VMM was fenced (token ${this.heldToken})`);
    if (after && this.isOurs(after) && after.alone) {
      this.record = after;
      this.lastRenewStart = start;
      return this.won('primary', after);
    }
    const why = after ? `${this.where} has fencing token ${after.token} held by ${after.holder} (this VMM had token ${this.heldToken})` : `${this.where} was emptied`;
    this.fence(after);
    return this.lost('primary', after, why);
  }

  private async contendAsBackup(): Promise<ContentionResult> {
    const pair = this.pairing;
    if (!pair) return this.lost('backup', this.record, 'this backup never learnt its pairing\'s fencing token');
    const taken = (r: LeaseRecord | undefined) => r !== undefined && r.leaseId === pair.leaseId && r.token === pair.token + 1 && r.holder === this.holder;
    const start = this.now();
    this.role = 'backup';
    const after = await this.bounded(this.serial(() => this.store.update((cur) => {
      if (!cur || cur.leaseId !== pair.leaseId || cur.token !== pair.token || cur.alone) return undefined;
      return { leaseId: cur.leaseId, token: cur.token + 1, holder: this.holder, role: 'backup', renewals: 0, ttlMs: this.ttlMs, alone: true };
    })), 'contend');
    if (taken(after)) {
      this.heldToken = after!.token;
      this.hold(after!, start);
      return this.won('backup', after!);
    }
    if (after) this.record = after;
    const why = !after ? `${this.where} was emptied`
      : after.token === pair.token && after.alone ? `the primary ${after.holder} declared it runs on alone (it won ${this.where}, token ${after.token})`
      : `${this.where} has moved on to fencing token ${after.token} held by ${after.holder} (this pairing had token ${pair.token})`;
    return this.lost('backup', after, why);
  }

  private won(role: LeaseRole, record: LeaseRecord): ContentionResult {
    this.lastContention = { role, won: true, token: record.token, holder: record.holder };
    this.emit('renewed');
    return { kind: 'won', record };
  }

  private lost(role: LeaseRole, record: LeaseRecord | undefined, why: string): ContentionResult {
    this.lastContention = { role, won: false, token: record?.token, holder: record?.holder, why };
    return { kind: 'lost', record, why };
  }

  /**
   * The shared-disk write fence of a protected primary: runs `write` (acknowledged writes
   * to a shared image, and their flush) only while the record, read under the store's
   * lock, is still this VMM's; the lock keeps a backup's contention out until it is done.
   * So every such write lands before a backup could win, or never: a late write of an
   * old epoch can never overwrite what the new primary's guest wrote. false: fenced.
   */
  async fenced(write: () => Promise<void>): Promise<boolean> {
    if (this.currentState !== 'held') return false;
    const { ran, record } = await this.store.whileLocked((cur) => this.isOurs(cur), write);
    if (!ran) this.fence(record);
    return ran;
  }

  /** Stops renewing (shutdown, tests). The lease then expires for others after its ttl. */
  stop(): void {
    clearTimeout(this.timer);
    if (this.currentState !== 'fenced') this.currentState = 'stopped';
  }

  private claim(previous: LeaseRecord | undefined): LeaseRecord {
    return {
      leaseId: previous?.leaseId ?? randomBytes(8).toString('hex'),
      token: (previous?.token ?? 0) + 1,
      holder: this.holder,
      role: this.role,
      renewals: 0,
      ttlMs: this.ttlMs,
      alone: true,
    };
  }

  private isOurs(r: LeaseRecord | undefined): boolean {
    return r !== undefined && r.holder === this.holder && (this.heldToken === undefined || (r.token === this.heldToken && r.leaseId === this.record?.leaseId));
  }

  private hold(r: LeaseRecord, renewStart: number): void {
    this.record = r;
    this.heldToken = r.token;
    this.lastRenewStart = renewStart;
    this.everHeld = true;
    this.currentState = 'held';
    this.emit('renewed');
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.currentState !== 'held') return;
    this.timer = setTimeout(() => void this.renew().finally(() => this.schedule()), Math.floor(this.ttlMs / 3));
    this.timer.unref();
  }

  /**
   * One renewal: keeps a holder running alone valid, shows liveness to a VMM that wants
   * the lease (obtain) and in info ft, and lets a protected primary learn early that its
   * backup took over. A record that is no longer ours (token, holder or lease id) means fenced.
   */
  async renew(): Promise<void> {
    if (this.currentState !== 'held') return;
    const start = this.now();
    try {
      const after = await this.serial(() => this.store.update((cur) => (cur && this.isOurs(cur) ? { ...cur, renewals: cur.renewals + 1 } : undefined)));
      if (this.currentState !== 'held') return;
      if (after && this.isOurs(after)) {
        this.record = after;
        this.lastRenewStart = start;
        if (this.failing) this.log(`${this.where}: renewed again (token ${after.token})`);
        this.failing = false;
        this.emit('renewed');
      } else {
        this.fence(after);
      }
    } catch (e) {
      // Validity lapses on its own (valid() is time based); say so once per streak.
      if (!this.failing && this.currentState === 'held') this.log(`warning: ${this.where} could not be renewed: ${(e as Error).message}; unprotected output is held once the lease lapses`);
      this.failing = true;
    }
  }

  private fence(by: LeaseRecord | undefined): void {
    if (this.currentState === 'fenced') return;
    clearTimeout(this.timer);
    this.currentState = 'fenced';
    if (by) this.record = by;
    this.emit('fenced', { token: by?.token, holder: by?.holder, ownToken: this.heldToken });
  }

  /** Runs this VMM's read-modify-writes one after another. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => {});
    return run;
  }

  private bounded<T>(op: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LeaseUnreachableError(`${this.where} did not answer within ${this.startTimeoutMs} ms (${what}): is the shared storage reachable?`)), this.startTimeoutMs);
    });
    return Promise.race([op, late]).finally(() => clearTimeout(timer));
  }
}
