/**
 * A protected pair running the cuju-kv guest (kv-guest.ts), started the original's way:
 * the primary restores the cached snapshot (its tap, its disk), gets its address and
 * mounts the run's disk; the backup waits with `-incoming tcp:0:PORT,ft_mode` (its own
 * tap, the same MAC, its disk: an identical copy, or the same shared image), optionally
 * inside a network namespace (backup-netns.ts); HMP `migrate_set_capability cuju-ft on`
 * + `migrate -c tcp:HOST:PORT` protects the VM.
 *
 * Replicated disks: the backup's copy is taken after the primary mounted the disk and
 * synced (mount writes the superblock; kvGuestSetup), so both copies are identical when
 * protection starts and every later write travels in the epochs. (migrate -c also copies
 * replicated disks to the backup now; the re-protection fault, whose new backup starts
 * from an empty image, relies on that.)
 */
import { copyFileSync } from 'node:fs';
import { ensureSnapshot } from './snapshot-recipe.js';
import { FtVm } from './ft-vm.js';
import { KV_RECIPE, ensureBootDisk, kvArgs, kvGuestSetup, type RunDisks } from './kv-guest.js';
import { freePort } from '../../net/free-port.js';

export interface KvPairOptions {
  disks: RunDisks;
  /** Taps of the primary's and the backup's NIC. */
  primaryTap: string;
  backupTap: string;
  /** The guest's address on the test network. */
  guestAddress: string;
  /** Run the backup VMM in this network namespace. */
  backupNetns?: string;
  /** Flags both VMMs get (e.g. -ft-lease ...). */
  ftArgs?: string[];
  /**
   * Heartbeat settings for both sides, set over HMP (cuju-set-heartbeat) before
   * protection starts, so they apply whether or not the VMM wires -ft-heartbeat through.
   */
  heartbeat?: { periodMs: number; timeoutMs: number };
}

export interface KvPair {
  primary: FtVm;
  backup: FtVm;
  /** The port the backup listens on (in its namespace, if any). */
  port: number;
  /** How long the steps of starting it took. */
  timing: string;
  kill(): Promise<void>;
}

async function startPrimary(o: KvPairOptions): Promise<FtVm> {
  await ensureBootDisk();
  const snapshot = await ensureSnapshot(KV_RECIPE);
  const args = kvArgs(o.disks.primary, o.disks.mode, o.primaryTap);
  const vm = new FtVm({ ...args, label: 'primary', extraArgs: [...args.extraArgs!, ...(o.ftArgs ?? []), '-incoming', `file:${snapshot}`] });
  try {
    await vm.run('true', 60_000);
    const up = await vm.run(kvGuestSetup(o.guestAddress));
    if (!/kv-ready/.test(up.out)) throw new Error(`the guest's set-up failed: ${up.out}`);
    return vm;
  } catch (e) {
    await vm.kill();
    throw new Error(`${(e as Error).message}\nprimary stderr: ${vm.stderr.slice(-2000)}`);
  }
}

export interface WaitingBackupOptions {
  /** Its disk image: a copy (replicated: an empty one is filled by migrate -c) or the shared image. */
  image: string;
  mode: RunDisks['mode'];
  tap: string;
  /** Names the VMM in errors ('backup', 'new backup', 'standby'). */
  label: string;
  ftArgs?: string[];
  heartbeat?: { periodMs: number; timeoutMs: number };
  /** Run the VMM in this network namespace. */
  netns?: string;
  /** Listen here (default: a free port). */
  port?: number;
}

/**
 * A backup VMM waiting for its primary with `-incoming tcp:0:PORT,ft_mode`: the pair's
 * first backup, or a further one after a failover (re-protection) or a standby.
 */
export async function startWaitingBackup(o: WaitingBackupOptions): Promise<{ vm: FtVm; port: number }> {
  const port = o.port ?? (await freePort());
  const args = kvArgs(o.image, o.mode, o.tap);
  const vm = new FtVm({ ...args, label: o.label, netns: o.netns, extraArgs: [...args.extraArgs!, ...(o.ftArgs ?? []), '-incoming', `tcp:0:${port},ft_mode`] });
  try {
    await vm.waitForLog(/waiting for an incoming migration/, 30_000);
    if (o.heartbeat) await setHeartbeat(vm, o.heartbeat);
    return { vm, port };
  } catch (e) {
    await vm.kill();
    throw e;
  }
}

async function setHeartbeat(vm: FtVm, h: { periodMs: number; timeoutMs: number }): Promise<void> {
  const out = await vm.hmp(`cuju-set-heartbeat ${h.periodMs} ${h.timeoutMs}`);
  if (out !== '') throw new Error(`cuju-set-heartbeat on the ${vm.label}: ${out}`);
}

/**
 * Starts both and protects the VM. The primary reaches the backup at `replicationHost`
 * (its namespace's address, or loopback), or through `relay`: given the backup's port,
 * it starts a relay on loopback and returns the relay's port.
 */
export async function startKvPair(o: KvPairOptions, replicationHost = '127.0.0.1', relay?: (backupPort: number) => Promise<number>): Promise<KvPair> {
  const t0 = performance.now();
  const primary = await startPrimary(o);
  const primaryMs = performance.now() - t0;
  let backup: FtVm | undefined;
  try {
    if (o.disks.mode === 'replicated') copyFileSync(o.disks.primary, o.disks.backup);
    const waiting = await startWaitingBackup({ image: o.disks.backup, mode: o.disks.mode, tap: o.backupTap, label: 'backup', netns: o.backupNetns, ftArgs: o.ftArgs });
    backup = waiting.vm;
    const port = waiting.port;
    const connectPort = relay ? await relay(port) : port;
    const host = relay ? '127.0.0.1' : replicationHost;
    if (o.heartbeat) {
      for (const vm of [primary, backup]) await setHeartbeat(vm, o.heartbeat);
    }
    const cap = await primary.hmp('migrate_set_capability cuju-ft on');
    if (cap !== '') throw new Error(`migrate_set_capability cuju-ft on: ${cap}`);
    const backupMs = performance.now() - t0;
    const out = await primary.hmp(`migrate -c tcp:${host}:${connectPort}`, 180_000);
    const protectMs = performance.now() - t0;
    if (!/fault tolerance started/.test(out)) throw new Error(`migrate -c: ${out}`);
    const info = await primary.hmp('info ft');
    if (!/FT role: primary, state: protected/.test(info)) throw new Error(`after migrate -c: ${info}`);
    const b = backup;
    const timing = `primary ready ${(primaryMs / 1000).toFixed(1)} s, backup listening ${(backupMs / 1000).toFixed(1)} s, protected ${(protectMs / 1000).toFixed(1)} s`;
    return { primary, backup: b, port, timing, kill: async () => { await primary.kill(); await b.kill(); } };
  } catch (e) {
    const detail = `\nprimary stderr: ${primary.stderr.slice(-1500)}\nbackup stderr: ${backup?.stderr.slice(-1500) ?? ''}`;
    await primary.kill();
    await backup?.kill();
    throw new Error(`${(e as Error).message}${detail}`);
  }
}
