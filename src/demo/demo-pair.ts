/**
 * The demo's protected VM: the cuju-kv guest on a primary VMM, a backup VMM on this
 * machine, both on a private bridge (src/net/testnet) with their own taps and the same
 * MAC, each with its own copy of the disk (replicated mode), a split-brain lease file
 * and heartbeats. It follows who serves, and does what the demo's keys ask:
 *   kill -9 / SIGSTOP / SIGCONT the primary, re-protect the survivor with a new backup.
 * Every step and what the VMMs log about failures goes to `events`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FtVm } from '../guest/harness/ft-vm.js';
import { ensureBootDisk, freshDisk, KV_RECIPE, runDisks, type RunDisks } from '../guest/harness/kv-guest.js';
import { startKvPair, startWaitingBackup } from '../guest/harness/kv-pair.js';
import { ensureSnapshot } from '../guest/harness/snapshot-recipe.js';
import { TestNetwork } from '../net/testnet/test-network.js';

/** Tolerant of a busy 2-core host (a starved backup must not look dead); 10 ms beats. */
const HEARTBEAT = { periodMs: 10, timeoutMs: 1000 };

export interface DemoVm {
  vm: FtVm;
  tap: string;
  /** 'primary', 'backup', 'backup 2', ... */
  name: string;
  frozen: boolean;
  /** How much of the VMM's log (stderr) was already looked at for events. */
  logSeen?: number;
}

/** The VMM log lines worth an event: failure detection, takeover, the lease's decisions. */
const FT_LOG = /primary lost|backup lost|took over|taking over|fenced|won the lease|lost the lease|heartbeat/;

export interface DemoEvent {
  at: Date;
  text: string;
}

export class DemoPair {
  readonly events: DemoEvent[] = [];
  /** The VM that serves the guest service (the primary, or the backup that took over). */
  serving!: DemoVm;
  /** Its backup while the VM is protected. */
  backup: DemoVm | undefined;
  /** A frozen (SIGSTOPped) or fenced former primary, kept until it is dealt with. */
  former: DemoVm | undefined;
  /** performance.now() of the last fault the demo caused, to time the failover. */
  faultAt = 0;
  private backups = 0;
  private readonly dir = mkdtempSync(join(tmpdir(), 'cuju-demo-'));
  private readonly ftArgs: string[];
  private disks!: RunDisks;

  private constructor(readonly network: TestNetwork) {
    const key = join(this.dir, 'ft.key');
    writeFileSync(key, randomBytes(32).toString('hex'));
    this.ftArgs = ['-ft-lease', join(this.dir, 'ft.lease'), '-ft-key', key];
  }

  get guestAddress(): string {
    return this.network.guest.address;
  }

  /** Builds the network, restores the guest (booting it once if no snapshot is cached), protects it. */
  static async start(progress: (line: string) => void): Promise<DemoPair> {
    const pair = new DemoPair(TestNetwork.create({ clients: 0, taps: 2 }));
    try {
      progress(`private network: bridge ${pair.network.bridge.name} ${pair.network.bridge.address}/24, taps ${pair.network.taps.map((t) => t.name).join(', ')}`);
      await ensureBootDisk();
      await ensureSnapshot(KV_RECIPE);
      pair.disks = await runDisks(pair.dir, 'replicated');
      const [primaryTap, backupTap] = pair.network.taps.map((t) => t.name);
      const kv = await startKvPair({
        disks: pair.disks, primaryTap, backupTap, guestAddress: pair.guestAddress, ftArgs: pair.ftArgs, heartbeat: HEARTBEAT,
      });
      // Their logs so far hold the start-up; events begin with protection.
      pair.serving = { vm: kv.primary, tap: primaryTap, name: 'primary', frozen: false, logSeen: kv.primary.stderr.length };
      pair.backup = { vm: kv.backup, tap: backupTap, name: 'backup', frozen: false, logSeen: kv.backup.stderr.length };
      pair.backups = 1;
      pair.event(`protected: ${kv.timing}`);
      return pair;
    } catch (e) {
      await pair.close();
      throw e;
    }
  }

  event(text: string): void {
    this.events.push({ at: new Date(), text });
  }

  /** `kill -9` (SIGKILL) or freeze (SIGSTOP) the VMM that serves now. */
  fault(signal: 'SIGKILL' | 'SIGSTOP'): string {
    if (!this.backup) return 'nothing to fail over to: the VM is not protected (press r first)';
    const victim = this.serving;
    this.faultAt = performance.now();
    victim.vm.signal(signal);
    if (signal === 'SIGSTOP') victim.frozen = true;
    this.event(`${signal === 'SIGKILL' ? 'kill -9' : 'SIGSTOP (frozen, its process alive)'} of the ${victim.name}, pid ${victim.vm.pid}`);
    return '';
  }

