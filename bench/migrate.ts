/**
 * `npm run bench:migrate` (node dist/bench/migrate.js): live migration of a 256 MiB
 * guest between cuju processes over loopback TCP, with the guest dirtying memory at
 * set rates (guest/workloads/cuju-dirty.c), against the machine's limits measured in
 * the same run (Buffer.copy memcpy, one Node loopback TCP stream between processes).
 *
 * The guest boots once and starts cuju-dirty, stopped (SIGSTOP) once its memory is
 * allocated; that guest is saved with `migrate file:` in the cache folder, keyed by
 * kernel + initramfs hashes, the VM flags and the workload's command, and later runs
 * resume it (`-incoming file:`) in a few seconds. (Allocating is what is slow in the
 * guest: the emulated kernel takes seconds per MiB, so the workload is allocated once
 * and only its rate changes: SIGUSR1 with the rate file, SIGCONT/SIGSTOP.) Each
 * scenario sets the rate, starts a fresh destination (`-incoming tcp:127.0.0.1:PORT`),
 * migrates over QMP and follows `query-migrate`, then stops the workload at the
 * destination, which is the next scenario's source.
 *
 * Scenarios run with max-bandwidth raised to MAX_BANDWIDTH (the limits are what is
 * measured), except one row at QEMU's default 128 MiB/s; downtime-limit stays at its
 * default (300 ms). One more migration runs with the x-verify capability.
 *
 * Env: BENCH_MIGRATE_RATES ("idle,0,5000,20000": "idle" = workload stopped, 0 = as fast
 * as the guest can), BENCH_MIGRATE_DIRTY_MIB (32), BENCH_MIGRATE_SETTLE_MS (3000),
 * BENCH_MIGRATE_CACHE (/var/tmp/cuju-bench-cache), BENCH_MIGRATE_REBOOT=1 ignores the
 * cached snapshot. BENCH_MIGRATE_TRACE=1 loads migrate/phase-trace.ts into every cuju
 * process and prints, per migration, both sides' switch-over steps on one clock.
 * Needs /dev/kvm and `npm run guest`.
 */
import { mkdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GuestVm, guestSkipReason, INITRD, KERNEL, type GuestOptions } from '../test/helpers/guest-vm.js';
import { memcpyRate, tcpStreamRate } from './migrate/limits.js';
import { MigratingVm } from './migrate/migrating-vm.js';
import { markdownTable, rowCells, textTable, type Limits, type Scenario, type ScenarioResult } from './migrate/report.js';
import { snapshotKey, snapshotPath } from './migrate/snapshot-cache.js';
import { parseTrace, switchOverTimeline } from './migrate/timeline.js';

const MiB = 1024 * 1024;
const MEMORY_MIB = 256;
const APPEND = 'console=ttyS0 quiet';
const VM: GuestOptions = { memoryMiB: MEMORY_MIB, cpus: 1, append: APPEND };
/** "Unlimited" for the benchmark: far above anything loopback does here. */
const MAX_BANDWIDTH = 64 * 1024 * MiB;
const QEMU_DEFAULT_BANDWIDTH = 128 * MiB;

