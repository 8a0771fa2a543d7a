/**
 * A primary and its backup, started the original's way, on a test network: the primary
 * restores the benchmark's cached guest (tap 0) and gets its address and echo server;
 * the backup waits with `-incoming tcp:0:PORT,ft_mode` (tap 1, the same MAC); HMP
 * `migrate_set_capability cuju-ft on` + `migrate -c tcp:127.0.0.1:PORT` protects it.
 * The primary can carry the pause-trace preload; the backup notes when it logs that it
 * took over.
 */
import { pathToFileURL, fileURLToPath } from 'node:url';
import { GuestVm } from '../../test/helpers/guest-vm.js';
import { ensureSnapshot, recipeArgs } from '../../src/guest/harness/snapshot-recipe.js';
import { hmp } from '../../src/monitor/client/hmp-command.js';
import type { TestNetwork } from '../../test/helpers/netns.js';
import { MigratingVm } from '../migrate/migrating-vm.js';
import { freePort } from '../../src/net/free-port.js';
import { FT_BENCH_RECIPE, guestNetworkSetup } from './guest-recipe.js';

const wallMs = () => performance.timeOrigin + performance.now();
const preload = (file: string) => pathToFileURL(fileURLToPath(new URL(file, import.meta.url))).href;
const PAUSE_TRACE = preload('./pause-trace.js');
const BACKUP_TRACE = preload('./backup-trace.js');

/**
 * BENCH_FT_HEARTBEAT (e.g. '50ms,timeout=5s'): -ft-heartbeat for both VMMs. On a host
 * busy with other work the default 500 ms timeout can fire while a VMM waits for a core,
 * and a backup that takes over ends the run.
 */
const HEARTBEAT = process.env.BENCH_FT_HEARTBEAT ? ['-ft-heartbeat', process.env.BENCH_FT_HEARTBEAT] : [];

/** What query-ft answers (the fields the benchmark reads). */
export interface FtInfo {
  role: string;
  state: string;
  'epoch-us': number;
  epoch: number;
  'acked-epoch': number;
  'dirty-pages': number;
  'epoch-bytes': number;
  'total-epochs': number;
  'total-bytes': number;
  'pause-us-p50': number;
  'verified-epochs'?: number;
  'verify-mismatches'?: number;
  'pause-us-p99': number;
  /** Absent until output commit held a packet. */
  'packet-hold-ms-p50'?: number;
  'packet-hold-ms-p99'?: number;
  'heartbeat-timeout-ms': number;
  'held-packets': number;
  reason?: string;
}

/** Spawns a cuju process with NODE_OPTIONS extended by `--import preload` (only this child: spawn reads env synchronously). */
function withPreload<T>(preload: string | undefined, spawn: () => T): T {
  if (!preload) return spawn();
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} --import=${preload}`.trim();
  try {
    return spawn();
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}

async function until(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The primary: the cached guest restored on tap 0, its network and echo server up. */
export async function startPrimary(net: TestNetwork, trace: boolean): Promise<MigratingVm> {
  const snapshot = await ensureSnapshot(FT_BENCH_RECIPE);
  const opts = recipeArgs(FT_BENCH_RECIPE, net.taps[0].name);
  const vm = withPreload(trace ? PAUSE_TRACE : undefined, () =>
    new GuestVm({ ...opts, extraArgs: [...(opts.extraArgs ?? []), ...HEARTBEAT, '-incoming', `file:${snapshot}`] }));
  const primary = new MigratingVm(vm, 'primary');
  try {
    await vm.run('true', 60_000);
    const up = await vm.run(guestNetworkSetup(net.guest.address));
    if (!/echo-serving/.test(up.out)) throw new Error(`the guest's network set-up failed: ${up.out}`);
    return primary;
  } catch (e) {
    await primary.kill();
    throw new Error(`${(e as Error).message}\ncuju stderr: ${vm.stderr.slice(-2000)}`);
  }
}

export class Backup {
  /** Wall-clock ms when its "took over" line arrived, once it did. */
  tookOverAt?: number;
  /** Wall-clock ms when it said it paired its standby by itself (src/ft/standby.ts), once it did. */
  reprotectedAt?: number;

  private constructor(readonly vm: MigratingVm, readonly port: number) {
    vm.vm.child.stderr!.on('data', () => {
      if (this.tookOverAt === undefined && /took over from epoch \d+/.test(vm.vm.stderr)) this.tookOverAt = wallMs();
      if (this.reprotectedAt === undefined && /re-protected on standby/.test(vm.vm.stderr)) this.reprotectedAt = wallMs();
    });
  }

  /**
   * A backup VMM on tap 1 (or `tap`), listening (`-incoming tcp:0:PORT,ft_mode`); `trace`:
   * with backup-trace.ts loaded. A standby is started the same way on another tap.
   */
  static async start(net: TestNetwork, trace: boolean, tap = 1): Promise<Backup> {
    const port = await freePort();
    const opts = recipeArgs(FT_BENCH_RECIPE, net.taps[tap].name);
    const vm = new MigratingVm(withPreload(trace ? BACKUP_TRACE : undefined, () =>
      new GuestVm({ ...opts, extraArgs: [...(opts.extraArgs ?? []), ...HEARTBEAT, '-incoming', `tcp:0:${port},ft_mode`] })), 'backup');
    const backup = new Backup(vm, port);
    try {
      await until(`the backup to listen on port ${port}`, 30_000, () => {
        if (vm.vm.child.exitCode !== null) throw new Error(`the backup exited: ${vm.vm.stderr}`);
        return /waiting for an incoming migration/.test(vm.vm.stderr);
      });
    } catch (e) {
      await vm.kill();
      throw e;
    }
    return backup;
  }

  get pid(): number {
    return this.vm.vm.child.pid!;
  }
}

/** Protects `primary` on `backup` over HMP; resolves with the time `migrate -c` took (initial copy included), ms. */
export async function protect(primary: MigratingVm, backup: Backup): Promise<number> {
  const cap = await hmp(primary.vm.hmpPath, 'migrate_set_capability cuju-ft on');
  if (cap !== '') throw new Error(`migrate_set_capability cuju-ft on: ${cap}`);
  const t0 = performance.now();
  const out = await hmp(primary.vm.hmpPath, `migrate -c tcp:127.0.0.1:${backup.port}`, 300_000);
  const ms = performance.now() - t0;
  if (!/fault tolerance started/.test(out)) {
    throw new Error(`migrate -c did not start fault tolerance: ${out}\nprimary: ${primary.vm.stderr.slice(-1500)}\nbackup: ${backup.vm.vm.stderr.slice(-1500)}`);
  }
  const info = await queryFt(primary);
  if (info.state !== 'protected') throw new Error(`after migrate -c the primary is ${info.state} (${info.reason ?? ''})`);
  return ms;
}

export async function queryFt(vm: MigratingVm): Promise<FtInfo> {
  return (await vm.execute('query-ft')) as FtInfo;
}