  /** SIGCONT the frozen former primary: the lease tells it it was replaced. */
  thaw(): string {
    const f = this.former ?? (this.serving.frozen ? this.serving : undefined);
    if (!f || !f.frozen) return 'no frozen VMM to continue';
    f.vm.signal('SIGCONT');
    f.frozen = false;
    this.event(`SIGCONT to the frozen ${f.name}, pid ${f.vm.pid}`);
    return '';
  }

  /**
   * Follows a failover: once the backup says it took over, it serves. Called on every
   * refresh; returns the event text when a takeover was seen.
   */
  async followTakeover(): Promise<string | undefined> {
    const b = this.backup;
    if (!b || !b.vm.running) return undefined;
    const info = await this.infoFt(b);
    if (!/state: active/.test(info)) return undefined;
    const old = this.serving;
    this.serving = b;
    this.backup = undefined;
    this.former = old.vm.running ? old : undefined;
    const text = `the ${b.name} took over (pid ${b.vm.pid}): the VM runs there, unprotected until re-protected`;
    this.event(text);
    return text;
  }

  /** A former primary that came back fenced (it lost the lease): shut down, its tap freed. */
  async retireFenced(): Promise<void> {
    const f = this.former;
    if (!f || f.frozen) return;
    const info = f.vm.running ? await this.infoFt(f) : '';
    if (f.vm.running && !/state: fenced/.test(info)) return;
    this.event(`the former ${f.name} (pid ${f.vm.pid}) ${f.vm.running ? `says: ${info.split('\n')[0]}; stopped` : 'is gone'}`);
    await f.vm.kill();
    this.former = undefined;
  }

  /** Starts a new backup on the free tap and runs `migrate -c` on the VMM that serves. */
  async reprotect(): Promise<string> {
    if (this.backup) return 'already protected';
    if (this.former) return `the former ${this.former.name} still holds its tap: press c to continue it (it stops when fenced)`;
    const tap = this.network.taps.map((t) => t.name).find((t) => t !== this.serving.tap)!;
    const name = `backup ${++this.backups}`;
    const image = join(this.dir, `backup-${this.backups}.img`);
    await freshDisk(image); // migrate -c copies the serving side's disk into it
    const t0 = performance.now();
    const { vm, port } = await startWaitingBackup({ image, mode: 'replicated', tap, label: name, ftArgs: this.ftArgs, heartbeat: HEARTBEAT });
    try {
      const cap = await this.serving.vm.hmp('migrate_set_capability cuju-ft on');
      if (cap !== '') throw new Error(cap);
      const out = await this.serving.vm.hmp(`migrate -c tcp:127.0.0.1:${port}`, 180_000);
      if (!/fault tolerance started/.test(out)) throw new Error(out);
    } catch (e) {
      await vm.kill();
      throw e;
    }
    this.backup = { vm, tap, name, frozen: false, logSeen: vm.stderr.length };
    this.serving.name = 'primary';
    this.event(`re-protected: ${name} (pid ${vm.pid}) on ${tap}, live initial copy in ${Math.round(performance.now() - t0)} ms`);
    return '';
  }

  /** Turns the VMMs' new FT log lines into events (what they detected and decided, in their words). */
  collectLogs(): void {
    for (const v of [this.serving, this.backup, this.former]) {
      if (!v) continue;
      const log = v.vm.stderr;
      const end = log.lastIndexOf('\n') + 1;
      const fresh = log.slice(v.logSeen ?? 0, end);
      v.logSeen = Math.max(v.logSeen ?? 0, end);
      for (const line of fresh.split('\n')) if (FT_LOG.test(line)) this.event(`${v.name} VMM: ${line.replace(/^cuju: /, '').trim()}`);
    }
  }

  /** `info ft` of one VMM ('' when its monitor does not answer: dead or frozen). */
  async infoFt(v: DemoVm): Promise<string> {
    if (!v.vm.running || v.frozen) return '';
    try {
      return await v.vm.hmp('info ft', 2000);
    } catch {
      return '';
    }
  }

  /** Kills every VMM and removes the network and the run's files. */
  async close(): Promise<void> {
    await Promise.all([this.serving, this.backup, this.former].map((v) => v?.vm.kill()));
    this.network.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