function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  const v = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number, got '${raw}'`);
  return v;
}

const DIRTY_MIB = envInt('BENCH_MIGRATE_DIRTY_MIB', 32);
const RATE_FILE = '/tmp/cuju-dirty.rate';
/** Run once in the freshly booted guest; the shell keeps the workload's pid in $dirty (it migrates with the guest). */
const WORKLOAD_SETUP = `cuju-dirty ${DIRTY_MIB} 1 0 ${RATE_FILE} & dirty=$!`;
/** Allocating 32 MiB took ~2-4 minutes in the emulated guest kernel on a loaded machine. */
const ALLOCATE_TIMEOUT_MS = 30 * 60_000;
/** GuestVm's 10 minutes were not enough with the machine's two cores shared by several VMs (load ~10). */
const BOOT_TIMEOUT_MS = 30 * 60_000;
const SETTLE_MS = envInt('BENCH_MIGRATE_SETTLE_MS', 3000);
const CACHE_DIR = process.env.BENCH_MIGRATE_CACHE ?? '/var/tmp/cuju-bench-cache';
const TRACE = process.env.BENCH_MIGRATE_TRACE === '1';

function scenarios(): Scenario[] {
  const names = (process.env.BENCH_MIGRATE_RATES ?? 'idle,0,5000,20000').split(',').map((s) => s.trim()).filter(Boolean);
  const list: Scenario[] = names.map((n) => {
    if (n === 'idle') return { name: 'idle shell' };
    const rate = Number(n);
    if (!Number.isInteger(rate) || rate < 0) throw new Error(`BENCH_MIGRATE_RATES: '${n}' is neither 'idle' nor a whole number of pages/s`);
    return { name: rate === 0 ? 'max rate (0)' : `${rate} pages/s`, rate };
  });
  const paced = list.filter((s) => s.rate).map((s) => s.rate!);
  const some = paced.length ? Math.max(...paced) : 5000;
  list.push({ name: `${some} pages/s, max-bandwidth 128 MiB/s (QEMU default)`, rate: some, maxBandwidth: QEMU_DEFAULT_BANDWIDTH });
  list.push({ name: `${some} pages/s, x-verify on`, rate: some, verify: true });
  return list;
}

const log = (line: string) => process.stderr.write(`bench:migrate: ${line}\n`);

/** The first source: the cached idle guest, or a fresh boot that is then cached. */
async function firstVm(): Promise<MigratingVm> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const key = await snapshotKey({ kernel: KERNEL, initrd: INITRD, memoryMiB: MEMORY_MIB, cpus: 1, append: APPEND, setup: WORKLOAD_SETUP });
  const snapshot = snapshotPath(CACHE_DIR, key);
  if (existsSync(snapshot) && process.env.BENCH_MIGRATE_REBOOT !== '1') {
    const t0 = performance.now();
    const vm = MigratingVm.fromSnapshot(VM, snapshot, 'vm0');
    try {
      await vm.vm.run('echo resumed', 60_000);
      log(`resumed the cached guest ${snapshot} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return vm;
    } catch (e) {
      log(`the cached snapshot did not resume (${(e as Error).message.split('\n')[0]}); booting instead`);
      await vm.kill();
      rmSync(snapshot, { force: true });
    }
  }
  log(`booting a ${MEMORY_MIB} MiB guest (2-3 minutes where the guest kernel is emulated)`);
  const t0 = performance.now();
  const vm = new MigratingVm(new GuestVm(VM), 'vm0');
  await vm.vm.waitFor(/cuju-guest: ready/, BOOT_TIMEOUT_MS);
  await vm.vm.run('echo booted');
  log(`booted in ${((performance.now() - t0) / 1000).toFixed(0)} s; allocating the workload's ${DIRTY_MIB} MiB`);
  const t1 = performance.now();
  const from = vm.vm.output.length;
  await vm.vm.run(WORKLOAD_SETUP);
  await vm.vm.waitFor(/cuju-dirty: ready/, ALLOCATE_TIMEOUT_MS, from);
  await vm.vm.run('kill -STOP $dirty');
  log(`allocated in ${((performance.now() - t1) / 1000).toFixed(0)} s; saving the guest to ${snapshot}`);
  const saved = await vm.migrate(`file:${snapshot}.tmp`);
  if (saved.final.status !== 'completed') throw new Error(`migrate file: ${saved.final.status}: ${saved.final['error-desc']}`);
  renameSync(`${snapshot}.tmp`, snapshot);
  return vm;
}

/** Sets the stopped workload's rate and lets it run; resolves when it confirmed the rate. */
async function startWorkload(vm: MigratingVm, rate: number): Promise<void> {
  const from = vm.vm.output.length;
  await vm.vm.run(`echo ${rate} > ${RATE_FILE}; kill -USR1 $dirty; kill -CONT $dirty`);
  await vm.vm.waitFor(new RegExp(`cuju-dirty: rate ${rate} pages/s`), 60_000, from);
}

async function stopWorkload(vm: MigratingVm): Promise<void> {
  const r = await vm.vm.run('kill -STOP $dirty && echo workload-stopped');
  if (!/workload-stopped/.test(r.out)) throw new Error(`cannot stop cuju-dirty (pid $dirty) in the guest: ${r.out}`);
}

