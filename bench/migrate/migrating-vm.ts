/**
 * A cuju process in the benchmark's chain of live migrations: a GuestVm (serial
 * console on its stdio, monitors on unix sockets) plus a QMP connection, with the
 * operations the benchmark needs: start as a migration destination, migrate out and
 * follow `query-migrate` to the end.
 */
import { freePort } from '../../src/net/free-port.js';
import { GuestVm, type GuestOptions } from '../../test/helpers/guest-vm.js';
import { QmpClient } from '../../src/monitor/client/socket-client.js';

/** QMP's query-migrate answer (qapi MigrationInfo), the fields used here. */
export interface MigrationInfo {
  status: string;
  'total-time'?: number;
  downtime?: number;
  'setup-time'?: number;
  'error-desc'?: string;
  'x-verify'?: 'match' | 'mismatch';
  ram?: {
    transferred: number;
    remaining: number;
    total: number;
    normal: number;
    mbps: number;
    'dirty-sync-count': number;
    'dirty-pages-rate': number;
    'pages-per-second': number;
  };
}

/** What one migration reported, plus what the benchmark saw from outside. */
export interface MigrationResult {
  final: MigrationInfo;
  /** Highest per-pass throughput seen while polling (Mbit/s): the first, full pass. */
  peakMbps: number;
  /** Highest dirty-page rate seen while polling (pages/s). */
  peakDirtyRate: number;
  /** `migrate` sent → query-migrate said completed, host clock (ms). */
  hostMs: number;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
const POLL_MS = 50;


async function poll<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export class MigratingVm {
  private qmpClient?: QmpClient;

  constructor(readonly vm: GuestVm, readonly label: string) {}

  /** A VMM resuming `snapshot` (made with `migrate file:`). */
  static fromSnapshot(opts: GuestOptions, snapshot: string, label: string): MigratingVm {
    return new MigratingVm(new GuestVm({ ...opts, extraArgs: [...(opts.extraArgs ?? []), '-incoming', `file:${snapshot}`] }), label);
  }

  /** A VMM listening for a live migration on a free loopback port; resolves once it listens. */
  static async destination(opts: GuestOptions, label: string): Promise<{ vm: MigratingVm; port: number }> {
    const port = await freePort();
    const vm = new MigratingVm(new GuestVm({ ...opts, extraArgs: [...(opts.extraArgs ?? []), '-incoming', `tcp:127.0.0.1:${port}`] }), label);
    await poll(`${label} to listen on port ${port}`, 30_000, () => {
      if (vm.vm.child.exitCode !== null) throw new Error(`${label} exited before listening: ${vm.vm.stderr}`);
      return /waiting for an incoming migration/.test(vm.vm.stderr) ? true : undefined;
    });
    return { vm, port };
  }

  /** The QMP connection (opened on first use; the socket appears shortly after spawn). */
  async qmp(): Promise<QmpClient> {
    if (this.qmpClient) return this.qmpClient;
    this.qmpClient = await poll(`${this.label}'s QMP socket`, 30_000, () => QmpClient.negotiated(this.vm.qmpPath).catch(() => undefined));
    return this.qmpClient;
  }

  async execute(command: string, args?: object): Promise<unknown> {
    const answer = await (await this.qmp()).execute(command, args);
    if ('error' in answer) throw new Error(`${this.label}: ${command} failed: ${JSON.stringify(answer.error)}`);
    return answer.return;
  }

  async queryMigrate(): Promise<MigrationInfo> {
    return (await this.execute('query-migrate')) as MigrationInfo;
  }

  /** Starts `migrate URI` over QMP and polls query-migrate until it has finished. */
  async migrate(uri: string, timeoutMs = 10 * 60_000): Promise<MigrationResult> {
    const t0 = performance.now();
    await this.execute('migrate', { uri });
    let peakMbps = 0;
    let peakDirtyRate = 0;
    const final = await poll(`${this.label}'s migration to ${uri}`, timeoutMs, async () => {
      const info = await this.queryMigrate();
      peakMbps = Math.max(peakMbps, info.ram?.mbps ?? 0);
      peakDirtyRate = Math.max(peakDirtyRate, info.ram?.['dirty-pages-rate'] ?? 0);
      return FINISHED.has(info.status) ? info : undefined;
    });
    return { final, peakMbps, peakDirtyRate, hostMs: performance.now() - t0 };
  }

  async kill(): Promise<void> {
    this.qmpClient?.close();
    await this.vm.kill();
  }
}
