/**
 * `npm run bench:ft` (node dist/bench/ft.js): Cuju fault tolerance, host-side figures,
 * each next to its baseline from the same run, on a private test network (bridge, two
 * taps, a client namespace; needs root, /dev/kvm and `npm run guest`):
 *
 * 1. Round trip: a client in its namespace sends 8-byte requests to a TCP echo server
 *    in the guest (busybox `nc -l -p 7000 -e /bin/cat`), one at a time; unprotected,
 *    then protected.
 * 2. Dirty pages: the guest's cuju-dirty (guest/workloads) writes N pages per epoch
 *    (its rate = N × the epochs/s measured with the workload stopped) or as fast as it
 *    can; per N: query-ft's pause p50/p99 over a window of 2048 epochs (the size of its
 *    histogram), epochs/s, page bytes and wire bytes per epoch, where the pause goes
 *    (bench/ft/pause-trace.ts, loaded into the primary), and the workload's own rate
 *    protected; then `cuju-migrate-cancel` and the same rates unprotected.
 * 3. Backup memory: the backup VMM's VmRSS (max over the protected windows) against
 *    guest RAM, the primary's next to it; split into file-backed (Node's code), guest
 *    RAM resident and the rest, with V8's own figures (bench/ft/backup-memory.ts).
 * 4. Failover: fresh protected pairs; the client talks back to back; kill -9 of the
 *    primary → the backup's "took over" line, and → the first answer from the backup.
 *    In the last kill -9 run a standby waits (a third VMM, tap 2; cuju-set-standby on the
 *    backup): kill -9 → the survivor protected again on it (issue 6).
 *
 * The guest (128 MiB, cuju-dirty's 32 MiB allocated and stopped) is booted once and
 * cached as a snapshot (test/helpers/guest-snapshot.ts); later runs restore it in about
 * a second. Env: BENCH_FT_DIRTY ("0,100,1000,5000,max": pages per epoch; 0 = workload
 * stopped), BENCH_FT_WINDOW_EPOCHS (2048), BENCH_FT_MAX_WINDOW_S (30),
 * BENCH_FT_UNPROTECTED_S (5), BENCH_FT_SETTLE_MS (1500), BENCH_FT_RTT (200 round trips),
 * BENCH_FT_FAILOVERS (3), BENCH_FT_SILENT (2), BENCH_FT_STANDBY=0 (no standby run),
 * BENCH_FT_TRACE=0 (no pause breakdown), BENCH_FT_MEM (guest RAM in MiB, 128),
 * BENCH_FT_HEARTBEAT (-ft-heartbeat for both VMMs, e.g. '50ms,timeout=5s' on a busy host),
 * BENCH_FT_VERIFY (FT verify every N epochs while protected, 0 = off: the replica checked
 * against the primary at every dirty rate; the counts end the report).
 */
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { guestSkipReason } from '../test/helpers/guest-vm.js';
import { ensureSnapshot, snapshotPath } from '../src/guest/harness/snapshot-recipe.js';
import { hmp } from '../src/monitor/client/hmp-command.js';
import { netnsSkipReason, withTestNetwork, type TestNetwork } from '../test/helpers/netns.js';
import type { MigratingVm } from './migrate/migrating-vm.js';
import { ECHO_CLIENT } from './ft/echo-client.js';
import { commitSummary, parseAcks, parseBackupTrace, parseEpochs, summarizeWindow } from './ft/epoch-trace.js';
import { Backup, protect, queryFt, startPrimary, type FtInfo } from './ft/ft-pair.js';
import { DIRTY_MIB, ECHO_PORT, FT_BENCH_RECIPE, GUEST_MIB } from './ft/guest-recipe.js';
import { NamespaceProcess } from './ft/namespace-process.js';
import { coreShare, cpuTimes } from './ft/process-cpu.js';
import { residentMemory, type ResidentMemory } from './ft/process-memory.js';
import { maxJsMemory, parseJsMemory } from './ft/backup-memory.js';
import { fullReport, type DirtyResult, type FailoverResult, type MemoryResult, type Results, type RttCpu } from './ft/report.js';
import { bytesReceivedOnPort } from './ft/tcp-bytes.js';
import { achievedRate, runWorkload, stopWorkload } from './ft/workload.js';

const MiB = 1024 * 1024;