async function runScenario(source: MigratingVm, s: Scenario, index: number): Promise<{ next: MigratingVm; result: ScenarioResult }> {
  if (s.rate !== undefined) await startWorkload(source, s.rate);
  await source.execute('migrate-set-parameters', { 'max-bandwidth': s.maxBandwidth ?? MAX_BANDWIDTH });
  await source.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-verify', state: s.verify === true }] });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const { vm: dest, port } = await MigratingVm.destination(VM, `vm${index + 1}`);
  log(`${s.name}: migrating vm${index} -> vm${index + 1} (port ${port})`);
  const srcFrom = source.vm.stderr.length;
  const result = await source.migrate(`tcp:127.0.0.1:${port}`);
  const info = result.final;
  if (TRACE) {
    await new Promise((r) => setTimeout(r, 200)); // the last trace lines may still be in the pipes
    const lines = switchOverTimeline(parseTrace(source.vm.stderr.slice(srcFrom), 'src'), parseTrace(dest.vm.stderr, 'dst'));
    for (const l of lines) log(`  ${l}`);
  }
  log(`${s.name}: ${info.status}, total ${info['total-time']} ms, downtime ${info.downtime} ms, ${(info.ram?.transferred ?? 0) / MiB | 0} MiB, ${info.ram?.['dirty-sync-count']} passes`);
  if (info.status !== 'completed') {
    await dest.kill();
    if (s.rate !== undefined) await stopWorkload(source);
    return { next: source, result: { scenario: s, result } };
  }
  // The guest must really run at the destination: its shell answers and the workload is there.
  await dest.vm.run('echo alive-after-migration', 60_000);
  if (s.rate !== undefined) await stopWorkload(dest);
  await source.kill();
  return { next: dest, result: { scenario: s, result } };
}

async function main(): Promise<void> {
  const skip = guestSkipReason();
  if (skip) throw new Error(`cannot run: ${skip}`);
  if (TRACE) {
    const preload = pathToFileURL(fileURLToPath(new URL('./migrate/phase-trace.js', import.meta.url))).href;
    // Inherited by every cuju process this benchmark spawns.
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${preload}`.trim();
  }
  const date = new Date().toISOString().slice(0, 10);
  log(`${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const results: ScenarioResult[] = [];
  let vm = await firstVm();
  // Measured with the (idle, halted) guest up, i.e. under the same conditions as the migrations.
  log('measuring limits: Buffer.copy 256 MiB x5, loopback TCP 1 GiB x3 (to a child process)');
  const memcpy = memcpyRate(256 * MiB, 5);
  const tcp = await tcpStreamRate(1024 * MiB, 3);
  const limits: Limits = { memcpyMiBps: memcpy.median, tcpMiBps: tcp.median };
  log(`memcpy ${memcpy.median.toFixed(0)} MiB/s (best ${memcpy.best.toFixed(0)}), TCP ${tcp.median.toFixed(0)} MiB/s (best ${tcp.best.toFixed(0)})`);
  try {
    for (const [i, s] of scenarios().entries()) {
      const { next, result } = await runScenario(vm, s, i);
      vm = next;
      results.push(result);
    }
  } finally {
    await vm.kill();
  }

  const rows = results.map((r) => rowCells(r, limits));
  const limitsLine = `Limits in the same run: memcpy (Buffer.copy, 256 MiB) ${memcpy.median.toFixed(0)} MiB/s, ` +
    `Node loopback TCP stream between two processes ${tcp.median.toFixed(0)} MiB/s (medians; best ${memcpy.best.toFixed(0)} / ${tcp.best.toFixed(0)}).`;
  process.stdout.write(`\n${textTable(rows)}\n\n${limitsLine}\n`);
  process.stdout.write(`\nMarkdown (${date}, guest ${MEMORY_MIB} MiB, cuju-dirty ${DIRTY_MIB} MiB, load average at end ${loadavg()[0].toFixed(2)}):\n\n${markdownTable(rows)}\n\n${limitsLine}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:migrate failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
