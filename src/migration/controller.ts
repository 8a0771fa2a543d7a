/**
 * A VM's migration settings (capabilities, parameters) and its current or last
 * outgoing migration. One per VM; the monitor commands find it with migrationOf(vm).
 * Emits QMP's MIGRATION ({status}) and MIGRATION_PASS on the VM, as QEMU does.
 */
import type { VmControl } from '../vm/control.js';
import { MonitorCommandError } from '../monitor/errors.js';
import type { MigratableMachine } from './migratable.js';
import { OutgoingMigration } from './outgoing.js';
import { emptyStats, isFinished, type MigrationStats } from './status.js';
import { parseMigrateUri } from './uri.js';
import { ftKeyOf, ftOf } from '../ft/controller.js';

/** Capabilities this cuju knows; `x-verify` is the verify mode of docs/PROTOCOL.md. */
/** `x-verify`: verify mode (docs/PROTOCOL.md); `cuju-ft`: `migrate` starts fault tolerance instead of moving the VM. */
export const CAPABILITIES = ['x-verify', 'cuju-ft'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface MigrationParameters {
  /** Longest acceptable switch-over pause, ms (QEMU's default 300). */
  downtimeLimitMs: number;
  /** Bytes per second (QEMU's default 128 MiB/s). */
  maxBandwidth: number;
}

const controllers = new WeakMap<VmControl, MigrationController>();

export function migrationOf(vm: VmControl): MigrationController {
  const c = controllers.get(vm);
  if (!c) throw new MonitorCommandError('this VM cannot be migrated');
  return c;
}

export class MigrationController {
  readonly capabilities: Record<Capability, boolean> = { 'x-verify': false, 'cuju-ft': false };
  readonly parameters: MigrationParameters = { downtimeLimitMs: 300, maxBandwidth: 128 * 1024 * 1024 };
  private current?: OutgoingMigration;
  private lastPassReported = 0;

  constructor(private readonly machine: MigratableMachine, private readonly log: (line: string) => void = () => {}) {
    controllers.set(machine, this);
  }

  stats(): MigrationStats {
    return this.current?.stats ?? emptyStats();
  }

  get active(): boolean {
    return this.current !== undefined && !isFinished(this.current.stats.status);
  }

  setCapability(name: string, on: boolean): void {
    if (!(CAPABILITIES as readonly string[]).includes(name)) throw new MonitorCommandError(`Parameter 'capability' does not accept value '${name}'`);
    if (this.active) throw new MonitorCommandError('There\'s a migration process in progress');
    this.capabilities[name as Capability] = on;
  }

  setParameters(p: Partial<MigrationParameters>): void {
    if (p.downtimeLimitMs !== undefined && !(Number.isInteger(p.downtimeLimitMs) && p.downtimeLimitMs >= 0 && p.downtimeLimitMs <= 2_000_000)) {
      throw new MonitorCommandError("Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 milliseconds");
    }
    if (p.maxBandwidth !== undefined && !(Number.isSafeInteger(p.maxBandwidth) && p.maxBandwidth > 0)) {
      throw new MonitorCommandError("Parameter 'max_bandwidth' expects a positive number of bytes per second");
    }
    Object.assign(this.parameters, Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)));
    if (p.maxBandwidth !== undefined) this.current?.setMaxBandwidth(p.maxBandwidth);
  }

  /** Starts a migration; resolves when it has finished (callers that detach don't wait). */
  start(uri: string, opts: { cuju?: boolean } = {}): Promise<MigrationStats> {
    const target = parseMigrateUri(uri);
    const ft = this.capabilities['cuju-ft'];
    if (opts.cuju && !ft) throw new MonitorCommandError('migrate -c starts fault tolerance: run migrate_set_capability cuju-ft on first');
    if (ft && target.kind !== 'tcp') throw new MonitorCommandError('fault tolerance needs a backup: use migrate -c tcp:BACKUP:PORT (the backup started with -incoming tcp:0:PORT,ft_mode)');
    if (ft && ftOf(this.machine).primary) throw new MonitorCommandError('the VM is already protected (cuju-migrate-cancel stops it)');
    if (this.active) throw new MonitorCommandError('There\'s a migration process in progress');
    const state = this.machine.runState();
    if (state !== 'running' && state !== 'paused') throw new MonitorCommandError(`the VM cannot be migrated while it is ${state}`);
    // Fault tolerance: disk writes are recorded from here on, before the disk copy reads.
    const diskCopy = ft ? ftOf(this.machine).prepareSync({ verify: this.capabilities['x-verify'] }) : undefined;
    const m = new OutgoingMigration(this.machine, target, {
      verify: this.capabilities['x-verify'],
      downtimeLimitMs: this.parameters.downtimeLimitMs,
      maxBandwidth: this.parameters.maxBandwidth,
      ft,
      diskCopy,
      // -ft-key authenticates every migration from this VMM, not only fault-tolerance ones.
      key: ftKeyOf(this.machine),
    });
    this.current = m;
    this.lastPassReported = 0;
    m.on('status', (status: string) => {
      this.machine.emit('MIGRATION', { status });
      if (status === 'failed') this.log(`migration to ${uri} failed: ${m.stats.error}`);
      if (status === 'completed') this.log(`migration to ${uri} completed: ${summary(m.stats)}`);
      if (status === 'cancelled') this.log(`migration to ${uri} cancelled; the VM runs here as before`);
    });
    m.on('progress', (s: MigrationStats) => {
      this.machine.emit('MIGRATION_PASS', { pass: s.dirtySyncCount + 1 });
      const now = performance.now();
      if (now - this.lastPassReported >= 1000) {
        this.lastPassReported = now;
        this.log(`migrating: ${progressLine(s)}`);
      }
    });
    // A reset rebuilds the board, and with it guest RAM and the dirty log: start over.
    const onReset = () => m.cancel();
    this.machine.once('RESET', onReset);
    return m.run().then(async () => {
      this.machine.off('RESET', onReset);
      // Fault tolerance: the initial copy is done and the VM waits at the sync point.
      if (m.handoff) await ftOf(this.machine).startPrimary(m.handoff, { verify: this.capabilities['x-verify'] });
      else if (ft) ftOf(this.machine).syncFailed();
      return m.stats;
    });
  }

  cancel(): void {
    this.current?.cancel();
  }

  /**
   * `migrate_set_capability cuju-ft on` + `migrate -c uri`, for automatic re-protection
   * (src/ft/standby.ts): resolves with why the pairing failed, or undefined once the VM is
   * protected. Never rejects.
   */
  async pairFtBackup(uri: string): Promise<string | undefined> {
    try {
      if (!this.capabilities['cuju-ft']) this.setCapability('cuju-ft', true);
      const s = await this.start(uri, { cuju: true });
      return s.status === 'completed' ? undefined : s.error ?? `the migration was ${s.status}`;
    } catch (e) {
      return (e as Error).message;
    }
  }
}

const mib = (b: number) => (b / 1048576).toFixed(1);

export function progressLine(s: MigrationStats): string {
  return `${mib(s.transferredBytes)} MiB sent at ${s.mbps.toFixed(0)} Mbit/s, ${mib(s.remainingBytes)} MiB dirty, guest dirtying ${Math.round(s.dirtyPagesRate)} pages/s (pass ${s.dirtySyncCount})`;
}

export function summary(s: MigrationStats): string {
  return `${mib(s.transferredBytes)} MiB in ${Math.round(s.totalTimeMs)} ms, downtime ${Math.round(s.downtimeMs ?? 0)} ms, ${s.dirtySyncCount} dirty-log passes${s.verify ? `, verify: ${s.verify}` : ''}`;
}