function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  const v = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number, got '${raw}'`);
  return v;
}

const WINDOW_EPOCHS = envInt('BENCH_FT_WINDOW_EPOCHS', 2048);
const MAX_WINDOW_MS = envInt('BENCH_FT_MAX_WINDOW_S', 30) * 1000;
const UNPROTECTED_MS = envInt('BENCH_FT_UNPROTECTED_S', 5) * 1000;
const SETTLE_MS = envInt('BENCH_FT_SETTLE_MS', 1500);
const RTT_COUNT = envInt('BENCH_FT_RTT', 200);
const FAILOVERS = envInt('BENCH_FT_FAILOVERS', 3);
/** Failover runs with a frozen (SIGSTOP) primary: only the heartbeat timeout finds it. */
const SILENT_FAILOVERS = envInt('BENCH_FT_SILENT', 2);
const TRACE = process.env.BENCH_FT_TRACE !== '0';
const VERIFY_EVERY = envInt('BENCH_FT_VERIFY', 0);
/** The last kill -9 run has a standby waiting (time to re-protected); BENCH_FT_STANDBY=0: none. */
const STANDBY = process.env.BENCH_FT_STANDBY !== '0';
/** The client talks for this long in a failover run; the kill comes KILL_AFTER_MS after it connected. */
const FAILOVER_CLIENT_S = 6;
const KILL_AFTER_MS = 2000;

/** Pages per epoch to aim at; 'max' = cuju-dirty's rate 0 (as fast as it can). */
function dirtyTargets(): (number | 'max')[] {
  return (process.env.BENCH_FT_DIRTY ?? '0,100,1000,5000,max').split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    if (s === 'max') return 'max';
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`BENCH_FT_DIRTY: '${s}' is neither 'max' nor a whole number of pages per epoch`);
    return n;
  });
}

const T0 = performance.now();
const log = (line: string) => process.stderr.write(`bench:ft: [${((performance.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
const wallMs = () => performance.timeOrigin + performance.now();

/** `count` sequential round trips from the client namespace to the guest's echo server, ms each. */
/** Round trips while measuring the CPU the VMMs use (share of one core: vCPU threads and the rest). */
async function measuredRoundTrips(net: TestNetwork, count: number, vmms: { primary: number; backup?: number }): Promise<{ samples: number[]; cpu: RttCpu }> {
  const t0 = performance.now();
  const p0 = cpuTimes(vmms.primary);
  const b0 = vmms.backup === undefined ? undefined : cpuTimes(vmms.backup);
  const samples = await roundTrips(net, count);
  const seconds = (performance.now() - t0) / 1000;
  const primary = coreShare(p0, cpuTimes(vmms.primary), seconds);
  const backup = b0 && vmms.backup !== undefined ? coreShare(b0, cpuTimes(vmms.backup), seconds) : undefined;
  return { samples, cpu: { primaryVcpu: primary.vcpu, primaryVmm: primary.vmm, backup: backup ? backup.vcpu + backup.vmm : undefined } };
}

async function roundTrips(net: TestNetwork, count: number): Promise<number[]> {
  const client = new NamespaceProcess(net.clients[0].ns, [process.execPath, '-e', ECHO_CLIENT, 'rtt', net.guest.address, String(ECHO_PORT), String(count)]);
  const r = await client.json<{ samplesMs: number[]; error: string | null }>(60_000 + count * 200);
  if (r.error) throw new Error(`the round-trip client failed: ${r.error}`);
  return r.samplesMs;
}

const guestBytes = GUEST_MIB * MiB;

class MemoryWatch {
  max?: { backup: ResidentMemory; primary: ResidentMemory };
  sample(backup: Backup, primary: MigratingVm): void {
    const b = residentMemory(backup.pid);
    if (!this.max || b.rss > this.max.backup.rss) this.max = { backup: b, primary: residentMemory(primary.vm.child.pid!) };
  }
}

interface Scenario {
  name: string;
  target?: number;
  rate?: number;
}

/** One protected window: the workload at `s.rate` (or stopped) until WINDOW_EPOCHS epochs went by. */
async function protectedWindow(primary: MigratingVm, backup: Backup, s: Scenario, memory: MemoryWatch): Promise<DirtyResult> {
  if (s.rate !== undefined) await runWorkload(primary.vm, s.rate);
  await sleep(SETTLE_MS);
  const q0 = await queryFt(primary);
  const bytes0 = bytesReceivedOnPort(backup.port);
  const from = wallMs();
  const out0 = primary.vm.output.length;
  let q: FtInfo = q0;
  while (q['total-epochs'] - q0['total-epochs'] < WINDOW_EPOCHS && wallMs() - from < MAX_WINDOW_MS) {
    await sleep(500);
    q = await queryFt(primary);
    memory.sample(backup, primary);
    if (q.state !== 'protected') {
      // The backup's own account (took over, stood down, crashed) is usually the reason.
      const said = backup.vm.vm.stderr.split('\n').filter((l) => !l.startsWith('cuju-ft-')).slice(-15).join('\n');
      throw new Error(`protection ended during "${s.name}": ${q.state} (${q.reason ?? ''})\nbackup stderr (trace lines left out):\n${said}`);
    }
  }
  const to = wallMs();
  const bytes1 = bytesReceivedOnPort(backup.port);
  const console = primary.vm.output.slice(out0);
  if (s.rate !== undefined) await stopWorkload(primary.vm);
  await sleep(300); // the trace's last lines of the window
  const epochs = q['total-epochs'] - q0['total-epochs'];
  const trace = summarizeWindow(parseEpochs(primary.vm.stderr), parseAcks(primary.vm.stderr), from, to);
  const r: DirtyResult = {
    name: s.name, target: s.target, rate: s.rate,
    pauseP50: q['pause-us-p50'], pauseP99: q['pause-us-p99'], histogramEpochs: Math.min(epochs, 2048),
    epochsPerSec: epochs / ((to - from) / 1000),
    pageBytesPerEpoch: (q['total-bytes'] - q0['total-bytes']) / epochs,
    wireBytesPerEpoch: (bytes1 - bytes0) / epochs,
    protectedRate: s.rate === undefined ? NaN : achievedRate(console),
    unprotectedRate: NaN,
    trace,
    commitUs: commitSummary(parseBackupTrace(backup.vm.vm.stderr), trace.numbers),
    backupRss: residentMemory(backup.pid).rss,
  };
  log(`protected, ${s.name}: ${epochs} epochs in ${((to - from) / 1000).toFixed(1)} s, ~${Math.round(trace.pagesMean)} dirty pages/epoch, ` +
    `pause p50 ${r.pauseP50} µs p99 ${r.pauseP99} µs, workload ${Math.round(r.protectedRate)} pages/s`);
  return r;
}

async function unprotectedRate(primary: MigratingVm, rate: number): Promise<number> {
  await runWorkload(primary.vm, rate);
  await sleep(SETTLE_MS);
  const out0 = primary.vm.output.length;
  await sleep(UNPROTECTED_MS);
  const achieved = achievedRate(primary.vm.output.slice(out0));
  await stopWorkload(primary.vm);
  return achieved;
}

/**
 * A fresh protected pair; the client talks back to back; kill -9 of the primary (its
 * connection closes), or SIGSTOP (nothing closes: the backup's heartbeat timeout decides).
 */
async function failoverRun(net: TestNetwork, index: number, how: 'kill -9' | 'SIGSTOP', withStandby = false): Promise<FailoverResult> {
  const primary = await startPrimary(net, false);
  let backup: Backup | undefined;
  let standby: Backup | undefined;
  try {
    backup = await Backup.start(net, TRACE);
    await protect(primary, backup);
    if (withStandby) {
      // A third VMM waits on tap 2; the backup pairs it by itself once it has taken over.
      standby = await Backup.start(net, false, 2);
      const set = await hmp(backup.vm.vm.hmpPath, `cuju-set-standby tcp:127.0.0.1:${standby.port}`);
      if (set !== '') throw new Error(`cuju-set-standby: ${set}`);
    }
    const client = new NamespaceProcess(net.clients[0].ns, [process.execPath, '-e', ECHO_CLIENT, 'stream', net.guest.address, String(ECHO_PORT), String(FAILOVER_CLIENT_S)]);
    await client.waitFor(/answering/, 60_000);
    await sleep(KILL_AFTER_MS);
    const info = await queryFt(primary);
    if (info.state !== 'protected' || info['acked-epoch'] < 1) throw new Error(`failover run ${index}: the primary is not protected (${JSON.stringify(info)})`);
    const heartbeatTimeoutMs = (await queryFt(backup.vm))['heartbeat-timeout-ms'];
    const killAt = wallMs();
    primary.vm.child.kill(how === 'kill -9' ? 'SIGKILL' : 'SIGSTOP');
    const r = await client.json<{ replies: [number, number, number][]; error: string | null }>(120_000);
    const tookOverMs = backup.tookOverAt === undefined ? undefined : backup.tookOverAt - killAt;
    // A reply that arrived before the backup said it took over left the primary before it died.
    const threshold = Math.max(killAt, backup.tookOverAt ?? killAt);
    const before = r.replies.filter(([, , at]) => at <= killAt);
    const first = r.replies.find(([, , at]) => at > threshold);
    await sleep(300); // the backup trace's lines
    const bt = parseBackupTrace(backup.vm.vm.stderr);
    const result: FailoverResult = {
      how, heartbeatTimeoutMs,
      lostMs: bt.lostAt === undefined ? undefined : bt.lostAt - killAt,
      takeOverMs: bt.takeOverUs === undefined ? undefined : bt.takeOverUs / 1000,
      tookOverMs,
      firstAnswerMs: first ? first[2] - killAt : undefined,
      requestSentBeforeKill: first ? first[1] < killAt : undefined,
      gapMs: first && before.length ? first[2] - before[before.length - 1][2] : undefined,
      survived: r.error === null && first !== undefined,
      error: r.error ?? (first ? undefined : 'no answer after the kill'),
    };
    if (standby) {
      const b = backup;
      await waitFor('the survivor to pair its standby', 180_000, () => b.reprotectedAt !== undefined || b.vm.vm.child.exitCode !== null);
      if (b.reprotectedAt !== undefined) result.reprotectedMs = b.reprotectedAt - killAt;
      else result.error ??= `the survivor exited before pairing its standby: ${b.vm.vm.stderr.slice(-500)}`;
    }
    const state = await queryFt(backup.vm).catch((e: Error) => ({ state: `query-ft failed: ${e.message}` }) as FtInfo);
    log(`failover ${index} (${how}${standby ? ', standby waiting' : ''}): loss seen after ${result.lostMs?.toFixed(1)} ms, took over after ${tookOverMs?.toFixed(1)} ms, first answer after ${result.firstAnswerMs?.toFixed(1)} ms ` +
      `(${before.length} answers before the kill, ${r.replies.length - before.length} after; backup ${state.state}; ${result.error ?? 'connection carried on'})` +
      `${result.reprotectedMs === undefined ? '' : `; protected again on the standby ${result.reprotectedMs.toFixed(0)} ms after the kill`}`);
    return result;
  } finally {
    await primary.kill();
    await backup?.vm.kill();
    await standby?.vm.kill();
  }
}

async function main(): Promise<void> {
  const skip = guestSkipReason() || netnsSkipReason();
  if (skip) throw new Error(`cannot run: ${skip}`);
  const date = new Date().toISOString().slice(0, 10);
  const started = performance.now();
  log(`${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (!existsSync(snapshotPath(FT_BENCH_RECIPE))) {
    log(`no cached guest yet: booting one and allocating cuju-dirty's ${DIRTY_MIB} MiB (several minutes where the guest kernel is emulated)`);
  }
  await ensureSnapshot(FT_BENCH_RECIPE);

  const results = await withTestNetwork({ clients: 1, taps: 3 }, async (net): Promise<Results> => {
    const primary = await startPrimary(net, TRACE);
    let backup: Backup | undefined;
    try {
      log('unprotected round trips');
      const unprotectedRun = await measuredRoundTrips(net, RTT_COUNT, { primary: primary.vm.child.pid! });
      const rttUnprotected = unprotectedRun.samples;

      backup = await Backup.start(net, TRACE);
      const protectMs = await protect(primary, backup);
      const afterSync = residentMemory(backup.pid);
      const protectedFrom = wallMs();
      const epochUs = (await queryFt(primary))['epoch-us'];
      if (VERIFY_EVERY > 0) {
        const on = await hmp(primary.vm.hmpPath, `cuju-verify-every ${VERIFY_EVERY}`);
        if (on !== '') throw new Error(`cuju-verify-every ${VERIFY_EVERY}: ${on}`);
      }
      log(`protected after ${(protectMs / 1000).toFixed(1)} s (initial copy), epoch ${epochUs} µs`);

      const memory = new MemoryWatch();
      const stopped = await protectedWindow(primary, backup, { name: 'stopped' }, memory);
      log('protected round trips');
      const rttFrom = wallMs();
      const protectedRun = await measuredRoundTrips(net, RTT_COUNT, { primary: primary.vm.child.pid!, backup: backup.pid });
      const rttProtected = protectedRun.samples;
      const ft = await queryFt(primary);
      const packetHoldMs = ft['packet-hold-ms-p50'] === undefined ? undefined : { p50: ft['packet-hold-ms-p50'], p99: ft['packet-hold-ms-p99'] ?? NaN };
      await sleep(300);
      const rttTrace = summarizeWindow(parseEpochs(primary.vm.stderr), parseAcks(primary.vm.stderr), rttFrom, wallMs());

      const scenarios: Scenario[] = dirtyTargets().filter((t) => t !== 0).map((t) => t === 'max'
        ? { name: 'max rate', rate: 0 }
        : { name: `≈${t} pages/epoch`, target: t, rate: Math.max(1, Math.round(t * stopped.epochsPerSec)) });
      const dirty: DirtyResult[] = dirtyTargets().includes(0) ? [stopped] : [];
      for (const s of scenarios) dirty.push(await protectedWindow(primary, backup, s, memory));

      const protectedTo = wallMs();
      const backupStderr = backup.vm.vm.stderr;
      const ftEnd = await queryFt(primary);
      const verify = VERIFY_EVERY > 0 ? { every: VERIFY_EVERY, verified: ftEnd['verified-epochs'] ?? 0, mismatches: ftEnd['verify-mismatches'] ?? 0 } : undefined;
      const cancelled = await hmp(primary.vm.hmpPath, 'cuju-migrate-cancel');
      if (cancelled !== '') throw new Error(`cuju-migrate-cancel: ${cancelled}`);
      await backup.vm.vm.exited;
      log('protection cancelled (the backup exited); the same rates unprotected');
      for (const d of dirty) if (d.rate !== undefined) d.unprotectedRate = await unprotectedRate(primary, d.rate);
      await primary.kill();

      const failovers: FailoverResult[] = [];
      // The last kill -9 runs with a standby waiting: the time until the VM is protected again.
      for (let i = 1; i <= FAILOVERS; i++) failovers.push(await failoverRun(net, i, 'kill -9', i === FAILOVERS && STANDBY));
      for (let i = 1; i <= SILENT_FAILOVERS; i++) failovers.push(await failoverRun(net, FAILOVERS + i, 'SIGSTOP'));

      const max = memory.max ?? { backup: afterSync, primary: afterSync };
      const js = parseJsMemory(backupStderr);
      const memoryResult: MemoryResult = {
        guestBytes, backupAfterSync: afterSync.rss, afterSync, ...max,
        backupJs: maxJsMemory(js, protectedFrom, protectedTo),
        // The backup's last sample before the initial copy ended.
        afterSyncJs: js.filter((s) => s.wallMs <= protectedFrom).at(-1),
      };
      return {
        date, epochUs, protectMs, dirty, failovers, memory: memoryResult, verify,
        rtt: { unprotected: rttUnprotected, protected: rttProtected, epochUs, ackP50Us: rttTrace.ackUs?.p50, packetHoldMs, cpu: { unprotected: unprotectedRun.cpu, protected: protectedRun.cpu } },
      };
    } finally {
      await primary.kill();
      await backup?.vm.kill();
    }
  });

  const minutes = (performance.now() - started) / 60_000;
  process.stdout.write(
    `\nbench:ft, ${date}: guest ${GUEST_MIB} MiB, 1 vCPU, cuju-dirty over ${DIRTY_MIB} MiB, epoch ${results.epochUs} µs, ` +
    `initial copy ${(results.protectMs / 1000).toFixed(1)} s, load average at end ${loadavg()[0].toFixed(2)}, ${minutes.toFixed(1)} min` +
    `${results.rtt.ackP50Us === undefined ? '' : `; epoch → ack p50 during the protected round trips ${Math.round(results.rtt.ackP50Us)} µs`}\n` +
    `(* = fewer than 2048 epochs in the window: query-ft's percentiles include earlier epochs)\n\n${fullReport(results)}\n`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:ft failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
